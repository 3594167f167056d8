"""y = x W^T + b: the matmul with W read transposed and the bias added in the epilogue."""

import kernelbench  # first: on a CPU it switches Triton's interpreter on before triton loads

# isort: split
import helion.language as hl
import torch


@kernelbench.kernel
def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    m, k = x.size()
    n, _k = weight.size()
    out = torch.empty([m, n], dtype=x.dtype, device=x.device)
    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = torch.addmm(acc, x[tile_m, tile_k], weight[tile_n, tile_k].T)
        out[tile_m, tile_n] = (acc + bias[tile_n][None, :]).to(out.dtype)
    return out
