"""The live bench chart: an observer of bench events, drawn with ipywidgets and plotly.

A view on :class:`~kernelbench.ui._base.DashboardBase` (Stop, the ticking clock, the static ending),
as the sweep dashboard is: it maps bench events onto the base and draws the per-size chart, on a log
y axis (GB/s and ms both span decades across sizes), with the size under way and for how long.
"""

from __future__ import annotations

import html
import time
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go

from kernelbench.bench.bench import (
    NOT_CORRECT,
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
from kernelbench.ui._base import DashboardBase, SharedLooks
from kernelbench.ui._text import ended_text, sig
from kernelbench.ui.display import place
from kernelbench.ui.live_chart import fmt_seconds, readable_layout

__all__ = ["BenchDashboard", "bench_table_html", "log_bench_figure"]

_BELOW_FACTOR = 1.5  # on a log GB/s axis, not-correct markers sit this far below the slowest rate


def log_bench_figure(fig: Any, info: BenchInfo, rows: list[BenchRow], *, y: str) -> Any:
    """:func:`~kernelbench.bench.bench.bench_figure` on a log y axis, with a readable title.

    A not-correct size is never fast: on the rate charts it sits below the lowest measured rate
    (the linear chart's 0 has no place on a log axis)."""
    bench_figure(fig, info, rows, y=y)
    with fig.batch_update() if hasattr(fig, "batch_update") else _Null():
        if y != "ms":
            rates = [v for r in rows for v in [{"gbps": r.gbps, "tflops": r.tflops}.get(y)] if v]
            for trace in fig.data:
                if trace.name == NOT_CORRECT and trace.y:
                    trace.y = [min(rates) / _BELOW_FACTOR if rates else 1.0] * len(trace.y)
        unit = Y_LABELS[y].removesuffix(" (log)")
        fig.update_layout(yaxis_type="log", yaxis_rangemode="normal", yaxis_title=f"{unit} (log)")
        title = fig.layout.title.text or ""
        fig.update_layout(title_text=title.replace(Y_LABELS[y], unit, 1))
        readable_layout(fig)
    return fig


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def bench_table_html(info: BenchInfo, rows: list[BenchRow]) -> str:
    """One row per finished size, one column per implementation: time, rate, share of the ceiling."""
    if not rows:
        return ""
    cell = "padding:1px 8px;text-align:right;white-space:nowrap"
    head = f"<th style='{cell}'>size</th>" + "".join(f"<th style='{cell}'>{html.escape(i)}</th>" for i in info.impls)
    body = []
    for index in sorted({r.size_index for r in rows}):
        cells = []
        for impl in info.impls:
            row = next((r for r in rows if r.size_index == index and r.impl == impl), None)
            if row is None:
                cells.append("")
            elif row.correct:
                text = f"{sig(row.ms)} ms"
                text += f" · {sig(row.gbps)} GB/s" if row.gbps is not None else ""
                text += f" · {sig(row.tflops)} TFLOP/s" if row.tflops is not None else ""
                text += f" · {row.pct_of_ceiling:.0f}%" if row.pct_of_ceiling is not None else ""
                cells.append(text)
            else:
                cells.append(f"<b style='color:#cf222e' title='{html.escape(row.error or '')}'>{row.status}</b>")
        body.append(f"<tr><td style='{cell}'>{html.escape(str(info.sizes[index]))}</td>"
                    + "".join(f"<td style='{cell}'>{c}</td>" for c in cells) + "</tr>")
    return (f"<table style='border-collapse:collapse;font-size:12px'><tr>{head}</tr>{''.join(body)}</table>")


class BenchDashboard(DashboardBase):
    """Observer that draws a bench as sizes finish. ``attach(bench)`` wires the Stop button."""

    STOP_TOOLTIP = "End the bench after the size under way; keep every finished size"
    info: BenchInfo | None

    def __init__(self, show: bool = True) -> None:
        self.rows: list[BenchRow] = []
        self.report: BenchReport | None = None
        self.under_way: tuple[Any, str, float] | None = None  # size, phase, when it started
        self.tuning: SizeTuning | None = None
        self.last: SizeFinished | None = None
        self.looks = SharedLooks()
        self.table = self.looks.html()
        super().__init__(show, axis=widgets.Dropdown(options=[("GB/s", "gbps"), ("ms", "ms")], value="gbps",
                                                     description="y axis", layout=self.looks.layout),
                         extra=[self.table], waiting="waiting for the first size…", looks=self.looks)
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
            self.under_way, self.tuning = (event.size, event.phase, time.perf_counter()), None
            self.refresh_status()
            self._step()
        elif isinstance(event, SizeTuning):
            self.tuning = event
            self.refresh_status()
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
            f"<span style='color:{mode_colour}'>{html.escape(place(info.device, info.mode))}</span> · "
            f"{len(info.sizes)} sizes · {tune} · checked against {html.escape(info.reference)}"
            f"<br><span style='color:{mode_colour}'>times: {html.escape(info.timer)} · {ceiling}</span>"
        )
        self.progress.max = len(info.sizes)
        self._draw_live()

    def _sizes_done(self) -> int:
        return len({r.size_index for r in self.rows})

    def _on_size(self, event: SizeFinished) -> None:
        assert self.info is not None
        self.rows.extend(event.rows)
        self.last, self.under_way, self.tuning = event, None, None
        self.progress.value = event.done
        self._draw_live()
        self.refresh_status()
        self.table.value = bench_table_html(self.info, self.rows)

    def _on_finish(self, report: BenchReport) -> None:
        self.report = report
        self.rows = list(report.rows)
        self.under_way = None
        if self.info is not None:
            self.table.value = bench_table_html(self.info, self.rows)
        self._finish(report.stopped, self._final_html(report))

    def _status_html(self) -> str:
        assert self.info is not None
        total, done = len(self.info.sizes), self._sizes_done()
        ended = self.report is not None
        elapsed = self.report.wall_s if self.report is not None else self.elapsed_s
        eta = float("nan") if ended else self._pace_eta(elapsed, done, total)
        line = f"{done}/{total} sizes · {self._clock(elapsed, eta)}"
        if self.under_way is not None and not ended:
            size, phase, since = self.under_way
            now = f"size {html.escape(str(size))}: {html.escape(phase)} for {fmt_seconds(time.perf_counter() - since)}"
            if self.tuning is not None:
                of = f"/{self.tuning.budget}" if self.tuning.budget else ""
                best = f", best {sig(self.tuning.best_ms)} ms" if self.tuning.best_ms is not None else ""
                now += f", {self.tuning.done}{of} candidates{best}"
            line += f"<br><span class='kb-running'>{now}…</span>"
        elif self.last is not None:
            line += (f"<br>size {html.escape(str(self.last.size))}: "
                     + " | ".join(html.escape(row_text(r)) for r in self.last.rows))
        return line

    def _final_html(self, report: BenchReport) -> str:
        done = report.sizes_done
        parts = [f"<b>{html.escape(ended_text(report.stopped))}</b>: {len(done)} of {len(report.info.sizes)} "
                 f"sizes in {fmt_seconds(report.wall_s)}"]
        for impl in report.info.impls:
            bad = [r.size for r in report.rows_of(impl) if not r.correct]
            if bad:
                parts.append(f"<span style='color:#cf222e'>{html.escape(impl)} not correct at sizes "
                             f"{html.escape(str(bad))}</span>")
        return " · ".join(parts)

    # -- drawing ----------------------------------------------------------------------------------

    def _draw_live(self) -> None:
        assert self.info is not None
        with self._lock:
            log_bench_figure(self.figure, self.info, self.rows, y=self.y)
            if self.rows:
                self.live.reveal()
            else:
                self.live.push()

    def _static_figure(self) -> tuple[go.Figure | None, str]:
        assert self.info is not None
        if not self.rows:
            return None, ""
        return (log_bench_figure(go.Figure(), self.info, self.rows, y=self.y),
                f"<bench chart of {len(self.rows)} rows>")

    def _static_text(self) -> str:
        return self.report.summary() if self.report is not None else ""
