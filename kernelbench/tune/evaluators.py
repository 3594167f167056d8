"""Where a sweep's candidates are evaluated: one small interface, one implementation per place.

A sweep proposes configs and hands each to its :class:`Evaluator` under a *ticket* (a number unique
within the sweep). The evaluator may start work as soon as a config is submitted (compile it ahead
in other processes, send it to a remote actor) and says which submitted ticket can be evaluated
next; :meth:`Evaluator.evaluate` then returns its :class:`~kernelbench.core.evaluate.Outcome`.
Every implementation runs the same pipeline, :func:`kernelbench.core.evaluate.evaluate`.

An :class:`Executor` makes a sweep's evaluator (Helion's ``BenchmarkProvider`` in
``helion/autotuner/benchmark_provider.py`` plays the same part there):

* :class:`InProcess` evaluates in this process (the interpreter's default: nothing to protect);
* ``kernelbench.tune.worker.Isolated`` in worker processes with time limits (the GPU default: a
  crash or a hang is a result, and the notebook's CUDA context survives).

* ``kernelbench.tune.ray.RayExecutor`` on Ray actors, one per GPU (candidates evaluated side by side,
  results handed back in the order they finish).

A new place implements :class:`Executor` and :class:`Evaluator`; nothing else in the sweep changes.
"""

from __future__ import annotations

import abc
from typing import Any, Protocol

import helion

from kernelbench.core.evaluate import Outcome, Problem, evaluate
from kernelbench.core.target import KernelTarget

__all__ = ["Evaluator", "Executor", "InProcess", "InProcessEvaluator"]


class Evaluator(abc.ABC):
    """Evaluates one sweep's candidates. Use it as a context manager, or call :meth:`close`."""

    #: How many proposals the sweep keeps submitted ahead of the one being evaluated.
    lookahead: int = 1

    def __init__(self) -> None:
        self._submitted: list[int] = []

    def submit(self, ticket: int, config: helion.Config) -> None:
        """``config`` will be evaluated under ``ticket``: start on it now if you can."""
        self._submitted.append(ticket)

    def next_ready(self, timeout: float) -> int | None:
        """The submitted ticket to evaluate next (the oldest, unless work ahead finished out of
        order), or ``None`` when ``timeout`` seconds pass with none ready or nothing is submitted."""
        return self._submitted[0] if self._submitted else None

    @abc.abstractmethod
    def evaluate(self, ticket: int, config: helion.Config) -> Outcome:
        """Evaluate ``config`` (submitted under ``ticket`` or not) and return its outcome."""

    def _done(self, ticket: int) -> None:
        if ticket in self._submitted:
            self._submitted.remove(ticket)

    def cancel(self) -> None:  # noqa: B027 - optional: most evaluators never wait long
        """Stop waiting: :meth:`next_ready` returns ``None`` from now on (another thread may call this)."""

    def close(self) -> None:  # noqa: B027 - optional: most evaluators hold nothing
        """Free what the evaluator holds (processes, actors). Called once, when the sweep ends."""

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Executor(Protocol):
    """Makes the evaluator of one sweep: ``target`` bound as ``bound`` is checked on ``problem``."""

    name: str
    #: Several sweeps may use it at once (``tune_many`` runs them side by side): a Ray actor pool
    #: can; this process, or its one eval worker, cannot.
    concurrent: bool

    def evaluator(self, target: KernelTarget, bound: Any, problem: Problem) -> Evaluator: ...


class InProcessEvaluator(Evaluator):
    """Compiles, checks and times each candidate in this process, in the order submitted."""

    def __init__(self, bound: Any, problem: Problem) -> None:
        super().__init__()
        self.bound = bound
        self.problem = problem

    def evaluate(self, ticket: int, config: helion.Config) -> Outcome:
        self._done(ticket)
        return evaluate(lambda: self.bound.compile_config(config, allow_print=False), self.problem)


class InProcess:
    """Evaluate candidates in this process (no time limits: a hanging candidate hangs the sweep)."""

    name = "in-process"
    concurrent = False

    def evaluator(self, target: KernelTarget, bound: Any, problem: Problem) -> Evaluator:
        return InProcessEvaluator(bound, problem)

    def __repr__(self) -> str:
        return "InProcess()"
