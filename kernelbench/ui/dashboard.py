"""The live sweep dashboard: an observer of sweep events, drawn with ipywidgets and plotly.

A view on :class:`~kernelbench.ui._base.DashboardBase` (Stop, the clock, the ending): it maps sweep
events onto the base and draws the latency chart and the top-N table.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import plotly.graph_objects as go

from kernelbench.tune.charts import best_so_far, latency_figure, status_points
from kernelbench.tune.events import CandidateFinished, CandidateStarted, SweepFinished, SweepStarted
from kernelbench.tune.records import STATUSES, Candidate, SweepInfo, skipped_note
from kernelbench.tune.result import SweepResult
from kernelbench.ui._base import DashboardBase

if TYPE_CHECKING:
    from kernelbench.tune.sweep import Sweep

__all__ = ["Dashboard"]


class Dashboard(DashboardBase):
    """Observer that draws a sweep as it happens. ``attach(sweep)`` wires the Stop button."""

    STOP_TOOLTIP = "End the sweep after the current candidate; keep every result"
    info: SweepInfo | None

    def __init__(self, show: bool = True) -> None:
        self.candidates: list[Candidate] = []
        self.top = widgets.HTML()
        super().__init__(show, axis=widgets.Dropdown(options=["index"], value="index", description="x axis"),
                         extra=[self.top])
        self.x_select = self.axis_select

    @property
    def sweep(self) -> Sweep | None:
        return self.engine  # type: ignore[return-value]

    @property
    def x(self) -> str:
        return self.axis

    # -- events -----------------------------------------------------------------------------------

    def __call__(self, event: Any) -> None:
        if isinstance(event, SweepStarted):
            self._start(event.info)
        elif isinstance(event, CandidateStarted):
            self._step()
        elif isinstance(event, CandidateFinished):
            self._on_candidate(event)
            self._step()
        elif isinstance(event, SweepFinished):
            self._on_finish(event.result)

    def _begin(self, info: SweepInfo) -> None:
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

    def _on_finish(self, result: SweepResult) -> None:
        self.candidates = list(result.candidates)
        self._update_status(result.best, finished=True)
        self._finish(result.stopped, self._final_html(result))

    # -- drawing ----------------------------------------------------------------------------------

    def _draw_live(self) -> None:
        assert self.info is not None
        latency_figure(self.figure, self.info, x=self.x, candidates=self.candidates)

    def _static_figure(self) -> tuple[go.Figure, str]:
        assert self.info is not None
        return (latency_figure(go.Figure(), self.info, x=self.x, candidates=self.candidates),
                f"<latency chart of {len(self.candidates)} candidates>")

    def _update_traces(self) -> None:
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
        elapsed = self.elapsed_s
        if finished:
            eta = float("nan")
        elif self.info.budget and done:
            eta = self._pace_eta(elapsed, done, self.info.budget)
            if self.info.time_limit:
                eta = min(eta, self.info.time_limit - elapsed)
        elif self.info.time_limit:
            eta = self.info.time_limit - elapsed
        else:
            eta = float("nan")
        of = f"/{self.info.budget}" if self.info.budget else ""
        parts = [f"{done}{of} candidates", self._clock(elapsed, eta)]
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

    @staticmethod
    def _final_html(result: SweepResult) -> str:
        best = result.best
        if best is None:
            return (f"<b style='color:#cf222e'>No correct candidate</b> among {len(result.candidates)} "
                    "(see result.df's status and error columns).")
        extra = []
        if result.gbps():
            extra.append(f"{result.gbps():.3g} GB/s ({html.escape(result.info.bytes_label)})")
        if result.tflops():
            extra.append(f"{result.tflops():.1f} TFLOP/s")
        if result.speedup:
            extra.append(f"{result.speedup:.3g}× the reference")
        return (
            f"<b>Best: {best.ms:.4g} ms</b> (#{best.index}, stopped by {html.escape(result.stopped)}, "
            f"{result.candidates_per_s:.2f} candidates/s) {' · '.join(extra)}"
            f"<pre style='white-space:pre-wrap'>{html.escape(result.decorator())}</pre>"
        )
