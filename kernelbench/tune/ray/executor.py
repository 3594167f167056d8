"""The driver's side of sweeps on Ray: :class:`RayExecutor`, its actor pool and each sweep's evaluator.

* One actor per GPU (``num_gpus=gpus_per_actor``); on a cluster with no GPUs, one per CPU
  (``num_cpus=1``, Triton's interpreter). ``max_actors`` caps the count.
* A sweep's set-up (recipe JSON, the given inputs' bytes, check references; check inputs drawn by
  ``fresh_inputs`` travel as a seed and a digest and are drawn again by the actor, and references
  rebuilt by name — a KernelBench problem's, ``torch.softmax`` — as their recipe and a digest and are
  computed by the actor on its device; :class:`kernelbench.tune.worker.pool._Pool` decides, for the
  local workers too) is put in the object store once; each actor is sent a reference to it before
  its first candidate of that sweep. An actor whose bits differ is sent them instead.
* Submitted candidates wait in one queue shared by every sweep of the pool (``tune_many`` runs
  several at once); an actor that frees up takes the next one (the sweep with the fewest running
  first), and results are handed back in the order they finish.
* Time limits: a candidate past ``settings.compile_timeout_s`` in its compile, or past
  ``settings.run_timeout_s`` running, checking or timing (the actor's probe says which phase), is a
  ``timeout``; the actor is killed and replaced. An actor that dies (segfault, out of memory, its
  node lost, ``os.kill``) makes its candidate a ``runtime_error`` naming the cause, and is replaced.
* A sweep that ends (budget, time limit, Stop, Ctrl-C) drops its queued candidates and kills the
  actors still working on its candidates (replaced lazily); every finished result is the sweep's.

Actors are kept from one sweep to the next (a new actor imports torch and Helion: seconds).
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
import uuid
from typing import Any

import helion

try:
    import ray
    import ray.exceptions
except ImportError:  # pragma: no cover - the message below is the point
    ray = None  # type: ignore[assignment]

from kernelbench._errors import SweepError
from kernelbench._settings import settings
from kernelbench.core.device import DEVICE
from kernelbench.core.evaluate import Outcome, Problem
from kernelbench.core.target import KernelTarget
from kernelbench.tune.evaluators import Evaluator
from kernelbench.tune.ray.actor import SweepActor, to_payload
from kernelbench.tune.worker.pool import _Pool
from kernelbench.tune.worker.recipe import recipe_for

__all__ = ["RayExecutor", "RayEvaluator", "require_ray", "shared_executor"]

INSTALL = 'pip install "kernelbench[ray]"'
#: Seconds between probes of one running candidate, and a probe's own time limit.
PROBE_EVERY_S = 1.0
PROBE_TIMEOUT_S = 5.0
#: How long one pump waits on Ray for a result before it checks time limits and Stop again.
PUMP_S = 0.1


def require_ray() -> Any:
    """The ``ray`` module, or a one-line error saying how to install it."""
    if ray is None:
        raise SweepError(f"the Ray executor needs Ray, which is not installed: {INSTALL} "
                         "(or tune with executor=\"local\")")
    return ray


def _cause(error: BaseException) -> str:
    """The lines of a Ray actor error that say why the actor died, in one line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    keep = [line for line in lines if any(w in line.lower() for w in ("died", "signal", "exit", "killed", "memory",
                                                                        "node", "lost", "pid"))]
    return " ".join(keep or lines[:2])[:300]


@dataclasses.dataclass(eq=False)
class _Actor:
    handle: Any
    hello: Any  # the ObjectRef of its hello(): pid, host, device
    job: _Job | None = None
    keys: set[str] = dataclasses.field(default_factory=set)  # sweeps it was sent
    _info: dict[str, Any] | None = None

    started_at: float = 0.0

    def info(self, timeout: float | None = None) -> dict[str, Any]:
        if self._info is None:
            self._info = ray.get(self.hello, timeout=timeout)
            self.started_at = self.started_at or time.perf_counter()
        return self._info

    def started(self) -> bool:
        """It has answered its hello (its process is up and imported kernelbench)."""
        if self._info is None and ray.wait([self.hello], timeout=0)[0]:
            try:
                self.info()
            except ray.exceptions.RayActorError:  # it died starting: its candidate's result says so
                return False
        return self._info is not None


@dataclasses.dataclass(eq=False)
class _Job:
    evaluator: RayEvaluator
    ticket: int
    config: dict[str, Any]
    ref: Any = None
    actor: _Actor | None = None
    dispatched: float = 0.0
    next_probe: float = 0.0
    probe: Any = None  # the ObjectRef of a probe sent and not yet answered
    probe_sent: float = 0.0


class ActorPool:
    """The actors of one :class:`RayExecutor`, shared by every sweep it runs (one at a time or several)."""

    def __init__(self, executor: RayExecutor) -> None:
        self.executor = executor
        self.lock = threading.RLock()
        self.actors: list[_Actor] = []
        self.queue: collections.deque[_Job] = collections.deque()
        self.running: dict[Any, _Job] = {}  # ObjectRef -> job
        self.size = self._size()
        # One probe may run beside the candidate (its own concurrency group); calls in the default
        # group run one at a time, in the order sent: set-up, then candidates.
        self._remote = ray.remote(max_concurrency=1, concurrency_groups={"probe": 1})(SweepActor)
        self._fill()
        self._check_device()

    def _options(self) -> dict[str, Any]:
        if self._gpus:
            return {"num_gpus": self.executor.gpus_per_actor, "num_cpus": 1}
        return {"num_cpus": 1, "num_gpus": 0}

    def _size(self) -> int:
        resources = ray.cluster_resources()
        self._gpus = resources.get("GPU", 0) >= self.executor.gpus_per_actor > 0
        count = (int(resources.get("GPU", 0) // self.executor.gpus_per_actor) if self._gpus
                 else int(resources.get("CPU", 1)))
        if self.executor.max_actors is not None:
            count = min(count, self.executor.max_actors)
        return max(1, count)

    def _spawn(self) -> _Actor:
        handle = self._remote.options(**self._options()).remote()
        return _Actor(handle, handle.hello.remote())

    def _fill(self) -> None:
        while len(self.actors) < self.size:
            self.actors.append(self._spawn())

    def _check_device(self) -> None:
        device = self.actors[0].info(timeout=300)["device"]
        if device != DEVICE:
            raise SweepError(f"the Ray actors run on {device!r} but this process's kernels on {DEVICE!r}; start "
                             "Ray on machines of the same kind (or set KERNELBENCH_DEVICE the same on both)")

    def _kill(self, actor: _Actor) -> None:
        """Kill ``actor`` (a new one takes its place at the next dispatch)."""
        if actor in self.actors:
            self.actors.remove(actor)
        try:
            ray.kill(actor.handle, no_restart=True)
        except Exception:  # noqa: BLE001 - gone already
            pass

    # -- work -------------------------------------------------------------------------------------

    def enqueue(self, job: _Job) -> None:
        with self.lock:
            self.queue.append(job)
            self._dispatch()

    def _dispatch(self) -> None:
        self._fill()
        for actor in self.actors:
            if actor.job is not None or not self.queue:
                continue
            running = collections.Counter(j.evaluator for j in self.running.values())
            job = min(self.queue, key=lambda j: running[j.evaluator])  # the least served sweep first
            self.queue.remove(job)
            evaluator = job.evaluator
            if evaluator.key not in actor.keys:
                actor.handle.setup.remote(evaluator.key, evaluator.payload)
                actor.keys.add(evaluator.key)
            job.actor, job.dispatched = actor, time.perf_counter()
            job.next_probe = job.dispatched + min(settings.compile_timeout_s, settings.run_timeout_s)
            job.ref = actor.handle.evaluate.remote(evaluator.key, job.config)
            actor.job = job
            self.running[job.ref] = job

    def pump(self, timeout: float) -> None:
        """Collect finished candidates (waiting up to ``timeout`` for one), enforce time limits, dispatch."""
        with self.lock:
            refs = list(self.running)
            if refs:
                ready, rest = ray.wait(refs, num_returns=1, timeout=timeout)
                if ready and rest:
                    more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
                    ready += more
                for ref in ready:
                    self._collect(self.running.pop(ref))
                self._enforce_limits()
            self._dispatch()
        if not refs:
            time.sleep(min(timeout, PUMP_S))

    def _free(self, job: _Job) -> None:
        if job.actor is not None and job.actor.job is job:
            job.actor.job = None

    def _collect(self, job: _Job) -> None:
        self._free(job)
        try:
            data = ray.get(job.ref)
        except ray.exceptions.RayActorError as error:
            assert job.actor is not None
            self._kill(job.actor)
            job.evaluator._finish(job.ticket, Outcome(
                "runtime_error", error=f"the Ray actor died ({_cause(error)}) while evaluating; a new actor "
                                       "took its place"))
            return
        except ray.exceptions.RayTaskError as error:
            job.evaluator._finish(job.ticket, Outcome("runtime_error", error=_cause(error)))
            return
        if data.get("missing"):
            assert job.actor is not None
            job.actor.keys.discard(job.evaluator.key)
            if data.get("redraw") and not job.evaluator.shipped:
                # This actor drew or computed other bits: send it the inputs and references themselves.
                job.evaluator.ship_inputs(data.get("error", ""))
                self.queue.appendleft(job)
                return
            job.evaluator._fail(SweepError(f"a Ray actor could not set {job.evaluator.name} up: {data.get('error')}"))
            return
        job.evaluator._finish(job.ticket, Outcome.from_json(data))

    def _enforce_limits(self) -> None:
        now = time.perf_counter()
        for ref, job in list(self.running.items()):
            if now < job.next_probe:
                continue
            assert job.actor is not None
            if not job.actor.started():  # still importing torch and Helion: its start-up is not the candidate's
                job.next_probe = now + PROBE_EVERY_S
                continue
            if job.probe is None:
                job.probe = job.actor.handle.probe.options(concurrency_group="probe").remote()
                job.probe_sent = now
                continue
            done, _ = ray.wait([job.probe], timeout=0)
            if not done:
                if now - job.probe_sent < PROBE_TIMEOUT_S:
                    continue
                # No answer: the actor is stuck without releasing the interpreter lock.
                phase, seconds = "run", now - max(job.dispatched, job.actor.started_at)
            else:
                try:
                    phase, seconds = ray.get(job.probe)
                except ray.exceptions.RayActorError:
                    job.probe = None
                    continue  # it died: its candidate's own result says so
            job.probe, job.next_probe = None, now + PROBE_EVERY_S
            limit = settings.compile_timeout_s if phase == "compile" else settings.run_timeout_s
            if phase in ("compile", "run") and seconds > limit:
                del self.running[ref]
                self._free(job)
                self._kill(job.actor)
                if phase == "compile":
                    outcome = Outcome("timeout", compile_s=seconds, timed_out="compile",
                                      error=f"compiling took longer than {limit:g} s (settings.compile_timeout_s); "
                                            "the Ray actor was replaced")
                else:
                    outcome = Outcome("timeout", timed_out="run",
                                      error=f"running, checking or timing took longer than {limit:g} s "
                                            "(settings.run_timeout_s); the Ray actor was replaced")
                job.evaluator._finish(job.ticket, outcome)

    def has_work(self, evaluator: RayEvaluator) -> bool:
        with self.lock:
            return (any(j.evaluator is evaluator for j in self.queue)
                    or any(j.evaluator is evaluator for j in self.running.values()))

    def has_job(self, evaluator: RayEvaluator, ticket: int) -> bool:
        with self.lock:
            return any(j.evaluator is evaluator and j.ticket == ticket
                       for j in [*self.queue, *self.running.values()])

    def release(self, evaluator: RayEvaluator) -> None:
        """``evaluator``'s sweep ended: drop its queued candidates, kill the actors still on its
        candidates, tell every actor to forget it."""
        with self.lock:
            self.queue = collections.deque(j for j in self.queue if j.evaluator is not evaluator)
            for ref, job in list(self.running.items()):
                if job.evaluator is evaluator:
                    del self.running[ref]
                    self._free(job)
                    if job.actor is not None:
                        self._kill(job.actor)
            for actor in self.actors:
                if evaluator.key in actor.keys:
                    actor.keys.discard(evaluator.key)
                    actor.handle.forget.remote(evaluator.key)
            self._dispatch()

    def shutdown(self) -> None:
        with self.lock:
            for actor in list(self.actors):
                self._kill(actor)
            self.running.clear()
            self.queue.clear()
            self.size = 0


class RayEvaluator(Evaluator):
    """One sweep's candidates on the actor pool: submitted ones are dispatched at once, as actors free
    up; :meth:`next_ready` hands back whichever finished first."""

    def __init__(self, pool: ActorPool, target: KernelTarget, problem: Problem) -> None:
        super().__init__()
        self.pool = pool
        self.name = target.name
        self.key = uuid.uuid4().hex
        self._setup = _Pool(recipe_for(target), problem)
        self.payload = ray.put(to_payload({"role": "eval", **self._setup.eval_init}, self._setup.eval_tensors))
        self.shipped = False
        self.lookahead = pool.size
        self._finished: dict[int, Outcome] = {}
        self._order: list[int] = []  # tickets in the order they finished
        self._error: BaseException | None = None
        self._cancelled = False

    def ship_inputs(self, reason: str = "") -> None:
        """Put the set-up with every check input and reference in the object store (an actor drew or
        computed other bits: ``reason``)."""
        init, tensors = self._setup.shipped(reason)
        self.payload = ray.put(to_payload({"role": "eval", **init}, tensors))
        self.shipped = True

    def _finish(self, ticket: int, outcome: Outcome) -> None:
        self._finished[ticket] = outcome
        self._order.append(ticket)

    def _fail(self, error: BaseException) -> None:
        self._error = error

    def submit(self, ticket: int, config: helion.Config) -> None:
        super().submit(ticket, config)
        self.pool.enqueue(_Job(self, ticket, dict(config.config)))

    def next_ready(self, timeout: float) -> int | None:
        deadline = time.perf_counter() + timeout
        while True:
            if self._error is not None:
                raise self._error
            with self.pool.lock:  # another sweep's thread may be collecting this one's result right now
                if self._order:
                    return self._order[0]
                if self._cancelled or not self.pool.has_work(self):
                    return None
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return None
            self.pool.pump(min(PUMP_S, remaining))

    def evaluate(self, ticket: int, config: helion.Config) -> Outcome:
        self._done(ticket)
        with self.pool.lock:
            if ticket not in self._finished and not self.pool.has_job(self, ticket):  # not submitted
                self.pool.enqueue(_Job(self, ticket, dict(config.config)))
        while ticket not in self._finished:
            if self._error is not None:
                raise self._error
            self.pool.pump(PUMP_S)
        self._order.remove(ticket)
        return self._finished.pop(ticket)

    def running(self) -> dict[int, tuple[dict[str, Any], int]]:
        """Ticket -> (config, actor pid) of this sweep's candidates being evaluated now (for tests)."""
        with self.pool.lock:
            return {j.ticket: (j.config, j.actor.info()["pid"]) for j in self.pool.running.values()
                    if j.evaluator is self and j.actor is not None}

    def cancel(self) -> None:
        self._cancelled = True

    def close(self) -> None:
        self.pool.release(self)


class RayExecutor:
    """Evaluate candidates on Ray actors: ``address`` ``None`` starts a local Ray (no dashboard) unless
    this process has one already, ``"auto"`` joins the running cluster, ``"ray://host:10001"`` a remote
    one. One actor per ``gpus_per_actor`` GPUs (per CPU on a cluster without GPUs), at most ``max_actors``."""

    name = "ray"
    concurrent = True

    def __init__(self, address: str | None = None, gpus_per_actor: float = 1, max_actors: int | None = None) -> None:
        require_ray()
        if max_actors is not None and max_actors < 1:
            raise SweepError(f"max_actors must be at least 1 (or None for one per GPU); got {max_actors!r}")
        if gpus_per_actor <= 0:
            raise SweepError(f"gpus_per_actor must be positive (e.g. 1, or 0.5 for two actors a GPU); got "
                             f"{gpus_per_actor!r}")
        self.address = address
        self.gpus_per_actor = gpus_per_actor
        self.max_actors = max_actors
        self._pool: ActorPool | None = None

    @property
    def pool(self) -> ActorPool:
        if self._pool is None or not ray.is_initialized():
            if not ray.is_initialized():
                if self.address is None:
                    ray.init(include_dashboard=False, log_to_driver=False)
                else:
                    ray.init(address=self.address, log_to_driver=False)
            self._pool = ActorPool(self)
        return self._pool

    def evaluator(self, target: KernelTarget, bound: Any, problem: Problem) -> Evaluator:
        return RayEvaluator(self.pool, target, problem)

    def actors(self) -> list[dict[str, Any]]:
        """Each actor's pid, host, device and loaded kernelbench modules."""
        return [actor.info() for actor in self.pool.actors]

    def shutdown(self) -> None:
        """Kill this executor's actors (Ray itself stays up)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __repr__(self) -> str:
        return f"RayExecutor(address={self.address!r}, gpus_per_actor={self.gpus_per_actor}, max_actors={self.max_actors})"


_SHARED: RayExecutor | None = None


def shared_executor() -> RayExecutor:
    global _SHARED
    if _SHARED is None:
        _SHARED = RayExecutor()
    return _SHARED
