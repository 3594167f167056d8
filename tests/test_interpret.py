"""The interpreter shims: libdevice stubs and Helion's NaN-propagating reductions."""

from __future__ import annotations

import helion.language as hl
import pytest
import torch

import kernelbench

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
