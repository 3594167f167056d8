"""Kernels whose correctness depends on the problem size: for tests of benches."""

from __future__ import annotations

import helion.language as hl
import torch

import kernelbench


@kernelbench.kernel
def first_32_columns(x: torch.Tensor) -> torch.Tensor:
    """Triples x but writes only the first 32 columns: right at widths <= 32, wrong above."""
    m, n = x.size()
    out = torch.empty_like(x)
    for tile_m, tile_n in hl.tile([m, min(n, 32)]):
        out[tile_m, tile_n] = x[tile_m, tile_n] * 3
    return out
