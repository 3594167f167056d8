"""The live bench chart: an observer of bench events, drawn with ipywidgets and plotly.

It works as the sweep dashboard does (``_dashboard``): ``kernelbench._stop`` makes **Stop** reach
the bench while its cell runs; at the end the live ``FigureWidget`` is closed and replaced by a plain plotly figure (a
small JSON output), so saved notebooks stay small.
"""

from __future__ import annotations

import html
import time
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go
from IPython.display import display

from ._bench import (
    Y_CHOICES,
    Y_LABELS,
    Bench,
    BenchFinished,
    BenchInfo,
    BenchReport,
    BenchRow,
    BenchStarted,
    SizeFinished,
    SizeStarted,
    SizeTuning,
    _row_text,
    bench_figure,
)
from ._live_chart import LiveChart, fmt_seconds
from ._stop import StopChannel

__all__ = ["BenchDashboard"]



class BenchDashboard:
    """Observer that draws a bench as sizes finish. ``attach(bench)`` wires the Stop button."""

    def __init__(self, show: bool = True) -> None:
        self.show = show
        self.bench: Bench | None = None
        self.info: BenchInfo | None = None
        self.rows: list[BenchRow] = []
        self.started = time.perf_counter()
        self.y = "gbps"
        self.header = widgets.HTML()
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="", layout={"width": "40%"})
        self.status = widgets.HTML()
        self.stop_button = widgets.Button(description="Stop", icon="stop", button_style="danger",
                                          tooltip="End the bench after the size under way; keep every finished size")
        self.stop_button.on_click(self._on_stop)
        self.y_select = widgets.Dropdown(options=[("GB/s", "gbps"), ("ms", "ms")], value="gbps", description="y axis")
        self.y_select.observe(self._on_y, names="value")
        self.live = LiveChart()
        self.figure = self.live.figure
        self.chart = self.live.box
        self.final = widgets.HTML()
        self.root = widgets.VBox([
            self.header,
            widgets.HBox([self.progress, self.stop_button, self.y_select]),
            self.status,
            self.chart,
            self.final,
        ])
        self.stop_channel = StopChannel(self.stop_button)

    # -- wiring -----------------------------------------------------------------------------------

    def attach(self, bench: Bench) -> None:
        self.bench = bench

    def _on_stop(self, _button: Any = None) -> None:
        if self.bench is not None:
            self.bench.stop()
        self.stop_button.disabled = True
        self.stop_button.description = "Stopping…"

    def _on_y(self, change: dict[str, Any]) -> None:
        self.y = change["new"]
        if self.info is None:
            return
        if not self.live.frozen:
            bench_figure(self.figure, self.info, self.rows, y=self.y)
        else:
            self._draw_static()

    # -- events -----------------------------------------------------------------------------------

    def __call__(self, event: Any) -> None:
        if isinstance(event, BenchStarted):
            self._on_start(event.info)
        elif isinstance(event, SizeStarted):
            self._on_size_started(event)
            self.stop_channel.process()
        elif isinstance(event, SizeTuning):
            self._on_tuning(event)
            self.stop_channel.process()
        elif isinstance(event, SizeFinished):
            self._on_size(event)
            self.stop_channel.process()
        elif isinstance(event, BenchFinished):
            self._on_finish(event.report)

    def _on_start(self, info: BenchInfo) -> None:
        self.info = info
        self.started = time.perf_counter()
        self.y_select.options = [(Y_LABELS[y].removesuffix(" (log)"), y) for y in Y_CHOICES
                                 if y != "tflops" or info.flops_given]
        mode_colour = "#9a6700" if info.interpreter else "#1a7f37"
        if info.ceilings is not None:
            ceiling = f"ceilings: {html.escape(info.ceilings.describe())}"
        else:
            ceiling = "no ceiling in the interpreter" if info.interpreter else "no ceiling"
        tune = {False: "active config", "per-size": "tuned per size", "once": "tuned once (largest size)"}[info.tune]
        self.header.value = (
            f"<b>Bench {html.escape(info.kernel)}</b> against {html.escape(', '.join(info.impls[1:]) or 'nothing')} · "
            f"<span style='color:{mode_colour}'>{html.escape(info.device)} · {html.escape(info.mode)}</span> · "
            f"{len(info.sizes)} sizes · {tune} · checked against {html.escape(info.reference)}"
            f"<br><span style='color:{mode_colour}'>times: {html.escape(info.timer)} · {ceiling}</span>"
        )
        self.progress.max = len(info.sizes)
        bench_figure(self.figure, info, [], y=self.y)
        self.status.value = f"0/{len(info.sizes)} sizes"
        if self.show:
            display(self.root)
        self.stop_channel.open()

    def _elapsed(self) -> str:
        return f"elapsed {fmt_seconds(time.perf_counter() - self.started)}"

    def _on_size_started(self, event: SizeStarted) -> None:
        done = len({r.size_index for r in self.rows})
        self.status.value = f"{done}/{event.total} sizes · {self._elapsed()} · size {html.escape(str(event.size))}: {event.phase}…"

    def _on_tuning(self, event: SizeTuning) -> None:
        assert self.info is not None
        done = len({r.size_index for r in self.rows})
        of = f"/{event.budget}" if event.budget else ""
        best = f", best {event.best_ms:.4g} ms" if event.best_ms is not None else ""
        self.status.value = (f"{done}/{len(self.info.sizes)} sizes · {self._elapsed()} · size "
                             f"{html.escape(str(event.size))}: tuning, {event.done}{of} candidates{best}")

    def _on_size(self, event: SizeFinished) -> None:
        assert self.info is not None
        self.rows.extend(event.rows)
        self.progress.value = event.done
        bench_figure(self.figure, self.info, self.rows, y=self.y)
        elapsed = time.perf_counter() - self.started
        eta = elapsed / event.done * (event.total - event.done)
        self.status.value = (f"{event.done}/{event.total} sizes · elapsed {fmt_seconds(elapsed)} · ETA {fmt_seconds(eta)} · "
                             f"size {html.escape(str(event.size))}: "
                             + " | ".join(html.escape(_row_text(r)) for r in event.rows))

    def _on_finish(self, report: BenchReport) -> None:
        self.stop_channel.close()
        self.rows = list(report.rows)
        self.stop_button.disabled = True
        self.stop_button.description = {"done": "Done", "stop": "Stopped", "interrupt": "Interrupted"}[report.stopped]
        self.final.value = f"<b>{html.escape(report.summary())}</b>"
        self._draw_static()

    def _draw_static(self) -> None:
        assert self.info is not None
        self.live.freeze(bench_figure(go.Figure(), self.info, self.rows, y=self.y), f"<bench chart of {len(self.rows)} rows>")

    @property
    def static_chart(self) -> widgets.Output | None:
        return self.live.static
