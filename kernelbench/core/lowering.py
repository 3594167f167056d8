"""The GPU code of a kernel without a GPU: TTIR, TTGIR, LLVM IR, PTX, SASS and resource usage for
any NVIDIA target, each line mapped back to the cell line it came from.

Triton's wheel carries its NVIDIA backend and tools (``ptxas``, ``cuobjdump``, ``nvdisasm``), so
``triton.compile(ASTSource(...), target=GPUTarget("cuda", 90, 32))`` runs on any machine. Helion's
generated module is executed once more, here, and its host function is called with a launcher that
records each launch instead of making it; each recorded launch is specialised exactly as
``JITFunction.run`` would (Triton's own binder), then compiled for the target.

On CPU Triton runs in its interpreter: every ``@triton.jit`` function imported so far (Triton's
standard library, Helion's and Inductor's helpers) is an ``InterpretedFunction``, and
``kernelbench.core.interpret`` replaced some of them with numpy shims. :func:`gpu_view` lends the
compiler a GPU's view for the length of one compile: the interpreter flag off, each interpreted
function swapped for a ``JITFunction`` of the same Python function, each shim for the module's own
definition; all of it put back afterwards (under a lock; the interpreter never runs meanwhile in
this process, since sweeps evaluate one candidate at a time).

Lines map back in three steps: a stage's debug location (``loc(...)`` in TTIR/TTGIR, ``!dbg`` in
LLVM IR, ``.loc`` in PTX, ``//## File`` in SASS from ``nvdisasm -gi``) gives the line of the
generated Triton; Helion's origin comment above it (``# src[cell:N]``) gives the cell line.

The target's limits (registers, shared memory, warps, blocks per SM) live in :data:`TARGETS`, the
one table; :func:`occupancy` turns a kernel's resource usage into blocks and warps per SM.

Layer rule: ``core`` imports only ``kernelbench._errors``, ``kernelbench._settings`` and itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.util
import io
import linecache
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import types
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

from kernelbench._errors import KernelbenchError
from kernelbench.core.tracemap import origin_lines

__all__ = [
    "STAGES",
    "TARGETS",
    "Lowered",
    "LoweringError",
    "Stage",
    "StageCode",
    "TargetLimits",
    "check_toolchain",
    "device_target",
    "gpu_view",
    "lower",
    "occupancy",
    "origin_lines",
    "resolve_target",
    "screen_reason",
]

Stage = Literal["triton", "ttir", "ttgir", "llir", "ptx", "sass"]
STAGES: tuple[Stage, ...] = get_args(Stage)


class LoweringError(KernelbenchError):
    """A kernel cannot be lowered for a GPU target here (no target, no NVIDIA backend or tools, a
    compile error only the GPU compiler sees)."""


# -------------------------------------------------------------------------------------------------
# Targets: the one table of limits


@dataclasses.dataclass(frozen=True)
class TargetLimits:
    """One GPU's compute capability and per-SM limits (CUDA C Programming Guide, "Compute
    Capabilities" table, and each GPU's datasheet for the SM count)."""

    name: str
    capability: int  # 90 for sm_90
    sms: int
    regs_per_sm: int = 65536
    regs_per_block: int = 65536
    regs_per_thread: int = 255
    reg_alloc_unit: int = 256  # registers are given to a warp in units of this many
    smem_per_sm: int = 233472  # bytes (228 KiB on sm_90 / sm_100)
    smem_per_block: int = 232448  # the most one block may opt in to (227 KiB)
    smem_reserved_per_block: int = 1024  # the system's share of each block's shared memory
    max_warps_per_sm: int = 64
    max_blocks_per_sm: int = 32
    max_threads_per_block: int = 1024

    @property
    def arch(self) -> str:
        return f"sm_{self.capability}"


#: Known GPUs by name, and each architecture by ``sm_NN`` (its limits; SM count of its first GPU).
TARGETS: dict[str, TargetLimits] = {
    "a100": TargetLimits("a100", 80, sms=108, smem_per_sm=167936, smem_per_block=166912),
    "h100": TargetLimits("h100", 90, sms=132),
    "h200": TargetLimits("h200", 90, sms=132),
    "b200": TargetLimits("b200", 100, sms=148),
}
for _limits in list(TARGETS.values()):
    TARGETS.setdefault(_limits.arch, dataclasses.replace(_limits, name=_limits.arch))


def resolve_target(target: str | TargetLimits) -> TargetLimits:
    """``"h100"``, ``"sm_90"`` (also ``"sm90"``, ``"90"``) or a :class:`TargetLimits` -> its limits."""
    if isinstance(target, TargetLimits):
        return target
    key = str(target).strip().lower().replace("-", "_")
    if re.fullmatch(r"(sm_?)?\d+a?", key):
        key = "sm_" + key.removeprefix("sm").lstrip("_").rstrip("a")
    if key not in TARGETS:
        raise LoweringError(f"unknown GPU target {target!r}; use one of {', '.join(TARGETS)}")
    return TARGETS[key]


def device_target() -> TargetLimits | None:
    """The limits of the GPU kernels run on here (read from the device), or ``None`` in the interpreter."""
    from kernelbench.core.device import is_interpreter

    if is_interpreter():
        return None
    import torch

    props = torch.cuda.get_device_properties(torch.cuda.current_device())
    capability = props.major * 10 + props.minor
    base = TARGETS.get(f"sm_{capability}", TargetLimits(f"sm_{capability}", capability, sms=props.multi_processor_count))
    return dataclasses.replace(
        base,
        name=props.name,
        sms=props.multi_processor_count,
        regs_per_sm=getattr(props, "regs_per_multiprocessor", base.regs_per_sm),
        smem_per_sm=getattr(props, "shared_memory_per_multiprocessor", base.smem_per_sm),
        smem_per_block=getattr(props, "shared_memory_per_block_optin", base.smem_per_block),
        max_warps_per_sm=getattr(props, "max_threads_per_multi_processor", base.max_warps_per_sm * 32) // 32,
    )


def occupancy(limits: TargetLimits, *, registers: int, shared: int, num_warps: int) -> dict[str, Any]:
    """Blocks and warps per SM for a kernel using ``registers`` per thread and ``shared`` bytes per
    block with ``num_warps`` warps (the CUDA occupancy calculator's rules), what limits them, and
    whether a block can launch at all (``launchable``, with ``reason`` when not)."""
    threads = num_warps * 32
    regs_per_warp = math.ceil(max(registers, 1) * 32 / limits.reg_alloc_unit) * limits.reg_alloc_unit
    smem_per_block = shared + limits.smem_reserved_per_block
    reason = None
    if threads > limits.max_threads_per_block:
        reason = f"{threads} threads per block, over the {limits.max_threads_per_block} of {limits.name}"
    elif registers > limits.regs_per_thread:
        reason = f"{registers} registers per thread, over the {limits.regs_per_thread} of {limits.name}"
    elif regs_per_warp * num_warps > limits.regs_per_block:
        reason = (f"{regs_per_warp * num_warps} registers per block ({registers}/thread x {threads} threads), "
                  f"over the {limits.regs_per_block} of {limits.name}")
    elif shared > limits.smem_per_block:
        reason = f"{shared} bytes of shared memory per block, over the {limits.smem_per_block} of {limits.name}"
    bounds = {
        "warps": limits.max_warps_per_sm // num_warps,
        "blocks": limits.max_blocks_per_sm,
        "registers": (limits.regs_per_sm // regs_per_warp) // num_warps,
        "shared memory": limits.smem_per_sm // smem_per_block,
    }
    blocks = 0 if reason else min(bounds.values())
    limited_by = min(bounds, key=lambda k: bounds[k]) if not reason else None
    return {
        "launchable": reason is None,
        "reason": reason,
        "blocks_per_sm": blocks,
        "warps_per_sm": blocks * num_warps,
        "occupancy": blocks * num_warps / limits.max_warps_per_sm,
        "limited_by": limited_by,
    }


# -------------------------------------------------------------------------------------------------
# The toolchain


def check_toolchain(bin_dir: Path | None = None, *, need: Sequence[str] = ("ptxas", "cuobjdump", "nvdisasm")) -> None:
    """Raise one :class:`LoweringError` naming everything missing for GPU lowering: Triton's NVIDIA
    backend, or its tools (looked for in ``bin_dir``, default the backend's own ``bin/``, and at the
    ``TRITON_<TOOL>_PATH`` Triton reads)."""
    try:
        import triton
        from triton.backends import backends
    except ImportError:
        raise LoweringError("GPU code needs triton, which is not installed; pip install triton") from None
    if "nvidia" not in backends:
        raise LoweringError(
            f"this Triton ({triton.__version__}) has no NVIDIA backend (triton.backends.nvidia), so it cannot "
            "compile for an NVIDIA target; install the triton wheel from PyPI (it carries the backend)"
        )
    if bin_dir is None:
        bin_dir = Path(triton.__file__).parent / "backends" / "nvidia" / "bin"
    missing = []
    for tool in need:
        env = f"TRITON_{tool.upper().replace('-', '_')}_PATH"
        candidates = [os.environ.get(env, ""), str(bin_dir / tool)]
        if not any(p and os.path.isfile(p) and os.access(p, os.X_OK) for p in candidates):
            missing.append(f"{tool} (looked in {bin_dir} and ${env})")
    if missing:
        raise LoweringError(
            f"this Triton ({triton.__version__}) lacks the NVIDIA tools GPU code needs: {', '.join(missing)}; "
            "install the triton wheel from PyPI, or point the TRITON_<TOOL>_PATH variables at a CUDA toolkit's"
        )


def _tool(name: str) -> str:
    from triton import knobs

    return getattr(knobs.nvidia, name.replace("-", "_")).path


# -------------------------------------------------------------------------------------------------
# A GPU's view of Triton's modules, for one compile

_VIEW_LOCK = threading.RLock()
_MISSING = object()
_jit_of: dict[Any, Any] = {}  # InterpretedFunction -> its JITFunction
_pristine: dict[str, types.ModuleType] = {}  # module name -> a copy executed with the interpreter off
_VIEWED_PREFIXES = ("triton", "helion", "torch._inductor")
#: Modules whose kernelbench shims are device code (put back to the module's own definitions in the
#: view); host-side shims elsewhere stay (``lower`` sets ``get_num_sm`` to the target's SM count).
_DEVICE_PREFIXES = ("triton.language", "helion.runtime.triton")


def _language_objects() -> list[Any]:
    """What Triton's interpreter patches while a kernel runs (``_patch_lang``), and not always back:
    a device function's call patches again, outside any restoring scope."""
    import triton.language as tl

    return [tl, tl.core, tl.math, tl.tensor, tl.dtype, tl.core.tensor_descriptor_base,
            *([tl.condition] if hasattr(tl, "condition") else [])]


def _from_interpreter(value: Any) -> bool:
    target = value.fget if isinstance(value, property) else getattr(value, "func", value)  # partial
    code = getattr(target, "__code__", None)  # a function or lambda written in Triton's interpreter module
    return code is not None and code.co_filename.endswith(os.path.join("runtime", "interpreter.py"))


def _snapshot() -> dict[int, dict[str, Any]]:
    """Triton's language objects as imported (before any kernel ran in the interpreter)."""
    try:
        return {id(obj): dict(vars(obj)) for obj in _language_objects()}
    except ImportError:
        return {}


_LANGUAGE_AS_IMPORTED = _snapshot()  # kernelbench imports this module before it runs any kernel


def _repair_interpreter_patches(undo: list[tuple[Any, str, Any]]) -> None:
    """Put back what the interpreter left patched (recorded in ``undo``, so it is patched again after)."""
    for obj in _language_objects():
        before = _LANGUAGE_AS_IMPORTED.get(id(obj), {})
        for key, value in list(vars(obj).items()):
            if not _from_interpreter(value):
                continue
            original = before.get(key, _MISSING)
            if original is not _MISSING and _from_interpreter(original):  # snapshot taken after a run
                original = _MISSING
            while original is _MISSING and getattr(value, "__kwdefaults__", None) and "member" in value.__kwdefaults__:
                value = value.__kwdefaults__["member"]  # _patch_attr's wrapper keeps the builtin it wraps
                original = value if not _from_interpreter(value) else _MISSING
            if original is _MISSING:
                raise LoweringError(f"Triton's interpreter left {getattr(obj, '__name__', obj)}.{key} patched and "
                                    "its original is unknown; compile for the GPU in a fresh process")
            undo.append((obj, key, vars(obj)[key]))
            setattr(obj, key, original)


def _as_jit(fn: Any) -> Any:
    from triton.runtime.jit import JITFunction

    if fn not in _jit_of:
        _jit_of[fn] = JITFunction(fn.fn, **fn.kwargs)
    return _jit_of[fn]


def _pristine_copy(module: types.ModuleType) -> types.ModuleType:
    """``module`` executed afresh from its file (the interpreter being off): its own definitions."""
    name = module.__name__
    if name not in _pristine:
        spec = importlib.util.spec_from_file_location(name, module.__file__)
        if spec is None or spec.loader is None:
            raise LoweringError(f"cannot re-read {name} from {module.__file__} to compile for a GPU")
        copy = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(copy)
        _pristine[name] = copy
    return _pristine[name]


def _is_shim(value: Any) -> bool:
    return callable(value) and str(getattr(value, "__module__", "")).startswith("kernelbench.")


@contextlib.contextmanager
def gpu_view() -> Iterator[None]:
    """Triton as it is on a GPU host, for the block: see the module docstring. A no-op off the interpreter."""
    from triton import knobs

    with _VIEW_LOCK:
        if not knobs.runtime.interpret:
            yield
            return
        import triton.language as tl
        from triton.runtime.interpreter import InterpretedFunction

        undo: list[tuple[Any, str, Any]] = []  # (namespace dict or class, name, old value)
        try:
            with knobs.runtime.scope():
                knobs.runtime.interpret = False
                _repair_interpreter_patches(undo)
                for name, module in list(sys.modules.items()):
                    if not isinstance(module, types.ModuleType) or not name.startswith(_VIEWED_PREFIXES):
                        continue
                    namespace = vars(module)
                    for key, value in list(namespace.items()):
                        if isinstance(value, InterpretedFunction):
                            undo.append((namespace, key, value))
                            namespace[key] = _as_jit(value)
                        elif _is_shim(value) and name.startswith(_DEVICE_PREFIXES):
                            undo.append((namespace, key, value))
                            original = vars(_pristine_copy(module)).get(key, _MISSING)
                            if original is _MISSING:
                                del namespace[key]
                            else:
                                namespace[key] = original
                # tensor methods (x.sum()) forward to an interpreted function through a closure
                for key, value in list(vars(tl.tensor).items()):
                    for cell in getattr(value, "__closure__", None) or ():
                        if isinstance(cell.cell_contents, InterpretedFunction):
                            undo.append((tl.tensor, key, value))
                            setattr(tl.tensor, key, _as_jit(cell.cell_contents))
                            break
                yield
        finally:
            for where, key, value in reversed(undo):
                if isinstance(where, dict):
                    where[key] = value
                elif value is _MISSING:
                    delattr(where, key)
                else:
                    setattr(where, key, value)


# -------------------------------------------------------------------------------------------------
# Lowering one kernel

class StageCode(str):
    """One stage's text (a ``str``), with per line the generated Triton line (``triton_lines``) and
    the cell line (``cell_lines``) it came from, ``None`` where none is known."""

    stage: Stage
    target: str | None
    triton_lines: list[int | None]
    cell_lines: list[int | None]

    def __new__(cls, text: str, *, stage: Stage, target: str | None, triton_lines: list[int | None],
                cell_lines: list[int | None]) -> StageCode:
        self = super().__new__(cls, text)
        self.stage, self.target = stage, target
        self.triton_lines, self.cell_lines = triton_lines, cell_lines
        return self

    def lines_for(self, cell_line: int) -> list[int]:
        """The 1-based lines of this stage that came from ``cell_line``."""
        return [i + 1 for i, c in enumerate(self.cell_lines) if c == cell_line]


@dataclasses.dataclass
class Lowered:
    """One launch of a kernel compiled for one target: its stages, resources and line maps."""

    target: TargetLimits
    name: str  # the Triton kernel's name
    triton: str  # the whole generated module
    filename: str  # what the stages' debug locations call the generated module
    asm: dict[str, str]  # ttir, ttgir, llir, ptx, sass
    cubin: bytes
    num_warps: int
    num_stages: int
    shared: int  # bytes of shared memory per block (Triton's allocation)
    ptxas_log: str

    def text(self, stage: Stage) -> str:
        return self.triton if stage == "triton" else self.asm[stage]

    def triton_lines(self, stage: Stage) -> list[int | None]:
        """Per line of ``stage``, the 1-based line of the generated Triton it came from."""
        text = self.text(stage)
        if stage == "triton":
            return list(range(1, len(text.splitlines()) + 1))
        return _LINE_MAPS[stage](text, self.filename)

    def code(self, stage: Stage) -> StageCode:
        origins = origin_lines(self.triton)
        lines = self.triton_lines(stage)
        cells = [origins[n - 1] if n is not None and 0 < n <= len(origins) else None for n in lines]
        return StageCode(self.text(stage), stage=stage, target=self.target.name, triton_lines=lines, cell_lines=cells)

    def resources(self) -> dict[str, Any]:
        """Registers per thread, spill stores/loads and stack (bytes), shared and local memory, and
        occupancy on the target."""
        usage = _res_usage(self.cubin, self.name)
        spills = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", self.ptxas_log)
        regs = re.search(r"Used (\d+) registers", self.ptxas_log)
        registers = usage.get("REG", int(regs.group(1)) if regs else 0)
        shared = self.shared + usage.get("SHARED", 0)  # Triton's dynamic allocation + any static
        result: dict[str, Any] = {
            "target": self.target.name,
            "arch": self.target.arch,
            "kernel": self.name,
            "num_warps": self.num_warps,
            "num_stages": self.num_stages,
            "registers": registers,
            "spill_stores": int(spills.group(2)) if spills else None,
            "spill_loads": int(spills.group(3)) if spills else None,
            "stack": usage.get("STACK", int(spills.group(1)) if spills else 0),
            "shared_mem": shared,
            "local_mem": usage.get("LOCAL", 0),
        }
        result.update(occupancy(self.target, registers=registers, shared=shared, num_warps=self.num_warps))
        return result


def _res_usage(cubin: bytes, name: str) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kernel.cubin"
        path.write_bytes(cubin)
        out = subprocess.run([_tool("cuobjdump"), "-res-usage", str(path)], capture_output=True, text=True,
                             check=True).stdout
    block = out.split(f"Function {name}:", 1)[-1]
    line = block.strip().splitlines()[0] if block.strip() else ""
    return {k: int(v) for k, v in re.findall(r"(\w+):(\d+)", line) if "[" not in k}


def _sass(cubin: bytes) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kernel.cubin"
        path.write_bytes(cubin)
        return subprocess.run([_tool("nvdisasm"), "-c", "-gi", str(path)], capture_output=True, text=True,
                              check=True).stdout


# -- line maps, one per stage: each gives, per line of the stage, the generated Triton line ----------

_MLIR_LOC_DEF = re.compile(r"^(#loc\d*) = loc\((.*)\)\s*$")
_MLIR_LOC_USE = re.compile(r"loc\((#loc\d*|\"[^\"]*\":\d+:\d+)\)\s*$")


def _mlir_lines(text: str, filename: str) -> list[int | None]:
    defs: dict[str, str] = {}
    for line in text.splitlines():
        if m := _MLIR_LOC_DEF.match(line):
            defs[m.group(1)] = m.group(2)
    quoted = re.escape(f'"{filename}"')
    cache: dict[str, int | None] = {}

    def resolve(body: str, depth: int = 0) -> int | None:
        """The line in ``filename`` of a location body (outermost call site first)."""
        if depth > 64:
            return None
        if body.startswith("callsite("):
            inner = body[len("callsite("):-1]
            callee, _, caller = inner.partition(" at ")
            return resolve(caller.strip(), depth + 1) or resolve(callee.strip(), depth + 1)
        if body.startswith("#loc"):
            if body not in cache:
                cache[body] = None
                cache[body] = resolve(defs.get(body, ""), depth + 1)
            return cache[body]
        if m := re.match(quoted + r":(\d+):\d+", body):
            return int(m.group(1))
        if m := re.match(r'"[^"]*"\((#loc\d*)\)', body):  # a named location
            return resolve(m.group(1), depth + 1)
        if body.startswith("fused["):
            for part in re.findall(r"#loc\d*", body):
                if (found := resolve(part, depth + 1)) is not None:
                    return found
        return None

    out: list[int | None] = []
    for line in text.splitlines():
        m = _MLIR_LOC_USE.search(line)
        out.append(resolve(m.group(1)) if m and not line.startswith("#loc") else None)
    return out


def _llir_lines(text: str, filename: str) -> list[int | None]:
    locations: dict[str, tuple[int, str, str | None]] = {}  # !N -> (line, scope, inlinedAt)
    scopes: dict[str, str] = {}  # scope -> file node
    files: dict[str, str] = {}
    for line in text.splitlines():
        if m := re.match(r"^(!\d+) = (?:distinct )?!DILocation\(line: (\d+)(?:, column: \d+)?, scope: (!\d+)"
                         r"(?:, inlinedAt: (!\d+))?", line):
            locations[m.group(1)] = (int(m.group(2)), m.group(3), m.group(4))
        elif m := re.match(r'^(!\d+) = !DIFile\(filename: "([^"]*)", directory: "([^"]*)"', line):
            files[m.group(1)] = os.path.join(m.group(3), m.group(2)) if m.group(3) else m.group(2)
        elif m := re.match(r"^(!\d+) = (?:distinct )?!DI(?:Subprogram|LexicalBlock\w*)\(.*?file: (!\d+)", line):
            scopes[m.group(1)] = m.group(2)

    def resolve(node: str) -> int | None:
        seen = 0
        found = None
        while node in locations and seen < 64:
            line, scope, inlined_at = locations[node]
            if files.get(scopes.get(scope, ""), "") == filename:
                found = line  # keep going: the outermost line in the generated module wins
            if inlined_at is None:
                break
            node, seen = inlined_at, seen + 1
        return found

    out: list[int | None] = []
    for line in text.splitlines():
        m = re.search(r"!dbg (!\d+)", line)
        out.append(resolve(m.group(1)) if m and not line.startswith("!") else None)
    return out


def _ptx_lines(text: str, filename: str) -> list[int | None]:
    ours = {m.group(1) for m in re.finditer(r'^\s*\.file\s+(\d+)\s+"([^"]*)"', text, re.M) if m.group(2) == filename}
    current: int | None = None
    out: list[int | None] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(".loc"):
            pairs = re.findall(r"(?:\.loc|inlined_at)\s+(\d+)\s+(\d+)", stripped)
            lines = [int(n) for f, n in pairs if f in ours]
            current = lines[-1] if lines else current
            out.append(current)
        elif stripped.startswith((".file", "//", "$L__", ".section", "}")) or not stripped:
            out.append(None)
        else:
            out.append(current)
    return out


def _sass_lines(text: str, filename: str) -> list[int | None]:
    quoted = re.escape(f'"{filename}"')
    current: int | None = None
    out: list[int | None] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("//##"):
            lines = [int(n) for n in re.findall(quoted + r", line (\d+)", stripped)]
            current = lines[-1] if lines else current
            out.append(current)
        elif stripped.startswith("/*") and "*/" in stripped:  # an instruction: /*0040*/ LDC ...
            out.append(current)
        else:
            out.append(None)
    return out


_LINE_MAPS = {"ttir": _mlir_lines, "ttgir": _mlir_lines, "llir": _llir_lines, "ptx": _ptx_lines, "sass": _sass_lines}


def _kernel_file(llir: str, kernel: str, default: str) -> str:
    """The file the debug locations of ``kernel`` name: ours, or, when Triton's cache answered with
    a kernel compiled from the same source elsewhere (Helion's own module), that one's."""
    m = re.search(r'!DISubprogram\(name: "' + re.escape(kernel) + r'",.*?file: (!\d+)', llir)
    if m:
        f = re.search(r"^" + re.escape(m.group(1)) + r' = !DIFile\(filename: "([^"]*)", directory: "([^"]*)"', llir, re.M)
        if f:
            return os.path.join(f.group(2), f.group(1)) if f.group(2) else f.group(1)
    return default


def _filename(triton_code: str, name: str) -> str:
    digest = hashlib.sha256(triton_code.encode()).hexdigest()[:12]
    return f"<kernelbench-triton {name} {digest}>"


def _host_function(namespace: dict[str, Any]) -> Any:
    """The generated module's host function: the one that takes ``_launcher``."""
    import inspect

    hosts = [v for v in namespace.values() if inspect.isfunction(v) and "_launcher" in inspect.signature(v).parameters]
    if len(hosts) != 1:
        raise LoweringError(f"cannot find the host function in Helion's generated module ({len(hosts)} take _launcher)")
    return hosts[0]


def _first_line(error: BaseException) -> str:
    lines = [ln for ln in str(error).strip().splitlines() if ln.strip()]
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:400]


def lower(triton_code: str, args: Sequence[Any], target: str | TargetLimits, *, name: str = "kernel") -> list[Lowered]:
    """Compile Helion's generated module ``triton_code`` for ``target``: every kernel its host
    function launches on ``args`` (usually one). Raises :class:`LoweringError` when the target's
    compiler rejects it (naming the generated Triton line and, through Helion's comment, the cell line)."""
    check_toolchain()
    import triton
    from triton import knobs
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource, make_backend
    from triton.runtime.jit import create_function_from_signature

    limits = resolve_target(target)
    gpu = GPUTarget("cuda", limits.capability, 32)
    filename = _filename(triton_code, name)
    linecache.cache[filename] = (len(triton_code), None, triton_code.splitlines(keepends=True), filename)
    lowered: list[Lowered] = []
    with gpu_view():
        namespace: dict[str, Any] = {"__name__": f"_kernelbench_lowered_{name}"}
        exec(compile(triton_code, filename, "exec"), namespace)  # noqa: S102 - Helion's own output
        launches: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []

        def record(kernel: Any, grid: Any, *kargs: Any, **kwargs: Any) -> None:
            launches.append((kernel, kargs, kwargs))

        import helion.runtime

        def get_num_sm(device: Any, *, reserved_sms: int = 0) -> int:
            return max(limits.sms - reserved_sms, 1)  # persistent kernels bake it in as a constexpr

        host_num_sm = helion.runtime.get_num_sm
        helion.runtime.get_num_sm = get_num_sm
        try:
            _host_function(namespace)(*args, _launcher=record)
        except LoweringError:
            raise
        except Exception as error:  # noqa: BLE001 - Helion's host code on these arguments: its message says why
            raise LoweringError(f"{name}'s host code failed while preparing its launch for {limits.name}: "
                                f"{_first_line(error)}") from None
        finally:
            helion.runtime.get_num_sm = host_num_sm
        backend = make_backend(gpu)
        for kernel, kargs, kwargs in launches:
            options = {k: v for k, v in kwargs.items() if k in ("num_warps", "num_stages", "num_ctas", "maxnreg")}
            binder = create_function_from_signature(kernel.signature, kernel.params, backend)
            bound, specialization, opts = binder(*kargs, **options)
            parsed, signature, constexprs, attrs = kernel._pack_args(backend, options, bound, specialization, opts)
            log = io.StringIO()
            try:
                with knobs.nvidia.scope(), knobs.compilation.scope(), contextlib.redirect_stdout(log):
                    knobs.nvidia.dump_ptxas_log = True
                    src = ASTSource(kernel, signature, constexprs, attrs)
                    compiled = triton.compile(src, target=gpu, options=parsed.__dict__)
                    report = _ptxas_report(compiled.hash, log.getvalue())
                    if report is None:  # from Triton's cache, from before we kept the report: compile again
                        knobs.compilation.always_compile = True
                        compiled = triton.compile(src, target=gpu, options=parsed.__dict__)
                        report = _ptxas_report(compiled.hash, log.getvalue())
            except Exception as error:  # noqa: BLE001 - the GPU compiler's own message is the one to show
                raise LoweringError(_compile_message(error, kernel, limits, triton_code)) from None
            asm = {stage: compiled.asm[stage] for stage in ("ttir", "ttgir", "llir", "ptx")}
            asm["sass"] = _sass(compiled.asm["cubin"])
            meta = compiled.metadata
            located = _kernel_file(asm["llir"], meta.name, filename)
            lowered.append(Lowered(limits, meta.name, triton_code, located, asm, compiled.asm["cubin"],
                                   meta.num_warps, meta.num_stages, meta.shared, report or ""))
    return lowered


_PTXAS_REPORT = "kernelbench-ptxas.log"


def _ptxas_report(key: str, printed: str) -> str | None:
    """ptxas's ``-v`` report of the kernel Triton cached under ``key``: the one it just printed
    (kept in Triton's cache beside the kernel), else the one kept before; ``None`` if neither."""
    from triton.runtime.cache import get_cache_manager

    manager = get_cache_manager(key)
    if "Used " in printed:
        manager.put(printed, _PTXAS_REPORT, binary=False)
        return printed
    path = manager.get_file(_PTXAS_REPORT)
    return Path(path).read_text() if path else None


def _compile_message(error: BaseException, kernel: Any, limits: TargetLimits, triton_code: str) -> str:
    """The compiler's first line, with the generated Triton line and the cell line it points at."""
    text = str(error)
    where = ""
    m = re.search(r"at (\d+):(\d+):", text) or re.search(r":(\d+):\d+: error", text)
    if m:
        start = kernel.starting_line_number if hasattr(kernel, "starting_line_number") else 0
        line = int(m.group(1)) + start
        origins = origin_lines(triton_code)
        cell = origins[line - 1] if 0 < line <= len(origins) else None
        where = f" at generated Triton line {line}" + (f" (cell line {cell})" if cell else "")
    first = [ln for ln in text.strip().splitlines() if ln.strip() and not ln.startswith(("at ", " "))]
    message = first[-1] if first else _first_line(error)
    return (f"{kernel.__name__} does not compile for {limits.name} ({limits.arch}){where}: "
            f"{type(error).__name__}: {message[:300]}")


def screen_reason(resources: dict[str, Any], screen: bool | str) -> str | None:
    """Why a candidate with these resources is rejected before it is timed, or ``None``: it cannot
    launch on the target (``screen`` true), or it also spills (``screen="spills"``)."""
    if not screen:
        return None
    if not resources["launchable"]:
        return f"cannot launch on {resources['target']}: {resources['reason']}"
    if screen == "spills" and (resources.get("spill_stores") or resources.get("spill_loads")):
        return (f"spills on {resources['target']}: {resources['spill_stores']} bytes of spill stores, "
                f"{resources['spill_loads']} of spill loads ({resources['registers']} registers)")
    return None


# -------------------------------------------------------------------------------------------------
# What the facade calls: one stage's code, or the resources, of a kernel's generated module

_CACHE: dict[tuple[Any, ...], list[Lowered]] = {}
_CACHE_SIZE = 32


def _arg_key(args: Sequence[Any]) -> tuple[Any, ...]:
    import torch

    key: list[Any] = []
    for a in args:
        if isinstance(a, torch.Tensor):
            key.append((a.dtype, tuple(a.shape), a.stride(), a.data_ptr() % 16 == 0))
        else:
            key.append((type(a), repr(a)))
    return tuple(key)


def default_target(target: str | TargetLimits | None, what: str) -> TargetLimits:
    """``target`` resolved; ``None`` is this machine's GPU, and an error saying what to pass in the interpreter."""
    if target is not None:
        return resolve_target(target)
    here = device_target()
    if here is None:
        names = ", ".join(repr(n) for n in TARGETS)
        raise LoweringError(f"{what} needs a GPU target here (no GPU: kernels run in Triton's interpreter); "
                            f"pass target= one of {names}")
    return here


def lowered(triton_code: str, args: Sequence[Any], target: TargetLimits, *, name: str) -> list[Lowered]:
    """:func:`lower`, remembered for the last few (generated module, arguments, target)."""
    key = (triton_code, _arg_key(args), target)
    if key not in _CACHE:
        import warnings

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="TRITON_DEFAULT_FP_FUSION")  # Triton's own notice
            result = lower(triton_code, args, target, name=name)
        while len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = result
    return _CACHE[key]


def stage_code(triton_code: str, args: Sequence[Any], stage: str, target: str | TargetLimits | None, *,
               name: str) -> StageCode:
    """One stage of Helion's generated module as :class:`StageCode`; ``triton`` needs no target."""
    if stage not in STAGES:
        raise LoweringError(f"unknown stage {stage!r}; use one of {', '.join(STAGES)}")
    if stage == "triton":
        origins = origin_lines(triton_code)
        limits = resolve_target(target) if target is not None else None
        return StageCode(triton_code, stage="triton", target=limits.name if limits else None,
                         triton_lines=list(range(1, len(origins) + 1)), cell_lines=origins)
    limits = default_target(target, f"stage={stage!r}")
    parts = [lw.code(stage) for lw in lowered(triton_code, args, limits, name=name)]  # type: ignore[arg-type]
    if len(parts) == 1:
        return parts[0]
    text, triton_lines, cell_lines = [], [], []
    for i, part in enumerate(parts):
        header = f"// ---- kernel {i + 1} of {len(parts)} ----"
        text += [header, *part.splitlines()]
        triton_lines += [None, *part.triton_lines]
        cell_lines += [None, *part.cell_lines]
    return StageCode("\n".join(text) + "\n", stage=stage, target=limits.name,  # type: ignore[arg-type]
                     triton_lines=triton_lines, cell_lines=cell_lines)


def kernel_resources(triton_code: str, args: Sequence[Any], target: str | TargetLimits | None, *,
                     name: str) -> dict[str, Any]:
    """:meth:`Lowered.resources` of the module's kernel (with several launches: the first, and all
    of them under ``"kernels"``)."""
    limits = default_target(target, "resources")
    found = [lw.resources() for lw in lowered(triton_code, args, limits, name=name)]
    if not found:
        raise LoweringError(f"{name}'s host function launched no kernel for these arguments")
    result = dict(found[0])
    if len(found) > 1:
        result["kernels"] = found
    return result


#: The resource columns a sweep records per candidate (result.df, the run store, the dashboard's axes).
RESOURCE_COLUMNS = ("registers", "spill_stores", "spill_loads", "shared_mem", "local_mem", "occupancy",
                    "blocks_per_sm")


class ResourceProbe:
    """Each candidate config's resources on a GPU target, compiled in this process and remembered
    per config: what sweeps record, and what screening (:func:`screen_reason`) rejects on."""

    def __init__(self, bound: Any, args: Sequence[Any], target: str | TargetLimits, *, name: str) -> None:
        check_toolchain()
        self.bound, self.args, self.name = bound, tuple(args), name
        self.target = resolve_target(target)
        self._seen: dict[str, dict[str, Any]] = {}

    def __call__(self, config: Any) -> dict[str, Any]:
        """The resources of ``config`` (a ``helion.Config``); ``{"target", "error"}`` when it does not compile for the target."""
        key = config.to_json()
        if key not in self._seen:
            try:
                code = self.bound.to_triton_code(config)
                self._seen[key] = kernel_resources(code, self.args, self.target, name=self.name)
            except LoweringError as error:
                self._seen[key] = {"target": self.target.name, "error": str(error)}
            except Exception as error:  # noqa: BLE001 - Helion failing on a config: its evaluation will say
                self._seen[key] = {"target": self.target.name, "error": _first_line(error)}
        return self._seen[key]

    def screen(self, config: Any, screen: bool | str) -> str | None:
        """Why ``config`` is rejected before it is timed (``None``: it is not)."""
        if not screen:
            return None
        found = self(config)
        if "error" in found:
            return f"does not compile for {self.target.name}: {found['error']}"
        return screen_reason(found, screen)
