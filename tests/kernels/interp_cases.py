"""Minimal Helion kernels, one per way Triton's interpreter used to get Helion's code wrong."""

from __future__ import annotations

from typing import Any

import helion.language as hl
import torch

import kernelbench  # before triton: it switches the interpreter on

import triton  # noqa: E402  (isort: skip)
import triton.language as tl  # noqa: E402
from torch._inductor.runtime import triton_helpers  # noqa: E402


@kernelbench.kernel
def cast_into(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``x`` converted to ``out``'s dtype, element by element: one ``tl.cast`` per dtype pair."""
    for tile in hl.tile(x.size(0)):
        out[tile] = x[tile].to(out.dtype)
    return out


@kernelbench.kernel
def nibbles_to_bf16(packed: torch.Tensor) -> torch.Tensor:
    """int4_gemm's unpacking: each int8's two signed 4-bit halves, as bf16 values."""
    n = packed.size(0)
    out = torch.empty([n, 2], dtype=torch.bfloat16, device=packed.device)
    for tile in hl.tile(n):
        b = packed[tile]
        low = ((b << 4) >> 4).to(torch.bfloat16)
        high = (b >> 4).to(torch.bfloat16)
        out[tile, :] = torch.stack([low, high], dim=1)
    return out


@kernelbench.kernel
def row_argmax(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty([x.size(0), x.size(1)], dtype=torch.int64, device=x.device)
    for tile_b, tile_m in hl.tile([x.size(0), x.size(1)]):
        out[tile_b, tile_m] = torch.argmax(x[tile_b, tile_m, :], dim=-1)
    return out


@kernelbench.kernel
def row_argmin(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty([x.size(0), x.size(1)], dtype=torch.int64, device=x.device)
    for tile_b, tile_m in hl.tile([x.size(0), x.size(1)]):
        out[tile_b, tile_m] = torch.argmin(x[tile_b, tile_m, :], dim=-1)
    return out


@kernelbench.kernel
def rotate_after_barrier(x: torch.Tensor) -> torch.Tensor:
    """``2 * x`` rolled by one: phase 2 reads what other programs wrote in phase 1, past a grid barrier."""
    n = x.size(0)
    doubled = torch.empty_like(x)
    out = torch.empty_like(x)
    for tile in hl.tile(n):
        doubled[tile] = x[tile] * 2
    hl.barrier()
    for tile in hl.tile(n):
        out[tile] = doubled[(tile.index + 1) % n]
    return out


@triton.jit
def grid_barrier_all_but_first(sem: Any) -> None:
    """A Triton kernel whose program 0 skips the grid barrier the others wait at: stuck on a GPU too."""
    if tl.program_id(0) != 0:
        triton_helpers.x_grid_barrier(sem)


@triton.jit
def cast_toward_zero(x: Any, out: Any, n: Any, BLOCK: tl.constexpr) -> None:
    """``x`` narrowed to ``out``'s type rounding toward zero (Triton's ``fp_downcast_rounding="rtz"``)."""
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    value = tl.load(x + offsets, mask=mask)
    tl.store(out + offsets, value.to(out.dtype.element_ty, fp_downcast_rounding="rtz"), mask=mask)


@kernelbench.kernel
def cumsum_last(x: torch.Tensor) -> torch.Tensor:
    """``torch.cumsum(x, dim=-1)`` over rows: Helion emits ``tl.associative_scan`` on axis -1."""
    m, _n = x.size()
    out = torch.empty_like(x)
    for tile_m in hl.tile(m):
        out[tile_m, :] = torch.cumsum(x[tile_m, :], dim=-1)
    return out


@kernelbench.kernel
def cumsum_last_3d(x: torch.Tensor) -> torch.Tensor:
    """``torch.cumsum(x, dim=-1)`` on 3-D tiles (axis -1 is axis 2)."""
    b, m, _n = x.size()
    out = torch.empty_like(x)
    for tile_b, tile_m in hl.tile([b, m]):
        out[tile_b, tile_m, :] = torch.cumsum(x[tile_b, tile_m, :], dim=-1)
    return out


@kernelbench.kernel
def cumprod_middle_3d(x: torch.Tensor) -> torch.Tensor:
    """``torch.cumprod(x, dim=-2)`` on 3-D tiles: a scan on a negative axis that is not the last."""
    b, _m, n = x.size()
    out = torch.empty_like(x)
    for tile_b, tile_n in hl.tile([b, n]):
        out[tile_b, :, tile_n] = torch.cumprod(x[tile_b, :, tile_n], dim=-2)
    return out


def _affine_combine(
    a_left: torch.Tensor, b_left: torch.Tensor, a_right: torch.Tensor, b_right: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Composes ``h -> a*h + b`` maps: left first, then right (associative, not commutative)."""
    return a_left * a_right, b_left * a_right + b_right


@kernelbench.kernel
def affine_recurrence(a: torch.Tensor, b: torch.Tensor, reverse: hl.constexpr) -> torch.Tensor:
    """``h[j] = a[j] * h[j-1] + b[j]`` along the last dim (from the end when ``reverse``): a tuple scan."""
    m, _n = a.size()
    out = torch.empty_like(b)
    for tile_m in hl.tile(m):
        _, h = hl.associative_scan(_affine_combine, (a[tile_m, :], b[tile_m, :]), dim=-1, reverse=reverse)
        out[tile_m, :] = h
    return out
