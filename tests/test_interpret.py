"""The interpreter shims: libdevice stubs, reductions, bf16 values, casts, argmax, cooperative grids,
bounds and same-address store checks, the int overflow check."""

from __future__ import annotations

from typing import Any

import helion.language as hl
import numpy as np
import pytest
import torch

import kernelbench
from kernelbench._errors import KernelbenchError

import triton  # noqa: E402  (isort: skip)  after kernelbench: it switches the interpreter on
import triton.language as tl  # noqa: E402

from tests.kernels.interp_cases import (
    affine_recurrence,
    cast_into,
    cast_toward_zero,
    cumprod_middle_3d,
    cumsum_last,
    cumsum_last_3d,
    grid_barrier_all_but_first,
    nibbles_to_bf16,
    rotate_after_barrier,
    row_argmax,
    row_argmin,
)

pytestmark = pytest.mark.skipif(not kernelbench.is_interpreter(), reason="interpreter shims only run on CPU")


@kernelbench.kernel
def row_max(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty([x.size(0)], dtype=x.dtype, device=x.device)
    for tile in hl.tile(x.size(0)):
        out[tile] = torch.amax(x[tile, :], dim=1)
    return out


@kernelbench.kernel
def row_min(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty([x.size(0)], dtype=x.dtype, device=x.device)
    for tile in hl.tile(x.size(0)):
        out[tile] = torch.amin(x[tile, :], dim=1)
    return out


@kernelbench.kernel
def unary_mix(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        v = x[tile]
        out[tile] = torch.tanh(v) + torch.sigmoid(v) + torch.log1p(torch.abs(v))
    return out


def test_reductions_propagate_nan_like_torch() -> None:
    x = torch.randn(8, 32)
    x[3, 5] = float("nan")
    torch.testing.assert_close(row_max(x), torch.amax(x, 1), equal_nan=True)
    torch.testing.assert_close(row_min(x), torch.amin(x, 1), equal_nan=True)
    assert torch.isnan(row_max(x)[3])


def test_bf16_reduction_promotes_like_triton() -> None:
    x = torch.randn(8, 32, dtype=torch.bfloat16)
    torch.testing.assert_close(row_max(x), torch.amax(x, 1))


def test_libdevice_unary_and_binary_functions() -> None:
    x = torch.randn(16, 16)
    ref = torch.tanh(x) + torch.sigmoid(x) + torch.log1p(x.abs())
    torch.testing.assert_close(unary_mix(x), ref, rtol=1e-5, atol=1e-5)


@kernelbench.kernel
def bf16_exp(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = torch.exp(x[tile])
    return out


def test_libdevice_on_bfloat16_bits() -> None:
    x = torch.randn(16, 16, dtype=torch.bfloat16)
    assert bf16_exp.check(torch.exp, x)


@kernelbench.kernel
def bf16_axpy(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = x[tile] * 2 - y[tile]
    return out


@kernelbench.kernel
def bf16_mm(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    m, k = x.size()
    _k, n = y.size()
    out = torch.empty([m, n], dtype=x.dtype, device=x.device)
    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = torch.addmm(acc, x[tile_m, tile_k], y[tile_k, tile_n])
        out[tile_m, tile_n] = acc.to(out.dtype)
    return out


def test_bf16_arithmetic_and_dot_on_values_not_bits() -> None:
    x, y = torch.randn(32, 32, dtype=torch.bfloat16), torch.randn(32, 32, dtype=torch.bfloat16)
    torch.testing.assert_close(bf16_axpy(x, y), x * 2 - y)
    assert bf16_mm.check(lambda a, b: (a.float() @ b.float()).to(a.dtype), x, y, config={"block_sizes": [16, 16, 16]})


# Casts: bit for bit as torch's .to ------------------------------------------------------------

_NARROW = [torch.bfloat16, torch.float16, torch.float8_e4m3fn, torch.float8_e5m2, torch.float8_e4m3fnuz,
           torch.float8_e5m2fnuz]


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.view({1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()])


def _assert_same_bits(got: torch.Tensor, want: torch.Tensor) -> None:
    """Equal bits; a NaN need only be a NaN (torch's own NaN payloads differ between its code paths)."""
    nan = want.float().isnan()
    assert torch.equal(got.float().isnan(), nan)
    wrong = (_bits(got) != _bits(want)) & ~nan
    assert not wrong.any(), f"{wrong.sum().item()} differ, e.g. {got[wrong][:4].tolist()} for {want[wrong][:4].tolist()}"


def _edges(dtype: torch.dtype) -> torch.Tensor:
    """float32 values that test a conversion to ``dtype``: every value it has, every halfway point
    between two neighbours and the float32 numbers either side of it, and the specials."""
    n = 1 << (8 * dtype.itemsize)
    codes = torch.arange(n, dtype=torch.int32).to(torch.int16 if n > 256 else torch.uint8)
    values = codes.view(dtype).double()
    values = values[values.isfinite()].unique()  # sorted
    halfway = ((values[1:] + values[:-1]) / 2).float()
    up = torch.nextafter(halfway, torch.tensor(float("inf")))
    down = torch.nextafter(halfway, torch.tensor(float("-inf")))
    specials = torch.tensor([0.0, -0.0, 0.496, 1e-45, -1e-45, 1e-30, 3.0e38, -3.0e38, float("inf"), float("-inf"),
                             float("nan"), 65504.0, 65520.0, 448.0, 464.0, 470.0, 480.0, 57344.0, 61440.0, 240.0, 248.0])
    return torch.cat([values.float(), halfway, up, down, specials])


def _cast(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``x.to(dtype)`` by the kernel, in few programs (the interpreter's cost is per program)."""
    config = {"block_sizes": [min(1 << (x.numel() - 1).bit_length(), 1 << 16)]}
    return cast_into.compiled(x, torch.empty(x.shape, dtype=dtype), config=config)(x, torch.empty(x.shape, dtype=dtype))


@pytest.mark.parametrize("dtype", _NARROW, ids=str)
def test_float32_to_narrow_types_matches_torch_bit_for_bit(dtype: torch.dtype) -> None:
    x = _edges(dtype)
    _assert_same_bits(_cast(x, dtype), x.to(dtype))


@pytest.mark.parametrize("dtype", _NARROW, ids=str)
def test_narrow_types_widen_and_convert_between_them_like_torch(dtype: torch.dtype) -> None:
    n = 1 << (8 * dtype.itemsize)
    x = torch.arange(n, dtype=torch.int32).to(torch.int16 if n > 256 else torch.uint8).view(dtype)
    _assert_same_bits(_cast(x, torch.float32), x.float())
    for other in (torch.bfloat16, torch.float16, torch.float8_e4m3fn, torch.float8_e5m2):
        if other != dtype:
            _assert_same_bits(_cast(x, other), x.to(other))


def test_float64_narrows_through_float32_as_torch_does() -> None:
    x = torch.tensor([1 + 2**-11 + 2**-40, 1 + 2**-8 + 2**-40, 1 + 2**-4 + 2**-40, 1e300, -1e-300, 0.1], dtype=torch.float64)
    for dtype in (torch.bfloat16, torch.float16, torch.float8_e4m3fn, torch.float8_e5m2, torch.float32):
        _assert_same_bits(_cast(x, dtype), x.to(dtype))


@pytest.mark.parametrize("int_dtype", [torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64], ids=str)
def test_integers_to_bf16_and_fp16_match_torch(int_dtype: torch.dtype) -> None:
    info = torch.iinfo(int_dtype)
    edge = [0, 1, info.max, info.min, info.max - 1, 17, 255, 257, 2**24 + 2**16 + 1, 65519, 65520, -(2**31), 2**62 + 2**38 + 1]
    x = torch.tensor([v for v in edge if info.min <= v <= info.max], dtype=torch.int64).to(int_dtype)
    x = torch.cat([x, torch.randint(info.min, info.max, (64,), dtype=torch.int64).to(int_dtype)])
    for dtype in (torch.bfloat16, torch.float16):
        _assert_same_bits(_cast(x, dtype), x.to(dtype))


def test_int4_nibbles_unpack_to_bf16_values() -> None:
    packed = torch.arange(-128, 128, dtype=torch.int8)
    want = torch.stack([(packed << 4) >> 4, packed >> 4], dim=1).to(torch.bfloat16)
    assert torch.equal(nibbles_to_bf16(packed), want)


# argmax / argmin -----------------------------------------------------------------------------


def _with_ties_and_nans() -> torch.Tensor:
    x = torch.randint(0, 3, (2, 8, 9)).float()
    x[0, 0, 4] = x[0, 1, 2] = x[0, 1, 7] = float("nan")
    x[1, 3, :] = -0.0
    x[1, 3, 5] = 0.0
    x[1, 4, :] = float("nan")
    return x


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.int32], ids=str)
def test_argmax_argmin_tie_to_the_first_index_and_nan_wins_like_torch(dtype: torch.dtype) -> None:
    x = _with_ties_and_nans().to(dtype)
    assert torch.equal(row_argmax(x), x.argmax(-1))
    assert torch.equal(row_argmin(x), x.argmin(-1))


def test_argmax_in_a_looped_reduction() -> None:
    x = _with_ties_and_nans()
    spec = row_argmax.bind(x).config_spec
    config = spec.default_config()
    config.config["reduction_loops"] = [4]
    assert torch.equal(row_argmax.compiled(x, config=config)(x), x.argmax(-1))


def test_argmax_of_a_4x32x31_tensor_runs() -> None:
    x = torch.randn(4, 32, 31)
    assert torch.equal(row_argmax(x), x.argmax(-1))


# Cooperative launches ------------------------------------------------------------------------


@pytest.mark.parametrize("block", [4, 16, 64])
def test_grid_barrier_kernel_runs_every_program_past_the_barrier(block: int) -> None:
    x = torch.randn(64)
    out = rotate_after_barrier.compiled(x, config={"block_sizes": [block, block]})(x)
    assert torch.equal(out, torch.roll(2 * x, -1))


def test_a_barrier_some_program_never_reaches_raises_instead_of_hanging() -> None:
    sem = torch.zeros(1, dtype=torch.uint32)
    with pytest.raises(KernelbenchError, match="wait on one another for ever"):
        grid_barrier_all_but_first[(4,)](sem, launch_cooperative_grid=True)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float8_e4m3fn, torch.float8_e5m2], ids=str)
def test_rounding_toward_zero_truncates(dtype: torch.dtype) -> None:
    x = _edges(dtype)
    x = x[x.isfinite() & (x.abs() <= torch.finfo(dtype).max)]
    out = torch.empty(x.shape, dtype=dtype)
    cast_toward_zero[(1,)](x, out, x.numel(), BLOCK=1 << (x.numel() - 1).bit_length())
    # torch rounds to nearest; where that went away from zero, the truncation is the code one below
    nearest = x.to(dtype)
    away = nearest.double().abs() > x.double().abs()
    want = _bits(nearest) - away.to(_bits(nearest).dtype)
    assert torch.equal(_bits(out), want)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32], ids=str)
def test_floats_to_integers_truncate_like_torch(dtype: torch.dtype) -> None:
    x = torch.tensor([0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.75, -2.75, 127.0, -128.0, 1000.5, -30000.0]).to(dtype)
    for int_dtype in (torch.int32, torch.int64, torch.int16):
        assert torch.equal(_cast(x, int_dtype), x.to(int_dtype))


def test_cumsum_over_dim_minus_one_matches_torch() -> None:
    x = torch.randn(5, 37)
    torch.testing.assert_close(cumsum_last(x), torch.cumsum(x, dim=-1))
    x3 = torch.randn(3, 4, 19)
    torch.testing.assert_close(cumsum_last_3d(x3), torch.cumsum(x3, dim=-1))
    ints = torch.randint(-50, 50, (4, 24), dtype=torch.int32)
    assert torch.equal(cumsum_last(ints), torch.cumsum(ints, dim=-1, dtype=torch.int32))


def test_scan_on_a_negative_axis_that_is_not_the_last() -> None:
    x = torch.rand(2, 13, 6) + 0.5
    torch.testing.assert_close(cumprod_middle_3d(x), torch.cumprod(x, dim=-2))


@pytest.mark.parametrize("reverse", [False, True])
def test_tuple_scan_with_a_non_commutative_combine(reverse: bool) -> None:
    a, b = torch.rand(3, 11) + 0.5, torch.randn(3, 11)
    sa, sb = (a.flip(-1), b.flip(-1)) if reverse else (a, b)
    h, expected = torch.zeros(3), torch.empty(3, 11)
    for j in range(11):
        h = sa[:, j] * h + sb[:, j]
        expected[:, j] = h
    torch.testing.assert_close(affine_recurrence(a, b, reverse), expected.flip(-1) if reverse else expected)


@kernelbench.kernel
def gather_rows(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    out = torch.empty([idx.size(0), x.size(1)], dtype=x.dtype, device=x.device)
    for tile in hl.tile(idx.size(0)):
        out[tile, :] = x[idx[tile], :]
    return out


@kernelbench.kernel
def scatter_rows(x: torch.Tensor, idx: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    for tile in hl.tile(idx.size(0)):
        out[idx[tile], :] = x[tile, :]
    return out


def test_a_load_past_the_end_of_a_tensor_raises_at_its_line() -> None:
    x = torch.randn(8, 16)
    with pytest.raises(KernelbenchError, match=r"x\[idx\[tile\], :\].*load of 16 element\(s\) outside every "
                                               r"tensor argument's memory, the first at element 144 of `x`, which holds 128"):
        gather_rows(x, torch.tensor([0, 3, 9, 2]))
    with pytest.raises(KernelbenchError, match="element -16 of `x`"):
        gather_rows(x, torch.tensor([0, -1]))


def test_a_slice_owns_its_elements_not_its_whole_storage() -> None:
    big = torch.randn(12, 16)
    x = big[2:10]
    idx = torch.randint(0, 8, (37,))  # 37: the last tile's masked-off lanes point past the end, masked
    torch.testing.assert_close(gather_rows(x, idx), x[idx])
    with pytest.raises(KernelbenchError, match="element 128 of `x`, which holds 128"):
        gather_rows(x, torch.tensor([8]))  # big's row 10: in the storage, past the slice


def test_a_store_of_different_values_to_one_address_raises() -> None:
    x, out = torch.randn(4, 16), torch.zeros(4, 16)
    with pytest.raises(KernelbenchError, match=r"out\[idx\[tile\], :\].*different values to the same address"):
        scatter_rows(x, torch.tensor([0, 1, 1, 3]), out)


def test_a_store_of_one_value_from_several_lanes_is_not_a_clash() -> None:
    x, out = torch.randn(1, 16).expand(4, 16).contiguous(), torch.zeros(4, 16)
    scatter_rows(x, torch.tensor([0, 1, 1, 3]), out)
    torch.testing.assert_close(out[1], x[0])
    assert not out[2].any()


@triton.jit
def _times_three_plus_one(x: Any, out: Any, n: Any, BLOCK: tl.constexpr) -> None:
    offsets = tl.arange(0, BLOCK)
    tl.store(out + offsets, tl.load(x + offsets, mask=offsets < n) * 3 + 1, mask=offsets < n)


def test_int32_overflow_is_still_caught_by_the_numpy_check() -> None:
    x = torch.tensor([1, 2, 3], dtype=torch.int32)
    out = torch.empty_like(x)
    _times_three_plus_one[(1,)](x, out, 3, BLOCK=4)
    assert out.tolist() == [4, 7, 10]
    with pytest.raises(Exception, match="int32 overflow detected for operation mul"):
        _times_three_plus_one[(1,)](torch.tensor([1, 2**30, 3], dtype=torch.int32), out, 3, BLOCK=4)



def test_an_argument_inside_another_leaves_the_outer_ones_memory_in_bounds() -> None:
    from kernelbench.core.interpret import _LaunchMemory

    memory = _LaunchMemory()
    memory.enter(1, [(1000, 1400, "x"), (1040, 1080, "row")])  # x and a row of it, both passed
    memory.check("load", np.array([1000, 1200, 1396]), 4)  # past the row, still inside x
    with pytest.raises(IndexError, match="element 100 of `x`, which holds 100"):
        memory.check("load", np.array([1200, 1400]), 4)
    memory.leave(1)
    memory.check("load", np.array([5]), 4)  # no launch running: nothing to check against
