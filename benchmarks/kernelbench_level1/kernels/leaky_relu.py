"""Leaky ReLU with the problem's slope, 0.01, elementwise."""

import kernelbench  # first: on a CPU it switches Triton's interpreter on before triton loads

# isort: split
import helion.language as hl
import torch

SLOPE = 0.01


@kernelbench.kernel
def leaky_relu(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        v = x[tile]
        out[tile] = torch.where(v > 0, v, v * SLOPE)
    return out
