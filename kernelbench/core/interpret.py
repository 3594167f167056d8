"""Triton-interpreter support: shims Helion's generated code needs on CPU.

* Triton 3.9's interpreter patches ``tl.math`` but leaves ``triton.language.extra.libdevice`` as
  stubs that return ``None``; Helion emits ``libdevice.exp/rsqrt/tanh/...``. We replace each stub
  with a numpy implementation that works on the interpreter's tensors.
* Helion's ``max_propagate_nan``/``min_propagate_nan`` are ``tl.reduce`` calls with a combine
  function, which the interpreter runs one Python call per element pair (0.4 s for a 32x256 tile).
  ``np.max`` has the same semantics (NaN propagates; sub-32-bit types promoted) at numpy speed.
* Helion lowers ``torch.argmax``/``argmin`` to Inductor's ``max_with_index``/``min_with_index``, a
  ``tl.reduce`` over (value, index) pairs: 17 s for a 4x32x31 argmax in the interpreter, 0.06 s
  with the numpy version (same result: NaN beats every number, ties go to the smallest index). A
  looped argmax's elementwise step (``maximum_with_index``) never let a NaN win in the interpreter
  (its ``not b_isnan`` is Python's ``not`` on a block); it is numpy too.
* The interpreter keeps bfloat16 as raw uint16 bit patterns and its builder does float arithmetic,
  comparisons, ``fma`` and ``dot`` on those bits (garbage: bf16 ``x + y`` was off by 1e36). We decode
  bf16 operands to float32, compute, and round the result back to bf16 (round to nearest even),
  which is what a GPU's bf16 unit gives. ``dot`` decodes fp8 operands the same way.
* Casts to and from bf16, fp16 and fp8 (e4m3fn, e5m2, e4m3fnuz, e5m2fnuz) are done on values, bit
  for bit as torch's CPU ``.to``: the interpreter turned an int into bf16 by reinterpreting it
  (NaN garbage), truncated float32 to bf16, and rounded to fp8 without carrying into the exponent
  (0.496 became 0.25). Round to nearest even; float64 and ints narrow through float32, as torch's do;
  e4m3fn saturates at ±448, e5m2 and the IEEE types overflow to inf, the fnuz types to their NaN.
  ``fp_downcast_rounding="rtz"`` truncates (a finite overflow gives the largest finite value).
  NaN payloads follow torch's vectorised ``.to`` (its scalar path gives other payloads).
* A cooperative launch (``launch_cooperative_grid=True``, which Helion's ``hl.barrier()`` makes)
  ran its programs one after another, so program 0 waited at the grid barrier for ever. Its
  programs now run as threads taking turns at each atomic operation (where a barrier polls), which
  is a schedule a GPU could run; when every program only polls and nothing is written, they wait
  on one another for ever and a KernelbenchError says so instead of hanging. A spin on a plain
  (non-atomic) load is not a turn and can still hang.
* ``tl.associative_scan`` on a negative axis (Helion's ``torch.cumsum(x, dim=-1)``) combined each
  element with the output's uninitialised zero, not its predecessor: the interpreter's per-element
  scan compares ``i == axis`` with ``axis == -1``. The axis is normalised first; and a scan with a
  combine function other than ``tl.standard``'s sum/product (Helion generates its own) runs as
  log2(n) whole-block combine steps (Hillis-Steele, as associative as the GPU's tree) instead of one
  Python call per element.
* Helion's ``get_num_sm`` has no answer for a CPU device outside Pallas, so every persistent
  ``pid_type`` failed; the interpreter gets a small fixed "SM" count, which runs the persistent
  schedules (several tiles per program) and so checks their correctness on CPU too.

Nothing here runs on a GPU.
"""

from __future__ import annotations

import functools
import inspect
import math
import threading
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
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
    """Round to nearest even, as the GPU does; every NaN becomes 0xFFFF, as torch's CPU ``.to`` gives."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounded = ((bits + (((bits >> 16) & 1) + 0x7FFF)) >> 16).astype(np.uint16)
    return np.where(np.isnan(values), np.uint16(0xFFFF), rounded)


@dataclass(frozen=True)
class _Format:
    """A narrow float format, its bit layout and what torch's ``.to`` does at its edges."""

    bits: int
    mantissa: int
    bias: int
    max_code: int  # largest finite magnitude
    inf_code: int | None  # +inf, or None where the format has none
    nan_code: int  # +NaN
    fnuz: bool = False  # no negative zero; the sign bit alone (0x80) is NaN
    saturate: bool = False  # rounding past the largest finite value gives it, not inf/NaN

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Exact float64 values of the codes."""
        codes = codes.astype(np.int64)
        magnitude = codes & ((1 << (self.bits - 1)) - 1)
        negative = (codes >> (self.bits - 1)) & 1
        exponent, fraction = magnitude >> self.mantissa, magnitude & ((1 << self.mantissa) - 1)
        scale = np.maximum(exponent, 1) - self.bias - self.mantissa
        value = np.ldexp((fraction + np.where(exponent > 0, 1 << self.mantissa, 0)).astype(np.float64), scale)
        value = np.where(negative == 1, -value, value)
        if self.inf_code is not None:
            value = np.where(magnitude == self.inf_code, np.copysign(np.inf, value), value)
        nan = magnitude > self.max_code
        if self.inf_code is not None:
            nan &= magnitude != self.inf_code
        if self.fnuz:
            nan = codes == (1 << (self.bits - 1))
        return np.where(nan, np.nan, value)

    def encode(self, values: np.ndarray, toward_zero: bool = False) -> np.ndarray:
        """Codes of ``values`` rounded to nearest even (or toward zero), carrying into the exponent."""
        with np.errstate(invalid="ignore"):  # widening a signalling NaN raises the invalid flag
            x = np.asarray(values, dtype=np.float64)
        negative = np.signbit(x)
        magnitude = np.abs(x)
        nan, inf = np.isnan(x), np.isinf(x)
        finite = np.where(nan | inf, 0.0, magnitude)
        min_exponent = 1 - self.bias
        exponent = np.where(finite == 0, min_exponent, np.maximum(np.frexp(finite)[1] - 1, min_exponent))
        steps = np.ldexp(finite, self.mantissa - exponent)  # exact: a power-of-two scaling
        steps = np.trunc(steps) if toward_zero else np.rint(steps)
        # (exponent - min_exponent) << mantissa, plus the significand with its leading one, is the code;
        # a significand that rounded up to 2 ** (mantissa + 1) lands on the next exponent by itself.
        codes = ((exponent.astype(np.int64) - min_exponent) << self.mantissa) + steps.astype(np.int64)
        overflow = codes > self.max_code
        if toward_zero or self.saturate:
            beyond = self.max_code
        else:
            beyond = self.inf_code if self.inf_code is not None else -1
        codes = np.where(overflow, beyond, codes)
        if self.inf_code is not None:
            codes = np.where(inf, self.inf_code, codes)
        elif self.saturate:
            codes = np.where(inf, self.max_code, codes)
        else:
            codes = np.where(inf, -1, codes)
        sign = np.where(negative, 1 << (self.bits - 1), 0)
        if self.fnuz:  # -1 marks NaN here; zero has no sign
            nan |= codes == -1
            sign = np.where(codes > 0, sign, 0)
        codes = np.where(nan, self.nan_code | sign, codes | sign)  # bf16's 0xFFFF is NaN of either sign
        return codes.astype(np.uint8 if self.bits == 8 else np.uint16 if self.bits == 16 else np.uint32)


@functools.cache
def _formats() -> dict[Any, _Format]:
    import triton.language as tl

    return {
        tl.float16: _Format(16, 10, 15, 0x7BFF, 0x7C00, 0x7E00),
        tl.bfloat16: _Format(16, 7, 127, 0x7F7F, 0x7F80, 0xFFFF),
        tl.float32: _Format(32, 23, 127, 0x7F7FFFFF, 0x7F800000, 0x7FC00000),
        tl.float8e4nv: _Format(8, 3, 7, 0x7E, None, 0x7F, saturate=True),  # float8_e4m3fn
        tl.float8e5: _Format(8, 2, 15, 0x7B, 0x7C, 0x7F),  # float8_e5m2
        tl.float8e4b8: _Format(8, 3, 8, 0x7F, None, 0x80, fnuz=True),  # float8_e4m3fnuz
        tl.float8e5b16: _Format(8, 2, 16, 0x7F, None, 0x80, fnuz=True),  # float8_e5m2fnuz
    }


@functools.cache
def _fp8_tables() -> dict[Any, np.ndarray]:
    """Every fp8 code's float32 value (exact), indexed by the code."""
    codes = np.arange(256, dtype=np.uint32)
    tables = {}
    for ty, fmt in _formats().items():
        if fmt.bits == 8:
            values = fmt.decode(codes).astype(np.float32)
            # torch widens a NaN to a quiet one keeping its sign and its mantissa as the payload's top bits
            # (fnuz's one NaN becomes 0x7F800001)
            nan = np.uint32(0x7FC00000) | ((codes & ((1 << fmt.mantissa) - 1)) << (23 - fmt.mantissa))
            nan = np.where(fmt.fnuz, np.uint32(0x7F800001), nan | ((codes >> 7) << 31))
            tables[ty] = np.where(np.isnan(values), nan.view(np.float32), values)
    return tables


def _values(data: np.ndarray, ty: Any) -> np.ndarray:
    """The float values of an interpreter tensor's data: float32 (exact) for floats up to 32 bits."""
    import triton.language as tl

    if ty == tl.bfloat16:
        return _bf16_to_f32(data)
    table = _fp8_tables().get(ty)
    if table is not None:
        return table[data]
    if ty.is_int():  # torch converts an integer to float32 first, then narrows: so do we
        return data.astype(np.float32)
    return data


def _convert(data: np.ndarray, src: Any, dst: Any, toward_zero: bool = False) -> np.ndarray:
    """``data`` of type ``src`` converted to ``dst`` bit for bit as torch's ``.to`` (round to nearest even)."""
    import triton.language as tl

    if dst == tl.float64:
        return (data if src.is_int() else _values(data, src)).astype(np.float64)
    values = _values(data, src)
    if toward_zero:  # no torch reference; one rounding from the exact value
        return _formats()[dst].encode(values, toward_zero=True).view(_np_dtype(dst))
    with np.errstate(over="ignore"):
        values = values.astype(np.float32)  # float64 narrows through float32, as torch does
        if dst == tl.float32:
            if src == tl.float16:  # torch quiets a half NaN as it widens it (numpy does not)
                return (values.view(np.uint32) | np.where(np.isnan(values), np.uint32(0x400000), np.uint32(0))).view(np.float32)
            return values
        if dst == tl.float16:
            half = values.astype(np.float16)
            bits = values.view(np.uint32)
            # numpy keeps a NaN's payload unquieted; torch quiets it, keeping its top bits and sign.
            nan = (0x7E00 | ((bits >> 16) & 0x8000) | ((bits >> 13) & 0x3FF)).astype(np.uint16)
            return np.where(np.isnan(values), nan, half.view(np.uint16)).view(np.float16)
    if dst == tl.bfloat16:
        bf16 = _f32_to_bf16(values)
        # torch's CPU .to gives 0xFFFF for a float32 NaN but 0x7FC0 for any other
        return bf16 if src == tl.float32 else np.where(np.isnan(values), np.uint16(0x7FC0), bf16)
    return _formats()[dst].encode(values)


def _np_dtype(ty: Any) -> np.dtype:
    from triton.runtime.interpreter import _get_np_dtype

    return _get_np_dtype(ty)


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


def _reduce_with_index(largest: bool) -> Callable[..., Any]:
    """Inductor's ``max_with_index``/``min_with_index`` (Helion's ``torch.argmax``/``argmin``) in numpy.

    Their combine orders NaN above (``max``) or below (``min``) every number, treats NaNs as equal to
    each other and ``-0.0`` as equal to ``0.0``, and breaks ties by the smaller index: so the result is
    the best value's smallest index, whatever the order of combining.
    """

    def fn(value: Any, index: Any, dim: Any, _semantic: Any = None) -> Any:
        import triton.language as tl

        (values, value_ty), (indices, index_ty) = _data(value), _data(index)
        axis = dim.value if isinstance(dim, tl.constexpr) else dim
        values, indices = np.broadcast_arrays(values, indices)
        best = (np.max if largest else np.min)(values, axis=axis, keepdims=True)  # NaN when any is NaN
        hit = values == best
        if value_ty.scalar.is_floating():
            hit |= np.isnan(values) & np.isnan(best)
        position = np.argmin(np.where(hit, indices, np.iinfo(indices.dtype).max), axis=axis, keepdims=True)
        best_value = np.take_along_axis(values, position, axis).squeeze(axis)
        best_index = np.take_along_axis(indices, position, axis).squeeze(axis)
        return _wrap(best_value, value_ty), _wrap(best_index, index_ty)

    return fn


def _combine_with_index(largest: bool) -> Callable[..., Any]:
    """Inductor's elementwise ``maximum_with_index``/``minimum_with_index`` (a looped argmax's step).

    Its ``not b_isnan`` is Python's ``not`` on a block, which the interpreter makes ``False`` for any
    block, so a NaN never won; this computes the combine as the GPU does.
    """

    def fn(a_value: Any, a_index: Any, b_value: Any, b_index: Any, _semantic: Any = None) -> Any:
        (a, value_ty), (a_i, index_ty), (b, b_ty), (b_i, b_index_ty) = map(_data, (a_value, a_index, b_value, b_index))
        value_ty, index_ty = value_ty or b_ty, index_ty or b_index_ty
        better, equal = (a > b if largest else a < b), a == b
        if value_ty.scalar.is_floating():
            a_nan, b_nan = np.isnan(a), np.isnan(b)
            better |= a_nan & ~b_nan
            equal |= a_nan & b_nan
        take_a = better | (equal & (a_i < b_i))
        return _wrap(np.where(take_a, a, b), value_ty), _wrap(np.where(take_a, a_i, b_i), index_ty)

    return fn


def _is_bf16(handle: Any) -> bool:
    import triton.language as tl

    return handle.dtype.scalar == tl.bfloat16 and handle.data.dtype == np.uint16


def _decoded(handle: Any) -> np.ndarray:
    return _bf16_to_f32(handle.data) if _is_bf16(handle) else handle.data


def _patch_bf16_builder() -> None:
    """Make the interpreter's builder compute, ``dot`` and cast on bf16/fp8 values rather than their bit patterns."""
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
        fp8 = _fp8_tables()
        if not (_is_bf16(a) or _is_bf16(b) or a.dtype.scalar in fp8 or b.dtype.scalar in fp8):
            return create_dot(self, a, b, d, input_precision, max_num_imprecise_acc)
        lhs, rhs = (_values(h.data, h.dtype.scalar).astype(np.float32) for h in (a, b))
        return result(np.matmul(lhs, rhs) + _decoded(d), d.dtype.scalar)

    InterpreterBuilder.binary_op = bf16_binary_op
    InterpreterBuilder.unary_op = bf16_unary_op
    InterpreterBuilder.ternary_op = bf16_ternary_op
    InterpreterBuilder.create_fma = bf16_fma
    InterpreterBuilder.create_dot = bf16_dot
    _patch_casts(InterpreterBuilder, TensorHandle)
    InterpreterBuilder.__kernelbench_bf16__ = True


def _patch_casts(builder: Any, handle: Any) -> None:
    """Convert to and from bf16, fp16 and fp8 on values, bit for bit as torch's ``.to``."""
    import triton.language as tl
    from triton._C.libtriton import ir

    cast_impl, fp_to_fp = builder.cast_impl, builder.create_fp_to_fp
    exact = {tl.float16, tl.bfloat16, tl.float32, tl.float64, *_fp8_tables()}

    def cast(self: Any, src: Any, dst_type: Any) -> Any:
        src_ty, dst_ty = src.dtype.scalar, dst_type.scalar
        if dst_ty.is_int():
            if src_ty.is_int():
                return cast_impl(self, src, dst_type)
            with np.errstate(invalid="ignore"):  # NaN or out of range: as undefined as on the GPU
                return handle(_values(src.data, src_ty).astype(_np_dtype(dst_ty)), dst_ty)
        if dst_ty not in exact or not (src_ty in exact or src_ty.is_int()):
            return cast_impl(self, src, dst_type)
        return handle(_convert(src.data, src_ty, dst_ty), dst_ty)

    def fp_to_fp_cast(self: Any, src: Any, dst_type: Any, rounding_mode: Any) -> Any:
        src_ty, dst_ty = src.dtype.scalar, dst_type.scalar
        if src_ty not in exact or dst_ty not in exact:
            return fp_to_fp(self, src, dst_type, rounding_mode)
        toward_zero = rounding_mode == ir.ROUNDING_MODE.RTZ
        return handle(_convert(src.data, src_ty, dst_ty, toward_zero=toward_zero), dst_ty)

    builder.cast_impl = cast
    builder.create_fp_to_fp = fp_to_fp_cast


def _block_scan(scan: Any, inputs: tuple[Any, ...]) -> list[Any]:
    """``scan``'s combine over its axis in log2(n) whole-block steps (Hillis-Steele): out[i] = f(out[i-d], out[i]).

    Each step combines the block with itself rolled by ``d`` (a block keeps Triton's power-of-two
    shape) and keeps the first ``d`` positions, whose rolled-in predecessors wrapped around.
    """
    axis = scan.axis
    datas = [np.ascontiguousarray(arg.handle.data) for arg in inputs]
    types_ = [arg.dtype for arg in inputs]
    length = datas[0].shape[axis]
    position = np.arange(length).reshape([length if dim == axis else 1 for dim in range(datas[0].ndim)])
    step = 1
    while step < length:
        with np.errstate(all="ignore"):  # the wrapped-around positions are computed, then dropped
            combined = scan.combine_fn.fn(*(scan.to_tensor(np.roll(d, step, axis=axis), t) for d, t in zip(datas, types_)),
                                          *(scan.to_tensor(d, t) for d, t in zip(datas, types_)))
        combined = combined if isinstance(combined, tuple) else (combined,)
        updated = []
        for data, value in zip(datas, combined):
            value = value.handle.data if hasattr(value, "handle") else getattr(value, "value", value)
            value = np.broadcast_to(np.asarray(value), data.shape).astype(data.dtype)
            updated.append(np.where(position >= step, value, data))
        datas = updated
        step *= 2
    return [scan.to_tensor(d, t) for d, t in zip(datas, types_)]


def _patch_scan() -> None:
    """Normalise ``tl.associative_scan``'s axis, and run a generic combine on whole blocks."""
    from triton.runtime.interpreter import ScanOps

    if getattr(ScanOps, "__kernelbench_scan__", False):
        return
    apply_impl = ScanOps.apply_impl

    def scan_apply_impl(self: Any, input: Any) -> Any:
        if self.axis is not None and self.axis < 0:
            self.axis += input[0].handle.data.ndim
        return apply_impl(self, input)

    def generic_scan(self: Any, input: Any) -> list[Any]:
        return _block_scan(self, tuple(input))

    ScanOps.apply_impl = scan_apply_impl
    ScanOps.generic_scan = generic_scan
    ScanOps.__kernelbench_scan__ = True


class _Aborted(BaseException):
    """Ends a cooperative program's thread when its grid stops (not an Exception: kernel code must not catch it)."""


class _ProgramThread(threading.local):
    grid: _CooperativeGrid | None = None
    index: int = 0


_program_thread = _ProgramThread()


class _CooperativeGrid:
    """A cooperative launch's programs, each on its own thread, exactly one running at a time.

    The interpreter runs a grid's programs one after another, so a program at a grid barrier would
    wait for ever on programs that have not started. Here each program runs until its next atomic
    operation (where a barrier or a signal wait polls) and then hands over to the next, round robin:
    each interleaving this gives is one a GPU running the whole grid at once could give. When every
    live program has polled many times and nothing was written, they wait on one another for ever
    (a barrier some program never reaches): that raises a KernelbenchError instead of hanging.
    """

    #: polls per live program with nothing written before the grid is declared stuck
    IDLE_POLLS = 300
    _MAIN = -1

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.lock = threading.Condition()
        self.turn = self._MAIN
        self.threads: list[threading.Thread] = []
        self.grid_index: list[tuple[int, int, int]] = []
        self.done: list[bool] = []
        self.error: BaseException | None = None
        self.aborted = False
        self.wrote = False

    def as_kernel(self) -> Callable[..., Any]:
        """What the interpreter's grid loop calls once per program, in place of the kernel."""

        def start(**args: Any) -> None:
            self._start(args)

        # The interpreter patches triton.language as the kernel's globals see it: give it those.
        kernel = types.FunctionType(start.__code__, self.fn.__globals__, self.fn.__name__, None, start.__closure__)
        functools.update_wrapper(kernel, self.fn)
        kernel.__signature__ = inspect.signature(self.fn)  # type: ignore[attr-defined]
        return kernel

    def _start(self, args: dict[str, Any]) -> None:
        from triton.runtime.interpreter import interpreter_builder

        index = len(self.threads)
        grid_index = interpreter_builder.grid_idx
        self.grid_index.append(grid_index)
        self.done.append(False)
        thread = threading.Thread(target=self._program, args=(index, args), daemon=True,
                                  name=f"kernelbench-program-{grid_index}")
        self.threads.append(thread)
        try:
            thread.start()
            self._hand_to(index)
            if grid_index == tuple(size - 1 for size in interpreter_builder.grid_dim):
                self._run_to_end()
        except BaseException:
            self._abort()
            raise

    def _hand_to(self, index: int) -> None:
        with self.lock:
            self.turn = index
            self.lock.notify_all()
            while self.turn != self._MAIN:
                self.lock.wait()
        if self.error is not None:
            raise self.error

    def _run_to_end(self) -> None:
        from kernelbench._errors import KernelbenchError

        idle = 0
        while not all(self.done):
            for index, done in enumerate(self.done):
                if done:
                    continue
                self.wrote = False
                self._hand_to(index)
                idle = 0 if self.wrote or self.done[index] else idle + 1
                live = self.done.count(False)
                if idle > self.IDLE_POLLS * live:
                    raise KernelbenchError(
                        f"the {live} unfinished programs of this cooperative kernel wait on one another for "
                        f"ever: {idle} polls of an atomic with nothing written in between (a grid barrier, "
                        "hl.barrier(), that some program never reaches?); make every program reach each "
                        "barrier the same number of times"
                    )

    def _program(self, index: int, args: dict[str, Any]) -> None:
        _program_thread.grid, _program_thread.index = self, index
        try:
            self._wait_for_turn(index)
            self.fn(**args)
        except _Aborted:
            pass
        except BaseException as error:  # handed to the launching thread, which raises it
            self.error = error
        finally:
            with self.lock:
                self.done[index] = True
                self.turn = self._MAIN
                self.lock.notify_all()

    def _wait_for_turn(self, index: int) -> None:
        from triton.runtime.interpreter import interpreter_builder

        with self.lock:
            while self.turn != index and not self.aborted:
                self.lock.wait()
        if self.aborted:
            raise _Aborted
        interpreter_builder.set_grid_idx(*self.grid_index[index])

    def pause(self, wrote: bool) -> None:
        """Called by the running program after an atomic: let the next program run."""
        self.wrote |= wrote
        with self.lock:
            self.turn = self._MAIN
            self.lock.notify_all()
        self._wait_for_turn(_program_thread.index)

    def _abort(self) -> None:
        with self.lock:
            self.aborted = True
            self.lock.notify_all()
        for thread in self.threads:
            thread.join(timeout=1.0)


def _changed(before: np.ndarray, after: np.ndarray, mask: np.ndarray | None = None) -> bool:
    unsigned = f"u{before.dtype.itemsize}"
    differ = before.view(unsigned) != after.view(unsigned)
    return bool(np.any(differ if mask is None else differ & mask))


def _patch_cooperative_launch() -> None:
    """Run cooperative launches (``launch_cooperative_grid=True``: Helion's ``hl.barrier()``) as a real grid."""
    import triton.language as tl
    from triton.runtime.errors import InterpreterError
    from triton.runtime.interpreter import GridExecutor, InterpretedFunction, InterpreterBuilder, TensorHandle

    from kernelbench._errors import KernelbenchError

    if getattr(InterpretedFunction, "__kernelbench_cooperative__", False):
        return
    run = InterpretedFunction.run
    atomic_rmw, atomic_cas = InterpreterBuilder.create_atomic_rmw, InterpreterBuilder.create_atomic_cas
    atomic_poll, masked_store = InterpreterBuilder.create_atomic_poll, InterpreterBuilder.create_masked_store

    def cooperative_run(self: Any, *args: Any, grid: Any, warmup: bool, launch_cooperative_grid: bool = False,
                        **kwargs: Any) -> Any:
        if warmup or not launch_cooperative_grid:
            return run(self, *args, grid=grid, warmup=warmup, **kwargs)
        programs = _CooperativeGrid(self.rewrite())
        try:
            return GridExecutor(programs.as_kernel(), self.arg_names, grid, self.pre_run_hooks)(*args, **kwargs)
        except InterpreterError as error:
            if isinstance(error.__cause__, KernelbenchError):  # ours says what to fix; not wrapped in its repr
                raise error.__cause__ from None
            raise

    def rmw(self: Any, op: Any, ptr: Any, val: Any, mask: Any, sem: Any, scope: Any) -> Any:
        old = atomic_rmw(self, op, ptr, val, mask, sem, scope)
        if _program_thread.grid is not None:
            now = self.create_masked_load(ptr, mask, None, None, True)
            _program_thread.grid.pause(wrote=_changed(old.data, now.data, mask.data))
        return old

    def cas(self: Any, ptr: Any, cmp: Any, val: Any, sem: Any, scope: Any) -> Any:
        old = atomic_cas(self, ptr, cmp, val, sem, scope)
        if _program_thread.grid is not None:
            _program_thread.grid.pause(wrote=_changed(old.data, self.create_load(ptr, None, True).data))
        return old

    def poll(self: Any, ptr: Any, expected: Any, timeout_ns: Any, sem: Any, scope: Any) -> Any:
        grid = _program_thread.grid
        if grid is None:
            return atomic_poll(self, ptr, expected, timeout_ns, sem, scope)
        once, start = TensorHandle(np.array(0, dtype=np.int64), tl.int64), time.perf_counter_ns()
        while True:  # one look per turn, so the programs that would satisfy it get to run
            matched = atomic_poll(self, ptr, expected, once, sem, scope)
            if matched.data.all() or (timeout_ns is not None and time.perf_counter_ns() - start >= timeout_ns.data.item()):
                return matched
            grid.pause(wrote=False)

    def store(self: Any, ptrs: Any, value: Any, mask: Any, cache_policy: Any) -> Any:
        if _program_thread.grid is not None:
            _program_thread.grid.wrote = True
        return masked_store(self, ptrs, value, mask, cache_policy)

    InterpretedFunction.run = cooperative_run
    InterpreterBuilder.create_atomic_rmw = rmw
    InterpreterBuilder.create_atomic_cas = cas
    InterpreterBuilder.create_atomic_poll = poll
    InterpreterBuilder.create_masked_store = store
    InterpretedFunction.__kernelbench_cooperative__ = True


#: "SMs" a persistent kernel gets in the interpreter: few, so each program runs several tiles.
INTERPRETER_NUM_SM = 4


def install_interpreter_shims() -> None:
    """Install every shim in the module docstring (idempotent)."""
    import helion.runtime
    from helion.runtime.triton import helpers
    from torch._inductor.runtime import triton_helpers as inductor_helpers
    from triton.language.extra import libdevice

    helion_get_num_sm = getattr(helion.runtime.get_num_sm, "__wrapped__", helion.runtime.get_num_sm)

    def get_num_sm(device: Any, *, reserved_sms: int = 0) -> int:
        if device.type == "cpu":
            return INTERPRETER_NUM_SM
        return helion_get_num_sm(device, reserved_sms=reserved_sms)

    get_num_sm.__wrapped__ = helion_get_num_sm  # type: ignore[attr-defined]
    helion.runtime.get_num_sm = get_num_sm

    _patch_bf16_builder()
    _patch_cooperative_launch()
    _patch_scan()
    helpers.max_propagate_nan = _reduce_propagate_nan(np.max)  # type: ignore[assignment]
    helpers.min_propagate_nan = _reduce_propagate_nan(np.min)  # type: ignore[assignment]
    inductor_helpers.max_with_index = _reduce_with_index(largest=True)
    inductor_helpers.min_with_index = _reduce_with_index(largest=False)
    inductor_helpers.maximum_with_index = _combine_with_index(largest=True)
    inductor_helpers.minimum_with_index = _combine_with_index(largest=False)

    for table, make in ((_UNARY, _unary), (_BINARY, _binary), (_PREDICATE, _predicate)):
        for name, op in table.items():
            shim = make(op)
            shim.__name__ = name
            shim.__kernelbench_shim__ = True  # type: ignore[attr-defined]
            setattr(libdevice, name, shim)
