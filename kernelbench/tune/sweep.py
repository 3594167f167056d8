"""The sweep engine: propose a config, compile it, check it, time it, tell the observers; repeat.

It knows nothing of widgets: the dashboard, the text progress line and the run store are observers
of its events. A failing candidate is a result, never the end of the sweep; a ``wrong`` one is never
the best. Stop (``Sweep.stop()``, e.g. from a button) and Ctrl-C both end the sweep after keeping
everything measured.

In Triton's interpreter every tile a kernel runs costs milliseconds of Python (64x64 elementwise:
one tile ~10 ms, 512 tiles of 2x4 ~3 s), so an interpreter sweep does useful work three ways:

* the random and pattern strategies propose no config that cuts the problem into more than
  :data:`INTERPRETER_MAX_TILES` tiles (more where no config can do that; the sweep's header says so);
* a candidate whose run is over ``Cutoff.factor`` (3) times the best so far is not measured further:
  status ``slow``, its one run as its ``ms``, never the best (:mod:`kernelbench.core.evaluate`);
* ``time_limit`` is kept to within one run: past it no run starts, and a candidate whose checks were
  not finished is dropped (not a result).
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
from kernelbench._settings import settings
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
from kernelbench.core.evaluate import DeadlinePassed, Problem, short_error
from kernelbench.core.lowering import ResourceProbe, device_target
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
#: In the interpreter, proposed configs run at most this many tiles (block and reduction-loop steps).
INTERPRETER_MAX_TILES = 16


class TileLimit:
    """Admits configs that run at most ``limit`` tiles: the product, over block sizes and reduction
    loops, of how many steps of that size cover the dimension (Helion's size hints)."""

    def __init__(self, bound: Any, limit: int = INTERPRETER_MAX_TILES) -> None:
        spec = bound.config_spec
        self.block_hints = [s.size_hint for s in spec.block_sizes]
        self.loop_hints = [s.size_hint for s in spec.reduction_loops]
        fewest = math.prod(math.ceil(s.size_hint / max(1, s.max_size)) for s in spec.block_sizes)
        # Where even the largest blocks need many tiles, leave room to search around them.
        self.limit = max(limit, 4 * fewest)

    def tiles(self, config: helion.Config) -> int:
        data = config.config
        total = 1
        for hints, sizes in ((self.block_hints, data.get("block_sizes")), (self.loop_hints, data.get("reduction_loops"))):
            for hint, size in zip(hints, list(sizes or [])):
                if isinstance(size, int) and size > 0:  # a reduction loop of None is the whole row: one step
                    total *= math.ceil(hint / size)
        return total

    def __call__(self, config: helion.Config) -> bool:
        return self.tiles(config) <= self.limit

    def note(self) -> str:
        return (f"interpreter: proposing no config of more than {self.limit} tiles (each tile costs "
                "milliseconds of Python here; Helion's default and the best known configs are still tried)")


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
        gpu_target: str | None = None,
        screen: bool | str = False,
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
        self.screen = screen
        self.probe = self._resource_probe(gpu_target, screen)
        self.space = ConfigSpace(self.bound, fixed, seed=seed)
        grid_size = len(self.space.grid())
        cls = resolve(strategy, has_choices=bool(self.space.choices), grid_size=grid_size)
        self.strategy_name = cls.name
        self.strategy = cls(self.space, start=list(start))
        narrowed = ""
        if is_interpreter() and self.strategy_name in ("random", "pattern"):
            rule = TileLimit(self.bound)
            self.strategy.admit = rule
            narrowed = rule.note()
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
            default=dict(self.space.default_helion.config),
            planned=self._planned(grid_size),
            narrowed=narrowed,
            gpu_target=self.probe.target.name if self.probe is not None else "",
            screen=screen,
        )

    # -- set-up -----------------------------------------------------------------------------------

    def _resource_probe(self, gpu_target: str | None, screen: bool | str) -> ResourceProbe | None:
        """Each candidate's resources on ``gpu_target``; with none given, on a GPU the device's when
        screening or with ``settings.gpu_resources``; screening needs a target."""
        if screen not in (False, True, "spills"):
            raise SweepError(f"screen must be False, True (cannot launch on the target) or 'spills'; got {screen!r}")
        target: Any = gpu_target
        if target is None and (screen or settings.gpu_resources):
            target = device_target()
        if target is None:
            if screen:
                raise SweepError("screen= needs a GPU target to screen for here (no GPU): pass target='h100' "
                                 "(or 'h200', 'b200', 'sm_90', ...)")
            return None
        return ResourceProbe(self.bound, self.args, target, name=self.target.name)

    def _screened(self, config: helion.Config, started: float) -> Candidate | None:
        """``config`` recorded as ``screened`` (never compiled for timing) if the screen rejects it."""
        if self.probe is None or not self.screen:
            return None
        reason = self.probe.screen(config, self.screen)
        if reason is None:
            return None
        index = len(self.candidates)
        self._emit(CandidateStarted(index, config))
        candidate = Candidate(index, config, "screened", error=reason, resources=self.probe(config),
                              finished_s=time.perf_counter() - started)
        self.candidates.append(candidate)
        best = SweepResult(self.info, self.candidates, "", 0).best
        self._emit(CandidateFinished(candidate, best, len(self.candidates), candidate.finished_s))
        return candidate

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

    def _planned(self, grid_size: int) -> int | None:
        """The most candidates this sweep can try (a grid tries each of its configs once)."""
        sizes = [n for n in (self.budget, grid_size if self.strategy_name == "grid" else None) if n]
        return min(sizes) if sizes else None

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
                if self._screened(config, started) is not None:  # a candidate, never submitted
                    if self.budget is not None:
                        depth = min(depth, self.budget - len(self.candidates))
                    continue
                pending[self._tickets] = config
                evaluator.submit(self._tickets, config)
                self._tickets += 1
            if not pending:
                return self._should_stop(started) or "exhausted"
            remaining = self.time_limit - (time.perf_counter() - started) if self.time_limit else 3600.0
            ticket = evaluator.next_ready(max(0.0, remaining))
            if ticket is None:  # the time limit (or Stop, for an evaluator that was cancelled) came first
                return self._should_stop(started) or "time_limit"
            try:
                self._record(evaluator, ticket, pending.pop(ticket), started)
            except DeadlinePassed:
                return "time_limit"
        return reason

    def _record(self, evaluator: Evaluator, ticket: int, config: helion.Config, started: float) -> Candidate:
        """Evaluate one config and tell the observers; :class:`DeadlinePassed` if the time limit came
        before its checks were done (then it is not recorded)."""
        index = len(self.candidates)
        self._emit(CandidateStarted(index, config))
        cutoff = self.problem.cutoff  # read by an in-process evaluator as it measures
        cutoff.deadline = started + self.time_limit if self.time_limit is not None else None
        if self.info.interpreter:
            best = SweepResult(self.info, self.candidates, "", 0).best
            cutoff.best_ms = best.ms if best is not None else None
        outcome = evaluator.evaluate(ticket, config)
        if outcome.structural:
            # Output count, shapes and dtypes do not depend on the config: no candidate can pass.
            raise SweepError(outcome.error or "the outputs do not line up with the reference's")
        candidate = Candidate.from_outcome(index, config, outcome)
        if self.probe is not None:
            candidate.resources = self.probe(config)
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
                    if key not in seen and key not in tickets and evaluator.lookahead > 1 and not (
                            sweep.probe is not None and sweep.probe.screen(config, sweep.screen)):
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
                if (screened := sweep._screened(config, started)) is not None:
                    seen[key] = screened
                    return screened
                ticket = tickets.pop(key, None)
                if ticket is None:
                    ticket, sweep._tickets = sweep._tickets, sweep._tickets + 1
                try:
                    seen[key] = sweep._record(evaluator, ticket, config, started)
                except DeadlinePassed:
                    raise _Done("time_limit") from None
                return seen[key]

        try:
            self.strategy.drive(self.bound, self.args, Driver())  # type: ignore[attr-defined]
        except _Done as done:
            return str(done)
        return "exhausted"
