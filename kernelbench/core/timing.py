"""One timer for everything we report: GPU median with L2 flushed, or interpreter wall time."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from kernelbench._settings import settings
from kernelbench.core.device import INTERPRETER_TIMING_NOTE, is_interpreter

__all__ = ["timer_label", "time_ms"]


def timer_label() -> str:
    """What the milliseconds mean, for every place they are shown."""
    if is_interpreter():
        return INTERPRETER_TIMING_NOTE
    return "GPU median of triton.testing.do_bench (L2 flushed between runs)"


def time_ms(fn: Callable[..., Any], args: tuple[Any, ...]) -> float:
    """Median latency of ``fn(*args)`` in milliseconds."""
    if is_interpreter():
        samples = []
        for _ in range(max(1, settings.cpu_reps)):
            start = time.perf_counter()
            fn(*args)
            samples.append((time.perf_counter() - start) * 1e3)
        return statistics.median(samples)
    import triton.testing

    return float(
        triton.testing.do_bench(
            lambda: fn(*args), warmup=settings.gpu_warmup_ms, rep=settings.gpu_rep_ms, return_mode="median"
        )
    )
