"""Kernels for tests/problems/scale_add.py: a right one and one that ignores alpha's value."""

import helion.language as hl
import torch

import kernelbench


@kernelbench.kernel
def scale_add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        out[tile] = 2.5 * x[tile] + y[tile]
    return out


@kernelbench.kernel
def scale_add_wrong(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        out[tile] = 2.0 * x[tile] + y[tile]
    return out
