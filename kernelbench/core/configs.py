"""Configs as the user writes them, and the signature a tuned config is keyed by."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import helion
import torch

from kernelbench._errors import ConfigError

__all__ = ["ConfigLike", "Signature", "decorator_text", "parse_config", "signature_of"]

ConfigLike = helion.Config | dict[str, Any] | str
#: Shapes, dtypes and strides of tensor arguments; ``repr`` of the others.
Signature = tuple[Any, ...]


def parse_config(config: ConfigLike) -> helion.Config:
    """A ``helion.Config`` from a Config, a dict of knobs, or Helion's JSON text."""
    if isinstance(config, helion.Config):
        return config
    if isinstance(config, str):
        try:
            data = json.loads(config)
        except json.JSONDecodeError as error:
            raise ConfigError(
                f"config is not valid JSON ({error.msg} at column {error.colno}); write it as e.g. "
                '\'{"block_sizes": [32], "num_warps": 4}\''
            ) from None
        config = data
    if not isinstance(config, dict):
        raise ConfigError(f"a config must be a JSON object of knobs, got {type(config).__name__}")
    return helion.Config(**config)


def signature_of(args: Sequence[Any]) -> Signature:
    """What a tuned config is keyed by: shapes, dtypes and strides of tensors; other values as is."""
    sig: list[Any] = []
    for a in args:
        if isinstance(a, torch.Tensor):
            sig.append((tuple(a.shape), str(a.dtype).removeprefix("torch."), tuple(a.stride())))
        else:
            sig.append(repr(a))
    return tuple(sig)


def decorator_text(config: helion.Config) -> str:
    """``@helion.kernel(config=helion.Config(...))`` to paste into a ``.py`` file."""
    return f"@helion.kernel(config={config!r})"
