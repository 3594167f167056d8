"""The sweep engine: propose a config, compile it, check it, time it, tell the observers; repeat.

It knows nothing of widgets: the dashboard, the text progress line and the run store are observers
of its events. A failing candidate is a result, never the end of the sweep; a ``wrong`` one is never
the best. Stop (``Sweep.stop()``, e.g. from a button) and Ctrl-C both end the sweep after keeping
everything measured.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import helion
import torch

from ._check import (
    CheckError,
    check_outputs,
    check_structure,
    flatten_outputs,
    fresh_inputs,
    native_reference,
    poisoned,
    reference,
)
from ._device import DEVICE, device_name, is_interpreter
from ._errors import SweepError
from ._events import CandidateFinished, CandidateStarted, Observer, SweepFinished, SweepStarted, emit
from ._result import COMPILE_TIMEOUT_PREFIX, Candidate, SweepInfo, SweepResult
from ._settings import settings
from ._space import ConfigSpace, config_key
from ._timing import time_ms, timer_label
from .strategies import resolve

if TYPE_CHECKING:
    from ._kernel import Kernel

__all__ = ["DEFAULT_BUDGET", "Sweep"]

DEFAULT_BUDGET = 32
#: Input sets each candidate is checked on: the given arguments plus fresh random ones.
CHECK_INPUT_SETS = 2
#: Marks a candidate whose outputs do not line up with the reference's (count, shape, dtype).
STRUCTURE_ERROR = "structure: "


def _short_error(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(error).__name__}: {first}"[:300]


def _sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


class Sweep:
    """One tuning run of ``kernel`` on ``args``. Build it, then :meth:`run` it (once)."""

    def __init__(
        self,
        kernel: Kernel,
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
        rtol: float | None = None,
        atol: float | None = None,
        isolate: bool | None = None,
        avoid: Sequence[helion.Config] = (),
    ) -> None:
        if budget is not None and budget < 1:
            raise SweepError(f"budget must be at least 1 candidate, got {budget}")
        if time_limit is not None and time_limit <= 0:
            raise SweepError(f"time_limit must be a positive number of seconds, got {time_limit}")
        if not args:
            raise SweepError(f"tune needs {kernel.name}'s arguments: {kernel.name}.tune(x, ...)")
        self.kernel = kernel
        self.args = tuple(args)
        self.ref = ref
        self.budget = budget if budget is not None or time_limit is not None else DEFAULT_BUDGET
        self.time_limit = time_limit
        self.seed = seed
        self.rtol, self.atol = rtol, atol
        self.observers = list(observers)
        self._stop_requested = False
        self.candidates: list[Candidate] = []

        self.bound = kernel.bind(*self.args)
        self.space = ConfigSpace(self.bound, fixed, seed=seed)
        cls = resolve(strategy, has_choices=bool(self.space.choices), grid_size=len(self.space.grid()))
        self.strategy_name = cls.name
        self.strategy = cls(self.space, start=list(start))
        # Configs whose compile already ran past a limit at least as long as today's (this session's,
        # and the store's via ``avoid``): proposing them again would only hold a worker for the limit.
        signature = kernel._last_signature or ()
        again = [c for c, ran_s in kernel.slow_compiles.get(signature, []) if ran_s >= settings.compile_timeout_s]
        self._avoid = {config_key(c) for c in [*again, *avoid]}
        self.strategy.seen |= self._avoid
        self._prepare_checks()
        self.isolate = self._want_isolation(isolate)
        self._runner: _IsolatedRunner | None = None
        outputs = self._checks[0][1]
        self.bytes, self.bytes_label = self._bytes(bytes, outputs)
        self.info = SweepInfo(
            kernel=kernel.name,
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
            signature=kernel._last_signature or (),
            source_hash=kernel.source_hash,
            interpreter=is_interpreter(),
            skipped=len(self._avoid),
        )

    # -- set-up -----------------------------------------------------------------------------------

    @staticmethod
    def _want_isolation(isolate: bool | None) -> bool:
        """Default: isolate on a GPU (a crash would poison the notebook's CUDA context), not in the
        interpreter (a worker costs seconds to start and there is no GPU state to protect)."""
        if isolate is not None:
            return isolate
        if settings.isolate != "auto":
            return settings.isolate == "1"
        return not is_interpreter()

    def _prepare_checks(self) -> None:
        """Input sets and their reference outputs, computed once for the whole sweep."""
        input_sets = [self.args] + [fresh_inputs(self.args, (self.seed or 0) * 100 + k) for k in range(1, CHECK_INPUT_SETS)]
        self._checks: list[tuple[tuple[Any, ...], list[torch.Tensor]]] = []
        if self.ref is not None:
            native = native_reference(self.ref, self.args)
            for inputs in input_sets:
                refs, _ = reference(self.ref, inputs)
                self._checks.append((inputs, refs))
            self._native_ref = native
            return
        # No reference: Helion's default config is the reference.
        default = self.space.default_helion
        try:
            fn = self.bound.compile_config(default, allow_print=False)
            for inputs in input_sets:
                with torch.no_grad(), poisoned():
                    outs = flatten_outputs(fn(*inputs), self.kernel.name)
                self._checks.append((inputs, [o.clone() for o in outs]))
        except CheckError:
            raise
        except Exception as error:
            raise SweepError(
                f"with no ref=, candidates are checked against Helion's default config, but it fails "
                f"({_short_error(error)}); pass ref=<a torch function>"
            ) from None
        self._native_ref = self._checks[0][1]

    def _bytes(self, given: int | None, outputs: list[torch.Tensor]) -> tuple[int | None, str]:
        if given is not None:
            return int(given), "bytes given"
        tensors = [a for a in self.args if isinstance(a, torch.Tensor)] + list(self._native_ref)
        return sum(t.numel() * t.element_size() for t in tensors), "bytes of all tensor inputs and outputs"

    def _time_reference(self) -> float | None:
        if self.ref is None:
            return None
        ref = self.ref
        with torch.no_grad():
            return time_ms(ref, self.args)

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
        reason: str | None = None
        pending: list[tuple[int, helion.Config]] = []
        self._tickets = 0
        try:
            if self.isolate:
                self._runner = _IsolatedRunner(self)
            if hasattr(self.strategy, "drive"):
                reason = self._drive(started)
            while reason is None and (reason := self._should_stop(started)) is None:
                self._propose_ahead(pending)
                if not pending:
                    break
                ticket, config = self._next(pending, started)
                if config is None:  # the time limit came while every candidate was compiling
                    reason = "time_limit"
                    break
                self._record(len(self.candidates), config, started, ticket)
            if reason is not None:
                stopped = reason
        except KeyboardInterrupt:
            stopped = "interrupt"
        finally:
            wall_s = time.perf_counter() - started
            if self._runner is not None:
                self._runner.close()
                self._runner = None
        result = SweepResult(self.info, list(self.candidates), stopped, wall_s)
        slow = self.kernel.slow_compiles.setdefault(self.info.signature, [])
        slow += [(c.config, c.compile_s) for c in self.candidates
                 if c.status == "timeout" and (c.error or "").startswith(COMPILE_TIMEOUT_PREFIX)]
        if result.best_config is not None:
            self.kernel.best[self.info.signature] = result.best_config
        self._emit(SweepFinished(result))
        return result

    def _record(self, index: int, config: helion.Config, started: float, ticket: int | None = None) -> Candidate:
        self._emit(CandidateStarted(index, config))
        candidate = self.evaluate(index, config, ticket)
        if candidate.error and candidate.error.startswith(STRUCTURE_ERROR):
            # Output count, shapes and dtypes do not depend on the config: no candidate can pass.
            raise SweepError(candidate.error.removeprefix(STRUCTURE_ERROR))
        candidate.finished_s = time.perf_counter() - started
        self.candidates.append(candidate)
        best = SweepResult(self.info, self.candidates, "", 0).best
        self._emit(CandidateFinished(candidate, best, len(self.candidates), candidate.finished_s))
        return candidate

    def _drive(self, started: float) -> str:
        """Run a strategy that has its own loop (Helion's search); returns why it ended."""
        seen: dict[str, Candidate] = {}
        tickets: dict[str, int] = {}

        class _Done(Exception):
            pass

        sweep = self

        class Driver:
            def prefetch(self, configs: Sequence[helion.Config]) -> None:
                if sweep._runner is None or sweep._runner.compiler is None:
                    return
                for config in configs:
                    key = config_key(config)
                    if key not in seen and key not in tickets:
                        tickets[key] = sweep._tickets
                        sweep._runner.precompile(sweep._tickets, config)
                        sweep._tickets += 1

            def evaluate(self, config: helion.Config) -> Candidate:
                key = config_key(config)
                if key in seen:
                    return seen[key]
                if key in sweep._avoid:  # not measured, not recorded: a failure to Helion's search
                    return Candidate(-1, config, "timeout", error=f"{COMPILE_TIMEOUT_PREFIX} the limit before")
                if (why := sweep._should_stop(started)) is not None:
                    raise _Done(why)
                seen[key] = sweep._record(len(sweep.candidates), config, started, tickets.pop(key, None))
                return seen[key]

        try:
            self.strategy.drive(self.bound, self.args, Driver())  # type: ignore[attr-defined]
        except _Done as done:
            return str(done)
        return "exhausted"

    def _propose_ahead(self, pending: list[tuple[int, helion.Config]]) -> None:
        """Keep enough proposals queued for the compile workers (one when compiling in-process)."""
        depth = 2 * self._runner.compile_workers if self._runner and self._runner.compile_workers else 1
        if self.budget is not None:
            depth = min(depth, self.budget - len(self.candidates))
        while len(pending) < depth:
            config = self.strategy.propose(self.candidates)
            if config is None:
                return
            ticket, self._tickets = self._tickets, self._tickets + 1
            pending.append((ticket, config))
            if self._runner is not None:
                self._runner.precompile(ticket, config)

    def _next(self, pending: list[tuple[int, helion.Config]], started: float) -> tuple[int, helion.Config | None]:
        """The next proposal to evaluate: with compile workers, whichever finished compiling first."""
        if self._runner is None or self._runner.compiler is None:
            return pending.pop(0)
        remaining = (self.time_limit - (time.perf_counter() - started)) if self.time_limit else 3600.0
        ticket = self._runner.next_compiled(max(0.0, remaining))
        if ticket is None:
            return -1, None
        position = next(i for i, (t, _) in enumerate(pending) if t == ticket)
        return pending.pop(position)

    def evaluate(self, index: int, config: helion.Config, ticket: int | None = None) -> Candidate:
        """Compile, check on every input set (outputs poisoned first), then time one candidate."""
        if self._runner is not None:
            return self._runner.evaluate(index, config, ticket if ticket is not None else index)
        start = time.perf_counter()
        try:
            fn = self.bound.compile_config(config, allow_print=False)
        except Exception as error:  # noqa: BLE001 - a config that does not compile is a result
            return Candidate(index, config, "compile_error", compile_s=time.perf_counter() - start,
                             error=_short_error(error))
        compile_s = time.perf_counter() - start
        worst = {"max_abs_err": 0.0, "max_rel_err": 0.0, "rel_l2": 0.0}
        wrong: str | None = None
        for inputs, refs in self._checks:
            try:
                with torch.no_grad(), poisoned():
                    outs = flatten_outputs(fn(*inputs), self.kernel.name)
                _sync()
            except Exception as error:  # noqa: BLE001
                return Candidate(index, config, "runtime_error", compile_s=compile_s,
                                 error=_short_error(error) + "\n" + traceback.format_exc(limit=-2)[-500:])
            try:
                check_structure(outs, self._native_ref, self.kernel.name)
            except CheckError as error:
                return Candidate(index, config, "wrong", compile_s=compile_s, error=STRUCTURE_ERROR + str(error))
            wrong = wrong or check_outputs(outs, refs, rtol=self.rtol, atol=self.atol, worst=worst)
        try:
            ms = time_ms(fn, self.args)
        except Exception as error:  # noqa: BLE001
            return Candidate(index, config, "runtime_error", compile_s=compile_s, error=_short_error(error))
        return Candidate(index, config, "wrong" if wrong else "ok", ms=ms, compile_s=compile_s, error=wrong, **worst)


class _IsolatedRunner:
    """Evaluates a sweep's candidates in worker processes (``kernelbench._worker``)."""

    def __init__(self, sweep: Sweep) -> None:
        from ._worker import CompileWorkers, EvalWorker, _Pool, compile_worker_count, recipe_for

        pool = _Pool(recipe_for(sweep.kernel), sweep.args, sweep._checks, sweep._native_ref, sweep.rtol, sweep.atol)
        self.eval_worker = EvalWorker(pool)
        workers = compile_worker_count()
        self.compile_workers = workers
        self.compiler = CompileWorkers(pool, workers) if workers else None
        self._done: dict[int, Any] = {}
        self.eval_worker.start()  # sets up while the compile workers do

    def precompile(self, index: int, config: helion.Config) -> None:
        if self.compiler is not None:
            self.compiler.submit(index, dict(config.config))

    def next_compiled(self, timeout: float) -> int | None:
        """Ticket of the first precompiled proposal (or None when ``timeout`` passes first)."""
        assert self.compiler is not None
        job = self.compiler.next_done(timeout)
        if job is None:
            return None
        self._done[job.index] = job
        return job.index

    def evaluate(self, index: int, config: helion.Config, ticket: int) -> Candidate:
        job = None
        if self.compiler is not None:
            job = self._done.pop(ticket, None) or self.compiler.result(ticket)
            if job is not None and job.status is not None:
                return Candidate(index, config, job.status, compile_s=job.compile_s, error=job.error)
        result = self.eval_worker.evaluate(index, dict(config.config))
        if self.compiler is not None:
            self.compiler.pump()
        # Precompiled: the compile worker's time is the real compile (Triton to a binary included);
        # the eval worker only loaded the result from Triton's cache.
        compile_s = job.compile_s if job is not None and job.done else result.get("compile_s", 0.0)
        return Candidate(
            index, config, result["status"], ms=result.get("ms"), compile_s=compile_s,
            max_abs_err=result.get("max_abs_err"), max_rel_err=result.get("max_rel_err"),
            rel_l2=result.get("rel_l2"), error=result.get("error"),
        )

    def close(self) -> None:
        self.eval_worker.close()
        if self.compiler is not None:
            self.compiler.close()
