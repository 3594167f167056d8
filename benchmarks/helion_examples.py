"""Conformance: every Helion example's kernels, pasted into ``%%kernel`` cells, defined, checked and tuned.

    python benchmarks/helion_examples.py --examples DIR --out DIR [--device cpu|cuda] [--tune N]
        [--tune-only a,b] [--only a,b] [--part I/N] [--jobs J] [--timeout S] [--deadline S]
        [--merge EARLIER.json] [--name STEM]

For each example file ``DIR/*.py`` (Helion's ``examples/``; ``distributed/`` and ``aot_*`` are skipped
with the reason in their row), in a child process of its own (a per-example time limit; a hang or a
crash is that row's result, with what it was doing):

1. The file is parsed; for each top-level ``@helion.kernel`` function a cell is built from the file's
   imports, the top-level helpers, classes and constants the kernel reads (transitively), and the
   kernel itself, all verbatim, and run as a ``%%kernel -q`` cell in a real IPython shell (as a user
   would paste it). Kernels that call other kernels are defined after them.
2. The example is also loaded as a module, with Helion's ``run_example`` replaced by a recorder, and
   its ``main()`` is run: each ``run_example(kernel, baseline, args, rtol=, atol=)`` call gives a
   kernel's inputs and its torch reference (of a dict of baselines, the one named torch). On the CPU,
   ``helion._testing.DEVICE`` is the CPU, every integer literal in ``main()`` and every integer
   argument of the functions it calls (``check(1024, 1024)``) above ``--cpu-max`` is lowered to it
   (the interpreter runs each tile in Python; lowering main()'s own literals keeps the sizes it
   writes and the sizes it passes in agreement), and the module's own kernels, where main() calls
   them itself, take Helion's default config (Helion's autotuner cannot run on a CPU); on a GPU the
   example's own sizes are used.
3. A kernel passed to ``run_example`` itself: ``kernel.check(ref, *args, rtol=, atol=)`` in the shell
   (one trial when an argument is an integer tensor: fresh random indices or offsets would break the
   example's invariants), and for ``--tune-only`` examples ``kernel.tune(*args, ref=ref, budget=N)``.
   A kernel the example reaches only through a wrapper (``lambda *a: attention(*a)[0]``): the wrapper
   is called once with the module's kernels stubbed to learn the kernel's own arguments, the
   notebook kernel is called on them in the shell, and the wrapper is run with the notebook's kernels
   against the torch baseline at the example's tolerances (module-level aliases of a kernel,
   ``swiglu_fwd = _swiglu_fwd``, are rebound too). For a ``bwd=True`` call the wrapper's autograd
   backward runs as well: the kernels it calls are checked by the gradients of the inputs that
   require them, against torch autograd's through the baseline, for one random output gradient
   (as Helion's ``run_example`` does).

Writes ``<date>-<device>-helion-examples.json`` (one row per kernel: example, kernel, define, check,
tune, seconds, error) and the same as a markdown table. Nothing from the examples is copied into this
repository; they are read from ``--examples``. Helion's autotuner re-imports ``__main__``: everything
runs under ``if __name__ == "__main__"``.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

SKIP_FILES = {"__init__.py"}
SKIP_PREFIX = {"aot_": "AOT compilation examples: they drive Helion's ahead-of-time runner, not a kernel call"}
#: examples whose CPU sizes need more than --cpu-max, and why
CPU_MAX_AT_LEAST = {
    # attention_backward asserts m_dim % block_m == 0 for its registered block sizes: at 32 Helion's
    # default block is longer than the sequence (AssertionError); at 64 it divides it
    "attention": 64,
}
DEFAULT_TUNE = "add,softmax,matmul,rms_norm,layer_norm,segment_reduction,fp8_matmul,sum"


# ----------------------------------------------------------------------------------------------------
# Reading an example file: cells


def _is_helion_kernel(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return (isinstance(target, ast.Attribute) and target.attr == "kernel"
            and isinstance(target.value, ast.Name) and target.value.id == "helion")


def _segment(lines: list[str], node: ast.stmt) -> str:
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return "".join(lines[first - 1 : node.end_lineno])


def _bound_names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    return []


def kernel_cells(source: str) -> tuple[list[tuple[str, str, list[str]]], list[str]]:
    """``[(kernel name, cell text, kernels it needs)]`` in an order that defines callees first, and
    notes on what was left out."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    defs: dict[str, ast.stmt] = {}
    for node in tree.body:
        for name in _bound_names(node):
            defs.setdefault(name, node)
    kernels = [n for n in tree.body if isinstance(n, ast.FunctionDef) and any(map(_is_helion_kernel, n.decorator_list))]
    kernel_names = {k.name for k in kernels}
    cells = []
    for kernel in kernels:
        wanted: list[ast.stmt] = []
        needs: list[str] = []
        todo = [kernel]
        seen: set[int] = {id(kernel)}
        while todo:
            node = todo.pop()
            for ref in ast.walk(node):
                if not isinstance(ref, ast.Name):
                    continue
                dep = defs.get(ref.id)
                if dep is None or id(dep) in seen:
                    continue
                seen.add(id(dep))
                if ref.id in kernel_names:
                    needs.append(ref.id)
                    continue
                if isinstance(dep, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)):
                    wanted.append(dep)
                    todo.append(dep)
        ordered = sorted(wanted, key=lambda n: n.lineno)
        body = "".join(_segment(lines, n) for n in imports)
        body += "".join("\n" + _segment(lines, n) for n in ordered)
        body += "\n" + _segment(lines, kernel)
        cells.append((kernel.name, body, needs))
    # callees first
    order: list[tuple[str, str, list[str]]] = []
    pending = list(cells)
    while pending:
        ready = [c for c in pending if all(n in {o[0] for o in order} for n in c[2])] or pending[:1]
        order.append(ready[0])
        pending.remove(ready[0])
    return order, []


# ----------------------------------------------------------------------------------------------------
# One example, in a child process


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    from kernelbench import KernelbenchError

    line = first if isinstance(error, KernelbenchError) else f"{type(error).__name__}: {first}"
    return line[:400]


def _log(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def _called_by_main(source: str) -> list[str]:
    """The names main() calls (``check(1024, 1024)``, ``test(2, 32, 1024, 64, ...)``)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == "main":
            return sorted({c.func.id for c in ast.walk(node) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)})
    return []


def _small(fn: Any, limit: int) -> Any:
    """``fn`` with its integer arguments lowered to ``limit``, and on the CPU where its ``device``
    parameter defaults to ``"cuda"`` and the caller gives none (``def test(..., device="cuda")``)."""
    import inspect

    try:
        parameter = inspect.signature(fn).parameters.get("device")
    except (TypeError, ValueError):
        parameter = None
    cuda_default = parameter is not None and parameter.default == "cuda"

    def small(*args: Any, **kwargs: Any) -> Any:
        args = tuple(_shrink(a, limit) for a in args)
        kwargs = {k: _shrink(v, limit) for k, v in kwargs.items()}
        if cuda_default and "device" not in inspect.signature(fn).bind_partial(*args, **kwargs).arguments:
            kwargs["device"] = "cpu"
        return fn(*args, **kwargs)
    return small


def _shrink(value: Any, limit: int) -> Any:
    return min(value, limit) if type(value) is int and value > limit else value


class _LowerInts(ast.NodeTransformer):
    """Integer literals above ``limit`` lowered to it (a size written in main(): ``rows, cols = 256, 5000``)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if type(node.value) is int and node.value > self.limit:
            return ast.copy_location(ast.Constant(self.limit), node)
        return node


def _cpu_sized(source: str, limit: int) -> ast.Module:
    """The example's module with main()'s integer literals above ``limit`` lowered to it.

    Sizes main() writes itself (``x = torch.randn(n, vocab)`` after ``n, vocab = 16384, 131072``) and
    sizes it passes to its helpers (``random_jagged_2d(rows, cols)``) then agree: lowering only the
    helpers' arguments gave ``y = torch.randn([256, 5000])`` next to a 32-row jagged tensor.
    Line numbers are kept, so tracebacks point at the file's own lines.
    """
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "main":
            _LowerInts(limit).visit(node)
    return ast.fix_missing_locations(tree)


def _record_runs(path: Path, device: str, cpu_max: int) -> tuple[dict[str, Any], list[dict[str, Any]], str | None]:
    """Load the example as a module, run its main() with run_example recording; return its namespace,
    the recorded calls and main()'s error (if it raised before or after recording)."""
    import helion

    name = f"helion_example_{path.stem}"
    namespace: dict[str, Any] = {"__name__": name, "__file__": str(path)}
    module = type(sys)(name)
    module.__dict__.update(namespace)
    namespace = module.__dict__
    sys.modules[name] = module
    source = path.read_text()
    code = compile(_cpu_sized(source, cpu_max) if device == "cpu" else source, str(path), "exec")
    exec(code, namespace)  # noqa: S102 - the example, read and checked before it runs here
    calls: list[dict[str, Any]] = []

    def recorder(kernel_fn: Any, baseline_fn: Any, args: tuple[Any, ...], *rest: Any, **kwargs: Any) -> dict[str, float]:
        calls.append({"kernel": kernel_fn, "baseline": baseline_fn, "args": tuple(args), "kwargs": kwargs})
        return {}

    namespace["run_example"] = recorder
    import helion._testing

    helion._testing.run_example = recorder  # for a `from helion._testing import run_example` inside check()
    if device == "cpu":
        # The module's own kernels, where main() calls them itself (out = low_mem_dropout(p, x, seed)),
        # take Helion's default config: Helion's autotuner cannot key its cache on a CPU (its
        # local_cache asserts a device name and runtime version), and a notebook kernel without a
        # tuned config takes the default too.
        for value in namespace.values():
            if isinstance(value, helion.Kernel) and not value.configs:
                value.settings.autotune_effort = "none"
        for callee in _called_by_main(path.read_text()):
            original = namespace.get(callee)
            if callable(original) and not isinstance(original, helion.Kernel):
                namespace[callee] = _small(original, cpu_max)
    error = None
    main = namespace.get("main")
    if not callable(main):
        return namespace, calls, "the example has no main()"
    # which of the module's kernels main() calls itself (outside run_example: no reference to check against)
    direct: set[int] = set()
    kernel_call = helion.Kernel.__call__

    def noting(self: Any, *args: Any, **kwargs: Any) -> Any:
        direct.add(id(self))
        return kernel_call(self, *args, **kwargs)

    helion.Kernel.__call__ = noting
    try:
        main()
    except BaseException as e:  # noqa: BLE001 - what main() raised is part of the row
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == str(path)]
        where = f" at line {frames[-1].lineno} `{(frames[-1].line or '').strip()}`" if frames else ""
        message = str(e).strip().splitlines()[0] if str(e).strip() else ""
        error = f"main() raised {type(e).__name__}{where}: {message}".rstrip(": ")[:300]
    finally:
        helion.Kernel.__call__ = kernel_call
    namespace["__kb_direct__"] = {name for name, value in namespace.items() if id(value) in direct}
    return namespace, calls, error


def _kernel_runs(namespace: dict[str, Any],
                 calls: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The first recorded call of each of the module's kernels passed to run_example itself, by name;
    and the calls of wrappers (``lambda *a: attention(*a)[0]``), in order."""
    import helion

    names = {id(v): k for k, v in namespace.items() if isinstance(v, helion.Kernel)}
    runs: dict[str, dict[str, Any]] = {}
    wrapped: list[dict[str, Any]] = []
    for call in calls:
        fns = call["kernel"].values() if isinstance(call["kernel"], dict) else [call["kernel"]]
        baseline = call["baseline"]
        if isinstance(baseline, dict):  # e.g. {"triton": ..., "torch": ...}: torch is the reference
            torch_named = [v for k, v in baseline.items() if "torch" in k.lower() or "eager" in k.lower()]
            baseline = (torch_named or list(baseline.values()))[0]
        for fn in fns:
            name = names.get(id(fn))
            if name is not None:
                runs.setdefault(name, {**call, "baseline": baseline})
            elif callable(fn):
                wrapped.append({**call, "kernel": fn, "baseline": baseline})
    return runs, wrapped


def _flat(value: Any) -> list[Any]:
    if isinstance(value, (tuple, list)):
        return [x for v in value for x in _flat(v)]
    return [value]


def _mismatch(got: list[Any], want: list[Any], rtol: float, atol: float, what: str,
              relative_l2: float | None = None) -> str | None:
    """The first pair of tensors that differ beyond the example's tolerances, in one line; None if none."""
    import torch
    from helion._testing import assert_relative_l2_close

    for i, (g, w) in enumerate(zip(got, want)):
        if isinstance(g, torch.Tensor) and isinstance(w, torch.Tensor):
            try:
                if relative_l2 is not None:
                    assert_relative_l2_close(g, w, relative_l2)
                else:
                    torch.testing.assert_close(g.float(), w.float(), rtol=rtol, atol=atol)
            except AssertionError as error:
                lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
                return f"{what} {i}: " + "; ".join(lines[:3])
    return None


def _input_grads(fn: Any, args: tuple[Any, ...], grad_out: Any) -> tuple[list[Any], Any]:
    """The gradients of ``fn``'s inputs that require them (fresh copies of the example's leaves), for
    ``grad_out`` (a random one like the output when None), as Helion's ``run_example(bwd=True)`` takes them."""
    import torch

    leaves = tuple(a.detach().clone().requires_grad_(True) if isinstance(a, torch.Tensor) and a.requires_grad else a
                   for a in args)
    out = _flat(fn(*leaves))[0]
    grad_out = torch.randn_like(out) if grad_out is None else grad_out
    out.backward(grad_out)
    return [a.grad for a in leaves if isinstance(a, torch.Tensor) and a.requires_grad], grad_out


def _check_through(run: dict[str, Any], namespace: dict[str, Any], notebook: dict[str, Any],
                   kernels: list[str], called: list[str], backward: set[str]) -> tuple[str | None, str | None]:
    """The example's wrapper run with the module's kernels rebound to the notebook's (the %%kernel
    cells; each one it calls is appended to ``called``), compared with the torch baseline at the
    example's tolerances: (forward mismatch, backward mismatch), None where they match.

    For a ``run_example(..., bwd=True)`` call the wrapper's autograd backward runs too (the kernels
    it calls are added to ``backward``), and the gradients of the inputs that require them are
    compared with the baseline's for the same random output gradient.
    """
    import inspect

    import torch

    phase = ["forward"]

    def recording(name: str, kernel: Any) -> Any:
        signature = inspect.signature(kernel.fn)

        def call(*args: Any, **kwargs: Any) -> Any:
            called.append(name)
            if phase[0] == "backward" and name not in called[:-1]:
                backward.add(name)
            bound = signature.bind(*args, **kwargs)  # the notebook's Kernel takes positional arguments
            bound.apply_defaults()
            return kernel(*bound.args)
        return call

    # every module-level name bound to one of its kernels (``swiglu_fwd = _swiglu_fwd``) is rebound too
    kernel_of = {id(namespace[name]): name for name in kernels if name in namespace and name in notebook}
    saved = {alias: value for alias, value in namespace.items() if id(value) in kernel_of}
    rtol, atol = run["kwargs"].get("rtol", 1e-2), run["kwargs"].get("atol", 1e-1)
    bwd = bool(run["kwargs"].get("bwd"))
    try:
        namespace.update({alias: recording(kernel_of[id(value)], notebook[kernel_of[id(value)]])
                          for alias, value in saved.items()})
        with torch.no_grad():
            got = _flat(run["kernel"](*run["args"]))
        with torch.no_grad():
            want = _flat(run["baseline"](*run["args"]))
        forward = _mismatch(got, want, rtol, atol, "output")
        if not bwd:
            return forward, None
        want_grads, grad_out = _input_grads(run["baseline"], run["args"], None)
        # the forward again, with autograd recording: the wrapper's backward calls the notebook's kernels
        phase[0] = "forward-again"
        with torch.enable_grad():
            leaves = tuple(a.detach().clone().requires_grad_(True) if isinstance(a, torch.Tensor) and a.requires_grad
                           else a for a in run["args"])
            out = _flat(run["kernel"](*leaves))[0]
            phase[0] = "backward"
            out.backward(grad_out)
        got_grads = [a.grad for a in leaves if isinstance(a, torch.Tensor) and a.requires_grad]
        missing = [i for i, (g, w) in enumerate(zip(got_grads, want_grads)) if (g is None) != (w is None)]
        if missing:
            return forward, f"input {missing[0]}'s gradient is {'missing' if got_grads[missing[0]] is None else 'extra'}"
        return forward, _mismatch(got_grads, want_grads, rtol, atol, "gradient of input",
                                  run["kwargs"].get("bwd_relative_l2"))
    finally:
        namespace.update(saved)


def run_example(path: Path, device: str, tune: int, cpu_max: int, save: Any = None) -> list[dict[str, Any]]:
    """The example's rows; ``save(rows)`` hears them as they grow (a timeout keeps what was done)."""
    started = time.perf_counter()
    import kernelbench  # noqa: F401 - first: on the CPU it switches Triton's interpreter on

    # isort: split
    import torch
    from IPython.core.interactiveshell import InteractiveShell

    if device == "cpu":
        import helion._testing

        # Helion's examples allocate on helion._testing.DEVICE, which is "cuda" unless a TPU, XPU, MTIA
        # or Metal is there: on the CPU a user would write kernelbench.DEVICE instead.
        helion._testing.DEVICE = torch.device("cpu")
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "kernelbench")
    rows: list[dict[str, Any]] = []
    source = path.read_text()
    cells, _ = kernel_cells(source)
    if not cells:
        return [{"example": path.stem, "kernel": "", "define": "none", "check": "skip", "tune": "",
                 "seconds": round(time.perf_counter() - started, 2),
                 "error": "no top-level @helion.kernel function in the file"}]
    defined: dict[str, str | None] = {}
    for name, cell, _needs in cells:
        t0 = time.perf_counter()
        result = ip.run_cell("%%kernel -q\n" + cell)
        error = result.error_in_exec or result.error_before_exec
        defined[name] = None if error is None else _one_line(error)
        rows.append({"example": path.stem, "kernel": name, "define": "ok" if error is None else "error",
                     "check": "", "tune": "", "seconds": round(time.perf_counter() - t0, 2),
                     "error": defined[name] or ""})
        if save is not None:
            save(rows)
    t0 = time.perf_counter()
    _log(f"{path.stem}: {len(cells)} cell(s) defined; running main() to record its inputs")
    try:
        namespace, calls, main_error = _record_runs(path, device, cpu_max)
        runs, wrapped = _kernel_runs(namespace, calls)
    except BaseException as e:  # noqa: BLE001
        namespace, calls, runs, wrapped, main_error = {}, [], {}, [], f"loading the example raised {_one_line(e)}"
    record_s = time.perf_counter() - t0
    by_name = {row["kernel"]: row for row in rows}
    for call in wrapped:
        # Only a wrapper reaches these kernels: run it in the shell with the notebook's kernels (each
        # one it calls is recorded) against the torch baseline.
        todo = [n for n in defined if defined[n] is None and n not in runs and not by_name[n]["check"]]
        if not todo:
            break
        via = getattr(call["kernel"], "__name__", "a wrapper")
        called: list[str] = []
        backward: set[str] = set()
        ip.user_ns["_kb_through"] = lambda call=call, called=called, backward=backward: _check_through(
            call, namespace, ip.user_ns, list(defined), called, backward)
        bwd = bool(call["kwargs"].get("bwd"))
        _log(f"{path.stem}: checking through {via}{' (forward and backward)' if bwd else ''}")
        t1 = time.perf_counter()
        result = ip.run_cell("_kb_mismatch = _kb_through()")
        error = result.error_in_exec or result.error_before_exec
        for name in dict.fromkeys(called):
            row = by_name[name]
            if row["check"] or name in runs:
                continue
            if error is not None and name == called[-1]:
                row["check"], row["error"] = "error", f"(in the example's {via}) " + _one_line(error)
            elif error is not None:
                row["check"], row["error"] = "ran", f"ran in the example's {via}, which then failed in {called[-1]}"
            else:
                forward, grads = ip.user_ns["_kb_mismatch"]
                if name in backward:  # its outputs are the input gradients
                    mismatch, how = grads, " (backward: input gradients against torch autograd's)"
                else:
                    mismatch = forward or grads
                    how = " (forward and backward)" if bwd else ""
                row["check"] = "pass" if mismatch is None else "FAIL"
                row["error"] = f"checked through the example's {via}{how}" + (f": {mismatch}" if mismatch else "")
            row["seconds"] = round(row["seconds"] + time.perf_counter() - t1, 2)
        if error is not None and not called:
            main_error = main_error or f"the example's {via} failed before calling a kernel: {_one_line(error)}"
        if save is not None:
            save(rows)
    for row in rows:
        if save is not None:
            save(rows)
        name = row["kernel"]
        if row["check"]:  # checked through a wrapper
            continue
        row["check"] = "timeout"  # until it ends
        if defined[name] is not None:
            row["check"] = "skip"
            continue
        run = runs.get(name)
        _log(f"{path.stem}: checking {name}")
        if run is None:
            row["check"] = "no input"
            if main_error:
                row["error"] = main_error
            elif name in namespace.get("__kb_direct__", ()):
                row["error"] = ("main() calls this kernel itself, not through run_example: the example "
                                "compares its output on its own, with no torch reference given to check it here")
            elif "pallas" in name.lower():
                row["error"] = "a Pallas (TPU) variant: the example calls it only when Helion's backend is pallas"
            else:
                row["error"] = ("main() never passes this kernel to run_example (directly, through a wrapper, "
                                "or the autograd backward of a bwd=True call)")
            continue
        args, ref, kwargs = run["args"], run["baseline"], run["kwargs"]
        ints = any(isinstance(a, torch.Tensor) and not (a.is_floating_point() or a.is_complex()) for a in args)
        ip.user_ns.update(_kb_args=args, _kb_ref=ref)
        rtol, atol = kwargs.get("rtol", 1e-2), kwargs.get("atol", 1e-1)
        t0 = time.perf_counter()
        result = ip.run_cell(f"_kb_report = {name}.check(_kb_ref, *_kb_args, rtol={rtol!r}, atol={atol!r}"
                             f"{', trials=1' if ints else ''})")
        error = result.error_in_exec or result.error_before_exec
        if error is not None:
            row["check"], row["error"] = "error", _one_line(error)
        else:
            report = ip.user_ns["_kb_report"]
            row["check"] = "pass" if report else "FAIL"
            if not report:
                row["error"] = repr(report).strip().splitlines()[0][:400] if repr(report).strip() else "mismatch"
        if tune and error is None:
            t1 = time.perf_counter()
            result = ip.run_cell(f"_kb_sweep = {name}.tune(*_kb_args, ref=_kb_ref, budget={tune}, live=False)")
            error = result.error_in_exec or result.error_before_exec
            if error is not None:
                row["tune"] = "error: " + _one_line(error)
            else:
                sweep = ip.user_ns["_kb_sweep"]
                ok = sum(c.status == "ok" for c in sweep.candidates)
                best = f"{sweep.best_ms:.4g} ms" if sweep.best_ms is not None else "no correct config"
                row["tune"] = f"{ok}/{len(sweep.candidates)} ok, best {best}"
                bad = [c for c in sweep.candidates if c.status not in ("ok", "slow", "wrong")]
                if bad and not row["error"]:
                    row["error"] = f"tune: {bad[0].status}: {bad[0].error}"[:400]
            row["tune_seconds"] = round(time.perf_counter() - t1, 2)
        row["seconds"] = round(row["seconds"] + time.perf_counter() - t0 + record_s / max(1, len(rows)), 2)
    return rows


# ----------------------------------------------------------------------------------------------------
# The driver


def _examples(directory: Path, only: set[str] | None) -> list[tuple[Path, str | None]]:
    found = []
    for path in sorted(directory.glob("*.py")):
        if path.name in SKIP_FILES or (only and path.stem not in only):
            continue
        why = next((reason for prefix, reason in SKIP_PREFIX.items() if path.name.startswith(prefix)), None)
        found.append((path, why))
    if (directory / "distributed").is_dir() and (not only or "distributed" in only):
        found.append((directory / "distributed", "multi-GPU examples (torch.distributed, symmetric memory): "
                      "they need several GPUs and a process group"))
    return found


def _child(path: Path, args: argparse.Namespace, out: Path) -> list[dict[str, Any]]:
    result = out / f".{path.stem}.json"
    command = [sys.executable, __file__, "--worker", str(path), "--result", str(result), "--device", args.device,
               "--tune", str(args.tune if path.stem in args.tune_only else 0),
               "--cpu-max", str(max(args.cpu_max, CPU_MAX_AT_LEAST.get(path.stem, 0)))]
    root = str(Path(__file__).resolve().parents[1])  # kernelbench itself, installed or not
    path_env = os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])
    env = {**os.environ, "KERNELBENCH_DEVICE": args.device, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path_env}
    started = time.perf_counter()
    # A session of its own: on a timeout the child and whatever it started (tune workers) end together.
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        rows = json.loads(result.read_text()) if result.exists() else []
        doing = [ln.split(" ", 1)[1] for ln in err.splitlines() if ln[:2].isdigit() and ln[2:3] == ":"]
        while_ = f" while {doing[-1].split(': ', 1)[-1]}" if doing else ""
        for r in rows:
            if r["check"] in ("", "timeout"):
                r["check"] = "timeout"
                r["error"] = r["error"] or f"the example ran past its {args.timeout:g} s limit (--timeout){while_}"
        return rows or [{"example": path.stem, "kernel": "", "define": "", "check": "timeout", "tune": "",
                         "seconds": round(time.perf_counter() - started, 1),
                         "error": f"the example ran past its {args.timeout:g} s limit (--timeout)"}]
    if result.exists():
        return json.loads(result.read_text())
    tail = [ln for ln in (err or "").strip().splitlines() if ln.strip()]
    return [{"example": path.stem, "kernel": "", "define": "", "check": "crash", "tune": "",
             "seconds": round(time.perf_counter() - started, 1),
             "error": f"the child process exited {proc.returncode}: {tail[-1] if tail else ''}"[:400]}]


def _markdown(rows: list[dict[str, Any]], header: str) -> str:
    lines = [header, "", "| example | kernel | define | check | tune | time (s) | error |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        error = str(r.get("error", "")).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {r['example']} | {r['kernel']} | {r['define']} | {r['check']} | {r.get('tune', '')} | "
                     f"{r['seconds']} | {error} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=Path, default=Path(".hx/examples"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--tune", type=int, default=0, help="tune budget for the --tune-only examples (0: none)")
    parser.add_argument("--tune-only", default=DEFAULT_TUNE, help="examples to tune, comma-separated")
    parser.add_argument("--only", default=None, help="examples to run, comma-separated (default: all)")
    parser.add_argument("--part", default=None, metavar="I/N", help="run the I-th of N parts (1-based)")
    parser.add_argument("--jobs", type=int, default=1, help="examples run at once")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per example")
    parser.add_argument("--deadline", type=float, default=None,
                        help="seconds after which no further example starts (its row says so)")
    parser.add_argument("--cpu-max", type=int, default=64, help="on the CPU, check()'s integer arguments above this are lowered to it")
    parser.add_argument("--merge", type=Path, default=None,
                        help="an earlier run's JSON: its rows for examples not run now are kept (a rerun of some)")
    parser.add_argument("--name", default=None, help="output file stem (default: <date>-<device>-helion-examples)")
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        try:
            rows = run_example(args.worker, args.device, args.tune, args.cpu_max,
                               save=lambda rows: args.result.write_text(json.dumps(rows, default=str)))
        except BaseException as e:  # noqa: BLE001 - the row says what happened
            traceback.print_exc()
            rows = [{"example": args.worker.stem, "kernel": "", "define": "", "check": "crash", "tune": "",
                     "seconds": 0, "error": f"{type(e).__name__}: {e}"[:400]}]
        args.result.write_text(json.dumps(rows, default=str))
        sys.stdout.flush()
        os._exit(0)  # Helion's and Triton's thread pools must not hold the exit
    args.tune_only = set(args.tune_only.split(",")) if args.tune else set()
    only = set(args.only.split(",")) if args.only else None
    examples = _examples(args.examples, only)
    if args.part:
        index, count = (int(p) for p in args.part.split("/"))
        examples = examples[index - 1 :: count]
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    def one(item: tuple[Path, str | None]) -> list[dict[str, Any]]:
        path, why = item
        if why is None and args.deadline is not None and time.perf_counter() - started > args.deadline:
            why = f"not run: the run's --deadline of {args.deadline:g} s had passed (run it with --only)"
        if why is not None:
            return [{"example": path.stem if path.is_file() else path.name + "/", "kernel": "", "define": "",
                     "check": "skipped", "tune": "", "seconds": 0, "error": why}]
        rows = _child(path, args, args.out)
        for r in rows:
            print(f"{r['example']:<28} {r['kernel']:<32} {r['define']:<6} {r['check']:<8} {r['seconds']:>7} "
                  f"{r.get('tune', '')} {str(r['error'])[:150]}", flush=True)
        return rows

    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        rows = [r for rs in pool.map(one, examples) for r in rs]
    if args.merge is not None:
        rerun = {r["example"] for r in rows}
        kept = [r for r in json.loads(args.merge.read_text())["rows"] if r["example"] not in rerun]
        rows = sorted(kept + rows, key=lambda r: r["example"])
    for stale in args.out.glob(".*.json"):
        stale.unlink()
    device = args.device
    if device == "cuda":
        import torch

        device = torch.cuda.get_device_name().replace(" ", "-")
    stem = args.name or f"{dt.date.today().isoformat()}-{'cpu' if device == 'cpu' else device}-helion-examples"
    if args.part:
        stem += f"-part{args.part.replace('/', 'of')}"
    summary = {
        "device": device, "date": dt.date.today().isoformat(), "wall_s": round(time.perf_counter() - started, 1),
        "examples": str(args.examples), "tune_budget": args.tune, "cpu_max": args.cpu_max,
        "cpu_max_at_least": CPU_MAX_AT_LEAST if args.device == "cpu" else {},
        "kernels": sum(1 for r in rows if r["kernel"]),
        "defined": sum(r["define"] == "ok" for r in rows), "passed": sum(r["check"] == "pass" for r in rows),
        "rows": rows,
    }
    (args.out / f"{stem}.json").write_text(json.dumps(summary, indent=1, default=str))
    header = (f"# Helion examples in %%kernel cells ({device}, {summary['date']})\n\n"
              f"{summary['kernels']} kernels: {summary['defined']} defined, {summary['passed']} checked correct; "
              f"wall {summary['wall_s']} s. Written by `benchmarks/helion_examples.py`.")
    (args.out / f"{stem}.md").write_text(_markdown(rows, header))
    print(f"wrote {args.out / stem}.json and .md: {summary['passed']}/{summary['kernels']} kernels pass", flush=True)


if __name__ == "__main__":
    main()
