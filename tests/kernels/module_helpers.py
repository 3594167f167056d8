"""A kernel whose helper reads a module global (``math``) of this module: for worker recipes."""

from __future__ import annotations

import math

import helion
import helion.language as hl
import torch


def _factor() -> float:
    return math.sqrt(16.0)


@helion.kernel
def times_sqrt16(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = x[tile] * _factor()
    return out
