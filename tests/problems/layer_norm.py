"""A KernelBench-format problem with parameters: nn.LayerNorm over the last dimension."""

import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, features: int) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln(x)


rows = 16
features = 32
cols = features  # derived: follows an override of `features`


def get_inputs():
    return [torch.randn(rows, cols) * 3 + 1]


def get_init_inputs():
    return [features]
