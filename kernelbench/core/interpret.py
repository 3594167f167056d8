"""Triton-interpreter support: shims Helion's generated code needs on CPU.

* Triton 3.9's interpreter patches ``tl.math`` but leaves ``triton.language.extra.libdevice`` as
  stubs that return ``None``; Helion emits ``libdevice.exp/rsqrt/tanh/...``. We replace each stub
  with a numpy implementation that works on the interpreter's tensors.
* Helion's ``max_propagate_nan``/``min_propagate_nan`` are ``tl.reduce`` calls with a combine
  function, which the interpreter runs one Python call per element pair (0.4 s for a 32x256 tile).
  ``np.max`` has the same semantics (NaN propagates; sub-32-bit types promoted) at numpy speed.
* The interpreter keeps bfloat16 as raw uint16 bit patterns and its builder does float arithmetic,
  comparisons, ``fma`` and ``dot`` on those bits (garbage: bf16 ``x + y`` was off by 1e36). We decode
  bf16 operands to float32, compute, and round the result back to bf16 (round to nearest even),
  which is what a GPU's bf16 unit gives.
* Helion's ``get_num_sm`` has no answer for a CPU device outside Pallas, so every persistent
  ``pid_type`` failed; the interpreter gets a small fixed "SM" count, which runs the persistent
  schedules (several tiles per program) and so checks their correctness on CPU too.

Nothing here runs on a GPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["install_interpreter_shims"]

_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])
_lgamma = np.vectorize(math.lgamma, otypes=[np.float64])


def _erfinv(a: np.ndarray) -> np.ndarray:
    # Newton steps on erf from a good initial guess (Giles' approximation is overkill here).
    y = np.asarray(a, dtype=np.float64)
    x = np.arctanh(np.clip(y, -1 + 1e-16, 1 - 1e-16)) * 0.886
    for _ in range(40):
        x = x - (_erf(x) - y) / (2 / math.sqrt(math.pi) * np.exp(-x * x))
    return np.where(np.abs(y) >= 1, np.sign(y) * np.inf, x)


_UNARY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "exp": np.exp, "exp2": np.exp2, "expm1": np.expm1, "log": np.log, "log2": np.log2,
    "log10": np.log10, "log1p": np.log1p, "sqrt": np.sqrt, "rsqrt": lambda a: 1.0 / np.sqrt(a),
    "abs": np.abs, "floor": np.floor, "ceil": np.ceil, "trunc": np.trunc, "rint": np.rint,
    "nearbyint": np.rint, "round": np.round, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh,
    "tanh": np.tanh, "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh,
    "erf": _erf, "erfc": _erfc, "erfinv": _erfinv, "lgamma": _lgamma,
    "fast_tanhf": np.tanh, "fast_expf": np.exp, "fast_logf": np.log,
}
_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "pow": np.power, "fmod": np.fmod, "atan2": np.arctan2, "hypot": np.hypot,
    "copysign": np.copysign, "nextafter": np.nextafter, "fmax": np.fmax, "fmin": np.fmin,
    "ldexp": lambda a, b: np.ldexp(a, b.astype(np.int32)),
}
_PREDICATE: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "isnan": np.isnan, "isinf": np.isinf, "signbit": np.signbit, "isfinited": np.isfinite,
}


def _bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _f32_to_bf16(values: np.ndarray) -> np.ndarray:
    """Round to nearest even, as the GPU does; NaN stays NaN."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounded = ((bits + (((bits >> 16) & 1) + 0x7FFF)) >> 16).astype(np.uint16)
    return np.where(np.isnan(values), np.uint16(0x7FC0), rounded)


def _data(value: Any) -> tuple[np.ndarray, Any]:
    """The numpy values and Triton type of an interpreter tensor or a Python scalar.

    The interpreter keeps bfloat16 as its uint16 bit patterns; we hand out float32 values.
    """
    import triton.language as tl

    if isinstance(value, tl.constexpr):
        value = value.value
    if isinstance(value, tl.tensor):
        data = value.handle.data
        if value.type.scalar == tl.bfloat16:
            data = _bf16_to_f32(data)
        return data, value.type
    return np.asarray(value), None


def _wrap(data: np.ndarray, like_type: Any, scalar: Any | None = None) -> Any:
    import triton.language as tl
    from triton.runtime.interpreter import TensorHandle, _get_np_dtype

    scalar_ty = scalar if scalar is not None else like_type.scalar
    if scalar_ty == tl.bfloat16:
        data = _f32_to_bf16(np.asarray(data))
    data = np.asarray(data).astype(_get_np_dtype(scalar_ty))
    ty = tl.block_type(scalar_ty, list(data.shape)) if data.ndim else scalar_ty
    return tl.tensor(TensorHandle(data, scalar_ty), ty)


def _unary(op: Callable[[np.ndarray], np.ndarray]) -> Callable[..., Any]:
    def fn(x: Any, _semantic: Any = None) -> Any:
        data, ty = _data(x)
        return _wrap(op(data), ty)

    return fn


def _binary(op: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[..., Any]:
    def fn(x: Any, y: Any, _semantic: Any = None) -> Any:
        (a, ta), (b, tb) = _data(x), _data(y)
        ty = ta if ta is not None else tb
        return _wrap(op(a, b), ty)

    return fn


def _predicate(op: Callable[[np.ndarray], np.ndarray]) -> Callable[..., Any]:
    def fn(x: Any, _semantic: Any = None) -> Any:
        import triton.language as tl

        data, ty = _data(x)
        return _wrap(op(data), ty, scalar=tl.int1)

    return fn


def _reduce_propagate_nan(op: Callable[..., np.ndarray]) -> Callable[..., Any]:
    def fn(x: Any, dim: Any, _semantic: Any = None) -> Any:
        import triton.language as tl

        data, ty = _data(x)
        axis = dim.value if isinstance(dim, tl.constexpr) else dim
        scalar = ty.scalar
        if scalar.primitive_bitwidth < 32:
            scalar = tl.float32 if scalar.is_floating() else tl.int32
        return _wrap(op(data, axis=axis), ty, scalar=scalar)

    return fn


def _is_bf16(handle: Any) -> bool:
    import triton.language as tl

    return handle.dtype.scalar == tl.bfloat16 and handle.data.dtype == np.uint16


def _decoded(handle: Any) -> np.ndarray:
    return _bf16_to_f32(handle.data) if _is_bf16(handle) else handle.data


def _patch_bf16_builder() -> None:
    """Make the interpreter's builder compute on bf16 values rather than their bit patterns."""
    import triton.language as tl
    from triton.runtime.interpreter import InterpreterBuilder, TensorHandle

    if getattr(InterpreterBuilder, "__kernelbench_bf16__", False):
        return

    def result(output: np.ndarray, dtype: Any) -> Any:
        if output.dtype == np.bool_ or dtype != tl.bfloat16:
            return TensorHandle(output, dtype)
        return TensorHandle(_f32_to_bf16(output.astype(np.float32)), dtype)

    binary_op, unary_op, ternary_op = InterpreterBuilder.binary_op, InterpreterBuilder.unary_op, InterpreterBuilder.ternary_op
    create_fma, create_dot = InterpreterBuilder.create_fma, InterpreterBuilder.create_dot

    def bf16_binary_op(self: Any, lhs: Any, rhs: Any, op: Any) -> Any:
        if not (_is_bf16(lhs) or _is_bf16(rhs)):
            return binary_op(self, lhs, rhs, op)
        return result(op(_decoded(lhs), _decoded(rhs)), lhs.dtype.scalar)

    def bf16_unary_op(self: Any, arg: Any, op: Any) -> Any:
        if not _is_bf16(arg):
            return unary_op(self, arg, op)
        return result(op(_decoded(arg)), arg.dtype.scalar)

    def bf16_ternary_op(self: Any, lhs: Any, rhs: Any, other: Any, op: Any) -> Any:
        if op is np.where or not any(_is_bf16(h) for h in (lhs, rhs, other)):
            return ternary_op(self, lhs, rhs, other, op)  # selecting bit patterns is exact
        return result(op(_decoded(lhs), _decoded(rhs), _decoded(other)), other.dtype.scalar)

    def bf16_fma(self: Any, x: Any, y: Any, z: Any) -> Any:
        if not any(_is_bf16(h) for h in (x, y, z)):
            return create_fma(self, x, y, z)
        return result(_decoded(x).astype(np.float64) * _decoded(y) + _decoded(z), z.dtype.scalar)

    def bf16_dot(self: Any, a: Any, b: Any, d: Any, input_precision: Any, max_num_imprecise_acc: Any) -> Any:
        if not (_is_bf16(a) or _is_bf16(b)):
            return create_dot(self, a, b, d, input_precision, max_num_imprecise_acc)
        acc = np.matmul(_decoded(a).astype(np.float32), _decoded(b).astype(np.float32)) + _decoded(d)
        return result(acc, d.dtype.scalar)

    InterpreterBuilder.binary_op = bf16_binary_op
    InterpreterBuilder.unary_op = bf16_unary_op
    InterpreterBuilder.ternary_op = bf16_ternary_op
    InterpreterBuilder.create_fma = bf16_fma
    InterpreterBuilder.create_dot = bf16_dot
    InterpreterBuilder.__kernelbench_bf16__ = True


#: "SMs" a persistent kernel gets in the interpreter: few, so each program runs several tiles.
INTERPRETER_NUM_SM = 4


def install_interpreter_shims() -> None:
    """Replace ``libdevice``'s interpreter stubs and Helion's NaN-propagating reductions (idempotent)."""
    import helion.runtime
    from helion.runtime.triton import helpers
    from triton.language.extra import libdevice

    helion_get_num_sm = getattr(helion.runtime.get_num_sm, "__wrapped__", helion.runtime.get_num_sm)

    def get_num_sm(device: Any, *, reserved_sms: int = 0) -> int:
        if device.type == "cpu":
            return INTERPRETER_NUM_SM
        return helion_get_num_sm(device, reserved_sms=reserved_sms)

    get_num_sm.__wrapped__ = helion_get_num_sm  # type: ignore[attr-defined]
    helion.runtime.get_num_sm = get_num_sm

    _patch_bf16_builder()
    helpers.max_propagate_nan = _reduce_propagate_nan(np.max)  # type: ignore[assignment]
    helpers.min_propagate_nan = _reduce_propagate_nan(np.min)  # type: ignore[assignment]

    for table, make in ((_UNARY, _unary), (_BINARY, _binary), (_PREDICATE, _predicate)):
        for name, op in table.items():
            shim = make(op)
            shim.__name__ = name
            shim.__kernelbench_shim__ = True  # type: ignore[attr-defined]
            setattr(libdevice, name, shim)
