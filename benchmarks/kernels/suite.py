"""The GPU suite's kernels. Each is what a user would type in a ``%%kernel`` cell."""

from __future__ import annotations

import kernelbench  # first: on CPU it switches Triton's interpreter on before triton loads

# isort: split
import helion.language as hl
import torch

EPS = 1e-6


@kernelbench.kernel
def add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        out[tile] = x[tile] + y[tile]
    return out


@kernelbench.kernel
def softmax(x: torch.Tensor) -> torch.Tensor:
    n, _m = x.size()
    out = torch.empty_like(x)
    for tile_n in hl.tile(n):
        row = x[tile_n, :].to(torch.float32)
        e = torch.exp(row - torch.amax(row, dim=1, keepdim=True))
        out[tile_n, :] = (e / torch.sum(e, dim=1, keepdim=True)).to(out.dtype)
    return out


@kernelbench.kernel
def rms_norm(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    m, _n = x.size()
    out = torch.empty_like(x)
    for tile_m in hl.tile(m):
        row = x[tile_m, :].to(torch.float32)
        inv = torch.rsqrt(torch.mean(row * row, dim=-1, keepdim=True) + EPS)
        out[tile_m, :] = (row * inv * w[None, :].to(torch.float32)).to(out.dtype)
    return out


@kernelbench.kernel
def layer_norm(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    m, _n = x.size()
    out = torch.empty_like(x)
    for tile_m in hl.tile(m):
        row = x[tile_m, :].to(torch.float32)
        mean = torch.mean(row, dim=-1, keepdim=True)
        centred = row - mean
        var = torch.mean(centred * centred, dim=-1, keepdim=True)
        normed = centred * torch.rsqrt(var + EPS)
        out[tile_m, :] = (normed * w[None, :].to(torch.float32) + b[None, :].to(torch.float32)).to(out.dtype)
    return out


@kernelbench.kernel
def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-row loss (mean taken by the caller): logsumexp(row) - row[label].

    Online softmax: one pass over each row keeps a running max and a running sum of exponentials
    rescaled to it, so the logits are read once (a max pass then a sum pass reads them twice).
    """
    n, v = logits.size()
    losses = torch.empty([n], dtype=torch.float32, device=logits.device)
    flat = logits.view(-1)
    for tile_n in hl.tile(n):
        target = hl.load(flat, [tile_n.index * v + labels[tile_n]]).to(torch.float32)
        top = hl.full([tile_n], float("-inf"), dtype=torch.float32)
        total = hl.zeros([tile_n], dtype=torch.float32)
        for tile_v in hl.tile(v):
            chunk = logits[tile_n, tile_v].to(torch.float32)
            new_top = torch.maximum(top, torch.amax(chunk, dim=-1))
            total = total * torch.exp(top - new_top) + torch.sum(torch.exp(chunk - new_top[:, None]), dim=-1)
            top = new_top
        losses[tile_n] = top + torch.log(total) - target
    return losses


@kernelbench.kernel
def matmul(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    m, k = x.size()
    _k, n = y.size()
    out = torch.empty([m, n], dtype=x.dtype, device=x.device)
    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = torch.addmm(acc, x[tile_m, tile_k], y[tile_k, tile_n])
        out[tile_m, tile_n] = acc.to(out.dtype)
    return out
