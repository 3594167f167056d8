"""``tune_many``'s view: one row per argument set (its progress, the best so far, how candidates
ended) and one Stop for every sweep; a text line per candidate outside a notebook.

An observer of :mod:`kernelbench.tune.many`'s events (which arrive from one thread only). When the
run ends its widget output is replaced, through its display id, with static HTML (the header, how it
ended and the table: each shape's progress, best and state) and every widget model it opened is
closed, as the single dashboards do: a saved notebook shows the table, not "model not found".
"""

from __future__ import annotations

import dataclasses
import html
import re
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any, TextIO

from kernelbench.tune.events import CandidateFinished, SweepFinished, SweepStarted
from kernelbench.tune.many import ManyFinished, ManyRun, ManyStarted, ShapeEvent
from kernelbench.tune.records import Candidate, SweepInfo
from kernelbench.ui._text import ended_text

__all__ = ["ManyDashboard", "ManyProgress", "Row", "many_observer", "rows_html"]


@dataclasses.dataclass
class Row:
    """What one argument set's sweep has done so far."""

    label: str
    info: SweepInfo | None = None
    done: int = 0
    best: Candidate | None = None
    statuses: Counter[str] = dataclasses.field(default_factory=Counter)
    ended: str = ""  # how the sweep ended ("" while it runs)

    def take(self, event: Any) -> None:
        if isinstance(event, SweepStarted):
            self.info = event.info
        elif isinstance(event, CandidateFinished):
            self.done, self.best = event.done, event.best
            self.statuses[event.candidate.status] += 1
        elif isinstance(event, SweepFinished):
            self.ended = f"failed: {event.result.error}" if event.result.stopped == "error" else event.result.stopped

    @property
    def planned(self) -> int | None:
        return self.info.planned if self.info is not None and self.info.planned else (
            self.info.budget if self.info is not None else None)

    def progress(self) -> str:
        return f"{self.done}/{self.planned}" if self.planned else str(self.done)

    def state(self) -> str:
        """``running``, ``waiting``, ``failed: ...`` or how the sweep ended in words (``finished: budget used``)."""
        if not self.ended:
            return "running" if self.info is not None else "waiting"
        return self.ended if self.ended.startswith("failed") else ended_text(self.ended)

    def best_text(self) -> str:
        if self.best is None or self.best.ms is None:
            return "no correct candidate yet" if not self.ended else "no correct candidate"
        return f"{self.best.ms:.4g} ms (#{self.best.index})"


def rows_html(rows: list[Row]) -> str:
    cell = "padding:2px 10px;text-align:left;white-space:nowrap"
    head = "".join(f"<th style='{cell}'>{h}</th>" for h in ("shape", "progress", "best so far", "statuses", "state"))
    body = []
    for row in rows:
        fraction = row.done / row.planned if row.planned else 0.0
        bar = (f"<div style='width:120px;height:8px;background:#eee;display:inline-block;margin-right:6px'>"
               f"<div style='width:{min(1.0, fraction) * 100:.0f}%;height:8px;background:#1f77b4'></div></div>")
        statuses = ", ".join(f"{n} {s}" for s, n in sorted(row.statuses.items()))
        state = row.state()
        cells = [html.escape(row.label), bar + html.escape(row.progress()), html.escape(row.best_text()),
                 html.escape(statuses), html.escape(state)]
        body.append("<tr>" + "".join(f"<td style='{cell}'>{c}</td>" for c in cells) + "</tr>")
    return f"<table style='border-collapse:collapse;font-size:13px'><tr>{head}</tr>{''.join(body)}</table>"


class ManyDashboard:
    """The widget view: header, Stop (ends every sweep, keeps every result) and the table of rows;
    static HTML once the run ends (:attr:`static_output`, also when not shown)."""

    def __init__(self, show: bool = True) -> None:
        import ipywidgets as widgets

        from kernelbench.ui._base import SharedLooks
        from kernelbench.ui.stop import StopChannel

        self.show = show
        self.run: ManyRun | None = None
        self.rows: list[Row] = []
        looks = SharedLooks()
        self.header = looks.html()
        self.table = looks.html()
        self.stop_button = widgets.Button(description="Stop", icon="stop", button_style="danger",
                                          tooltip="End every sweep now; keep every result", layout=looks.layout)
        self.stop_button.on_click(self._on_stop)
        self.root = widgets.VBox([self.header, self.stop_button, self.table], layout=looks.layout)
        self.stop_channel = StopChannel(self.stop_button)
        self.handle: Any = None  # the DisplayHandle of the live output
        #: The mimebundle that replaces the live output once the run ends.
        self.static_output: dict[str, Any] | None = None

    def attach(self, run: ManyRun) -> None:
        self.run = run

    def _on_stop(self, _button: Any = None) -> None:
        if self.run is not None:
            self.run.stop()
        self.stop_button.disabled = True
        self.stop_button.description = "Stopping…"

    def __call__(self, event: Any) -> None:
        if isinstance(event, ManyStarted):
            self.rows = [Row(label) for label in event.labels]
            how = "side by side" if event.concurrent else "one after another"
            self.header.value = (f"<b>tune_many</b> <code>{html.escape(event.kernel)}</code>: {len(event.labels)} "
                                 f"shape(s), {how} ({html.escape(event.executor)})")
            self.table.value = rows_html(self.rows)
            if self.show:
                from IPython.display import display

                self.handle = display(self.root, display_id=True)
            self.stop_channel.open()
        elif isinstance(event, ShapeEvent):
            self.rows[event.index].take(event.event)
            self.table.value = rows_html(self.rows)
            self.stop_channel.process()
        elif isinstance(event, ManyFinished):
            self._finish(event)

    def _finish(self, event: ManyFinished) -> None:
        from kernelbench.ui._base import close_tree, ended_badge

        self.stop_channel.close()
        self.stop_button.disabled = True
        self.stop_button.description = "Stopped" if event.stopped else "Done"
        self.table.value = rows_html(self.rows)
        interrupted = any(row.ended == "interrupt" for row in self.rows)
        how = "interrupt" if interrupted else "stop" if event.stopped else "done"
        text = "\n".join([html.unescape(re.sub(r"<[^>]+>", "", self.header.value)), ended_text(how),
                          *(f"{row.label}: {row.progress()} candidates, best {row.best_text()}, {row.state()}"
                            for row in self.rows)])
        self.static_output = {
            "text/html": (f"<div class='kb-dashboard kb-static'>{self.header.value}"
                          f"<div style='margin:4px 0'>{ended_badge(how)}</div>{self.table.value}</div>"),
            "text/plain": text,
        }
        if self.handle is not None:
            self.handle.update(self.static_output, raw=True)
        close_tree(self.root, empty=self.show)


class ManyProgress:
    """Prints a line per finished candidate, naming its shape, and each sweep's summary."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.rows: list[Row] = []

    def __call__(self, event: Any) -> None:
        if isinstance(event, ManyStarted):
            self.rows = [Row(label) for label in event.labels]
            how = "side by side" if event.concurrent else "one after another"
            print(f"tune_many {event.kernel}: {len(event.labels)} shape(s), {how} ({event.executor})",
                  file=self.stream, flush=True)
        elif isinstance(event, ShapeEvent):
            row = self.rows[event.index]
            row.take(event.event)
            inner = event.event
            if isinstance(inner, CandidateFinished):
                c = inner.candidate
                ms = f"{c.ms:.4g} ms" if c.ms is not None else "-"
                print(f"[{row.label}] [{row.progress()}] #{c.index} {c.status:<13} {ms:>12} | best {row.best_text()}",
                      file=self.stream, flush=True)
            elif isinstance(inner, SweepFinished):
                text = (f"sweep failed: {inner.result.error}" if inner.result.stopped == "error"
                        else inner.result.summary())
                print(f"[{row.label}] {text}", file=self.stream, flush=True)


def many_observer(live: bool | None) -> tuple[Callable[[Any], None], Callable[[ManyRun], None]]:
    """The observer that shows a ``tune_many`` run (``live``: the dashboard; ``None``: in a notebook),
    and the function to call with the run (wires Stop)."""
    from kernelbench.ui.notebook import in_notebook

    if live is None:
        live = in_notebook()
    if live:
        dashboard = ManyDashboard()
        return dashboard, dashboard.attach
    return ManyProgress(), lambda run: None
