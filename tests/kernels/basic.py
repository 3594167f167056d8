"""Kernels defined in a .py file with @kernelbench.kernel (as scripts and the GPU use them)."""

from __future__ import annotations

import helion
import helion.language as hl
import torch

import kernelbench


@kernelbench.kernel
def add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        out[tile] = x[tile] + y[tile]
    return out


@kernelbench.kernel
def rms_norm(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    m, n = x.size()
    out = torch.empty_like(x)
    for tile_m in hl.tile(m):
        row = x[tile_m, :].to(torch.float32)
        inv = torch.rsqrt(torch.mean(row * row, dim=-1, keepdim=True) + 1e-6)
        out[tile_m, :] = (row * inv * w[None, :].to(torch.float32)).to(out.dtype)
    return out


@kernelbench.kernel
def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        v = x[tile]
        out[tile] = 0.5 * v * (1.0 + torch.tanh(0.7978845608 * (v + 0.044715 * v * v * v)))
    return out


@kernelbench.kernel
def split(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    a = torch.empty_like(x)
    b = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        a[tile] = x[tile] * 2
        b[tile] = x[tile] - 1
    return a, b


@kernelbench.kernel
def half_written(x: torch.Tensor) -> torch.Tensor:
    """Writes only the first half of the rows: the poisoned tail must be caught."""
    out = torch.empty_like(x)
    for tile in hl.tile([x.size(0) // 2, x.size(1)]):
        out[tile] = x[tile]
    return out


@kernelbench.kernel(config=helion.Config(block_sizes=[16, 16]))
def pinned_add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        out[tile] = x[tile] + y[tile]
    return out
