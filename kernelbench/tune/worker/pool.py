"""Worker processes for sweeps: a candidate that hangs, crashes or corrupts the GPU cannot take the
notebook down with it, and on a GPU host candidates compile in parallel ahead of the one being timed.

* Workers are started as ``python -m kernelbench.tune.worker`` (not multiprocessing's spawn, which
  re-imports the user's ``__main__``; a notebook has none and a script would re-run itself), behind a
  few lines that first tie the process to its parent (:data:`_BOOT`), before torch is imported.
* The kernel reaches a worker as a :class:`Recipe`: its source (decorators dropped, line numbers
  kept so errors still name the cell line) and the globals it reads (modules by name, plain values,
  helper functions by source). Nothing is pickled: messages are JSON, each tensor travels as its raw
  bytes (dtype and shape in the JSON), sent from and received into tensor memory without copies.
  Only what cannot be made again travels: check inputs made by ``fresh_inputs`` go as their seed
  and a digest of their bits, and references that can be rebuilt by name (a KernelBench problem's,
  ``torch.softmax``, a ``functools.partial`` of one: :func:`~kernelbench.tune.worker.recipe.reference_recipe`)
  as that recipe and a digest of the notebook's outputs; the worker draws the inputs from the given
  arguments and computes the references on its device, checks the digests, and is sent the inputs
  and references themselves only if its bits differ (the notebook's log says why). Other references
  (lambdas, notebook functions) travel as their outputs.
* The parent watches each phase with a time limit (compile, then run/check/time). A worker that
  overruns is killed (``timeout``); one that dies (segfault, ``os._exit``, CUDA illegal address,
  out of memory) is labelled with the cause from its exit status and log, and restarted.
* Only a worker that finished what it was asked is parked for the next sweep: one still compiling or
  evaluating when a sweep ends (Ctrl-C, an error) is killed. Workers end with their parent process
  (see :mod:`kernelbench.tune.worker.entry`), so a killed notebook leaves no orphans behind.
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any

import helion
import torch

from kernelbench._errors import SweepError
from kernelbench._settings import settings
from kernelbench.core.check import Computed, Drawn
from kernelbench.core.device import DEVICE, is_interpreter
from kernelbench.core.evaluate import Outcome, Problem, Status
from kernelbench.core.target import KernelTarget
from kernelbench.tune.evaluators import Evaluator
from kernelbench.tune.worker.recipe import Recipe, recipe_for, reference_recipe
from kernelbench.tune.worker.wire import digest, pack_args, recv, send

__all__ = ["CompileWorkers", "EvalWorker", "Isolated", "WorkerDied", "WorkerEvaluator", "WorkerTimeout",
           "compile_worker_count", "release_workers", "start_workers"]

STARTUP_TIMEOUT_S = 180.0

_log = logging.getLogger(__name__)

#: What ``python -c`` runs in a new worker: on Linux, ask for SIGKILL when the parent dies *before* the
#: seconds of importing torch and Helion (a notebook killed meanwhile leaves no orphan), leave at once if
#: it died already, then run ``python -m kernelbench.tune.worker FD``. The worker's loop ties itself to
#: the parent again (:func:`kernelbench.tune.worker.entry.die_with_parent`: the watch on other systems).
_BOOT = """
import os, sys
if sys.platform.startswith("linux") and os.environ.get("KERNELBENCH_WORKER_PDEATHSIG") == "1":
    try:
        import ctypes, signal
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
if os.getppid() != int(os.environ["KERNELBENCH_WORKER_PARENT"]):
    os._exit(0)
import runpy
sys.argv[0] = "kernelbench.tune.worker"
runpy.run_module("kernelbench.tune.worker", run_name="__main__", alter_sys=True)
"""


class WorkerTimeout(Exception):
    """A worker overran its phase's time limit (it has been killed)."""


class WorkerDied(Exception):
    """A worker process ended without answering; the message says how."""


# --------------------------------------------------------------------------------------------------
# The parent's side


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


class _Process:
    """One worker process and its connection."""

    def __init__(self, role: str, init: dict[str, Any] | None, tensors: dict[str, torch.Tensor]) -> None:
        self.role = role
        parent_sock, child_sock = socket.socketpair()
        self.log = tempfile.NamedTemporaryFile(prefix=f"kernelbench-{role}-", suffix=".log", delete=False)
        env = dict(os.environ)
        env["KERNELBENCH_DEVICE"] = DEVICE
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        env["PYTHONUNBUFFERED"] = "1"
        env["KERNELBENCH_WORKER_PARENT"] = str(os.getpid())  # the worker ends when this process does
        # Linux's parent-death signal fires when the *thread* that started the child ends: only ask for
        # it from the main thread (the watch on the parent's pid in the worker covers the rest).
        env["KERNELBENCH_WORKER_PDEATHSIG"] = "1" if threading.current_thread() is threading.main_thread() else "0"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, str(child_sock.fileno())],
            pass_fds=[child_sock.fileno()], stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            env=env, start_new_session=True,
        )
        child_sock.close()
        self.conn = Connection(os.dup(parent_sock.fileno()))
        parent_sock.close()
        #: Asked to compile or evaluate and not yet answered: such a worker is never parked (it would
        #: answer the next sweep with this one's result, or hang it), only killed.
        self.busy = False
        #: Set-ups sent and not yet answered (a parked worker may be set up again before it answered
        #: the last one) and compile answers still due from a sweep that ended mid-compile: such
        #: answers are read and dropped, the worker is ready at the answer to its latest set-up.
        self.pending = 0
        self.stale = 0
        if init is not None:
            self.init(init, tensors)
        else:  # started ahead of any sweep: load torch, Helion and the device; no answer
            send(self.conn, {"command": "warm"})
            self.started = time.perf_counter()
            self.ready = False

    def init(self, init: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        """Set the worker up for a sweep (again, for a parked one: torch, Helion and CUDA stay up)."""
        send(self.conn, {"command": "init", "role": self.role, **init}, tensors)
        self.pending += 1
        self.started = time.perf_counter()
        self.ready = False  # set by the answer: workers set up in parallel, nobody waits here

    def settle(self, header: dict[str, Any]) -> bool:
        """Take one answer of a worker that is not ready yet: True once it is ready for this sweep."""
        if "ready" in header:
            self.pending = max(0, self.pending - 1)
            if self.pending:
                return False  # the answer to an earlier set-up, superseded
            self.check_ready(header)
            return True
        if "compiled" in header:  # a compile for a sweep that ended while it ran
            self.stale = max(0, self.stale - 1)
            self.ready = not self.pending and not self.stale
            return self.ready
        self.kill()
        raise SweepError(f"a {self.role} worker answered {sorted(header)} while setting up")

    def check_ready(self, header: dict[str, Any]) -> None:
        if not header.get("ready"):
            self.kill()
            raise SweepError(f"a {self.role} worker could not set the kernel up: {header.get('error')}")
        self.ready = True
        self.modules: list[str] = header.get("modules", [])  # the kernelbench modules it has loaded

    def wait_ready(self, shipped: Callable[[str], tuple[dict[str, Any], dict[str, torch.Tensor]]] | None = None) -> None:
        """Wait for the set-up's answer; if the worker could not make the check inputs or references
        bit for bit (another torch, another device), set it up again with ``shipped(why)``: the inputs
        and references themselves."""
        while not self.ready:
            header, _ = self.receive(STARTUP_TIMEOUT_S)
            if header.get("redraw") and shipped is not None and self.pending == 1:
                self.pending = 0
                self.init(*shipped(header.get("error", "")))
                continue
            self.settle(header)

    def log_tail(self, lines: int = 6) -> str:
        try:
            with open(self.log.name, errors="replace") as f:
                text = f.read()[-4000:]
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def receive(self, timeout: float) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        if not self.conn.poll(timeout):
            if self.proc.poll() is not None:
                raise WorkerDied(self.death())
            self.kill()
            raise WorkerTimeout(f"no answer within {timeout:g} s")
        try:
            return recv(self.conn)
        except (EOFError, ConnectionError, OSError):
            self.proc.wait(timeout=10)
            raise WorkerDied(self.death()) from None

    def death(self) -> str:
        tail = self.log_tail()
        return f"worker {_describe_exit(self.proc.returncode)}" + (f": {tail}" if tail else "")

    def send(self, header: dict[str, Any]) -> None:
        send(self.conn, header)

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)
        self.conn.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send({"command": "exit"})
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass


@dataclasses.dataclass
class _Job:
    index: int
    config: dict[str, Any]
    started: float = 0.0
    worker: _Process | None = None
    done: bool = False
    compile_s: float = 0.0
    error: str | None = None
    status: Status | None = None  # None (compiled fine), "compile_error", "runtime_error" or "timeout"


class _Pool:
    """Shared set-up for workers of one sweep."""

    def __init__(self, recipe: Recipe, problem: Problem) -> None:
        args, native, rtol, atol = problem.args, problem.expected, problem.rtol, problem.atol
        arg_specs, tensors = pack_args("arg", args)
        self.fake_init = {"recipe": recipe.to_json(), "args": arg_specs, "rtol": rtol, "atol": atol,
                          "mutates": list(problem.mutates),
                          "native": [[list(t.shape), str(t.dtype).removeprefix("torch.")] for t in native],
                          "gpu_warmup_ms": settings.gpu_warmup_ms, "gpu_rep_ms": settings.gpu_rep_ms,
                          "cpu_reps": settings.cpu_reps}
        # Check inputs drawn by fresh_inputs travel as their seed and a digest, and references rebuilt
        # by name as their recipe and a digest: the worker makes them again where they are used and
        # checks the bits (``shipped`` sends them, should they differ).
        self.eval_init, self.eval_tensors = self._eval_init(problem, arg_specs, tensors, redraw=True)
        self._problem, self._arg_specs, self._arg_tensors = problem, arg_specs, tensors
        # What compile workers were set up with: parked ones are taken over as they are only for
        # exactly this (no tensors in it, so it is cheap). The eval worker is always set up again: a
        # key over its inputs and references would mean hashing all of them on every sweep.
        self.compile_key = hashlib.blake2b(json.dumps(self.fake_init, sort_keys=True).encode(),
                                           digest_size=20).hexdigest()
        self.eval_key = ""

    def _eval_init(self, problem: Problem, arg_specs: list[Any], tensors: dict[str, torch.Tensor],
                   redraw: bool) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """The eval set-up: with ``redraw``, only what cannot be made again where it is used travels."""
        args, native = problem.args, problem.expected
        check_specs: list[dict[str, Any]] = []
        check_tensors: dict[str, torch.Tensor] = dict(tensors)
        recipes: list[dict[str, Any]] = []  # the references rebuilt by name; checks name them by index
        for k, (inputs, refs) in enumerate(problem.checks):
            spec: dict[str, Any] = {"refs": [str(r.dtype).removeprefix("torch.") for r in refs]}
            if k == 0 and len(inputs) == len(args) and all(a is b for a, b in zip(inputs, args)):
                spec["given"] = True  # the first check set is the given arguments: sent once
            elif redraw and isinstance(inputs, Drawn):
                spec.update(drawn=inputs.seed, digest=digest(inputs))
            else:
                specs, ts = pack_args(f"check{k}_", inputs)
                check_tensors.update(ts)
                spec["inputs"] = specs
            recipe = reference_recipe(refs.ref, inputs) if redraw and isinstance(refs, Computed) else None
            if recipe is not None:
                # The worker computes them itself (as the notebook did: see Computed) and checks the bits.
                if recipe not in recipes:
                    recipes.append(recipe)
                spec["computed"] = {"recipe": recipes.index(recipe), "precision": refs.precision,
                                    "digest": digest(refs)}
            else:
                for j, (r, out) in enumerate(zip(refs, native)):
                    # A float64 reference of a 16-bit output travels as float32 (half the bytes; the
                    # rounding, 6e-8 relative, is far inside any 16-bit tolerance) and is widened again.
                    narrow = r.dtype == torch.float64 and out.is_floating_point() and out.element_size() <= 2
                    check_tensors[f"ref{k}_{j}"] = r.float() if narrow else r
            check_specs.append(spec)
        return {**self.fake_init, "checks": check_specs, "references": recipes}, check_tensors

    def shipped(self, reason: str = "") -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """The eval set-up with every check input and reference sent as it is (none made again by the
        worker): what a worker whose own did not match the notebook's bits (``reason``) is sent."""
        init, tensors = self._eval_init(self._problem, self._arg_specs, self._arg_tensors, redraw=False)
        extra = sum(t.numel() * t.element_size() for t in tensors.values()) - sum(
            t.numel() * t.element_size() for t in self.eval_tensors.values())
        _log.warning("%s; sending the check inputs and references themselves instead (%.3g MB more)",
                     reason or "a worker could not make the check inputs or references again", extra / 1e6)
        return init, tensors


# --------------------------------------------------------------------------------------------------
# Warm workers: a finished sweep parks its healthy workers and the next sweep takes them over instead
# of paying the start-up (~10 s on a GPU host: torch, Helion, a CUDA context). The same kernel on the
# same inputs finds its compile workers ready; otherwise a sweep sends them its kernel and inputs
# and they answer when set up, as fresh ones would (the eval worker is always set up again).

_PARKED: dict[str, tuple[str, list[_Process]]] = {}


def _park(kind: str, key: str, procs: list[_Process]) -> None:
    """Keep ``procs`` for the next sweep. Workers still starting are kept (killing them made every
    following short sweep start cold, and end before its workers were up, and so on: on an H200 a
    run of 15 s sweeps got no candidate after the first slow one), and so are compile workers mid-
    compile (their answer is dropped when it comes); an eval worker mid-candidate and dead workers are
    not (it may be hung on the device)."""
    alive = [p for p in procs if p.proc.poll() is None and (not p.busy or p.role == "compile")]
    for p in procs:
        if p not in alive:
            p.kill()
    for p in alive:
        if p.busy:  # its compile may run to settings.compile_timeout_s from now, then it is replaced
            p.busy, p.ready, p.stale, p.started = False, False, p.stale + 1, time.perf_counter()
    if not settings.keep_workers:
        for p in alive:
            p.close()
        return
    old = _PARKED.pop(kind, None)
    if old is not None:
        for p in old[1]:
            if p not in alive:
                p.close()
    _PARKED[kind] = (key, alive)


def _unpark(kind: str, key: str, init: dict[str, Any], tensors: dict[str, torch.Tensor]) -> list[_Process]:
    """The parked workers of ``kind``: ready if they were set up with ``key`` (an empty key matches
    nothing), else re-initialised with ``init`` (not ready until they answer)."""
    parked = _PARKED.pop(kind, None)
    if parked is None:
        return []
    alive = [p for p in parked[1] if p.proc.poll() is None]
    if not key or parked[0] != key:  # another kernel or other inputs
        for p in list(alive):
            try:
                p.init(init, tensors)
            except OSError:
                alive.remove(p)
                p.kill()
    return alive


def compile_worker_count() -> int:
    """How many compile workers a sweep uses: ``settings.compile_workers``, or by default none in the
    interpreter (nothing to compile ahead) and half the cores, at most 8, on a GPU host."""
    if settings.compile_workers >= 0:
        return settings.compile_workers
    return 0 if is_interpreter() else min(8, max(1, (os.cpu_count() or 2) // 2))


def start_workers() -> None:
    """Start the workers the next isolated sweep would start (``kernelbench.start_workers``), parked
    with no kernel: that sweep sets them up for its own, as it does with a finished sweep's."""
    for kind, count in (("eval", 1), ("compile", compile_worker_count())):
        key, have = _PARKED.pop(kind, ("", []))
        for p in [p for p in have if p.proc.poll() is not None]:
            have.remove(p)
            p.kill()
        fresh = [_Process(kind, None, {}) for _ in range(count - len(have))]
        if have or fresh:
            _PARKED[kind] = ("" if fresh else key, have + fresh)


def release_workers(kind: str | None = None) -> None:
    """End the worker processes kept warm for the next sweep (all of them, or one ``kind``)."""
    for name in [kind] if kind else list(_PARKED):
        parked = _PARKED.pop(name, None)
        for p in parked[1] if parked else []:
            p.close()


atexit.register(release_workers)


def _compile_timeout_message(limit: float) -> str:
    return f"compiling took longer than {limit:g} s (settings.compile_timeout_s); the worker was restarted"


class EvalWorker:
    """The worker that compiles, checks and times each candidate, under per-phase time limits."""

    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.proc: _Process | None = None

    def start(self) -> None:
        """Start the process now (it sets up while compile workers work); nothing waits for it."""
        if self.proc is None or self.proc.proc.poll() is not None:
            warm = _unpark("eval", self.pool.eval_key, self.pool.eval_init, self.pool.eval_tensors)
            for extra in warm[1:]:
                extra.close()
            self.proc = warm[0] if warm else _Process("eval", self.pool.eval_init, self.pool.eval_tensors)

    def is_ready(self) -> bool:
        """Set up and idle (never waits): reads a set-up answer that has arrived."""
        proc = self.proc
        if proc is None or proc.busy or proc.proc.poll() is not None:
            return False
        try:
            while not proc.ready and proc.conn.poll(0):
                header, _ = proc.receive(0)
                if header.get("redraw") and proc.pending == 1:
                    proc.pending = 0
                    proc.init(*self.pool.shipped(header.get("error", "")))
                else:
                    proc.settle(header)
        except (WorkerDied, WorkerTimeout, SweepError, OSError):
            return False  # evaluate() starts another and says why if it cannot
        return proc.ready

    def _ensure(self) -> _Process:
        self.start()
        assert self.proc is not None
        self.proc.wait_ready(self.pool.shipped)
        return self.proc

    def evaluate(self, index: int, config: dict[str, Any]) -> Outcome:
        proc = self._ensure()
        phase, limit = "compile", settings.compile_timeout_s
        start = time.perf_counter()
        compile_s = 0.0
        try:
            proc.busy = True
            proc.send({"command": "eval", "index": index, "config": config})
            while True:
                header, _ = proc.receive(limit)
                if "phase" in header:
                    if header["phase"] == "run":
                        compile_s = time.perf_counter() - start
                    phase = header["phase"]
                    limit = settings.compile_timeout_s if phase == "compile" else settings.run_timeout_s
                    continue
                proc.busy = False
                return Outcome.from_json(header)
        except WorkerTimeout:  # killed already
            self.proc = None
            if phase == "compile":
                return Outcome("timeout", compile_s=time.perf_counter() - start, timed_out="compile",
                               error=_compile_timeout_message(limit))
            return Outcome("timeout", compile_s=compile_s, timed_out="run",
                           error=f"running, checking or timing took longer than {limit:g} s "
                                 "(settings.run_timeout_s); the worker was restarted")
        except WorkerDied as died:
            proc.kill()  # closes the connection (the process is gone already)
            self.proc = None
            return Outcome("runtime_error", compile_s=compile_s, error=f"{died} (while {phase}); restarted")
        except BaseException:
            # Ctrl-C (KeyboardInterrupt) or any error mid-candidate: the worker is still compiling or
            # running it, or its answer is half read. It is never reused: the next sweep gets a fresh one.
            proc.kill()
            self.proc = None
            raise

    def crash_for_test(self, code: int = 3) -> None:
        self._ensure().send({"command": "crash", "code": code})

    def close(self) -> None:
        """Park the worker for the next sweep (``settings.keep_workers``)."""
        if self.proc is not None:
            _park("eval", self.pool.eval_key, [self.proc])
            self.proc = None


class CompileWorkers:
    """Processes that compile candidates ahead of the eval worker, filling Triton's on-disk cache.

    All of them start at once and set up in parallel; a job goes to whichever is ready first.
    """

    def __init__(self, pool: _Pool, count: int) -> None:
        self.pool = pool
        warm = _unpark("compile", pool.compile_key, pool.fake_init, {})
        for extra in warm[count:]:
            extra.close()
        warm = warm[:count]
        self.idle: list[_Process] = [p for p in warm if p.ready]
        self.starting: list[_Process] = [p for p in warm if not p.ready]
        self.starting += [_Process("compile", pool.fake_init, {}) for _ in range(count - len(warm))]
        self.busy: dict[int, _Job] = {}  # fd -> job
        self.queue: list[_Job] = []
        self.jobs: dict[int, _Job] = {}

    def submit(self, index: int, config: dict[str, Any]) -> None:
        job = _Job(index, config)
        self.jobs[index] = job
        self.queue.append(job)
        self._dispatch()

    def _dispatch(self) -> None:
        while self.queue and self.idle:
            worker = self.idle.pop()
            job = self.queue.pop(0)
            job.worker, job.started = worker, time.perf_counter()
            worker.busy = True
            self.busy[worker.conn.fileno()] = job
            worker.send({"command": "compile", "index": job.index, "config": job.config})

    def _replace(self, worker: _Process) -> None:
        worker.kill()
        self.starting.append(_Process("compile", self.pool.fake_init, {}))

    def _expire(self) -> None:
        now = time.perf_counter()
        for fd, job in list(self.busy.items()):
            assert job.worker is not None
            if now - job.started > settings.compile_timeout_s:
                del self.busy[fd]
                self._replace(job.worker)
                job.done, job.status, job.compile_s = True, "timeout", now - job.started
                job.error = _compile_timeout_message(settings.compile_timeout_s)
        for worker in list(self.starting):
            if worker.stale and now - worker.started > settings.compile_timeout_s:
                self.starting.remove(worker)  # the last sweep's compile it was kept for hangs
                self._replace(worker)
            elif now - worker.started > STARTUP_TIMEOUT_S:
                self.starting.remove(worker)
                worker.kill()

    def _handle(self, conn: Any) -> None:
        worker = next((w for w in self.starting if w.conn is conn), None)
        if worker is not None:
            try:
                header, _ = recv(conn)
                if not worker.settle(header):
                    return  # an earlier set-up's or sweep's answer: the one it waits for is still due
            except (EOFError, OSError, SweepError):
                self.starting.remove(worker)
                worker.kill()
                return
            self.starting.remove(worker)
            self.idle.append(worker)
            return
        job = self.busy[conn.fileno()]
        assert job.worker is not None
        try:
            header, _ = recv(conn)
        except (EOFError, OSError):
            del self.busy[conn.fileno()]
            job.worker.proc.wait(timeout=10)
            job.done, job.status, job.error = True, "runtime_error", f"{job.worker.death()} (while compiling)"
            self._replace(job.worker)
            return
        # Interrupted before this (Ctrl-C mid-answer), the worker is still in `busy`: close() kills it.
        del self.busy[conn.fileno()]
        job.worker.busy = False
        job.done, job.compile_s = True, header["compile_s"]
        if header["error"]:
            job.status, job.error = "compile_error", header["error"]
        self.idle.append(job.worker)

    def pump(self, block_until: int | None = None) -> None:
        """Collect ready workers and finished compiles; with ``block_until``, wait for that job."""
        while True:
            self._expire()
            self._dispatch()
            target = self.jobs.get(block_until) if block_until is not None else None
            blocking = target is not None and not target.done
            conns = [w.conn for w in self.starting] + [j.worker.conn for j in self.busy.values() if j.worker]
            if blocking and not conns:
                # Nothing can finish it (every worker failed to start): let the eval worker compile.
                self.queue = [j for j in self.queue if j is not target]
                self.jobs.pop(block_until, None)
                return
            if not conns:
                return
            timeout = 0.0
            if blocking:
                deadlines = [j.started + settings.compile_timeout_s for j in self.busy.values()]
                deadlines += [w.started + STARTUP_TIMEOUT_S for w in self.starting]
                timeout = max(0.01, min(deadlines) - time.perf_counter())
            ready = wait(conns, timeout=timeout)
            for conn in ready:
                self._handle(conn)
            if not blocking and not ready:
                return

    def result(self, index: int) -> _Job | None:
        if index not in self.jobs:
            return None
        self.pump(block_until=index)
        return self.jobs.pop(index, None)

    def take_queued(self) -> _Job | None:
        """The oldest job no worker has started on, taken back (the eval worker compiles it itself)."""
        if not self.queue:
            return None
        job = self.queue.pop(0)
        return self.jobs.pop(job.index)

    def next_done(self, timeout: float) -> _Job | None:
        """The first job whose compile has finished (in any order), waiting at most ``timeout``.

        A slow compile no longer holds up the candidates behind it: they are timed as soon as
        they are compiled, while it runs on (until ``compile_timeout_s``) in its own worker.
        """
        deadline = time.perf_counter() + timeout
        while True:
            self.pump()
            done = [j for j in self.jobs.values() if j.done]
            if done:
                job = min(done, key=lambda j: j.index)
                return self.jobs.pop(job.index)
            if not self.jobs:
                return None
            conns = [w.conn for w in self.starting] + [j.worker.conn for j in self.busy.values() if j.worker]
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return None
            if not conns:  # no worker could start: hand the jobs back undone
                job = min(self.jobs.values(), key=lambda j: j.index)
                self.queue = [j for j in self.queue if j is not job]
                return self.jobs.pop(job.index)
            for conn in wait(conns, timeout=min(remaining, 1.0)):
                self._handle(conn)

    def close(self) -> None:
        # Every live worker is kept: idle ones ready, starting ones to finish starting, busy ones to
        # finish (or time out) the compile they are on; each is set up for the next sweep when it comes.
        busy = [job.worker for job in self.busy.values() if job.worker is not None]
        _park("compile", self.pool.compile_key, self.idle + self.starting + busy)
        self.busy.clear()
        self.idle.clear()
        self.starting.clear()


# --------------------------------------------------------------------------------------------------
# The executor


class WorkerEvaluator(Evaluator):
    """Evaluates a sweep's candidates in worker processes: one eval worker checks and times them,
    under per-phase time limits; on a GPU host compile workers compile submitted configs ahead of it
    (filling Triton's on-disk cache), and whichever finishes compiling first is evaluated first."""

    def __init__(self, target: KernelTarget, problem: Problem) -> None:
        super().__init__()
        pool = _Pool(recipe_for(target), problem)
        self.eval_worker = EvalWorker(pool)
        workers = compile_worker_count()
        self.compiler = CompileWorkers(pool, workers) if workers else None
        self.lookahead = 2 * workers if workers else 1
        self._compiled: dict[int, _Job] = {}
        self.eval_worker.start()  # sets up while the compile workers do

    def submit(self, ticket: int, config: helion.Config) -> None:
        super().submit(ticket, config)
        if self.compiler is not None:
            self.compiler.submit(ticket, dict(config.config))

    def next_ready(self, timeout: float) -> int | None:
        if self.compiler is None:
            return super().next_ready(timeout)
        # Compile workers run ahead; they never hold the sweep up: while none has a compile done and
        # the eval worker is idle, it takes the oldest job no compile worker has started and compiles
        # it itself (compile workers all still starting, or busy on slow compiles, got an H200 sweep
        # of 15 s no candidate at all).
        deadline = time.perf_counter() + timeout
        while True:
            job = self.compiler.next_done(min(0.25, max(0.0, deadline - time.perf_counter())))
            if job is None and self.eval_worker.is_ready():
                job = self.compiler.take_queued()
            if job is not None:
                self._compiled[job.index] = job
                return job.index
            if not self.compiler.jobs or time.perf_counter() >= deadline:
                return None

    def evaluate(self, ticket: int, config: helion.Config) -> Outcome:
        self._done(ticket)
        job = None
        if self.compiler is not None:
            job = self._compiled.pop(ticket, None) or self.compiler.result(ticket)
            if job is not None and job.status is not None:
                timed_out = "compile" if job.status == "timeout" else None
                return Outcome(job.status, compile_s=job.compile_s, error=job.error, timed_out=timed_out)
        outcome = self.eval_worker.evaluate(ticket, dict(config.config))
        if self.compiler is not None:
            self.compiler.pump()
        if job is not None and job.done:
            # Precompiled: the compile worker's time is the real compile (Triton to a binary included);
            # the eval worker only loaded the result from Triton's cache.
            outcome = dataclasses.replace(outcome, compile_s=job.compile_s)
        return outcome

    def close(self) -> None:
        self.eval_worker.close()
        if self.compiler is not None:
            self.compiler.close()


class Isolated:
    """Evaluate candidates in worker processes with compile and run time limits, so a hanging or
    crashing candidate is a result (``timeout``, ``runtime_error``) and the notebook survives."""

    name = "isolated"
    concurrent = False

    def evaluator(self, target: KernelTarget, bound: Any, problem: Problem) -> Evaluator:
        return WorkerEvaluator(target, problem)

    def __repr__(self) -> str:
        return "Isolated()"
