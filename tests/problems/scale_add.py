"""A KernelBench-format problem without parameters: out = alpha * x + y (alpha from get_init_inputs)."""

import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, alpha: float) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.alpha * x + y


batch_size = 8
dim = 48


def get_inputs():
    return [torch.randn(batch_size, dim), torch.randn(batch_size, dim)]


def get_init_inputs():
    return [2.5]
