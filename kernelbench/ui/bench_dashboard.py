"""The live bench chart: an observer of bench events, drawn with ipywidgets and plotly.

A view on :class:`~kernelbench.ui._base.DashboardBase` (Stop, the clock, the ending), as the sweep
dashboard is: it maps bench events onto the base and draws the per-size chart.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go

from kernelbench.bench.bench import (
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
    bench_figure,
    row_text,
)
from kernelbench.ui._base import DashboardBase

__all__ = ["BenchDashboard"]


class BenchDashboard(DashboardBase):
    """Observer that draws a bench as sizes finish. ``attach(bench)`` wires the Stop button."""

    STOP_TOOLTIP = "End the bench after the size under way; keep every finished size"
    info: BenchInfo | None

    def __init__(self, show: bool = True) -> None:
        self.rows: list[BenchRow] = []
        super().__init__(show, axis=widgets.Dropdown(options=[("GB/s", "gbps"), ("ms", "ms")], value="gbps",
                                                     description="y axis"))
        self.y_select = self.axis_select

    @property
    def bench(self) -> Bench | None:
        return self.engine  # type: ignore[return-value]

    @property
    def y(self) -> str:
        return self.axis

    # -- events -----------------------------------------------------------------------------------

    def __call__(self, event: Any) -> None:
        if isinstance(event, BenchStarted):
            self._start(event.info)
        elif isinstance(event, SizeStarted):
            self._on_size_started(event)
            self._step()
        elif isinstance(event, SizeTuning):
            self._on_tuning(event)
            self._step()
        elif isinstance(event, SizeFinished):
            self._on_size(event)
            self._step()
        elif isinstance(event, BenchFinished):
            self._on_finish(event.report)

    def _begin(self, info: BenchInfo) -> None:
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

    def _sizes_done(self) -> int:
        return len({r.size_index for r in self.rows})

    def _on_size_started(self, event: SizeStarted) -> None:
        self.status.value = (f"{self._sizes_done()}/{event.total} sizes · {self._clock()} · "
                             f"size {html.escape(str(event.size))}: {event.phase}…")

    def _on_tuning(self, event: SizeTuning) -> None:
        assert self.info is not None
        of = f"/{event.budget}" if event.budget else ""
        best = f", best {event.best_ms:.4g} ms" if event.best_ms is not None else ""
        self.status.value = (f"{self._sizes_done()}/{len(self.info.sizes)} sizes · {self._clock()} · size "
                             f"{html.escape(str(event.size))}: tuning, {event.done}{of} candidates{best}")

    def _on_size(self, event: SizeFinished) -> None:
        assert self.info is not None
        self.rows.extend(event.rows)
        self.progress.value = event.done
        bench_figure(self.figure, self.info, self.rows, y=self.y)
        elapsed = self.elapsed_s
        eta = self._pace_eta(elapsed, event.done, event.total)
        self.status.value = (f"{event.done}/{event.total} sizes · {self._clock(elapsed, eta)} · "
                             f"size {html.escape(str(event.size))}: "
                             + " | ".join(html.escape(row_text(r)) for r in event.rows))

    def _on_finish(self, report: BenchReport) -> None:
        self.rows = list(report.rows)
        self._finish(report.stopped, f"<b>{html.escape(report.summary())}</b>")

    # -- drawing ----------------------------------------------------------------------------------

    def _draw_live(self) -> None:
        assert self.info is not None
        bench_figure(self.figure, self.info, self.rows, y=self.y)

    def _static_figure(self) -> tuple[go.Figure, str]:
        assert self.info is not None
        return bench_figure(go.Figure(), self.info, self.rows, y=self.y), f"<bench chart of {len(self.rows)} rows>"
