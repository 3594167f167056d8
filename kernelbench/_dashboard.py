"""The live sweep dashboard: an observer of sweep events, drawn with ipywidgets and plotly.

Widget clicks are not delivered while a cell runs: ``kernelbench._stop`` makes **Stop** reach the
sweep mid-cell. When the sweep ends, ``kernelbench._live_chart`` swaps the live ``FigureWidget`` for a
plain plotly figure, so saved notebooks stay small.
"""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import plotly.graph_objects as go
from IPython.display import display

from ._charts import best_so_far, latency_figure, status_points
from ._events import CandidateFinished, CandidateStarted, SweepFinished, SweepStarted
from ._live_chart import LiveChart, fmt_seconds
from ._result import STATUSES, Candidate, SweepInfo, SweepResult, skipped_note
from ._stop import StopChannel

if TYPE_CHECKING:
    from ._sweep import Sweep

__all__ = ["Dashboard"]



class Dashboard:
    """Observer that draws a sweep as it happens. ``attach(sweep)`` wires the Stop button."""

    def __init__(self, show: bool = True) -> None:
        self.show = show
        self.sweep: Sweep | None = None
        self.info: SweepInfo | None = None
        self.candidates: list[Candidate] = []
        self.started = time.perf_counter()
        self.x = "index"
        self.header = widgets.HTML()
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="", layout={"width": "40%"})
        self.status = widgets.HTML()
        self.stop_button = widgets.Button(description="Stop", icon="stop", button_style="danger",
                                          tooltip="End the sweep after the current candidate; keep every result")
        self.stop_button.on_click(self._on_stop)
        self.x_select = widgets.Dropdown(options=["index"], value="index", description="x axis")
        self.x_select.observe(self._on_x, names="value")
        self.live = LiveChart()
        self.figure = self.live.figure
        self.chart = self.live.box
        self.top = widgets.HTML()
        self.final = widgets.HTML()
        self.root = widgets.VBox([
            self.header,
            widgets.HBox([self.progress, self.stop_button, self.x_select]),
            self.status,
            self.chart,
            self.top,
            self.final,
        ])
        self.stop_channel = StopChannel(self.stop_button)

    # -- wiring -----------------------------------------------------------------------------------

    def attach(self, sweep: Sweep) -> None:
        self.sweep = sweep

    def _on_stop(self, _button: Any = None) -> None:
        if self.sweep is not None:
            self.sweep.stop()
        self.stop_button.disabled = True
        self.stop_button.description = "Stopping…"

    def _on_x(self, change: dict[str, Any]) -> None:
        self.x = change["new"]
        if self.info is not None:
            if not self.live.frozen:
                latency_figure(self.figure, self.info, x=self.x, candidates=self.candidates)
            else:
                self._draw_static()

    # -- events -----------------------------------------------------------------------------------

    def __call__(self, event: Any) -> None:
        if isinstance(event, SweepStarted):
            self._on_start(event.info)
        elif isinstance(event, CandidateStarted):
            self.stop_channel.process()
        elif isinstance(event, CandidateFinished):
            self._on_candidate(event)
            self.stop_channel.process()
        elif isinstance(event, SweepFinished):
            self._on_finish(event.result)

    def _on_start(self, info: SweepInfo) -> None:
        self.info = info
        self.started = time.perf_counter()
        self.x_select.options = ["index", *info.knobs]
        mode_colour = "#9a6700" if info.interpreter else "#1a7f37"
        space_note = " (the interpreter's space differs from a GPU's)" if info.interpreter else ""
        ref = f" · reference {info.ref_ms:.4g} ms" if info.ref_ms else ""
        self.header.value = (
            f"<b>Tuning {html.escape(info.kernel)}</b> · "
            f"<span style='color:{mode_colour}'>{html.escape(info.device)} · {html.escape(info.mode)}</span> · "
            f"strategy <code>{html.escape(info.strategy)}</code> · space {html.escape(info.space)}{space_note}{ref}"
            f"<br><span style='color:{mode_colour}'>times: {html.escape(info.timer)}</span>"
            + (f"<br>{html.escape(note)}" if (note := skipped_note(info)) else "")
        )
        self.progress.max = info.budget or 100
        latency_figure(self.figure, info, x=self.x, candidates=[])
        self._update_status(None)
        if self.show:
            display(self.root)
        self.stop_channel.open()

    def _on_candidate(self, event: CandidateFinished) -> None:
        assert self.info is not None
        self.candidates.append(event.candidate)
        if self.info.budget:
            self.progress.value = event.done
        else:
            self.progress.value = min(100, int(100 * event.elapsed_s / (self.info.time_limit or 1)))
        self._update_traces()
        self._update_status(event.best)
        self._update_top()

    def _update_traces(self) -> None:
        assert self.info is not None
        with self.figure.batch_update():
            for i, status in enumerate(STATUSES):
                xs, ys, texts = status_points(self.candidates, self.x, status)
                self.figure.data[i].x, self.figure.data[i].y, self.figure.data[i].hovertext = xs, ys, texts
            if self.x == "index":
                bx, by = best_so_far(self.candidates)
                self.figure.data[len(STATUSES)].x, self.figure.data[len(STATUSES)].y = bx, by

    def _update_status(self, best: Candidate | None, finished: bool = False) -> None:
        assert self.info is not None
        done = len(self.candidates)
        elapsed = time.perf_counter() - self.started
        if finished:
            eta = float("nan")
        elif self.info.budget and done:
            eta = elapsed / done * (self.info.budget - done)
            if self.info.time_limit:
                eta = min(eta, self.info.time_limit - elapsed)
        elif self.info.time_limit:
            eta = self.info.time_limit - elapsed
        else:
            eta = float("nan")
        of = f"/{self.info.budget}" if self.info.budget else ""
        parts = [f"{done}{of} candidates", f"elapsed {fmt_seconds(elapsed)}"]
        if eta == eta:  # not NaN
            parts.append(f"ETA {fmt_seconds(eta)}")
        if best is not None and best.ms is not None:
            result = SweepResult(self.info, self.candidates, "", elapsed)
            text = f"best {best.ms:.4g} ms (#{best.index})"
            if result.gbps(best.ms):
                text += f", {result.gbps(best.ms):.3g} GB/s"
            if self.info.ref_ms:
                text += f", {self.info.ref_ms / best.ms:.3g}× reference"
            parts.append(f"<b>{text}</b>")
        else:
            parts.append("no correct candidate yet")
        self.status.value = " · ".join(parts)

    def _update_top(self) -> None:
        ok = sorted((c for c in self.candidates if c.status == "ok" and c.ms), key=lambda c: c.ms or 0)[:10]
        if not ok:
            self.top.value = ""
            return
        rows = "".join(
            f"<tr><td>#{c.index}</td><td>{c.ms:.4g}</td><td><code>{html.escape(str(dict(c.config.config)))[:200]}</code></td></tr>"
            for c in ok
        )
        self.top.value = (f"<details open><summary>Top {len(ok)}</summary><table><tr><th>candidate</th>"
                          f"<th>ms</th><th>config</th></tr>{rows}</table></details>")

    def _on_finish(self, result: SweepResult) -> None:
        self.stop_channel.close()
        self.candidates = list(result.candidates)
        self.stop_button.disabled = True
        self.stop_button.description = "Done" if result.stopped != "stop" else "Stopped"
        self._update_status(result.best, finished=True)
        best = result.best
        if best is None:
            self.final.value = (f"<b style='color:#cf222e'>No correct candidate</b> among {len(result.candidates)} "
                                "(see result.df's status and error columns).")
        else:
            extra = []
            if result.gbps():
                extra.append(f"{result.gbps():.3g} GB/s ({html.escape(result.info.bytes_label)})")
            if result.tflops():
                extra.append(f"{result.tflops():.1f} TFLOP/s")
            if result.speedup:
                extra.append(f"{result.speedup:.3g}× the reference")
            self.final.value = (
                f"<b>Best: {best.ms:.4g} ms</b> (#{best.index}, stopped by {html.escape(result.stopped)}, "
                f"{result.candidates_per_s:.2f} candidates/s) {' · '.join(extra)}"
                f"<pre style='white-space:pre-wrap'>{html.escape(result.decorator())}</pre>"
            )
        self._draw_static()

    def _draw_static(self) -> None:
        assert self.info is not None
        self.live.freeze(latency_figure(go.Figure(), self.info, x=self.x, candidates=self.candidates), f"<latency chart of {len(self.candidates)} candidates>")

    @property
    def static_chart(self) -> widgets.Output | None:
        return self.live.static
