"""Worker processes for sweeps: a candidate that hangs, crashes or corrupts the GPU cannot take the
notebook down with it, and on a GPU host candidates compile in parallel ahead of the one being timed.

* Workers are started with ``python -m kernelbench._worker`` (not multiprocessing's spawn, which
  re-imports the user's ``__main__``; a notebook has none and a script would re-run itself).
* The kernel reaches a worker as a :class:`Recipe`: its source (decorators dropped, line numbers
  kept so errors still name the cell line) and the globals it reads (modules by name, plain values,
  helper functions by source). Nothing is pickled: messages are JSON, each tensor travels as its raw
  bytes (dtype and shape in the JSON), sent from and received into tensor memory without copies.
* The parent watches each phase with a time limit (compile, then run/check/time). A worker that
  overruns is killed (``timeout``); one that dies (segfault, ``os._exit``, CUDA illegal address,
  out of memory) is labelled with the cause from its exit status and log, and restarted.
"""

from __future__ import annotations

import ast
import atexit
import dataclasses
import hashlib
import inspect
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import types
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

import torch

from ._errors import SweepError
from ._result import COMPILE_TIMEOUT_PREFIX

__all__ = ["CompileWorkers", "EvalWorker", "Recipe", "WorkerDied", "WorkerTimeout", "recipe_for"]

STARTUP_TIMEOUT_S = 180.0
_SIMPLE = (int, float, bool, str, type(None))


class WorkerTimeout(Exception):
    """A worker overran its phase's time limit (it has been killed)."""


class WorkerDied(Exception):
    """A worker process ended without answering; the message says how."""


# --------------------------------------------------------------------------------------------------
# Wire format: a JSON header naming the tensors (dtype, shape), then one raw buffer per tensor


def _send(conn: Connection, header: dict[str, Any], tensors: dict[str, torch.Tensor] | None = None) -> None:
    flat = {key: value.detach().contiguous().cpu() for key, value in (tensors or {}).items()}
    layout = [[key, str(t.dtype).removeprefix("torch."), list(t.shape)] for key, t in flat.items()]
    conn.send_bytes(json.dumps({**header, "_tensors": layout}).encode())
    for t in flat.values():
        conn.send_bytes(t.reshape(-1).view(torch.uint8).numpy())  # the tensor's memory, not a copy


def _recv(conn: Connection) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    header = json.loads(conn.recv_bytes().decode())
    tensors: dict[str, torch.Tensor] = {}
    for key, dtype_name, shape in header.pop("_tensors", []):
        dtype = getattr(torch, dtype_name, None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"unknown tensor dtype {dtype_name!r} in a worker message")
        out = torch.empty(shape, dtype=dtype)
        raw = out.reshape(-1).view(torch.uint8)
        if raw.numel():
            got = conn.recv_bytes_into(raw.numpy())
        else:
            got = len(conn.recv_bytes())
        if got != raw.numel():
            raise ValueError(f"tensor {key!r}: expected {raw.numel()} bytes, got {got}")
        tensors[key] = out
    return header, tensors


def _pack_args(prefix: str, args: Sequence[Any]) -> tuple[list[Any], dict[str, torch.Tensor]]:
    """Tensor arguments as named tensors plus their layout; other arguments as JSON values."""
    specs: list[Any] = []
    tensors: dict[str, torch.Tensor] = {}
    for i, a in enumerate(args):
        if isinstance(a, torch.Tensor):
            key = f"{prefix}{i}"
            tensors[key] = a
            specs.append({"tensor": key, "shape": list(a.shape), "stride": list(a.stride()),
                          "dtype": str(a.dtype).removeprefix("torch.")})
        elif isinstance(a, _SIMPLE):
            specs.append({"value": a})
        else:
            raise SweepError(
                f"argument {i} is a {type(a).__name__}, which cannot travel to a worker process; "
                "pass tensors and plain numbers, or tune with isolate=False"
            )
    return specs, tensors


def _unpack_args(specs: list[Any], tensors: dict[str, torch.Tensor], device: str, fake: bool = False) -> tuple[Any, ...]:
    out: list[Any] = []
    for spec in specs:
        if "tensor" in spec:
            dtype = getattr(torch, spec["dtype"])
            t = torch.empty_strided(spec["shape"], spec["stride"], dtype=dtype, device=device)
            if not fake:  # compile-only workers need the layout, not the data
                t.copy_(tensors[spec["tensor"]])
            out.append(t)
        else:
            out.append(spec["value"])
    return tuple(out)


# --------------------------------------------------------------------------------------------------
# Recipes: how a worker re-creates the kernel


@dataclasses.dataclass
class Recipe:
    name: str
    source: str  # padded so that line numbers match the original file or cell
    filename: str
    imports: dict[str, str]  # global name -> module to import
    objects: dict[str, list[str]]  # global name -> [module, attribute] importable by name
    values: dict[str, Any]  # global name -> plain value
    dtypes: dict[str, str]  # global name -> torch dtype name
    helpers: list[tuple[str, str, str]]  # (name, padded source, filename) of helper functions
    settings: dict[str, Any]  # Helion settings that differ from the defaults

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _referenced_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _referenced_names(const)
    return names


def _def_source(fn: types.FunctionType) -> tuple[str, str]:
    """The function's source from its ``def`` line on, padded to keep line numbers, and its file."""
    lines, start = inspect.getsourcelines(fn)
    tree = ast.parse(textwrap.dedent("".join(lines)))
    node = tree.body[0]
    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    def_offset = node.lineno - 1  # ast puts a decorated function at its `def` line
    body = textwrap.dedent("".join(lines[def_offset:]))
    return "\n" * (start - 1 + def_offset) + body, fn.__code__.co_filename


def _helion_settings(helion_kernel: Any) -> dict[str, Any]:
    import helion

    defaults = helion.Settings()
    changed = {}
    for name, value in vars(helion_kernel.settings).items():
        if isinstance(value, _SIMPLE) and not name.startswith("_") and getattr(defaults, name, value) != value:
            changed[name] = value
    return changed


def _importable(value: Any) -> bool:
    """True when ``value`` is what ``import module; module.qualname`` gives (e.g. ``math.sqrt``)."""
    import importlib

    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__" or module.startswith("_kernelbench"):
        return False
    try:
        target: Any = importlib.import_module(module)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError):
        return False
    return target is value


def recipe_for(kernel: Any) -> Recipe:
    """What a worker needs to re-create ``kernel`` (a :class:`kernelbench.Kernel`)."""
    import helion

    from ._kernel import Kernel

    fn = kernel.fn
    source, filename = _def_source(fn)
    imports: dict[str, str] = {}
    objects: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    dtypes: dict[str, str] = {}
    helpers: list[tuple[str, str, str]] = []
    for name in sorted(_referenced_names(fn.__code__)):
        if name not in fn.__globals__:
            continue  # a builtin, or an attribute name
        value = fn.__globals__[name]
        if isinstance(value, types.ModuleType):
            imports[name] = value.__name__
        elif isinstance(value, torch.dtype):
            dtypes[name] = str(value).removeprefix("torch.")
        elif isinstance(value, _SIMPLE) or (
            isinstance(value, (tuple, list)) and all(isinstance(v, _SIMPLE) for v in value)
        ):
            values[name] = value
        elif isinstance(value, (Kernel, helion.Kernel)):
            continue
        elif _importable(value):
            objects[name] = [value.__module__, value.__qualname__]
        elif isinstance(value, types.FunctionType):
            helper_source, helper_file = _def_source(value)
            helpers.append((name, helper_source, helper_file))
        else:
            raise SweepError(
                f"{kernel.name} reads the global {name!r} ({type(value).__name__}), which cannot travel to a "
                "worker process; make it a number, string or dtype constant, or tune with isolate=False"
            )
    return Recipe(
        name=kernel.name,
        source=source,
        filename=filename,
        imports=imports,
        objects=objects,
        values=values,
        dtypes=dtypes,
        helpers=helpers,
        settings=_helion_settings(kernel.helion_kernel),
    )


def materialise(recipe: Recipe) -> Any:
    """The Helion kernel a recipe describes, defined in a fresh module of this process."""
    import importlib

    import helion
    import helion.language as hl

    from ._source import cache_source, register_namespace

    namespace: dict[str, Any] = {"__name__": f"_kernelbench_worker_{recipe.name}", "torch": torch,
                                 "helion": helion, "hl": hl}
    for name, module in recipe.imports.items():
        namespace[name] = importlib.import_module(module)
    for name, (module, qualname) in recipe.objects.items():
        target: Any = importlib.import_module(module)
        for part in qualname.split("."):
            target = getattr(target, part)
        namespace[name] = target
    namespace.update(recipe.values)
    namespace.update({k: getattr(torch, v) for k, v in recipe.dtypes.items()})
    register_namespace(namespace)
    for _name, source, filename in [*recipe.helpers, (recipe.name, recipe.source, recipe.filename)]:
        cache_source(source, filename)
        exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - the user's own kernel source
    fn = namespace[recipe.name]
    return helion.kernel(fn, **recipe.settings)


# --------------------------------------------------------------------------------------------------
# The worker process


def _compile_only_launcher(triton_kernel: Any, grid: tuple[int, ...], *args: Any, num_warps: int,
                           num_stages: int, **kwargs: Any) -> Any:
    """Helion's launcher, but Triton only compiles (``warmup=True``): nothing runs on the GPU."""
    run_kwargs = {k: v for k, v in kwargs.items() if not k.startswith("_")}
    return triton_kernel.run(*args, grid=grid, warmup=True, num_warps=num_warps, num_stages=num_stages, **run_kwargs)


def _short(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:400]


class _WorkerState:
    def __init__(self, header: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        import helion

        from . import _device
        from ._settings import settings

        self.device = _device.DEVICE
        settings.gpu_warmup_ms = header["gpu_warmup_ms"]
        settings.gpu_rep_ms = header["gpu_rep_ms"]
        settings.cpu_reps = header["cpu_reps"]
        self.helion = helion
        self.recipe = Recipe(**header["recipe"])
        self.kernel = materialise(self.recipe)
        self.args = _unpack_args(header["args"], tensors, self.device, fake=header["role"] == "compile")
        self.bound = self.kernel.bind(self.args)
        self.rtol, self.atol = header["rtol"], header["atol"]
        self.native = header["native"]  # [[shape, dtype], ...] of the reference outputs
        self.checks: list[tuple[tuple[Any, ...], list[torch.Tensor]]] = []
        for k, (specs, ref_dtypes) in enumerate(header.get("checks", [])):
            inputs = _unpack_args(specs, tensors, self.device)
            refs = [tensors[f"ref{k}_{j}"].to(self.device, getattr(torch, dtype)) for j, dtype in enumerate(ref_dtypes)]
            self.checks.append((inputs, refs))

    def compile(self, config: dict[str, Any], launch: bool) -> tuple[Any, float]:
        start = time.perf_counter()
        fn = self.bound.compile_config(self.helion.Config(**config), allow_print=False)
        if launch:
            with torch.no_grad():
                fn(*self.args, _launcher=_compile_only_launcher)
        return fn, time.perf_counter() - start

    def evaluate(self, conn: Connection, index: int, config: dict[str, Any]) -> dict[str, Any]:
        from ._check import check_outputs, check_structure, flatten_outputs, poisoned
        from ._timing import time_ms

        _send(conn, {"phase": "compile", "index": index})
        try:
            fn, compile_s = self.compile(config, launch=False)
        except Exception as error:  # noqa: BLE001 - a config that fails to compile is a result
            return {"status": "compile_error", "error": _short(error)}
        _send(conn, {"phase": "run", "index": index})
        worst = {"max_abs_err": 0.0, "max_rel_err": 0.0, "rel_l2": 0.0}
        wrong = None
        for inputs, refs in self.checks:
            try:
                with torch.no_grad(), poisoned():
                    outs = flatten_outputs(fn(*inputs), self.recipe.name)
                if self.device == "cuda":
                    torch.cuda.synchronize()
            except Exception as error:  # noqa: BLE001
                return {"status": "runtime_error", "compile_s": compile_s, "error": _short(error)}
            native = [torch.empty(shape, dtype=getattr(torch, dtype), device="meta") for shape, dtype in self.native]
            try:
                check_structure(outs, native, self.recipe.name)
            except Exception as error:  # noqa: BLE001
                from ._sweep import STRUCTURE_ERROR

                return {"status": "wrong", "compile_s": compile_s, "error": STRUCTURE_ERROR + str(error)}
            wrong = wrong or check_outputs(outs, refs, rtol=self.rtol, atol=self.atol, worst=worst)
        try:
            ms = time_ms(fn, self.args)
        except Exception as error:  # noqa: BLE001
            return {"status": "runtime_error", "compile_s": compile_s, "error": _short(error)}
        return {"status": "wrong" if wrong else "ok", "ms": ms, "compile_s": compile_s, "error": wrong, **worst}


def main(fd: int) -> None:
    conn = Connection(fd)
    state: _WorkerState | None = None
    while True:
        try:
            header, tensors = _recv(conn)
        except EOFError:
            return
        command = header["command"]
        if command == "exit":
            return
        if command == "init":
            state = None  # a parked worker set up again: free the last sweep's tensors first
            try:
                state = _WorkerState(header, tensors)
                _send(conn, {"ready": True})
            except Exception as error:  # noqa: BLE001 - the parent turns this into a clear error
                _send(conn, {"ready": False, "error": _short(error)})
        elif command == "warm":
            import helion  # noqa: F401 - the import is the point: the next init finds it loaded

            from . import _device

            if _device.DEVICE == "cuda":
                torch.zeros(1, device="cuda")  # creates the CUDA context
        elif command == "compile":
            assert state is not None
            try:
                _, compile_s = state.compile(header["config"], launch=True)
                _send(conn, {"compiled": header["index"], "compile_s": compile_s, "error": None})
            except Exception as error:  # noqa: BLE001
                _send(conn, {"compiled": header["index"], "compile_s": 0.0, "error": _short(error)})
        elif command == "eval":
            assert state is not None
            result = state.evaluate(conn, header["index"], header["config"])
            _send(conn, {"result": header["index"], **result})
        elif command == "crash":  # for tests: die the way a bad kernel can
            os._exit(int(header.get("code", 3)))


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
        from ._device import DEVICE

        self.role = role
        parent_sock, child_sock = socket.socketpair()
        self.log = tempfile.NamedTemporaryFile(prefix=f"kernelbench-{role}-", suffix=".log", delete=False)
        env = dict(os.environ)
        env["KERNELBENCH_DEVICE"] = DEVICE
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kernelbench._worker", str(child_sock.fileno())],
            pass_fds=[child_sock.fileno()], stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            env=env, start_new_session=True,
        )
        child_sock.close()
        self.conn = Connection(os.dup(parent_sock.fileno()))
        parent_sock.close()
        if init is not None:
            self.init(init, tensors)
        else:  # started ahead of any sweep: load torch, Helion and the device; no answer
            _send(self.conn, {"command": "warm"})
            self.started = time.perf_counter()
            self.ready = False

    def init(self, init: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        """Set the worker up for a sweep (again, for a parked one: torch, Helion and CUDA stay up)."""
        _send(self.conn, {"command": "init", "role": self.role, **init}, tensors)
        self.started = time.perf_counter()
        self.ready = False  # set by the answer: workers set up in parallel, nobody waits here

    def check_ready(self, header: dict[str, Any]) -> None:
        if not header.get("ready"):
            self.kill()
            raise SweepError(f"a {self.role} worker could not set the kernel up: {header.get('error')}")
        self.ready = True

    def wait_ready(self) -> None:
        if not self.ready:
            header, _ = self.receive(STARTUP_TIMEOUT_S)
            self.check_ready(header)

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
            return _recv(self.conn)
        except (EOFError, ConnectionError, OSError):
            self.proc.wait(timeout=10)
            raise WorkerDied(self.death()) from None

    def death(self) -> str:
        tail = self.log_tail()
        return f"worker {_describe_exit(self.proc.returncode)}" + (f": {tail}" if tail else "")

    def send(self, header: dict[str, Any]) -> None:
        _send(self.conn, header)

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
    status: str | None = None  # None (compiled fine), "compile_error" or "timeout"


class _Pool:
    """Shared set-up for workers of one sweep."""

    def __init__(self, recipe: Recipe, args: Sequence[Any], checks: Sequence[tuple[Sequence[Any], list[torch.Tensor]]],
                 native: list[torch.Tensor], rtol: float | None, atol: float | None) -> None:
        from ._settings import settings

        arg_specs, tensors = _pack_args("arg", args)
        self.fake_init = {"recipe": recipe.to_json(), "args": arg_specs, "rtol": rtol, "atol": atol,
                          "native": [[list(t.shape), str(t.dtype).removeprefix("torch.")] for t in native],
                          "gpu_warmup_ms": settings.gpu_warmup_ms, "gpu_rep_ms": settings.gpu_rep_ms,
                          "cpu_reps": settings.cpu_reps}
        check_specs: list[Any] = []
        check_tensors: dict[str, torch.Tensor] = dict(tensors)
        for k, (inputs, refs) in enumerate(checks):
            if k == 0 and len(inputs) == len(args) and all(a is b for a, b in zip(inputs, args)):
                specs = arg_specs  # the first check set is the given arguments: sent once
            else:
                specs, ts = _pack_args(f"check{k}_", inputs)
                check_tensors.update(ts)
            check_specs.append([specs, [str(r.dtype).removeprefix("torch.") for r in refs]])
            for j, (r, out) in enumerate(zip(refs, native)):
                # A float64 reference of a 16-bit output travels as float32 (half the bytes; the
                # rounding, 6e-8 relative, is far inside any 16-bit tolerance) and is widened again.
                narrow = r.dtype == torch.float64 and out.is_floating_point() and out.element_size() <= 2
                check_tensors[f"ref{k}_{j}"] = r.float() if narrow else r
        self.eval_init = {**self.fake_init, "checks": check_specs}
        self.eval_tensors = check_tensors
        # What compile workers were set up with: parked ones are taken over as they are only for
        # exactly this (no tensors in it, so it is cheap). The eval worker is always set up again: a
        # key over its inputs and references would mean hashing all of them on every sweep.
        self.compile_key = hashlib.blake2b(json.dumps(self.fake_init, sort_keys=True).encode(),
                                           digest_size=20).hexdigest()
        self.eval_key = ""


# --------------------------------------------------------------------------------------------------
# Warm workers: a finished sweep parks its healthy workers and the next sweep takes them over instead
# of paying the start-up (~10 s on a GPU host: torch, Helion, a CUDA context). The same kernel on the
# same inputs finds its compile workers ready; otherwise a sweep sends them its kernel and inputs
# and they answer when set up, as fresh ones would (the eval worker is always set up again).

_PARKED: dict[str, tuple[str, list[_Process]]] = {}


def _park(kind: str, key: str, procs: list[_Process]) -> None:
    from ._settings import settings

    alive = [p for p in procs if p.ready and p.proc.poll() is None]
    for p in procs:
        if p not in alive:  # still starting, or dead: nothing to keep
            p.kill()
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
    from ._device import is_interpreter
    from ._settings import settings

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

    def _ensure(self) -> _Process:
        self.start()
        assert self.proc is not None
        self.proc.wait_ready()
        return self.proc

    def evaluate(self, index: int, config: dict[str, Any]) -> dict[str, Any]:
        from ._settings import settings

        proc = self._ensure()
        proc.send({"command": "eval", "index": index, "config": config})
        phase, limit = "compile", settings.compile_timeout_s
        start = time.perf_counter()
        compile_s = 0.0
        try:
            while True:
                header, _ = proc.receive(limit)
                if "phase" in header:
                    if header["phase"] == "run":
                        compile_s = time.perf_counter() - start
                    phase = header["phase"]
                    limit = settings.compile_timeout_s if phase == "compile" else settings.run_timeout_s
                    continue
                return header
        except WorkerTimeout:
            self.proc = None
            if phase == "compile":
                return {"status": "timeout", "compile_s": time.perf_counter() - start,
                        "error": f"{COMPILE_TIMEOUT_PREFIX} {limit:g} s (settings.compile_timeout_s); "
                                 "the worker was restarted"}
            return {"status": "timeout", "compile_s": compile_s,
                    "error": f"running, checking or timing took longer than {limit:g} s "
                             "(settings.run_timeout_s); the worker was restarted"}
        except WorkerDied as died:
            self.proc = None
            return {"status": "runtime_error", "compile_s": compile_s, "error": f"{died} (while {phase}); restarted"}

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
            worker.send({"command": "compile", "index": job.index, "config": job.config})
            self.busy[worker.conn.fileno()] = job

    def _replace(self, worker: _Process) -> None:
        worker.kill()
        self.starting.append(_Process("compile", self.pool.fake_init, {}))

    def _expire(self) -> None:
        from ._settings import settings

        now = time.perf_counter()
        for fd, job in list(self.busy.items()):
            assert job.worker is not None
            if now - job.started > settings.compile_timeout_s:
                del self.busy[fd]
                self._replace(job.worker)
                job.done, job.status, job.compile_s = True, "timeout", now - job.started
                job.error = (f"{COMPILE_TIMEOUT_PREFIX} {settings.compile_timeout_s:g} s "
                             "(settings.compile_timeout_s); the worker was restarted")
        for worker in list(self.starting):
            if now - worker.started > STARTUP_TIMEOUT_S:
                self.starting.remove(worker)
                worker.kill()

    def _handle(self, conn: Any) -> None:
        worker = next((w for w in self.starting if w.conn is conn), None)
        if worker is not None:
            self.starting.remove(worker)
            try:
                header, _ = _recv(conn)
                worker.check_ready(header)
            except (EOFError, OSError, SweepError):
                worker.kill()
                return
            self.idle.append(worker)
            return
        job = self.busy.pop(conn.fileno())
        assert job.worker is not None
        try:
            header, _ = _recv(conn)
        except (EOFError, OSError):
            job.worker.proc.wait(timeout=10)
            job.done, job.status, job.error = True, "runtime_error", f"{job.worker.death()} (while compiling)"
            self._replace(job.worker)
            return
        job.done, job.compile_s = True, header["compile_s"]
        if header["error"]:
            job.status, job.error = "compile_error", header["error"]
        self.idle.append(job.worker)

    def pump(self, block_until: int | None = None) -> None:
        """Collect ready workers and finished compiles; with ``block_until``, wait for that job."""
        from ._settings import settings

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
        for job in self.busy.values():
            if job.worker is not None:
                job.worker.kill()
        for worker in self.starting:
            worker.kill()
        _park("compile", self.pool.compile_key, self.idle)
        self.busy.clear()
        self.idle.clear()
        self.starting.clear()


if __name__ == "__main__":
    main(int(sys.argv[1]))
