"""ReLU, elementwise."""

import kernelbench  # first: on a CPU it switches Triton's interpreter on before triton loads

# isort: split
import helion.language as hl
import torch


@kernelbench.kernel
def relu(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        out[tile] = torch.relu(x[tile])
    return out
