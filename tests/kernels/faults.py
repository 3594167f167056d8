"""Kernels that misbehave on purpose, for fault-isolation tests."""

from __future__ import annotations

import helion.language as hl
import torch

import kernelbench


@kernelbench.kernel
def gather(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """out[i] = x[idx[i]]: with bad indices this reads out of bounds (no mask can save it)."""
    out = torch.empty([idx.size(0)], dtype=x.dtype, device=x.device)
    for tile in hl.tile(idx.size(0)):
        out[tile] = x[idx[tile]]
    return out


@kernelbench.kernel
def spin(x: torch.Tensor, n: int) -> torch.Tensor:
    """Runs n * n inner iterations: with n near 2**31 it never finishes in practice."""
    out = torch.empty_like(x)
    for tile in hl.tile(x.size(0)):
        acc = x[tile]
        for _ in hl.grid(n):
            for _ in hl.grid(n):
                acc = acc * 1.0000001
        out[tile] = acc
    return out


@kernelbench.kernel
def slow_scale(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = x[tile] * 2
    return out
