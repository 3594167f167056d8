"""Configs as the user writes them, and the signature a tuned config is keyed by."""

from __future__ import annotations

import json
import keyword
import math
from collections.abc import Sequence
from typing import Any

import helion
import torch

from kernelbench._errors import ConfigError

__all__ = ["ConfigLike", "Signature", "config_source", "decorator_text", "parse_config", "signature_of"]

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
    return f"@helion.kernel(config={config_source(config)})"


def config_source(config: helion.Config) -> str:
    """``helion.Config(...)`` as Python source, written from the knobs as literals (never from the
    config's own ``str``, which writes keys unquoted): a knob name must be an identifier and a value
    a plain literal, so no config can carry code into a file that will be imported."""
    parts = []
    for key, value in sorted(config.config.items()):
        if not (type(key) is str and key.isidentifier() and not keyword.iskeyword(key)):
            raise ConfigError(f"config key {key!r} is not a knob name (knob names are Python identifiers, "
                              "e.g. block_sizes); remove it from the config")
        parts.append(f"{key}={_literal(key, value)}")
    return f"helion.Config({', '.join(parts)})"


def _literal(key: str, value: Any) -> str:
    kind = type(value)  # exact types: a subclass could write anything from its __repr__
    if value is None or kind in (bool, int, str):
        return repr(value)
    if kind is float and math.isfinite(value):
        return repr(value)
    if kind in (list, tuple):
        items = [_literal(key, v) for v in value]
        return f"[{', '.join(items)}]" if kind is list else f"({', '.join(items)}{',' if len(items) == 1 else ''})"
    if kind is dict and all(type(k) is str for k in value):
        return "{" + ", ".join(f"{k!r}: {_literal(key, v)}" for k, v in value.items()) + "}"
    raise ConfigError(f"config knob {key} has the value {value!r} ({kind.__name__}); knob values are numbers, "
                      "strings, booleans, None, or lists of them")
