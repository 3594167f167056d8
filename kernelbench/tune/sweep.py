"""The sweep engine: propose a config, compile it, check it, time it, tell the observers; repeat.

It knows nothing of widgets: the dashboard, the text progress line and the run store are observers
of its events. A failing candidate is a result, never the end of the sweep; a ``wrong`` one is never
the best. Stop (``Sweep.stop()``, e.g. from a button) and Ctrl-C both end the sweep after keeping
everything measured.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import helion
import torch

from kernelbench._errors import CheckError, SweepError
from kernelbench.core.check import (
    copy_args,
    flatten_outputs,
    fresh_inputs,
    native_reference,
    poisoned,
    reference,
    written_inputs,
)
from kernelbench.core.configs import Signature, signature_of
from kernelbench.core.device import DEVICE, device_name, is_interpreter
from kernelbench.core.evaluate import Problem, short_error
from kernelbench.core.space import ConfigSpace, config_key
from kernelbench.core.target import KernelTarget
from kernelbench.core.timing import time_ms, timer_label
from kernelbench.tune.evaluators import Evaluator, Executor, InProcess
from kernelbench.tune.events import (
    CandidateFinished,
    CandidateStarted,
    Observer,
    SweepFinished,
    SweepStarted,
    emit,
)
from kernelbench.tune.records import Candidate, SweepInfo
from kernelbench.tune.result import SweepResult
from kernelbench.tune.strategies import resolve

__all__ = ["DEFAULT_BUDGET", "Sweep"]

DEFAULT_BUDGET = 32
#: Input sets each candidate is checked on: the given arguments plus fresh random ones.
CHECK_INPUT_SETS = 2


def _check_devices(name: str, args: Sequence[Any]) -> None:
    """Every tensor argument lives on ``DEVICE`` (not ``meta``, not another device)."""
    want = torch.device(DEVICE)
    for i, arg in enumerate(args):
        if isinstance(arg, torch.Tensor) and arg.device.type != want.type:
            raise SweepError(
                f"argument {i} of {name} is a tensor on {arg.device.type!r} but kernels run on {DEVICE!r} "
                f"here; make it with device=kernelbench.DEVICE (or move it: x.to(kernelbench.DEVICE))"
            )


class Sweep:
    """One tuning run of ``target`` on ``args``. Build it, then :meth:`run` it (once).

    It is given everything it needs (configs to start from and to avoid, observers, the executor
    that makes its evaluator) and touches nothing of its caller: the result says what it found.
    """

    def __init__(
        self,
        target: KernelTarget,
        args: Sequence[Any],
        *,
        ref: Callable[..., Any] | None = None,
        budget: int | None = None,
        time_limit: float | None = None,
        strategy: str = "auto",
        fixed: Mapping[str, Any] | None = None,
        seed: int | None = None,
        observers: Sequence[Observer] = (),
        bytes: int | None = None,  # noqa: A002 - the public keyword is `bytes=`
        flops: float | None = None,
        start: Sequence[helion.Config] = (),
        avoid: Sequence[helion.Config] = (),
        rtol: float | None = None,
        atol: float | None = None,
        executor: Executor | None = None,
        signature: Signature | None = None,
    ) -> None:
        if budget is not None and (not isinstance(budget, numbers.Integral) or isinstance(budget, bool)
                                   or budget < 1):
            raise SweepError(f"budget must be at least 1 candidate, as a whole number (e.g. budget=8); got "
                             f"{budget!r}")
        if time_limit is not None and (not isinstance(time_limit, numbers.Real) or isinstance(time_limit, bool)
                                       or not math.isfinite(time_limit) or time_limit <= 0):
            raise SweepError(f"time_limit must be a positive number of seconds (e.g. time_limit=60); got "
                             f"{time_limit!r}")
        if not args:
            raise SweepError(f"tune needs {target.name}'s arguments: {target.name}.tune(x, ...)")
        _check_devices(target.name, args)
        self.target = target
        self.args = tuple(args)
        self.ref = ref
        if budget is not None:
            budget = int(budget)
        if time_limit is not None:
            time_limit = float(time_limit)
        self.budget = budget if budget is not None or time_limit is not None else DEFAULT_BUDGET
        self.time_limit = time_limit
        self.seed = seed
        self.rtol, self.atol = rtol, atol
        self.observers = list(observers)
        self.executor: Executor = executor if executor is not None else InProcess()
        self._stop_requested = False
        self.candidates: list[Candidate] = []
        self.signature = signature if signature is not None else signature_of(self.args)

        self.bound = target.bind(*self.args)
        self.space = ConfigSpace(self.bound, fixed, seed=seed)
        cls = resolve(strategy, has_choices=bool(self.space.choices), grid_size=len(self.space.grid()))
        self.strategy_name = cls.name
        self.strategy = cls(self.space, start=list(start))
        # Configs whose compile already ran past the limit: proposing them again would only hold a
        # worker for the limit.
        self._avoid = {config_key(c) for c in avoid}
        self.strategy.seen |= self._avoid
        self.problem = self._prepare_problem()
        self.bytes, self.bytes_label = self._bytes(bytes)
        self.info = SweepInfo(
            kernel=target.name,
            device=DEVICE,
            mode=device_name(),
            strategy=self.strategy_name,
            knobs=self.space.knobs,
            space=self.space.describe(),
            space_size=self.space.size(),
            budget=self.budget,
            time_limit=time_limit,
            timer=timer_label(),
            seed=seed,
            bytes=self.bytes,
            bytes_label=self.bytes_label,
            flops=flops,
            ref_ms=self._time_reference(),
            signature=self.signature,
            source_hash=target.source_hash,
            interpreter=is_interpreter(),
            skipped=len(self._avoid),
        )

    # -- set-up -----------------------------------------------------------------------------------

    def _prepare_problem(self) -> Problem:
        """Input sets and their reference outputs, computed once for the whole sweep."""
        input_sets = [self.args] + [fresh_inputs(self.args, (self.seed or 0) * 100 + k)
                                    for k in range(1, CHECK_INPUT_SETS)]
        name = self.target.name
        # References run on copies: the user's tensors are never written, and what a reference writes
        # in place is allowed of the candidates too (Problem.mutates).
        if self.ref is not None:
            run = copy_args(self.args)
            expected = native_reference(self.ref, run)
            mutates = tuple(written_inputs(self.args, run))
            checks = [(inputs, reference(self.ref, copy_args(inputs))[0]) for inputs in input_sets]
            return Problem(name, self.args, checks, expected, self.rtol, self.atol, mutates=mutates)
        # No reference: Helion's default config is the reference.
        mutates: tuple[int, ...] = ()
        try:
            fn = self.bound.compile_config(self.space.default_helion, allow_print=False)
            checks = []
            for inputs in input_sets:
                run = copy_args(inputs)
                with torch.no_grad(), poisoned():
                    outs = flatten_outputs(fn(*run), name)
                mutates = mutates or tuple(written_inputs(inputs, run))
                checks.append((inputs, [o.clone() for o in outs]))
        except CheckError:
            raise
        except Exception as error:
            raise SweepError(
                f"with no ref=, candidates are checked against Helion's default config, but it fails "
                f"({short_error(error)}); pass ref=<a torch function>"
            ) from None
        return Problem(name, self.args, checks, checks[0][1], self.rtol, self.atol, mutates=mutates)

    def _bytes(self, given: int | None) -> tuple[int | None, str]:
        if given is not None:
            return int(given), "bytes given"
        tensors = [a for a in self.args if isinstance(a, torch.Tensor)] + list(self.problem.expected)
        return sum(t.numel() * t.element_size() for t in tensors), "bytes of all tensor inputs and outputs"

    def _time_reference(self) -> float | None:
        if self.ref is None:
            return None
        with torch.no_grad():
            return time_ms(self.ref, copy_args(self.args))  # a reference that writes in place times on copies

    # -- running ----------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the sweep to end after the current candidate (safe from a widget callback)."""
        self._stop_requested = True

    def _emit(self, event: Any) -> None:
        emit(self.observers, event)

    def _should_stop(self, started: float) -> str | None:
        if self._stop_requested:
            return "stop"
        if self.budget is not None and len(self.candidates) >= self.budget:
            return "budget"
        if self.time_limit is not None and time.perf_counter() - started >= self.time_limit:
            return "time_limit"
        return None

    def run(self) -> SweepResult:
        started = time.perf_counter()
        self._emit(SweepStarted(self.info))
        stopped = "exhausted"
        self._tickets = 0
        evaluator: Evaluator | None = None
        try:
            evaluator = self.executor.evaluator(self.target, self.bound, self.problem)
            if hasattr(self.strategy, "drive"):
                stopped = self._drive(evaluator, started)
            else:
                stopped = self._loop(evaluator, started)
        except KeyboardInterrupt:
            stopped = "interrupt"
        except Exception as error:
            # The observers (the run store among them) hear how it ended before the error goes on:
            # every run that started also ends, with stopped "error" and the message.
            self._finish(started, evaluator, "error", str(error) or type(error).__name__)
            raise
        return self._finish(started, evaluator, stopped)

    def _finish(self, started: float, evaluator: Evaluator | None, stopped: str,
                error: str | None = None) -> SweepResult:
        wall_s = time.perf_counter() - started
        try:
            if evaluator is not None:
                evaluator.close()
        except Exception:
            if error is None:
                raise
            # already ending with an error: that one is the one to tell (a worker that will not close
            # is its consequence)
        finally:
            result = SweepResult(self.info, list(self.candidates), stopped, wall_s, error=error)
            self._emit(SweepFinished(result))
        return result

    def _loop(self, evaluator: Evaluator, started: float) -> str:
        """Propose ahead of the evaluator; evaluate whichever proposal it has ready first."""
        pending: dict[int, helion.Config] = {}
        while (reason := self._should_stop(started)) is None:
            depth = evaluator.lookahead
            if self.budget is not None:
                depth = min(depth, self.budget - len(self.candidates))
            while len(pending) < depth and (config := self.strategy.propose(self.candidates)) is not None:
                pending[self._tickets] = config
                evaluator.submit(self._tickets, config)
                self._tickets += 1
            if not pending:
                return "exhausted"
            remaining = self.time_limit - (time.perf_counter() - started) if self.time_limit else 3600.0
            ticket = evaluator.next_ready(max(0.0, remaining))
            if ticket is None:  # the time limit came while every proposal was still in the works
                return "time_limit"
            self._record(evaluator, ticket, pending.pop(ticket), started)
        return reason

    def _record(self, evaluator: Evaluator, ticket: int, config: helion.Config, started: float) -> Candidate:
        index = len(self.candidates)
        self._emit(CandidateStarted(index, config))
        outcome = evaluator.evaluate(ticket, config)
        if outcome.structural:
            # Output count, shapes and dtypes do not depend on the config: no candidate can pass.
            raise SweepError(outcome.error or "the outputs do not line up with the reference's")
        candidate = Candidate.from_outcome(index, config, outcome)
        candidate.finished_s = time.perf_counter() - started
        self.candidates.append(candidate)
        best = SweepResult(self.info, self.candidates, "", 0).best
        self._emit(CandidateFinished(candidate, best, len(self.candidates), candidate.finished_s))
        return candidate

    def _drive(self, evaluator: Evaluator, started: float) -> str:
        """Run a strategy that has its own loop (Helion's search); returns why it ended."""
        seen: dict[str, Candidate] = {}
        tickets: dict[str, int] = {}

        class _Done(Exception):
            pass

        sweep = self

        class Driver:
            def prefetch(self, configs: Sequence[helion.Config]) -> None:
                for config in configs:
                    key = config_key(config)
                    if key not in seen and key not in tickets and evaluator.lookahead > 1:
                        tickets[key] = sweep._tickets
                        evaluator.submit(sweep._tickets, config)
                        sweep._tickets += 1

            def evaluate(self, config: helion.Config) -> Candidate:
                key = config_key(config)
                if key in seen:
                    return seen[key]
                if key in sweep._avoid:  # not measured, not recorded: a failure to Helion's search
                    return Candidate(-1, config, "timeout", error="its compile ran past the limit before",
                                     timed_out="compile")
                if (why := sweep._should_stop(started)) is not None:
                    raise _Done(why)
                ticket = tickets.pop(key, None)
                if ticket is None:
                    ticket, sweep._tickets = sweep._tickets, sweep._tickets + 1
                seen[key] = sweep._record(evaluator, ticket, config, started)
                return seen[key]

        try:
            self.strategy.drive(self.bound, self.args, Driver())  # type: ignore[attr-defined]
        except _Done as done:
            return str(done)
        return "exhausted"
