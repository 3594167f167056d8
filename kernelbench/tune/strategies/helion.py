from __future__ import annotations

import contextlib
import functools
import math
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import helion

from kernelbench.tune.records import Candidate
from kernelbench.tune.strategies._base import Strategy


class Driver(Protocol):
    """What the sweep engine offers a strategy that runs its own loop."""

    def prefetch(self, configs: Sequence[helion.Config]) -> None: ...
    def evaluate(self, config: helion.Config) -> Candidate: ...


class HelionStrategy(Strategy):
    """Helion's own default search (LFBO tree search, quick effort profile), run in-process.

    Helion decides what to try; every config it asks to benchmark goes through our engine (compile,
    check against the reference, time, events to the dashboard and store), so its sweep is drawn,
    stored, stoppable and checked like any other. A config Helion asks for twice is measured once,
    and Helion's re-benchmarks of its finalists (``autotune_benchmark_fn``, its documented seam) read
    the engine's timing instead of timing outside the engine: one measurement per config, on the GPU
    and in the interpreter alike (Helion's own re-timer needs a GPU driver).
    """

    name = "helion"
    effort = "quick"

    def propose(self, history: list[Candidate]) -> helion.Config | None:
        raise NotImplementedError("the helion strategy drives its own loop: see drive()")

    def drive(self, bound: Any, args: Sequence[Any], driver: Driver) -> None:
        from helion.autotuner import LFBOTreeSearch
        from helion.autotuner.effort_profile import get_effort_profile

        with _settings(bound, overrides=self.space.pinned):
            kwargs = LFBOTreeSearch.get_kwargs_from_profile(get_effort_profile(self.effort), bound.settings)
            search = LFBOTreeSearch(bound, args, **kwargs)
            search._benchmark_provider_cls = functools.partial(_EngineProvider, driver=driver)
            search.autotune(skip_cache=True)


@contextlib.contextmanager
def _settings(bound: Any, overrides: dict[str, Any]) -> Iterator[None]:
    """Quiet Helion's own progress output and pin the space's knobs, for this search only: ``overrides``
    is the decorator's ``autotune_config_overrides`` with ``fixed``'s pins on top (``ConfigSpace.pinned``),
    so Helion's search stays inside the space the author declared."""
    changes = {"autotune_progress_bar": False, "autotune_log_level": 40, "autotune_precompile": None,
               "autotune_config_overrides": dict(overrides), "autotune_benchmark_fn": _engine_timings}
    old = {name: getattr(bound.settings, name) for name in changes}
    for name, value in changes.items():
        setattr(bound.settings, name, value)
    try:
        yield
    finally:
        for name, value in old.items():
            setattr(bound.settings, name, value)


class _Measured:
    """A config's kernel as Helion's search holds it: compiled on first call, carrying the engine's timing.

    Helion re-benchmarks by calling each finalist's function through ``autotune_benchmark_fn``; inside
    :func:`_engine_timings` a call only names the candidate, so the timing returned is the engine's.
    """

    def __init__(self, kernel: Any, config: helion.Config, ms: float) -> None:
        self.kernel, self.config, self.ms = kernel, config, ms
        self._compiled: Any = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _reading.names is not None:
            _reading.names.append(self)
            return None
        if self._compiled is None:
            self._compiled = self.kernel.compile_config(self.config, allow_print=False)
        return self._compiled(*args, **kwargs)


class _Reading(threading.local):
    names: list[_Measured] | None = None


_reading = _Reading()


def _engine_timings(fns: Sequence[Any], *, repeat: int = 1, desc: str | None = None) -> list[float]:
    """Helion's ``autotune_benchmark_fn``: each finalist's timing as the engine measured it."""
    timings = []
    for fn in fns:
        _reading.names = []
        try:
            fn()
            named = _reading.names
        finally:
            _reading.names = None
        timings.append(named[0].ms if named else math.inf)
    return timings


def _provider_base() -> type:
    from helion.autotuner.benchmark_provider import BenchmarkProvider

    return BenchmarkProvider


class _EngineProvider(_provider_base()):  # type: ignore[misc]
    """Helion's benchmark provider interface, answered by our sweep engine."""

    def __init__(self, kernel: Any, settings: Any, config_spec: Any, args: Sequence[Any], log: Any,
                 autotune_metrics: Any, *, driver: Driver) -> None:
        self.kernel = kernel
        self.driver = driver
        self.mutated_arg_indices: Sequence[int] = []

    def setup(self) -> None:
        return None

    def cleanup(self) -> None:
        return None

    def benchmark(self, configs: list[helion.Config], *, desc: str = "Benchmarking",
                  raise_if_no_viable_config: bool = True) -> list[Any]:
        from helion.autotuner.benchmark_provider import BenchmarkResult

        self.driver.prefetch(configs)
        results = []
        for config in configs:
            candidate = self.driver.evaluate(config)
            ok = candidate.status == "ok" and candidate.ms is not None
            ms = candidate.ms if ok and candidate.ms is not None else math.inf
            results.append(BenchmarkResult(
                config=config, fn=_Measured(self.kernel, config, ms), perf=ms,
                status="ok" if ok else "error", compile_time=candidate.compile_s,
                completed_at=time.perf_counter(), per_shape=None, per_shape_statuses=None,
            ))
        return results
