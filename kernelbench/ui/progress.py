"""Text progress lines: the sweep and bench observers for terminals, scripts and CI."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from kernelbench.bench.bench import BenchFinished, BenchStarted, SizeFinished, SizeStarted, row_text
from kernelbench.tune.events import CandidateFinished, SweepFinished, SweepStarted
from kernelbench.tune.records import skipped_note

__all__ = ["BenchProgress", "TextProgress"]


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
            result = event.result
            text = f"{result.info.kernel}: sweep failed: {result.error}" if result.stopped == "error" else result.summary()
            print(text, file=self.stream, flush=True)


class BenchProgress:
    """Prints one line per finished size (and when tuning starts), and a summary at the end."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def __call__(self, event: Any) -> None:
        if isinstance(event, BenchStarted):
            info = event.info
            ceiling = f"; ceilings {info.ceilings.describe()}" if info.ceilings else ""
            print(f"bench {info.kernel} over {len(info.sizes)} sizes on {info.mode}: {', '.join(info.impls)} "
                  f"(checked against {info.reference}); times are {info.timer}{ceiling}", file=self.stream, flush=True)
        elif isinstance(event, SizeStarted) and event.phase != "measuring":
            print(f"[{event.index + 1}/{event.total}] size {event.size}: {event.phase}…", file=self.stream, flush=True)
        elif isinstance(event, SizeFinished):
            print(f"[{event.done}/{event.total}] {event.elapsed_s:6.1f}s size {event.size}: "
                  + " | ".join(row_text(r) for r in event.rows), file=self.stream, flush=True)
        elif isinstance(event, BenchFinished):
            print(event.report.summary(), file=self.stream, flush=True)
