"""One timer for everything we report: GPU median with L2 flushed, or interpreter wall time.

In the interpreter a run can take seconds, so :func:`time_runs` can stop early: after a run slower
than ``slower_than_ms`` (the candidate is clearly not the best: its one run is what we report), or
once ``deadline`` (a ``time.perf_counter()`` value) has passed (the median of the runs so far). On a
GPU ``do_bench`` is short and is never cut.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable
from typing import Any, Literal

from kernelbench._settings import settings
from kernelbench.core.device import INTERPRETER_TIMING_NOTE, is_interpreter

__all__ = ["Timing", "time_ms", "time_runs", "timer_label", "warm_up"]

#: A warm-up call less than this factor faster than the one before it: the timings have settled.
SETTLED = 1.25


def timer_label() -> str:
    """What the milliseconds mean, for every place they are shown."""
    if is_interpreter():
        return INTERPRETER_TIMING_NOTE
    return "GPU median of triton.testing.do_bench (L2 flushed between runs)"


@dataclasses.dataclass(frozen=True)
class Timing:
    """A latency and how it was measured."""

    ms: float  # median of the runs timed (one run when cut for being slow)
    runs: int  # runs timed (on a GPU: 0, do_bench decides)
    #: Why timing stopped before ``settings.cpu_reps`` runs: ``slow`` or ``deadline`` (None: it did not).
    cut: Literal["slow", "deadline"] | None = None


def time_runs(fn: Callable[..., Any], args: tuple[Any, ...], *, slower_than_ms: float | None = None,
              deadline: float | None = None) -> Timing:
    """Median latency of ``fn(*args)`` in milliseconds; in the interpreter, cut short as the module
    docstring says (at least one run is always timed)."""
    if is_interpreter():
        samples: list[float] = []
        for _ in range(max(1, settings.cpu_reps)):
            start = time.perf_counter()
            fn(*args)
            samples.append((time.perf_counter() - start) * 1e3)
            if slower_than_ms is not None and samples[-1] > slower_than_ms:
                return Timing(samples[-1], len(samples), "slow")
            if deadline is not None and time.perf_counter() >= deadline and len(samples) < settings.cpu_reps:
                return Timing(statistics.median(samples), len(samples), "deadline")
        return Timing(statistics.median(samples), len(samples))
    import triton.testing

    ms = triton.testing.do_bench(
        lambda: fn(*args), warmup=settings.gpu_warmup_ms, rep=settings.gpu_rep_ms, return_mode="median"
    )
    return Timing(float(ms), 0)


def warm_up(fn: Callable[..., Any], args: tuple[Any, ...], *, most: int = 3, after_ms: float | None = None) -> int:
    """Call ``fn(*args)`` untimed while each call is still over :data:`SETTLED` × faster than the one
    before it (``after_ms``: a call made just before, e.g. the check's), at least once and at most
    ``most`` times; returns how many calls it made. Absorbs what the first calls at a new size pay
    (torch.compile's compile and recompile for dynamic shapes, lazy set-up) before anything is timed."""
    previous = after_ms
    for calls in range(1, most + 1):
        start = time.perf_counter()
        fn(*args)
        ms = (time.perf_counter() - start) * 1e3
        if previous is not None and ms * SETTLED >= previous:
            return calls
        previous = ms
    return most


def time_ms(fn: Callable[..., Any], args: tuple[Any, ...]) -> float:
    """Median latency of ``fn(*args)`` in milliseconds."""
    return time_runs(fn, args).ms
