"""``tune_many``'s engine: one sweep per argument set, side by side on an executor that allows it (a
Ray actor pool), else one after another; one stream of events for one view; one Stop for all.

Each sweep runs in a thread of its own (its driver-side work is light: proposing configs and
recording results; the candidates run on the actors). Sweeps are built one at a time (binding a
Helion kernel is not made to run in parallel threads). Their events reach the observers from the
calling thread only, wrapped in :class:`ShapeEvent` (which sweep), so a view never sees two threads.
Stop (:meth:`ManyRun.stop`, a button) and Ctrl-C end every sweep: queued and running candidates are
cancelled, every finished result is kept (and is in the run store).
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

import torch

from kernelbench._errors import SweepError
from kernelbench.core.target import KernelTarget
from kernelbench.tune.evaluators import Evaluator, Executor
from kernelbench.tune.events import Observer, emit
from kernelbench.tune.result import SweepResult

__all__ = ["ManyFinished", "ManyRun", "ManyStarted", "ShapeEvent", "label_of"]


@dataclasses.dataclass
class ManyStarted:
    kernel: str
    labels: list[str]  # one per argument set, e.g. "1024×1024 float32"
    executor: str
    concurrent: bool


@dataclasses.dataclass
class ShapeEvent:
    """An event of the sweep of argument set ``index``."""

    index: int
    event: Any


@dataclasses.dataclass
class ManyFinished:
    results: list[SweepResult | None]  # None: that sweep failed (its error is raised after this)
    stopped: bool


def label_of(args: Sequence[Any]) -> str:
    """The shapes and dtypes of the tensor arguments (other arguments as they are)."""
    parts = []
    for a in args:
        if isinstance(a, torch.Tensor):
            parts.append("×".join(map(str, a.shape)) + " " + str(a.dtype).removeprefix("torch."))
        else:
            parts.append(repr(a))
    return ", ".join(parts)


class _Tracked:
    """The executor, keeping each evaluator it makes (so Stop can cancel its waiting)."""

    def __init__(self, executor: Executor, made: list[Evaluator]) -> None:
        self.executor = executor
        self.name = executor.name
        self.concurrent = executor.concurrent
        self.made = made

    def evaluator(self, target: KernelTarget, bound: Any, problem: Any) -> Evaluator:
        evaluator = self.executor.evaluator(target, bound, problem)
        self.made.append(evaluator)
        return evaluator


#: Runs one sweep: (arguments, observers, a function to call with the sweep once built, executor).
RunOne = Callable[[tuple[Any, ...], Sequence[Observer], Callable[[Any], None], Executor], SweepResult]


class ManyRun:
    """Sweeps of one kernel over several argument sets. Build it, then :meth:`run` it (once)."""

    def __init__(self, kernel: str, arg_sets: Sequence[tuple[Any, ...]], run_one: RunOne, *, executor: Executor,
                 observers: Sequence[Observer] = ()) -> None:
        if not arg_sets:
            raise SweepError("tune_many needs at least one argument set: tune_many(kernel, [(x1,), (x2,)], ...)")
        self.kernel = kernel
        self.arg_sets = [tuple(a) for a in arg_sets]
        self.labels = [label_of(a) for a in self.arg_sets]
        self.run_one = run_one
        self.executor = executor
        self.observers = list(observers)
        self.sweeps: list[Any] = []
        self.evaluators: list[Evaluator] = []
        self._stopped = False
        self._lock = threading.Lock()

    def stop(self) -> None:
        """End every sweep: each stops taking candidates, and waiting ones are cancelled."""
        self._stopped = True
        with self._lock:
            for sweep in self.sweeps:
                sweep.stop()
            for evaluator in self.evaluators:
                evaluator.cancel()

    def _attach(self, sweep: Any) -> None:
        with self._lock:
            self.sweeps.append(sweep)
            if self._stopped:
                sweep.stop()

    def run(self) -> list[SweepResult]:
        emit(self.observers, ManyStarted(self.kernel, self.labels, self.executor.name, self.executor.concurrent))
        results: list[SweepResult | None] = [None] * len(self.arg_sets)
        errors: list[BaseException | None] = [None] * len(self.arg_sets)
        executor = _Tracked(self.executor, self.evaluators)
        try:
            if self.executor.concurrent:
                self._side_by_side(executor, results, errors)
            else:
                for i, args in enumerate(self.arg_sets):
                    if self._stopped:
                        break
                    try:
                        results[i] = result = self.run_one(args, [self._forward(i, None)], self._attach, executor)
                    except Exception as error:  # noqa: BLE001 - raised after the others have run
                        errors[i] = error
                        continue
                    if result.stopped in ("stop", "interrupt"):  # Ctrl-C ended that sweep: end them all
                        self._stopped = True
        except KeyboardInterrupt:
            self.stop()
        emit(self.observers, ManyFinished(results, self._stopped))
        if (error := next((e for e in errors if e is not None), None)) is not None:
            raise error
        return [r for r in results if r is not None]

    def _forward(self, index: int, events: queue.Queue[Any] | None) -> Observer:
        if events is None:
            return lambda event: emit(self.observers, ShapeEvent(index, event))
        return lambda event: events.put(ShapeEvent(index, event))

    def _side_by_side(self, executor: _Tracked, results: list[SweepResult | None],
                      errors: list[BaseException | None]) -> None:
        events: queue.Queue[Any] = queue.Queue()
        build = threading.Lock()  # sweeps are built one at a time, then run side by side

        def one(i: int) -> None:
            held = build.acquire()

            def attach(sweep: Any) -> None:
                nonlocal held
                self._attach(sweep)
                if held:
                    held = False
                    build.release()

            try:
                results[i] = self.run_one(self.arg_sets[i], [self._forward(i, events)], attach, executor)
            except BaseException as error:  # noqa: BLE001 - raised in the caller's thread
                errors[i] = error
            finally:
                if held:
                    build.release()

        threads = [threading.Thread(target=one, args=(i,), name=f"kernelbench-tune-many-{i}", daemon=True)
                   for i in range(len(self.arg_sets))]
        for t in threads:
            t.start()
        try:
            while any(t.is_alive() for t in threads) or not events.empty():
                try:
                    event = events.get(timeout=0.1)
                except queue.Empty:
                    continue
                emit(self.observers, event)
        except KeyboardInterrupt:
            self.stop()
            for t in threads:
                t.join()
            while not events.empty():
                emit(self.observers, events.get())
