"""Kernels for the export and case tests: a scalar argument, module globals and a helper."""

from __future__ import annotations

import math

import helion.language as hl
import torch

import kernelbench

#: A module constant the kernel reads: export must write it into the standalone module.
SHIFT = 0.25


def _shifted(v: torch.Tensor) -> torch.Tensor:
    """A plain helper the kernel calls: export copies it along."""
    return v + SHIFT


@kernelbench.kernel
def scale_by(x: torch.Tensor, k: float) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = x[tile] * k
    return out


@kernelbench.kernel
def shifted_root(x: torch.Tensor) -> torch.Tensor:
    """Uses a module (math), a constant and a helper function from its module's globals."""
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = _shifted(x[tile]) * math.sqrt(2.0)
    return out


#: A tensor global: a standalone module cannot carry it, so export refuses (the kernel never runs).
_TABLE = torch.arange(4)


@kernelbench.kernel
def reads_a_tensor_global(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = x[tile] + _TABLE.numel()
    return out
