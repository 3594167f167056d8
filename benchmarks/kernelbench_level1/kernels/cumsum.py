"""Row prefix sums."""

import kernelbench  # first: on a CPU it switches Triton's interpreter on before triton loads

# isort: split
import helion.language as hl
import torch


@kernelbench.kernel
def cumsum(x: torch.Tensor) -> torch.Tensor:
    m, _n = x.size()
    out = torch.empty_like(x)
    for tile_m in hl.tile(m):
        # dim=1 (the same as -1 here): written when the interpreter scanned a negative axis wrong, fixed since
        out[tile_m, :] = torch.cumsum(x[tile_m, :], dim=1)
    return out
