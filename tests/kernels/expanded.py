"""A kernel taking an expanded (stride-0) scale, as Helion's fp8_matmul does (a module: workers import it)."""

from __future__ import annotations

import helion.language as hl
import torch

import kernelbench


@kernelbench.kernel
def scaled_rows(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile_m, tile_n in hl.tile(x.size()):
        out[tile_m, tile_n] = x[tile_m, tile_n] * scale[tile_m, tile_n]
    return out
