"""Kernels that try to fool ``check`` (issue 13 §2): each passes a naive check and must fail this one."""

from __future__ import annotations

import helion.language as hl
import torch

import kernelbench


@kernelbench.kernel
def gather(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Honest out[i] = x[idx[i]]."""
    out = torch.empty([idx.size(0)], dtype=x.dtype, device=x.device)
    for tile in hl.tile(idx.size(0)):
        out[tile] = x[idx[tile]]
    return out


@kernelbench.kernel
def memorised_gather(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Ignores ``idx`` and reads x backwards: right only for the idx it was shown (a reversal)."""
    n = x.size(0)
    out = torch.empty([idx.size(0)], dtype=x.dtype, device=x.device)
    for tile in hl.tile(idx.size(0)):
        out[tile] = x[n - 1 - tile.index]
    return out


@kernelbench.kernel
def garbage_plus_zero_x(x: torch.Tensor) -> torch.Tensor:
    """``1 + x * 0``: NaN wherever x is NaN, garbage elsewhere."""
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = x[tile] * 0.0 + 1.0
    return out


@kernelbench.kernel
def mul(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        out[tile] = x[tile] * y[tile]
    return out


@kernelbench.kernel
def relu_in_place(x: torch.Tensor) -> torch.Tensor:
    """Writes its input and returns it: right answer, but the caller's tensor is destroyed."""
    for tile in hl.tile(x.size()):
        x[tile] = torch.relu(x[tile])
    return x


@kernelbench.kernel
def zeros_then_nan(x: torch.Tensor) -> torch.Tensor:
    """Allocates with zeros (no poison) and computes 0/0: NaN it made, not NaN left unwritten."""
    out = torch.zeros_like(x)
    for tile in hl.tile(x.size()):
        v = x[tile]
        out[tile] = (v - v) / (v - v)
    return out


@kernelbench.kernel
def log(x: torch.Tensor) -> torch.Tensor:
    """log(x): NaN where x < 0 (a reference of log|x| disagrees there)."""
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = torch.log(x[tile])
    return out


@kernelbench.kernel
def off_by_one(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = x[tile] + 1.0
    return out
