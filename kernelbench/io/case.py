"""Correctness cases in one ``.safetensors`` file: inputs, reference outputs, and what they are for.

``save_case`` writes the kernel's arguments (tensors as ``arg_<i>``, other values in the header),
the reference's outputs (``ref_<j>``, float64 where the reference can run in it) and the metadata:
kernel name, source hash, tolerances, seed, argument kinds, format version.

Opening a case never executes code. Before safetensors reads a byte, the file is validated by hand:
a pickle (what ``torch.save`` writes, or a raw one) or a forged header (not JSON, a length beyond the
file, offsets out of range, sizes that do not add up, no kernelbench metadata) is a :class:`CaseError`.
Then ``safetensors.torch.load_file`` reads the tensors; nothing is ever unpickled.
"""

from __future__ import annotations

import dataclasses
import datetime
import inspect
import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from kernelbench._errors import CaseError, CheckError, ConfigError, KernelDefinitionError
from kernelbench.core.check import (
    CheckReport,
    TrialCheck,
    check_structure,
    compare,
    flatten_outputs,
    native_reference,
    poisoned,
    reference,
    validate_tolerances,
    warn_loose_tolerances,
)
from kernelbench.core.configs import signature_of
from kernelbench.core.device import DEVICE, device_name
from kernelbench.io.files import NotRegularFile, open_regular

if TYPE_CHECKING:
    import helion

    from kernelbench.core.target import RunnableKernel

__all__ = ["CASE_FORMAT", "CASE_FORMAT_VERSION", "Case", "load_case", "replay", "save_case"]

CASE_FORMAT = "kernelbench-case"
CASE_FORMAT_VERSION = 1
#: safetensors' own limit on the header's size.
MAX_HEADER_BYTES = 100_000_000

# safetensors dtype codes -> torch dtypes (the ones torch can hold).
_DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "U16": torch.uint16,
    "U32": torch.uint32,
    "U64": torch.uint64,
    "BOOL": torch.bool,
    "C64": torch.complex64,
}
_BY_NAME = {str(d).removeprefix("torch."): d for d in _DTYPES.values()}
_JSON_VALUES = (bool, int, float, str, type(None))


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"{_dtype_name(value.dtype)}{list(value.shape)} stride {tuple(value.stride())}"
    return repr(value)


def _describe_sig(entry: Any) -> str:
    """One entry of ``signature_of`` in the words of :func:`_describe`."""
    if isinstance(entry, tuple) and len(entry) == 3:
        shape, dtype, stride = entry
        return f"{dtype}{list(shape)} stride {tuple(stride)}"
    return str(entry)


@dataclasses.dataclass
class Case:
    """A loaded case: arguments on this machine's device, reference outputs, and the header's metadata."""

    path: Path
    kernel: str
    source_hash: str
    seed: int
    rtol: float | None
    atol: float | None
    params: list[str]
    args: tuple[Any, ...]
    refs: list[torch.Tensor]
    outputs: list[dict[str, Any]]  # shape and dtype of each output as the reference returns it natively
    reference_precision: str
    meta: dict[str, Any]

    def arg_name(self, i: int) -> str:
        return self.params[i] if i < len(self.params) else f"arg_{i}"


# --------------------------------------------------------------------------------------------------
# Writing


def save_case(
    kernel: RunnableKernel,
    path: str | Path,
    args: Sequence[Any],
    *,
    ref: Callable[..., Any],
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
) -> Path:
    """Write ``args`` and ``ref(*args)`` (float64 where it can) as one ``.safetensors`` case."""
    from safetensors.torch import save_file

    if not args:
        raise CaseError(f"save_case needs {kernel.name}'s arguments: {kernel.name}.save_case(path, x, ..., ref=fn)")
    params = list(inspect.signature(kernel.fn).parameters)
    tensors: dict[str, torch.Tensor] = {}
    arg_meta: list[dict[str, Any]] = []
    for i, arg in enumerate(args):
        name = params[i] if i < len(params) else f"arg_{i}"
        if isinstance(arg, torch.Tensor):
            key = f"arg_{i}"
            # clone: safetensors refuses tensors that share memory (add(x, x)), and wants them contiguous.
            tensors[key] = arg.detach().to("cpu").contiguous().clone()
            arg_meta.append({"name": name, "kind": "tensor", "tensor": key, "dtype": _dtype_name(arg.dtype),
                             "shape": list(arg.shape), "stride": list(arg.stride())})
        elif isinstance(arg, _JSON_VALUES):
            arg_meta.append({"name": name, "kind": "value", "value": arg})
        else:
            raise CaseError(
                f"argument {i} ({name}) is a {type(arg).__name__}; a case holds tensors and JSON values "
                "(numbers, strings, booleans, None)"
            )
    native = native_reference(ref, args)
    refs, precision = reference(ref, args)
    out_meta: list[dict[str, Any]] = []
    for j, (r, n) in enumerate(zip(refs, native)):
        key = f"ref_{j}"
        tensors[key] = r.detach().to("cpu").contiguous().clone()
        out_meta.append({"tensor": key, "dtype": _dtype_name(n.dtype), "shape": list(n.shape)})
    from kernelbench.store.sqlite import versions

    case = {
        "kernel": kernel.name,
        "source_hash": kernel.source_hash,
        "seed": seed,
        "rtol": rtol,
        "atol": atol,
        "params": params,
        "args": arg_meta,
        "outputs": out_meta,
        "reference_precision": precision,
        "saved_on": device_name(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
    }
    metadata = {"format": CASE_FORMAT, "format_version": str(CASE_FORMAT_VERSION), "case": json.dumps(case)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=metadata)
    return path


# --------------------------------------------------------------------------------------------------
# Validating and reading


def _refuse(path: Path, why: str) -> CaseError:
    return CaseError(f"{path} is not a case kernelbench will open: {why}. Write cases with Kernel.save_case")


def _json(path: Path, text: str, what: str) -> Any:
    """``json.loads`` whose every failure (bad syntax, nesting too deep for Python) is one CaseError."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise _refuse(path, f"its {what} is not valid JSON ({error})") from None
    except RecursionError:
        raise _refuse(path, f"its {what} is JSON nested too deeply to read (a forged file)") from None


def _read_header(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, str], int]:
    """The tensor table and ``__metadata__`` of a safetensors file, checked against the file's size."""
    try:
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(8)
            if len(head) < 8:
                raise _refuse(path, f"it is {size} bytes long, too short for a safetensors header")
            if head.startswith(b"PK\x03\x04"):
                raise _refuse(path, "it is a zip archive (what torch.save writes, pickles inside), and "
                                    "kernelbench never unpickles a file")
            if head[0] == 0x80 and 2 <= head[1] <= 5:
                raise _refuse(path, "it is a Python pickle, and kernelbench never unpickles a file")
            n = int.from_bytes(head, "little")
            if n > size - 8:
                raise _refuse(path, f"its header length says {n} bytes but only {size - 8} follow (a "
                                    "truncated or forged file, or not safetensors at all, e.g. a pickle)")
            if n > MAX_HEADER_BYTES:
                raise _refuse(path, f"its header is {n} bytes, over safetensors' limit of {MAX_HEADER_BYTES}")
            raw = f.read(n)
    except FileNotFoundError:
        raise CaseError(f"no case file at {path}; write one with Kernel.save_case(path, *args, ref=fn)") from None
    except IsADirectoryError:
        raise CaseError(f"{path} is a folder; give the path of a .safetensors case") from None
    except NotRegularFile as error:
        raise _refuse(path, str(error)) from None
    except OSError as error:
        raise CaseError(f"the case {path} cannot be read ({type(error).__name__}: {error.strerror or error}); "
                        "check the path and its permissions") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _refuse(path, f"its header is not UTF-8 text (byte {error.start} is {raw[error.start]:#04x}; "
                            "pickle or other binary data where the JSON header should be)") from None
    header = _json(path, text, "header")
    if not isinstance(header, dict):
        raise _refuse(path, "its header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise _refuse(path, "its header has no __metadata__ of strings (kernel name, format, ...)")
    data_len = size - 8 - n
    spans: list[tuple[int, int, str]] = []
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise _refuse(path, f"tensor {name!r} has a malformed entry in the header")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in _DTYPES:
            raise _refuse(path, f"tensor {name!r} has dtype {dtype!r}, which a case does not use")
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise _refuse(path, f"tensor {name!r} has shape {shape!r}; a shape is a list of sizes >= 0")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
            raise _refuse(path, f"tensor {name!r} has data_offsets {offsets!r}; they are [begin, end]")
        begin, end = offsets
        if not 0 <= begin <= end <= data_len:
            raise _refuse(path, f"tensor {name!r} has data_offsets [{begin}, {end}] outside the {data_len} "
                                "bytes of data in the file")
        nbytes = math.prod(shape) * _DTYPES[dtype].itemsize
        if end - begin != nbytes:
            raise _refuse(path, f"tensor {name!r} is {dtype}{shape} ({nbytes} bytes) but its data_offsets "
                                f"span {end - begin} bytes")
        spans.append((begin, end, name))
    spans.sort()
    for (_b0, e0, a), (b1, _e1, b) in zip(spans, spans[1:]):
        if b1 < e0:
            raise _refuse(path, f"tensors {a!r} and {b!r} overlap in the file")
    return header, metadata, data_len


def _case_meta(path: Path, header: dict[str, dict[str, Any]], metadata: dict[str, str]) -> dict[str, Any]:
    """The kernelbench metadata, checked for shape and against the tensor table."""
    if metadata.get("format") != CASE_FORMAT:
        raise _refuse(path, f"it is a safetensors file without kernelbench case metadata (format="
                            f"{metadata.get('format')!r})")
    version = metadata.get("format_version", "")
    if not version.isdigit():
        raise _refuse(path, f"its format_version is {version!r}, not a number")
    if int(version) > CASE_FORMAT_VERSION:
        raise CaseError(f"{path} is a case of format {version}; this kernelbench reads up to "
                        f"{CASE_FORMAT_VERSION}: upgrade kernelbench")
    case = _json(path, metadata.get("case", ""), "case metadata")
    needed = {"kernel": str, "source_hash": str, "seed": int, "params": list, "args": list, "outputs": list,
              "reference_precision": str}
    if not isinstance(case, dict) or any(not isinstance(case.get(k), t) for k, t in needed.items()):
        raise _refuse(path, f"its case metadata lacks one of {sorted(needed)} or has the wrong type")
    for key in ("rtol", "atol"):
        if case.get(key) is not None and not isinstance(case[key], (int, float)):
            raise _refuse(path, f"its {key} is {case[key]!r}, not a number")
    used: set[str] = set()
    for i, arg in enumerate(case["args"]):
        if not isinstance(arg, dict) or arg.get("kind") not in ("tensor", "value"):
            raise _refuse(path, f"argument {i} has no kind (tensor or value) in the metadata")
        if arg["kind"] == "value":
            if not isinstance(arg.get("value"), _JSON_VALUES):
                raise _refuse(path, f"argument {i} is a value of type {type(arg.get('value')).__name__}")
            continue
        _check_entry(path, header, arg, f"argument {i} ({arg.get('name', f'arg_{i}')})")
        stride = arg.get("stride")
        shape = arg["shape"]
        if (not isinstance(stride, list) or len(stride) != len(shape)
                or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in stride)):
            raise _refuse(path, f"argument {i} has stride {stride!r} for shape {shape}")
        extent = 1 + sum((d - 1) * s for d, s in zip(shape, stride)) if math.prod(shape) else 0
        if extent > max(64 * math.prod(shape), 1 << 24):
            raise _refuse(path, f"argument {i}'s strides {stride} would need {extent} elements of memory "
                                f"for {math.prod(shape)} values")
        used.add(arg["tensor"])
    if not case["outputs"]:
        raise _refuse(path, "it has no reference outputs")
    for j, out in enumerate(case["outputs"]):
        if not isinstance(out, dict):
            raise _refuse(path, f"output {j} is malformed in the metadata")
        _check_entry(path, header, out, f"output {j}", native_dtype=True)
        used.add(out["tensor"])
    extra = sorted(set(header) - used)
    if extra:
        raise _refuse(path, f"it holds tensors its metadata does not mention: {extra}")
    return case


def _check_entry(path: Path, header: dict[str, dict[str, Any]], meta: dict[str, Any], what: str,
                 native_dtype: bool = False) -> None:
    """A metadata entry names a tensor of the header with the dtype and shape it claims."""
    key, dtype, shape = meta.get("tensor"), meta.get("dtype"), meta.get("shape")
    if not isinstance(key, str) or key not in header:
        raise _refuse(path, f"{what} names tensor {key!r}, which is not in the file")
    if dtype not in _BY_NAME:
        raise _refuse(path, f"{what} has dtype {dtype!r}, which a case does not use")
    entry = header[key]
    if entry["shape"] != shape:
        raise _refuse(path, f"{what}: the metadata says shape {shape} but tensor {key!r} is {entry['shape']}")
    # Reference outputs are stored in float64 while their native dtype is recorded for the check.
    if not native_dtype and _DTYPES[entry["dtype"]] != _BY_NAME[dtype]:
        raise _refuse(path, f"{what}: the metadata says {dtype} but tensor {key!r} is {entry['dtype']}")


def load_case(path: str | Path) -> Case:
    """Validate and read a case; its tensors land on ``kernelbench.DEVICE`` with their strides."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    header, metadata, _ = _read_header(path)
    meta = _case_meta(path, header, metadata)
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, RuntimeError, ValueError) as error:
        raise _refuse(path, f"safetensors cannot read it ({error})") from None
    args: list[Any] = []
    for arg in meta["args"]:
        if arg["kind"] == "value":
            args.append(arg["value"])
            continue
        t = tensors[arg["tensor"]]
        laid_out = torch.empty_strided(arg["shape"], arg["stride"], dtype=t.dtype, device=DEVICE)
        args.append(laid_out.copy_(t))
    refs = [tensors[out["tensor"]].to(DEVICE) for out in meta["outputs"]]
    return Case(
        path=path,
        kernel=meta["kernel"],
        source_hash=meta["source_hash"],
        seed=meta["seed"],
        rtol=meta.get("rtol"),
        atol=meta.get("atol"),
        params=[str(p) for p in meta["params"]],
        args=tuple(args),
        refs=refs,
        outputs=meta["outputs"],
        reference_precision=meta["reference_precision"],
        meta=meta,
    )


# --------------------------------------------------------------------------------------------------
# Replaying


def _is_tensor_annotation(annotation: Any) -> bool | None:
    """True for a tensor parameter, False for a number/str/bool one, None when it does not say."""
    if annotation is torch.Tensor or annotation in ("torch.Tensor", "Tensor"):
        return True
    if annotation in (int, float, bool, str) or annotation in ("int", "float", "bool", "str"):
        return False
    return None


def _fits(kernel: RunnableKernel, case: Case) -> None:
    """Refuse a case whose arguments cannot be this kernel's, naming the argument that differs."""
    params = list(inspect.signature(kernel.fn).parameters.values())
    required = [p for p in params if p.default is inspect.Parameter.empty]
    saved_for = f"saved for {case.kernel}" + ("" if case.kernel == kernel.name else f", not {kernel.name}")
    if not len(required) <= len(case.args) <= len(params):
        names = ", ".join(p.name for p in params)
        case_names = ", ".join(case.arg_name(i) for i in range(len(case.args)))
        raise CaseError(
            f"{kernel.name} takes {len(params)} argument(s) ({names}) but the case {case.path.name} has "
            f"{len(case.args)} ({case_names}; {saved_for}); replay it with the kernel it was saved for"
        )
    for i, (param, arg) in enumerate(zip(params, case.args)):
        wants_tensor = _is_tensor_annotation(param.annotation)
        if wants_tensor is not None and wants_tensor != isinstance(arg, torch.Tensor):
            wanted = "a tensor" if wants_tensor else f"a {param.annotation}"
            raise CaseError(
                f"argument {i} ({param.name}): {kernel.name} takes {wanted} but the case {case.path.name} "
                f"({saved_for}) has {_describe(arg)}"
            )


def _differences(kernel: RunnableKernel, case: Case, last: tuple[Any, ...] | None) -> str:
    """Which of the case's arguments differ from the ones the kernel was last called with."""
    if last is None or len(last) != len(case.args):
        return ""
    params = list(inspect.signature(kernel.fn).parameters)
    lines = []
    for i, (c, k) in enumerate(zip(signature_of(case.args), last)):
        if c != k:
            name = params[i] if i < len(params) else case.arg_name(i)
            if name != case.arg_name(i):
                name += f", the case's {case.arg_name(i)}"
            lines.append(f"\n  argument {i} ({name}): the case has {_describe_sig(c)}; {kernel.name} was last "
                         f"called with {_describe_sig(k)}")
    return "".join(lines)


def replay(
    kernel: RunnableKernel,
    path: str | Path,
    *,
    config: helion.Config | None,
    rtol: float | None,
    atol: float | None,
) -> CheckReport:
    """Run ``kernel`` on a case's inputs and compare with its stored reference outputs."""
    case = load_case(path)
    rtol = case.rtol if rtol is None else rtol
    atol = case.atol if atol is None else atol
    validate_tolerances(rtol, atol)  # before anything runs
    _fits(kernel, case)
    last = kernel.last_signature
    saved_for = f"saved for {case.kernel}" + ("" if case.kernel == kernel.name else f", not {kernel.name}")
    try:
        cfg = config if config is not None else kernel.active_config(*case.args)[0]
        fn = kernel.compiled(*case.args, config=cfg)
        with torch.no_grad(), poisoned():
            outs = flatten_outputs(fn(*case.args), kernel.name)
    except (KernelDefinitionError, ConfigError, RuntimeError, ValueError, TypeError, IndexError) as error:
        args = ", ".join(f"{case.arg_name(i)}={_describe(a)}" for i, a in enumerate(case.args))
        raise CaseError(
            f"{kernel.name} cannot run on the case {case.path.name} ({saved_for}; arguments {args})"
            f"{_differences(kernel, case, last)}\n{type(error).__name__}: {error}"
        ) from None
    expected = [torch.empty(o["shape"], dtype=_BY_NAME[o["dtype"]], device="meta") for o in case.outputs]
    try:
        check_structure(outs, expected, kernel.name)
    except CheckError as error:
        raise CaseError(f"{error} (the reference is the one stored in {case.path.name}, {saved_for})") from None
    warn_loose_tolerances(rtol, atol, [o.dtype for o in outs], f"case {case.path.name}")
    outputs = [compare(o, r, index=i, rtol=rtol, atol=atol) for i, (o, r) in enumerate(zip(outs, case.refs))]
    trial = TrialCheck(trial=1, inputs=f"case {case.path.name}", reference_precision=case.reference_precision,
                       outputs=outputs)
    return CheckReport(kernel=kernel.name, config=dict(cfg.config), trials=[trial])
