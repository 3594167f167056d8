"""A text progress line: the sweep observer for terminals, scripts and CI."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from ._events import CandidateFinished, SweepFinished, SweepStarted
from ._result import skipped_note

__all__ = ["TextProgress"]


class TextProgress:
    """Prints one line per finished candidate and a summary at the end."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.total: int | None = None

    def __call__(self, event: Any) -> None:
        if isinstance(event, SweepStarted):
            info = event.info
            self.total = info.budget
            limit = f", {info.time_limit:g} s limit" if info.time_limit else ""
            print(f"tuning {info.kernel} on {info.mode}: {info.strategy} search over {info.space}"
                  f"{limit}; times are {info.timer}", file=self.stream)
            if note := skipped_note(info):
                print(note, file=self.stream)
        elif isinstance(event, CandidateFinished):
            c, best = event.candidate, event.best
            of = f"/{self.total}" if self.total else ""
            ms = f"{c.ms:.4g} ms" if c.ms is not None else "-"
            best_text = f"best {best.ms:.4g} ms (#{best.index})" if best and best.ms else "no correct candidate yet"
            print(f"[{event.done}{of}] {event.elapsed_s:6.1f}s #{c.index} {c.status:<13} {ms:>12} | {best_text}",
                  file=self.stream, flush=True)
        elif isinstance(event, SweepFinished):
            print(event.result.summary(), file=self.stream, flush=True)
