"""A KernelBench-format problem whose Model cannot run in float64: it builds a float32 matrix inside."""

import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ torch.eye(x.shape[1], dtype=torch.float32, device=x.device)


rows = 8
cols = 16


def get_inputs():
    return [torch.randn(rows, cols)]


def get_init_inputs():
    return []
