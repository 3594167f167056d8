"""Kernels whose correctness depends on the config: for tests of sweeps."""

from __future__ import annotations

import helion.language as hl
import torch

import kernelbench


@kernelbench.kernel
def right_only_at_block_16(x: torch.Tensor) -> torch.Tensor:
    """Adds (block_size - 16): correct only when the tile is 16 wide."""
    out = torch.empty_like(x)
    for tile in hl.tile(x.size(0)):
        out[tile] = x[tile] + (tile.block_size - 16)
    return out


@kernelbench.kernel
def always_wrong(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size(0)):
        out[tile] = x[tile] * 2
    return out


@kernelbench.kernel
def scale(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = x[tile] * 3
    return out


# Helion's search re-benchmarks every finite candidate (threshold far above any ratio to the best).
@kernelbench.kernel(autotune_rebenchmark_threshold=1e9)
def scale_rebenchmarked(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = x[tile] * 3
    return out
