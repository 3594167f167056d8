"""RMS normalisation over rows (no parameters)."""

import kernelbench  # first: on a CPU it switches Triton's interpreter on before triton loads

# isort: split
import helion.language as hl
import torch

EPS = 1e-5


@kernelbench.kernel
def rms_norm(x: torch.Tensor) -> torch.Tensor:
    m, _n = x.size()
    out = torch.empty_like(x)
    for tile_m in hl.tile(m):
        row = x[tile_m, :]
        out[tile_m, :] = row * torch.rsqrt(torch.mean(row * row, dim=-1, keepdim=True) + EPS)
    return out
