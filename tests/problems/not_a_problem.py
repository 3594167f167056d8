"""Defines get_inputs but no Model: not a KernelBench problem."""

import torch

size = 4


def get_inputs():
    return [torch.randn(size)]
