"""Text progress lines: the sweep and bench observers for terminals, scripts and CI.

They say what the dashboards say: each finished candidate with the knobs that differ from the
default config, and, while a slow step runs, a line every ``heartbeat_s`` naming it and how long it
has run (a daemon thread writes it: the main thread is busy running the step).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

from kernelbench.bench.bench import BenchFinished, BenchStarted, SizeFinished, SizeStarted, row_text
from kernelbench.tune.events import CandidateFinished, CandidateStarted, SweepFinished, SweepStarted
from kernelbench.tune.records import skipped_note
from kernelbench.ui._text import knobs_text, sig
from kernelbench.ui.display import place

__all__ = ["BenchProgress", "TextProgress"]


class _Heartbeat:
    """Calls ``line(every_s)`` every ``every_s`` seconds from a daemon thread and prints what it
    returns (a step that has run less than ``every_s`` returns '': fast steps print nothing)."""

    def __init__(self, stream: TextIO, every_s: float, line: Any) -> None:
        self.stream, self.every_s, self.line = stream, every_s, line
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.every_s > 0:
            self._thread = threading.Thread(target=self._run, name="kernelbench-progress-clock", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(self.every_s):
            if text := self.line(self.every_s):
                print(text, file=self.stream, flush=True)

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class TextProgress:
    """Prints one line per finished candidate, a line every ``heartbeat_s`` while one runs longer,
    and a summary at the end."""

    def __init__(self, stream: TextIO | None = None, heartbeat_s: float = 10.0) -> None:
        self.stream = stream or sys.stdout
        self.total: int | None = None
        self.default: dict[str, Any] = {}
        self.running: CandidateStarted | None = None
        self.since = 0.0
        self.started = 0.0
        self.heartbeat = _Heartbeat(self.stream, heartbeat_s, self.running_line)

    def running_line(self, min_s: float = 0.0) -> str:
        """``          12.0s #3 running for 12 s: block_sizes=[16, 64], num_warps=2`` ('' if none has
        run ``min_s``)."""
        running = self.running
        now = time.perf_counter()
        if running is None or now - self.since < min_s:
            return ""
        return (f"{'':>{len(self._count(0)) + 1}}{now - self.started:6.1f}s #{running.index} running for "
                f"{now - self.since:.0f} s: {knobs_text(dict(running.config.config), self.default)}")

    def _count(self, done: int) -> str:
        return f"[{done}/{self.total}]" if self.total else f"[{done}]"

    def __call__(self, event: Any) -> None:
        if isinstance(event, SweepStarted):
            info = event.info
            self.total, self.default, self.started = info.planned, info.default, time.perf_counter()
            limit = f", {info.time_limit:g} s limit" if info.time_limit else ""
            print(f"tuning {info.kernel} on {place(info.device, info.mode)}: {info.strategy} search over {info.space}"
                  f"{limit}; times are {info.timer}", file=self.stream)
            if note := skipped_note(info):
                print(note, file=self.stream)
            self.heartbeat.start()
        elif isinstance(event, CandidateStarted):
            self.running, self.since = event, time.perf_counter()
        elif isinstance(event, CandidateFinished):
            self.running = None
            c, best = event.candidate, event.best
            ms = f"{sig(c.ms)} ms" if c.ms is not None else "-"
            best_text = f"best {sig(best.ms)} ms (#{best.index})" if best and best.ms else "no correct candidate yet"
            print(f"{self._count(event.done)} {event.elapsed_s:6.1f}s #{c.index} {c.status:<13} {ms:>12} | {best_text}"
                  f" | {knobs_text(dict(c.config.config), self.default)}", file=self.stream, flush=True)
        elif isinstance(event, SweepFinished):
            self.running = None
            self.heartbeat.stop()
            result = event.result
            text = f"{result.info.kernel}: sweep failed: {result.error}" if result.stopped == "error" else result.summary()
            print(text, file=self.stream, flush=True)


class BenchProgress:
    """Prints one line per finished size (and when tuning starts), a line every ``heartbeat_s``
    while a size takes longer, and a summary at the end."""

    def __init__(self, stream: TextIO | None = None, heartbeat_s: float = 10.0) -> None:
        self.stream = stream or sys.stdout
        self.under_way: SizeStarted | None = None
        self.since = 0.0
        self.heartbeat = _Heartbeat(self.stream, heartbeat_s, self.running_line)

    def running_line(self, min_s: float = 0.0) -> str:
        """``[2/5] size 4096: measuring for 30 s`` ('' if no size has been under way ``min_s``)."""
        event = self.under_way
        if event is None or time.perf_counter() - self.since < min_s:
            return ""
        return (f"[{event.index + 1}/{event.total}] size {event.size}: {event.phase} for "
                f"{time.perf_counter() - self.since:.0f} s")

    def __call__(self, event: Any) -> None:
        if isinstance(event, BenchStarted):
            info = event.info
            ceiling = f"; ceilings {info.ceilings.describe()}" if info.ceilings else ""
            print(f"bench {info.kernel} over {len(info.sizes)} sizes on {place(info.device, info.mode)}: "
                  f"{', '.join(info.impls)} (checked against {info.reference}); times are {info.timer}{ceiling}",
                  file=self.stream, flush=True)
            self.heartbeat.start()
        elif isinstance(event, SizeStarted):
            self.under_way, self.since = event, time.perf_counter()
            if event.phase != "measuring":
                print(f"[{event.index + 1}/{event.total}] size {event.size}: {event.phase}…", file=self.stream,
                      flush=True)
        elif isinstance(event, SizeFinished):
            self.under_way = None
            print(f"[{event.done}/{event.total}] {event.elapsed_s:6.1f}s size {event.size}: "
                  + " | ".join(row_text(r) for r in event.rows), file=self.stream, flush=True)
        elif isinstance(event, BenchFinished):
            self.under_way = None
            self.heartbeat.stop()
            print(event.report.summary(), file=self.stream, flush=True)
