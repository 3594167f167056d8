"""The live sweep dashboard: an observer of sweep events, drawn with ipywidgets and plotly.

A view on :class:`~kernelbench.ui._base.DashboardBase` (Stop, the ticking clock, the static ending):
it maps sweep events onto the base and draws the latency chart, the running candidate and the top-N
table (one column per knob that matters, values whole).
"""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import plotly.graph_objects as go

from kernelbench.core.lowering import RESOURCE_COLUMNS
from kernelbench.tune.charts import best_so_far, latency_figure, status_points
from kernelbench.tune.events import CandidateFinished, CandidateStarted, SweepFinished, SweepStarted
from kernelbench.tune.records import STATUSES, Candidate, SweepInfo, screened_note, skipped_note
from kernelbench.tune.result import SweepResult
from kernelbench.ui._base import DashboardBase, SharedLooks
from kernelbench.ui._text import ALWAYS_SHOWN, ended_text, knob_diff, knob_value, knobs_text, sig
from kernelbench.ui.display import place
from kernelbench.ui.live_chart import fmt_seconds, integer_ticks, readable_layout

if TYPE_CHECKING:
    import helion

    from kernelbench.tune.sweep import Sweep

__all__ = ["Dashboard", "top_table_html"]

TOP_N = 10


def top_table_html(info: SweepInfo, candidates: list[Candidate], n: int = TOP_N) -> str:
    """The ``n`` fastest correct candidates, one column per knob that varies among the candidates
    measured (``block_sizes`` and ``num_warps`` always), each value whole; '' before the first."""
    ok = sorted((c for c in candidates if c.status == "ok" and c.ms), key=lambda c: c.ms or 0)
    if not ok:
        return ""
    shown = ok[:n]
    configs = [dict(c.config.config) for c in candidates]
    knobs = [k for k in info.knobs if k in ALWAYS_SHOWN
             or len({knob_value(cfg.get(k, info.default.get(k))) for cfg in configs}) > 1]
    result = SweepResult(info, candidates, "", 0.0)
    gbps = bool(info.bytes)
    # Each cell carries only its padding and alignment (JupyterLab's table style sets both on every
    # cell); font, size and no-wrap are inherited from the table: a saved notebook stays small.
    num, knob = "padding:1px 8px", "padding:1px 8px;text-align:left"
    head = "".join(f"<th style='{num}'>{h}</th>" for h in ["#", "ms", *(["GB/s"] if gbps else [])])
    head += "".join(f"<th style='{knob}'>{html.escape(k)}</th>" for k in knobs)
    rows = []
    for rank, c in enumerate(shown):
        config = dict(c.config.config)
        diff = knob_diff(config, info.default)
        values = [f"#{c.index}", sig(c.ms), *([sig(result.gbps(c.ms))] if gbps else [])]
        tds = "".join(f"<td style='{num}'>{v}</td>" for v in values)
        for k in knobs:
            changed = "" if k in diff else ";color:#888"
            tds += f"<td style='{knob}{changed}'>{html.escape(knob_value(config.get(k, info.default.get(k))))}</td>"
        rows.append(f"<tr style='font-weight:600'>{tds}</tr>" if rank == 0 else f"<tr>{tds}</tr>")
    hidden = len(info.knobs) - len(knobs)
    note = f" · {hidden} other knob(s) the same in every candidate" if hidden else ""
    return (f"<details open style='overflow-x:auto'><summary><b>Top {len(shown)}</b> of {len(ok)} correct (grey: Helion's default)"
            f"{note}</summary><table style='border-collapse:collapse;font-size:12px;white-space:nowrap;text-align:right;"
            f"font-family:var(--jp-code-font-family,monospace)'><tr>{head}</tr>"
            f"{''.join(rows)}</table></details>")


class Dashboard(DashboardBase):
    """Observer that draws a sweep as it happens. ``attach(sweep)`` wires the Stop button."""

    STOP_TOOLTIP = "End the sweep after the current candidate; keep every result"
    info: SweepInfo | None

    def __init__(self, show: bool = True) -> None:
        self.candidates: list[Candidate] = []
        self.best: Candidate | None = None
        self.running: tuple[int, helion.Config, float] | None = None  # index, config, when it started
        self.result: SweepResult | None = None
        self.looks = SharedLooks()
        self.top = self.looks.html()
        super().__init__(show, axis=widgets.Dropdown(options=["index"], value="index", description="x axis",
                                                     layout=self.looks.layout),
                         extra=[self.top], waiting="waiting for the first candidate…", looks=self.looks)
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
            self.running = (event.index, event.config, time.perf_counter())
            self.refresh_status()
            self._step()
        elif isinstance(event, CandidateFinished):
            self._on_candidate(event)
            self._step()
        elif isinstance(event, SweepFinished):
            self._on_finish(event.result)

    def _begin(self, info: SweepInfo) -> None:
        self.x_select.options = ["index", *info.knobs, *(RESOURCE_COLUMNS if info.gpu_target else ())]
        mode_colour = "#9a6700" if info.interpreter else "#1a7f37"
        space_note = " (the interpreter's space differs from a GPU's)" if info.interpreter else ""
        ref = f" · reference {sig(info.ref_ms)} ms" if info.ref_ms else ""
        self.header.value = (
            f"<b>Tuning {html.escape(info.kernel)}</b> · "
            f"<span style='color:{mode_colour}'>{html.escape(place(info.device, info.mode))}</span> · "
            f"strategy <code>{html.escape(info.strategy)}</code> · space {html.escape(info.space)}{space_note}{ref}"
            f"<br><span style='color:{mode_colour}'>times: {html.escape(info.timer)}</span>"
            + (f"<br>{html.escape(note)}" if (note := skipped_note(info)) else "")
        )
        self.progress.max = info.planned or 100
        self._draw_live()

    def _on_candidate(self, event: CandidateFinished) -> None:
        assert self.info is not None
        self.candidates.append(event.candidate)
        self.best = event.best
        self.running = None
        if self.info.planned:
            self.progress.value = event.done
        else:
            self.progress.value = min(100, int(100 * event.elapsed_s / (self.info.time_limit or 1)))
        with self._lock:
            self._update_traces()
            self.live.reveal()
        self.refresh_status()
        self.top.value = top_table_html(self.info, self.candidates)

    def _on_finish(self, result: SweepResult) -> None:
        self.result = result
        self.candidates = list(result.candidates)
        self.best = result.best
        self.running = None
        if self.info is not None:
            self.top.value = top_table_html(self.info, self.candidates)
        self._finish(result.stopped, self._final_html(result))

    # -- drawing ----------------------------------------------------------------------------------

    def _draw_live(self) -> None:
        assert self.info is not None
        with self._lock:
            self._styled(latency_figure(self.figure, self.info, x=self.x, candidates=self.candidates))
            self.live.push()

    def _styled(self, fig: Any) -> Any:
        readable_layout(fig)
        if self.x == "index":
            integer_ticks(fig, max(len(self.candidates), 1))
        return fig

    def _static_figure(self) -> tuple[go.Figure | None, str]:
        assert self.info is not None
        if not self.candidates:
            return None, ""
        fig = self._styled(latency_figure(go.Figure(), self.info, x=self.x, candidates=self.candidates))
        fig.data = [t for t in fig.data if len(t.x)]  # the legend names only what happened
        return fig, f"<latency chart of {len(self.candidates)} candidates>"

    def _static_text(self) -> str:
        if self.result is None:
            return ""
        return self.result.summary() if self.result.stopped != "error" else f"sweep failed: {self.result.error}"

    def _static_tail_text(self) -> str:
        return self.result.decorator() if self.result is not None and self.result.best is not None else ""

    def _update_traces(self) -> None:
        assert self.info is not None
        with self.figure.batch_update():
            for i, status in enumerate(STATUSES):
                xs, ys, texts = status_points(self.candidates, self.x, status, self.info.default)
                self.figure.data[i].x, self.figure.data[i].y, self.figure.data[i].hovertext = xs, ys, texts
            if self.x == "index":
                bx, by = best_so_far(self.candidates)
                self.figure.data[len(STATUSES)].x, self.figure.data[len(STATUSES)].y = bx, by
                integer_ticks(self.figure, len(self.candidates))

    def _status_html(self) -> str:
        assert self.info is not None
        done = len(self.candidates)
        ended = self.result is not None
        elapsed = self.result.wall_s if self.result is not None else self.elapsed_s
        planned = self.info.planned
        eta = float("nan")
        if not ended:
            if planned and done:
                eta = self._pace_eta(elapsed, done, planned)
            if self.info.time_limit:
                left = self.info.time_limit - elapsed
                eta = left if eta != eta else min(eta, left)
        of = f"/{planned}" if planned else ""
        parts = [f"{done}{of} candidates", self._clock(elapsed, eta)]
        if note := screened_note(self.candidates):
            parts.append(f"{note} (cannot launch on {html.escape(self.info.gpu_target)})")
        best = self.best
        if best is not None and best.ms is not None:
            result = SweepResult(self.info, self.candidates, "", elapsed)
            text = f"best {sig(best.ms)} ms (#{best.index})"
            if result.gbps(best.ms):
                text += f", {sig(result.gbps(best.ms))} GB/s"
            if self.info.ref_ms:
                text += f", {sig(self.info.ref_ms / best.ms)}× reference"
            parts.append(f"<b>{text}</b>")
        else:
            parts.append("no correct candidate yet")
        line = " · ".join(parts)
        if ended:
            return line
        if self.running is not None:
            index, config, since = self.running
            line += (f"<br><span class='kb-running'>running #{index} for {fmt_seconds(time.perf_counter() - since)}: "
                     f"<code>{html.escape(knobs_text(dict(config.config), self.info.default))}</code></span>")
        elif self.candidates:
            # Between two candidates (a few ms in the interpreter) the second line stays, so the chart
            # below does not jump up and down once per candidate.
            line += "<br><span class='kb-between' style='color:#888'>waiting for the next candidate…</span>"
        return line

    @staticmethod
    def _final_html(result: SweepResult) -> str:
        best = result.best
        how = ended_text(result.stopped)
        if result.stopped == "error":
            how += f": {result.error}"
        run = (f"{html.escape(how)} · {len(result.candidates)} candidates in {fmt_seconds(result.wall_s)} "
               f"({sig(result.candidates_per_s)}/s)")
        if best is None:
            return (f"<b style='color:#cf222e'>No correct candidate</b> among {len(result.candidates)} "
                    f"(see result.df's status and error columns) · {run}")
        extra = []
        if result.gbps():
            extra.append(f"{sig(result.gbps())} GB/s ({html.escape(result.info.bytes_label)})")
        if result.tflops():
            extra.append(f"{sig(result.tflops())} TFLOP/s")
        if result.speedup:
            extra.append(f"{sig(result.speedup)}× the reference")
        return (
            f"<b>Best: {sig(best.ms)} ms</b> (#{best.index}) {' · '.join(extra)}<br>{run}"
            f"<div style='margin-top:4px'>Decorator (paste above the kernel's <code>def</code>):</div>"
            f"<pre class='kb-decorator' style='white-space:pre;overflow-x:auto;margin:2px 0'>"
            f"{html.escape(result.decorator())}</pre>"
        )
