"""The evaluation pipeline, written once: compile → poison → run → check → time → :class:`Outcome`.

In-process sweeps, worker processes and benches all call :func:`evaluate`; *where* it runs (this
process, a worker process, a Ray actor) is an evaluator's business (``kernelbench.tune.evaluators``).

* Every output allocated with ``torch.empty*`` starts as NaN (ints: their max), so an element the
  kernel never writes fails the check instead of passing on stale memory.
* Each input set is checked against its reference; outputs whose count, shape or dtype differ from
  the reference's make a ``wrong`` outcome with ``structural=True``: no config can fix that.
* Candidates run (and are timed) on copies of the inputs, never the caller's tensors; one that
  modifies an input the reference leaves alone (:attr:`Problem.mutates`) is ``wrong``.
* Only a correct candidate is timed (a wrong one still is, so its speed can be shown, but it is
  never the best). Timing uses the one timer of :mod:`kernelbench.core.timing`.
* An interpreter sweep sets :attr:`Problem.cutoff`: a run slower than ``cutoff.factor`` × the best
  so far ends the measurement with status ``slow`` (its one run is its ``ms``: not a median, never
  the best; the first run, which pays the interpreter's per-config warm-up of ~10 ms, is held to
  ``first_factor``), and past ``cutoff.deadline`` no further run starts
  (:class:`DeadlinePassed` if the checks were not finished; the runs timed so far if they were).
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any, Literal, get_args

import torch

from kernelbench._errors import CheckError
from kernelbench.core.check import (
    check_outputs,
    check_structure,
    copy_args,
    flatten_outputs,
    poisoned,
    validate_tolerances,
    written_inputs,
)
from kernelbench.core.device import synchronize
from kernelbench.core.timing import time_runs, warm_up
from kernelbench.core.tracemap import located_message

__all__ = ["PHASES", "STATUSES", "Cutoff", "DeadlinePassed", "Outcome", "Phase", "Problem", "Status", "evaluate",
           "expected_outputs", "short_error"]

#: How a candidate ended. ``timeout``'s phase is in :attr:`Outcome.timed_out`. ``slow``: measured,
#: and one run was already over :attr:`Cutoff.factor` × the best so far, so it was not measured
#: further (its ``ms`` is that one run; it may be unchecked on the fresh inputs; never the best).
#: ``screened``: rejected before it was compiled for timing, because it cannot launch on the GPU
#: target (or spills), from its resources (``kernelbench.core.lowering``); never evaluated.
Status = Literal["ok", "wrong", "slow", "compile_error", "runtime_error", "timeout", "screened"]
STATUSES: tuple[Status, ...] = get_args(Status)
Phase = Literal["compile", "run"]
PHASES: tuple[Phase, ...] = get_args(Phase)

#: Length of the one-line error kept with an outcome.
ERROR_CHARS = 300


def short_error(error: BaseException) -> str:
    """``Type: first line of the message``, at most :data:`ERROR_CHARS` characters; an error raised
    inside the generated code names the kernel line it came from (:mod:`kernelbench.core.tracemap`)."""
    located = located_message(error)
    if located is not None:
        return f"{type(error).__name__} {located}"[:ERROR_CHARS]
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:ERROR_CHARS]


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What evaluating one config (or one implementation) gave."""

    status: Status
    ms: float | None = None
    compile_s: float = 0.0
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    rel_l2: float | None = None
    error: str | None = None
    #: For a ``timeout``: the phase that ran past its limit (``compile`` or ``run``).
    timed_out: Phase | None = None
    #: The outputs do not line up with the reference's (count, shape, dtype): no config can pass.
    structural: bool = False

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown outcome status {self.status!r}; one of {', '.join(STATUSES)}")
        if self.timed_out is not None and self.timed_out not in PHASES:
            raise ValueError(f"unknown phase {self.timed_out!r}; one of {', '.join(PHASES)}")

    @property
    def correct(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})


class DeadlinePassed(Exception):
    """The sweep's time limit came before this candidate's checks were done: it is not a result."""


@dataclasses.dataclass
class Cutoff:
    """When to stop measuring a candidate early (interpreter sweeps; the sweep updates it as it goes)."""

    best_ms: float | None = None  # the best correct latency so far
    factor: float = 3.0  # a run over factor × best_ms ends the measurement: status ``slow``
    first_factor: float = 10.0  # the same for a candidate's first run (it includes a warm-up)
    deadline: float | None = None  # a ``time.perf_counter()`` value: no run starts after it

    def slower_than_ms(self, first: bool = False) -> float | None:
        """A run slower than this ends the measurement (None: no cut)."""
        if self.best_ms is None:
            return None
        return (self.first_factor if first else self.factor) * self.best_ms

    def slow_note(self, ms: float, what: str, first: bool = False) -> str:
        factor = self.first_factor if first else self.factor
        return (f"{what} took {ms:.3g} ms, over {factor:g}x the best so far ({self.best_ms:.3g} ms): "
                "not measured further (one run, not a median)")


@dataclasses.dataclass
class Problem:
    """What every candidate is checked and timed on; prepared once (per sweep, per bench size)."""

    name: str  # the kernel's (or implementation's) name, for messages
    args: tuple[Any, ...]  # timed on these
    #: Input sets and the reference outputs for each (float64 where the reference can run in it).
    checks: list[tuple[tuple[Any, ...], list[torch.Tensor]]]
    #: Shapes and dtypes the outputs must have: the reference run as written (meta tensors will do).
    expected: list[torch.Tensor]
    rtol: float | None = None
    atol: float | None = None
    #: Indices of the input arguments the reference itself modifies: a candidate may write those.
    mutates: tuple[int, ...] = ()
    #: When to stop measuring early (none by default: every run is made).
    cutoff: Cutoff = dataclasses.field(default_factory=Cutoff)

    def __post_init__(self) -> None:
        validate_tolerances(self.rtol, self.atol)


def evaluate(
    compile: Callable[[], Callable[..., Any]],
    problem: Problem,
    *,
    poison: bool = True,
    time_wrong: bool = True,
    warmup: bool = False,
    on_phase: Callable[[Phase], None] | None = None,
) -> Outcome:
    """Compile, run each input set (outputs poisoned first), check, then time; never raises for a
    failing candidate (its failure is the outcome). ``on_phase`` hears when each phase starts, so a
    parent process can hold each to its own time limit. ``time_wrong=False`` leaves a wrong
    candidate untimed (a bench never shows the speed of a wrong implementation). ``problem.cutoff``
    may end it early (module docstring); :class:`DeadlinePassed` is the one exception it raises.
    ``warmup=True`` calls it untimed on the timing arguments until its time settles
    (:func:`~kernelbench.core.timing.warm_up`) before timing it: a bench does, at every size."""
    if on_phase is not None:
        on_phase("compile")
    start = time.perf_counter()
    try:
        fn = compile()
    except Exception as error:  # noqa: BLE001 - a config that does not compile is a result
        return Outcome("compile_error", compile_s=time.perf_counter() - start, error=short_error(error))
    compile_s = time.perf_counter() - start
    if on_phase is not None:
        on_phase("run")
    worst = {"max_abs_err": 0.0, "max_rel_err": 0.0, "rel_l2": 0.0}
    wrong: str | None = None
    cutoff = problem.cutoff
    run_ms: float | None = None  # the last checked run's wall time
    for k, (inputs, refs) in enumerate(problem.checks):
        if cutoff.deadline is not None and time.perf_counter() >= cutoff.deadline:
            raise DeadlinePassed(problem.name)
        run_inputs = copy_args(inputs)
        run_start = time.perf_counter()
        try:
            with torch.no_grad(), poisoned() if poison else nullcontext():
                outs = flatten_outputs(fn(*run_inputs), problem.name)
            synchronize()
        except Exception as error:  # noqa: BLE001 - a candidate that fails to run is a result
            return Outcome("runtime_error", compile_s=compile_s, error=_with_trace(error))
        run_ms = (time.perf_counter() - run_start) * 1e3
        try:
            check_structure(outs, problem.expected, problem.name)
        except CheckError as error:
            return Outcome("wrong", compile_s=compile_s, error=str(error), structural=True)
        wrong = wrong or check_outputs(outs, refs, rtol=problem.rtol, atol=problem.atol, worst=worst)
        written = [i for i in written_inputs(inputs, run_inputs) if i not in problem.mutates]
        if written and not wrong:
            wrong = (f"{problem.name} wrote its input argument {written[0]}; the reference does not (kernels "
                     "run on copies, so the caller's tensors are safe)")
        del outs, run_inputs
        limit = cutoff.slower_than_ms(first=k == 0)
        if limit is not None and run_ms > limit:
            if wrong:  # too slow to be worth timing, and wrong anyway
                return Outcome("wrong", compile_s=compile_s, error=wrong, **worst)
            what = "its first run" if k == 0 else f"its run on input set {k + 1}"
            checked = f"checked on {k + 1} of {len(problem.checks)} input set(s)"
            return Outcome("slow", ms=run_ms, compile_s=compile_s,
                           error=f"{cutoff.slow_note(run_ms, what, first=k == 0)}; {checked}", **worst)
    if wrong and not time_wrong:
        return Outcome("wrong", compile_s=compile_s, error=wrong, **worst)
    try:
        with torch.no_grad():
            timed_args = copy_args(problem.args)
            if warmup:
                warm_up(fn, timed_args, after_ms=run_ms)
            timing = time_runs(fn, timed_args, slower_than_ms=cutoff.slower_than_ms(),
                               deadline=cutoff.deadline)
    except Exception as error:  # noqa: BLE001
        return Outcome("runtime_error", compile_s=compile_s, error=_with_trace(error), **worst)
    if timing.cut == "slow" and not wrong:
        return Outcome("slow", ms=timing.ms, compile_s=compile_s, error=cutoff.slow_note(timing.ms, "a timed run"),
                       **worst)
    return Outcome("wrong" if wrong else "ok", ms=timing.ms, compile_s=compile_s, error=wrong, **worst)


def _with_trace(error: BaseException) -> str:
    """The one-line error, then the innermost frames (where in the generated code it failed): whole
    lines of the traceback, its last ~500 characters."""
    lines = [line for line in traceback.format_exc(limit=-2).splitlines() if line.strip()]
    while len(lines) > 1 and sum(len(line) + 1 for line in lines) > 500:
        lines.pop(0)
    return short_error(error) + "\n" + "\n".join(lines)


def expected_outputs(specs: Sequence[tuple[Sequence[int], str]]) -> list[torch.Tensor]:
    """Meta tensors with these (shape, dtype name) pairs: the expected outputs without their data."""
    return [torch.empty(list(shape), dtype=getattr(torch, dtype), device="meta") for shape, dtype in specs]
