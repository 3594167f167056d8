"""Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), elementwise."""

import kernelbench  # first: on a CPU it switches Triton's interpreter on before triton loads

# isort: split
import helion.language as hl
import torch

SQRT_HALF = 0.7071067811865476


@kernelbench.kernel
def gelu(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        v = x[tile]
        out[tile] = 0.5 * v * (1.0 + torch.erf(v * SQRT_HALF))
    return out
