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
* Every load, store and atomic is checked against the memory its launch's tensor arguments span
  (each view from its first element to its last): an unmasked access outside all of them raises an
  ``IndexError`` at the kernel line that made it, naming the nearest argument and the element, where
  the interpreter read or overwrote whatever the process kept there (a GPU reads garbage or faults:
  triton-lang/triton#10336). A store that writes different values to one address from several lanes
  raises too: which lands is undefined on a GPU, and the interpreter silently kept the last lane's.
  A kernel that touches only its arguments' elements, one value per address per store, passes both
  (a pointer it builds from an address it loaded would not); the cost is a searchsorted per access
  and a sort per store.
* The interpreter checks each int32 add, sub and mul for overflow (``sanitize_overflow``) with eight
  interpreted tensor ops; the same check on numpy values, with the same message, made an index-heavy
  kernel (Helion's mamba2 examples) 3-4x faster.
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


class _LaunchMemory:
    """The memory the tensor arguments of the launches now running span: the only memory a kernel owns.

    Several launches can run at once (sweeps on threads): an access is in bounds when it is inside
    any of them, which never rejects a correct kernel and still catches every access outside all of
    them (where the interpreter would read or overwrite whatever the process keeps there).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.launches: dict[int, list[tuple[int, int, str]]] = {}
        self.starts = np.zeros(0, dtype=np.int64)
        self.ends = np.zeros(0, dtype=np.int64)
        self.names: list[str] = []
        self.union_starts = np.zeros(0, dtype=np.int64)
        self.union_ends = np.zeros(0, dtype=np.int64)

    def enter(self, key: int, ranges: list[tuple[int, int, str]]) -> None:
        with self.lock:
            self.launches[key] = ranges
            self._index()

    def leave(self, key: int) -> None:
        with self.lock:
            if self.launches.pop(key, None) is not None:
                self._index()

    def _index(self) -> None:
        ranges = sorted({(start, end): name for launch in self.launches.values()
                         for start, end, name in launch}.items())
        self.starts = np.array([r[0][0] for r in ranges], dtype=np.int64)
        self.ends = np.array([r[0][1] for r in ranges], dtype=np.int64)
        self.names = [r[1] for r in ranges]
        # what is checked: the union, overlapping arguments merged (x and x[1:] passed together)
        merged: list[list[int]] = []
        for (start, end), _name in ranges:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.union_starts = np.array([m[0] for m in merged], dtype=np.int64)
        self.union_ends = np.array([m[1] for m in merged], dtype=np.int64)

    def check(self, op: str, addresses: np.ndarray, width: int) -> None:
        """Raise ``IndexError`` when an address (an element of ``width`` bytes) is outside every argument."""
        if not self.launches or addresses.size == 0:
            return
        starts, ends, names = self.starts, self.ends, self.names
        if not names:
            return
        addresses = addresses.astype(np.int64, copy=False)
        slot = np.searchsorted(self.union_starts, addresses, side="right") - 1
        inside = (slot >= 0) & (addresses + width <= self.union_ends[np.maximum(slot, 0)])
        if inside.all():
            return
        bad = addresses[~inside]
        first = int(bad[0])
        # named after the argument nearest to it, above or below
        i = int(np.argmin(np.maximum(starts - first, first + width - ends)))
        where = (f"element {(first - int(starts[i])) // width} of `{names[i]}`, which holds "
                 f"{(int(ends[i]) - int(starts[i])) // width}")
        raise IndexError(
            f"{op} of {bad.size} element(s) outside every tensor argument's memory, the first at "
            f"{where} (no mask covers them: the interpreter would {'read' if op == 'load' else 'overwrite'} "
            "other memory, a GPU reads garbage or faults); mask the access, or bound its index by the "
            "tensor's own size (an index tile of another extent, an offset past a jagged tensor's end?)"
        )


_launch_memory = _LaunchMemory()


def _argument_ranges(names: list[str], args: list[Any], kwargs: dict[str, Any]) -> list[tuple[int, int, str]]:
    """(start, end, name) of the memory each tensor argument spans, from its first element to its last.

    A view's own extent, not its whole storage: what lies past a slice's last element is not the
    kernel's to read either (a GPU kernel given the slice cannot know what is there).
    """
    from triton.runtime.interpreter import _unwrap_tensor
    from triton.tools.tensor_descriptor import TensorDescriptor

    ranges: list[tuple[int, int, str]] = []

    def add(name: str, arg: Any) -> None:
        if isinstance(arg, tuple):
            for i, item in enumerate(arg):
                add(f"{name}[{i}]", item)
        elif isinstance(arg, TensorDescriptor):
            add(name, arg.base)
        elif hasattr(arg, "data_ptr"):
            tensor = _unwrap_tensor(arg)
            if tensor.numel():
                last = sum((size - 1) * stride for size, stride in zip(tensor.shape, tensor.stride()))
                ranges.append((tensor.data_ptr(), tensor.data_ptr() + (last + 1) * tensor.element_size(), name))

    for name, arg in [*zip(names, args), *kwargs.items()]:
        add(name, arg)
    return ranges


def _patch_overflow_check() -> None:
    """The interpreter's int32 overflow check of each integer add, sub and mul, in numpy.

    Triton's interpreter checks every one (``sanitize_overflow``) with eight interpreted tensor ops
    (two casts to int64, the op, two constants, two compares and an assert): two thirds of the time
    of an index-heavy kernel (mamba2_chunk_state's check: 197 of 328 s). The same check on the
    operands' numpy values, with the same message, costs one vectorised op and a compare.
    """
    import triton.language as tl
    from triton.runtime.interpreter import interpreter_semantic

    if getattr(interpreter_semantic, "__kernelbench_overflow__", False):
        return
    slow = interpreter_semantic.binary_op_sanitize_overflow_impl
    ops = {"add": np.add, "sub": np.subtract, "mul": np.multiply}

    def sanitize_overflow(lhs: Any, rhs: Any, binary_op: Callable[..., Any]) -> None:
        op = ops.get(binary_op.__name__)
        if op is None or not isinstance(lhs, tl.tensor) or not isinstance(rhs, tl.tensor):
            return slow(lhs, rhs, binary_op)
        scalar = lhs.type.scalar
        if scalar.int_bitwidth >= 64 or not interpreter_semantic.builder.options.sanitize_overflow:
            return None
        assert scalar == rhs.type.scalar, f"expected matching operand types, got {scalar} and {rhs.type.scalar}"
        assert scalar.is_int(), f"expected integer type, got {scalar}"
        result = op(lhs.handle.data.astype(np.int64), rhs.handle.data.astype(np.int64))
        if not np.all((result <= scalar.get_int_max_value()) & (result >= scalar.get_int_min_value())):
            raise AssertionError(f"int{scalar.int_bitwidth} overflow detected for operation {binary_op.__name__}")
        return None

    interpreter_semantic.binary_op_sanitize_overflow_impl = sanitize_overflow
    interpreter_semantic.__kernelbench_overflow__ = True


def _check_one_value_per_address(ptrs: Any, value: Any, mask: Any) -> None:
    """Raise ``RuntimeError`` when one store writes different values to the same address.

    Which of them lands is up to the hardware (the interpreter keeps the last lane's; a GPU any);
    lanes writing the same value there (a broadcast result) are fine.
    """
    addresses = ptrs.data
    if addresses.size < 2:
        return
    keep = np.broadcast_to(mask.data, addresses.shape)
    addresses = addresses[keep]
    values = np.broadcast_to(value.data, ptrs.data.shape)[keep]
    order = np.argsort(addresses, kind="stable")
    addresses, values = addresses[order], values[order]
    same = addresses[1:] == addresses[:-1]
    if not same.any():
        return
    bits = values.view(f"u{values.dtype.itemsize}") if values.dtype.kind in "fc" else values
    clash = same & (bits[1:] != bits[:-1])
    if clash.any():
        count = len(np.unique(addresses[1:][clash]))
        raise RuntimeError(
            f"store writes different values to the same address from several lanes, at {count} "
            "address(es): which one lands is undefined (the interpreter keeps the last lane's, a GPU "
            "any of them); give each lane its own address, or mask all but one (a masked-off lane "
            "redirected to a valid index, as torch.where(valid, index, 0) does, still stores)"
        )


def _patch_bounds() -> None:
    """Raise at the kernel line when a load, store or atomic touches memory outside every argument,
    or a store writes different values to one address."""
    from triton.runtime.interpreter import GridExecutor, InterpreterBuilder

    if getattr(GridExecutor, "__kernelbench_bounds__", False):
        return
    init_args, restore_args = GridExecutor._init_args_hst, GridExecutor._restore_args_dev
    load, store = InterpreterBuilder.create_masked_load, InterpreterBuilder.create_masked_store
    rmw, cas = InterpreterBuilder.create_atomic_rmw, InterpreterBuilder.create_atomic_cas

    # A thread runs one launch at a time (a kernel launches no kernel): its launch's memory is keyed by
    # the thread. A launch that raised never restores its arguments; its entry stays until the
    # thread's next launch replaces it, which only widens what is allowed. (Wrapping
    # GridExecutor.__call__ in a try/finally instead would add a frame to every kernel error's trace.)
    def init_args_hst(self: Any, args_dev: Any, kwargs: Any) -> Any:
        args_hst, kwargs_hst = init_args(self, args_dev, kwargs)
        ranges = _argument_ranges(list(self.arg_names), list(args_hst), kwargs_hst)
        _launch_memory.enter(threading.get_ident(), ranges)
        return args_hst, kwargs_hst

    def restore_args_dev(self: Any, *args: Any, **kwargs: Any) -> Any:
        _launch_memory.leave(threading.get_ident())
        return restore_args(self, *args, **kwargs)

    def width(ptrs: Any) -> int:
        return max(1, ptrs.get_element_ty().primitive_bitwidth // 8)

    def checked(op: str, ptrs: Any, mask: Any) -> None:
        data = ptrs.data
        if mask is not None:
            data = data[np.broadcast_to(mask.data, data.shape)]
        _launch_memory.check(op, np.ravel(data), width(ptrs))

    def masked_load(self: Any, ptrs: Any, mask: Any, other: Any, cache_policy: Any, is_volatile: Any) -> Any:
        checked("load", ptrs, mask)
        return load(self, ptrs, mask, other, cache_policy, is_volatile)

    def masked_store(self: Any, ptrs: Any, value: Any, mask: Any, cache_policy: Any) -> Any:
        checked("store", ptrs, mask)
        _check_one_value_per_address(ptrs, value, mask)
        return store(self, ptrs, value, mask, cache_policy)

    def atomic_rmw(self: Any, op: Any, ptr: Any, val: Any, mask: Any, sem: Any, scope: Any) -> Any:
        checked("atomic", ptr, mask)
        return rmw(self, op, ptr, val, mask, sem, scope)

    def atomic_cas(self: Any, ptr: Any, cmp: Any, val: Any, sem: Any, scope: Any) -> Any:
        checked("atomic", ptr, None)
        return cas(self, ptr, cmp, val, sem, scope)

    GridExecutor._init_args_hst = init_args_hst
    GridExecutor._restore_args_dev = restore_args_dev
    InterpreterBuilder.create_masked_load = masked_load
    InterpreterBuilder.create_masked_store = masked_store
    InterpreterBuilder.create_atomic_rmw = atomic_rmw
    InterpreterBuilder.create_atomic_cas = atomic_cas
    GridExecutor.__kernelbench_bounds__ = True


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
    _patch_bounds()
    _patch_overflow_check()
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
