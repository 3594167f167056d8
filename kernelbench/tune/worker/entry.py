"""The worker process's side: set up a kernel from a recipe, then compile or evaluate configs on request.

It imports the core and the worker's own modules only (never the store, bench, io or ui layers), so
that a worker starts quickly.

A worker ends with its parent (a notebook killed with SIGKILL leaves no orphans): on Linux the kernel
sends it SIGKILL when the parent dies (``PR_SET_PDEATHSIG``), even mid-compile or mid-kernel; elsewhere
(or when the parent started it from a thread other than its main one) a watcher thread checks the
parent's pid every second, and the loop ends on EOF from the parent's socket.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import helion
import torch

import kernelbench.core.device as _device
from kernelbench._settings import settings
from kernelbench.core.check import copy_args, fresh_inputs, reference
from kernelbench.core.evaluate import Outcome, Phase, Problem, evaluate, expected_outputs, short_error
from kernelbench.tune.worker.recipe import Recipe, materialise, rebuild_reference
from kernelbench.tune.worker.wire import digest, recv, send, unpack_args

__all__ = ["RedrawMismatch", "WorkerState", "main"]


def _compile_only_launcher(triton_kernel: Any, grid: tuple[int, ...], *args: Any, num_warps: int,
                           num_stages: int, **kwargs: Any) -> Any:
    """Helion's launcher, but Triton only compiles (``warmup=True``): nothing runs on the GPU."""
    run_kwargs = {k: v for k, v in kwargs.items() if not k.startswith("_")}
    return triton_kernel.run(*args, grid=grid, warmup=True, num_warps=num_warps, num_stages=num_stages, **run_kwargs)


def loaded_modules() -> list[str]:
    """The kernelbench modules this process has imported (a worker must stay in its layers)."""
    return sorted(name for name in sys.modules if name.startswith("kernelbench"))


class WorkerState:
    """One sweep set up in this process: the kernel from its recipe, its inputs and references.

    Check inputs drawn by ``fresh_inputs`` are drawn again here, and references the parent could
    describe by name (:func:`~kernelbench.tune.worker.recipe.reference_recipe`) are computed again
    here, on this device; each is checked bit for bit against the notebook's digest first (inputs
    before the references computed from them). A mismatch raises :class:`RedrawMismatch`: the parent
    sends them instead.
    """

    def __init__(self, header: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        device = _device.DEVICE
        settings.gpu_warmup_ms = header["gpu_warmup_ms"]
        settings.gpu_rep_ms = header["gpu_rep_ms"]
        settings.cpu_reps = header["cpu_reps"]
        self.recipe = Recipe(**header["recipe"])
        self.kernel = materialise(self.recipe)
        args = unpack_args(header["args"], tensors, device, fake=header["role"] == "compile")
        self.bound = self.kernel.bind(args)
        references: dict[int, Callable[..., Any]] = {}
        checks: list[tuple[tuple[Any, ...], list[torch.Tensor]]] = []
        for k, check in enumerate(header.get("checks", [])):
            if check.get("given"):  # the given arguments: sent once (they are what is timed)
                inputs = args
            elif "drawn" in check:  # drawn by fresh_inputs from the given arguments: drawn again here
                inputs = fresh_inputs(args, check["drawn"])
                if digest(inputs) != check["digest"]:
                    raise RedrawMismatch(f"check inputs {k} redrawn with seed {check['drawn']} differ from the "
                                         "notebook's")
            else:
                inputs = unpack_args(check["inputs"], tensors, device)
            computed = check.get("computed")
            if computed is None:
                refs = [tensors[f"ref{k}_{j}"].to(device, getattr(torch, dtype)) for j, dtype in enumerate(check["refs"])]
            else:
                refs = _computed_references(k, header["references"][computed["recipe"]], computed, inputs, references)
            checks.append((inputs, refs))
        # [[shape, dtype], ...] of the reference outputs: their layout is all a check needs of them.
        self.problem = Problem(self.recipe.name, args, checks, expected_outputs(header["native"]),
                               header["rtol"], header["atol"], mutates=tuple(header.get("mutates", ())))

    def compile(self, config: dict[str, Any], launch: bool) -> tuple[Any, float]:
        start = time.perf_counter()
        fn = self.bound.compile_config(helion.Config(**config), allow_print=False)
        if launch:
            with torch.no_grad():
                fn(*self.problem.args, _launcher=_compile_only_launcher)
        return fn, time.perf_counter() - start

    def evaluate(self, config: dict[str, Any], on_phase: Callable[[Phase], None] | None = None) -> Outcome:
        """Evaluate ``config``; ``on_phase`` hears each phase start (the parent holds each to its limit)."""
        return evaluate(lambda: self.compile(config, launch=False)[0], self.problem, on_phase=on_phase)


def _computed_references(k: int, recipe: dict[str, Any], want: dict[str, Any], inputs: tuple[Any, ...],
                         rebuilt: dict[int, Callable[..., Any]]) -> list[torch.Tensor]:
    """Check set ``k``'s reference outputs computed here as the notebook computed them (on copies of
    the inputs, float64 where it can), if their bits are the notebook's; else :class:`RedrawMismatch`."""
    where = f"the reference of check set {k} ({recipe['module']}.{recipe['qualname']})"
    try:
        if want["recipe"] not in rebuilt:
            rebuilt[want["recipe"]] = rebuild_reference(recipe)
        outs, precision = reference(rebuilt[want["recipe"]], copy_args(inputs))
    except Exception as error:  # noqa: BLE001 - whatever it is, the notebook's outputs are sent instead
        raise RedrawMismatch(f"{where} could not be computed here: {short_error(error)}") from None
    if precision != want["precision"]:
        raise RedrawMismatch(f"{where} ran in {precision} here but in {want['precision']} in the notebook")
    if digest(outs) != want["digest"]:
        raise RedrawMismatch(f"{where} computed here in {precision} differs from the notebook's (another torch, "
                             "device or problem file, or a reference that is not deterministic)")
    return list(outs)


class RedrawMismatch(Exception):
    """Check inputs drawn again here, or references computed again here, are not bit-identical to the
    notebook's (or could not be made): they must be sent."""


_PR_SET_PDEATHSIG = 1
_PARENT_POLL_S = 1.0


def _set_parent_death_signal() -> None:
    """Linux: SIGKILL this process when its parent dies (see prctl(2), ``PR_SET_PDEATHSIG``)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no libc prctl: the watcher thread is left
        pass


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(_PARENT_POLL_S)
        if os.getppid() != parent:
            os._exit(0)


def die_with_parent(parent: int | None, death_signal: bool = True) -> None:
    """End this process when ``parent`` (the pid that started it) ends, whatever this process is doing."""
    if parent is None:
        return
    if death_signal and sys.platform.startswith("linux"):
        _set_parent_death_signal()
    if os.getppid() != parent:  # it died before the signal was asked for: adopted already
        os._exit(0)
    threading.Thread(target=_watch_parent, args=(parent,), name="kernelbench-parent-watch", daemon=True).start()


def main(fd: int) -> None:
    parent = os.environ.get("KERNELBENCH_WORKER_PARENT")
    die_with_parent(int(parent) if parent else None, os.environ.get("KERNELBENCH_WORKER_PDEATHSIG", "1") == "1")
    conn = Connection(fd)
    state: WorkerState | None = None
    while True:
        try:
            header, tensors = recv(conn)
        except EOFError:
            return
        command = header["command"]
        if command == "exit":
            return
        if command == "init":
            state = None  # a parked worker set up again: free the last sweep's tensors first
            try:
                state = WorkerState(header, tensors)
                send(conn, {"ready": True, "modules": loaded_modules()})
            except RedrawMismatch as error:  # the parent sends the inputs themselves instead
                send(conn, {"ready": False, "redraw": True, "error": str(error)})
            except Exception as error:  # noqa: BLE001 - the parent turns this into a clear error
                send(conn, {"ready": False, "error": short_error(error)})
        elif command == "warm":  # helion and torch are imported already: the CUDA context is left
            if _device.DEVICE == "cuda":
                torch.zeros(1, device="cuda")  # creates the CUDA context
        elif command == "compile":
            assert state is not None
            try:
                _, compile_s = state.compile(header["config"], launch=True)
                send(conn, {"compiled": header["index"], "compile_s": compile_s, "error": None})
            except Exception as error:  # noqa: BLE001
                send(conn, {"compiled": header["index"], "compile_s": 0.0, "error": short_error(error)})
        elif command == "eval":
            assert state is not None
            index = header["index"]
            outcome = state.evaluate(header["config"],
                                     lambda name, index=index: send(conn, {"phase": name, "index": index}))
            send(conn, {"result": header["index"], **outcome.to_json()})
        elif command == "crash":  # for tests: die the way a bad kernel can
            os._exit(int(header.get("code", 3)))


