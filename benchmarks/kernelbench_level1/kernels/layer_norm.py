"""LayerNorm over rows, with the Model's weight and bias as its trailing arguments."""

import kernelbench  # first: on a CPU it switches Triton's interpreter on before triton loads

# isort: split
import helion.language as hl
import torch

EPS = 1e-5


@kernelbench.kernel
def layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    m, _n = x.size()
    out = torch.empty_like(x)
    for tile_m in hl.tile(m):
        row = x[tile_m, :]
        mean = torch.mean(row, dim=-1, keepdim=True)
        centred = row - mean
        var = torch.mean(centred * centred, dim=-1, keepdim=True)
        out[tile_m, :] = centred * torch.rsqrt(var + EPS) * weight[None, :] + bias[None, :]
    return out
