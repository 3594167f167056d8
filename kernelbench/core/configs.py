"""Configs as the user writes them, and the signature a tuned config is keyed by."""

from __future__ import annotations

import json
import keyword
import math
import weakref
from collections.abc import Sequence
from typing import Any

import helion
import torch
from helion.autotuner.config_fragment import (
    BaseIntegerFragment,
    BlockSizeFragment,
    BooleanFragment,
    ConfigSpecFragment,
    EnumFragment,
    ListOf,
    PermutationFragment,
    PowerOfTwoFragment,
)

from kernelbench._errors import ConfigError

__all__ = [
    "ConfigLike",
    "Signature",
    "config_source",
    "decorator_text",
    "parse_config",
    "signature_of",
    "validate_config",
]

ConfigLike = helion.Config | dict[str, Any] | str
#: Shapes, dtypes and strides of tensor arguments; ``repr`` of the others.
Signature = tuple[Any, ...]


#: How deeply a config's values may nest (``loop_orders`` is a list of lists: depth 2).
MAX_DEPTH = 8


def parse_config(config: ConfigLike) -> helion.Config:
    """A ``helion.Config`` from a Config, a dict of knobs, or Helion's JSON text.

    Knob names must be identifiers and values nest at most :data:`MAX_DEPTH` deep; whether the knobs
    fit a kernel is :func:`validate_config`'s question (it needs the kernel's config spec)."""
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except json.JSONDecodeError as error:
            raise ConfigError(
                f"config is not valid JSON ({error.msg} at column {error.colno}); write it as e.g. "
                '\'{"block_sizes": [32], "num_warps": 4}\''
            ) from None
        except RecursionError:
            raise ConfigError(f"config JSON nests deeper than {MAX_DEPTH} levels; a config is an object "
                              "of knobs whose values are numbers, strings or (nested) lists") from None
    data = config.config if isinstance(config, helion.Config) else config
    if not isinstance(data, dict):
        raise ConfigError(f"a config must be a JSON object of knobs, got {type(data).__name__}")
    for key, value in data.items():
        if not _is_knob_name(key):
            raise ConfigError(f"config key {key!r} is not a knob name (knob names are Python identifiers, "
                              "e.g. block_sizes); remove it from the config")
        if _depth(value) > MAX_DEPTH:
            raise ConfigError(f"config knob {key} nests deeper than {MAX_DEPTH} levels; knob values are "
                              "numbers, strings, booleans, None, or (nested) lists of them")
    return config if isinstance(config, helion.Config) else helion.Config(**data)


def _is_knob_name(key: object) -> bool:
    return type(key) is str and key.isidentifier() and not keyword.iskeyword(key)


def _depth(value: Any, limit: int = MAX_DEPTH + 1) -> int:
    """How deeply lists and dicts nest in ``value`` (counting stops past ``limit``)."""
    if limit <= 0 or not isinstance(value, (list, tuple, dict)):
        return 0
    items = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(v, limit - 1) for v in items), default=0)


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
    """``@helion.kernel(config=helion.Config(...))`` to paste into a ``.py`` file, one knob per line
    (so it reads and copies whole however narrow the page), from the same validated literals as
    :func:`config_source`."""
    parts = _knob_sources(config)
    if not parts:
        return "@helion.kernel(config=helion.Config())"
    return "@helion.kernel(config=helion.Config(\n" + "".join(f"    {part},\n" for part in parts) + "))"


def config_source(config: helion.Config) -> str:
    """``helion.Config(...)`` as Python source, written from the knobs as literals (never from the
    config's own ``str``, which writes keys unquoted): a knob name must be an identifier and a value
    a plain literal, so no config can carry code into a file that will be imported."""
    return f"helion.Config({', '.join(_knob_sources(config))})"


def _knob_sources(config: helion.Config) -> list[str]:
    """``name=literal`` for each knob, sorted by name (see :func:`config_source`)."""
    parts = []
    for key, value in sorted(config.config.items()):
        if not _is_knob_name(key):
            raise ConfigError(f"config key {key!r} is not a knob name (knob names are Python identifiers, "
                              "e.g. block_sizes); remove it from the config")
        parts.append(f"{key}={_literal(key, value)}")
    return parts


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


# --------------------------------------------------------------------------------------------------
# Validating a config against a kernel's config spec


class _Knob:
    """What one knob of a config spec takes: Helion's default for it, and its fragments (one per list
    item for a per-loop knob such as ``block_sizes``; one for a scalar or ``ListOf`` knob)."""

    def __init__(self, default: Any, fragments: list[ConfigSpecFragment] | None, per_item: bool) -> None:
        self.default = default
        self.fragments = fragments  # None: the spec does not say (check against the default only)
        self.per_item = per_item


_KNOBS: weakref.WeakKeyDictionary[Any, dict[str, _Knob]] = weakref.WeakKeyDictionary()


def _knobs(config_spec: Any) -> dict[str, _Knob]:
    """The spec's knobs: Helion's flat layout (name, number of flat slots, per-item or not) laid over
    the fragments of a config generation, plus any knob only the default config has."""
    found = _KNOBS.get(config_spec)
    if found is not None:
        return found
    defaults = dict(config_spec.default_config().config)
    knobs: dict[str, _Knob] = {}
    try:
        flat = config_spec.create_config_generation().flat_spec
        layout = config_spec.flat_key_layout()
    except Exception:  # noqa: BLE001 - a spec Helion cannot search: check names and types only
        flat, layout = [], []
    if sum(count for _, count, _ in layout) != len(flat):
        layout = []
    start = 0
    for name, count, per_item in layout:
        knobs[name] = _Knob(defaults.get(name), list(flat[start:start + count]), per_item)
        start += count
    for name, default in defaults.items():
        knobs.setdefault(name, _Knob(default, None, False))
    _KNOBS[config_spec] = knobs
    return knobs


def validate_config(config: helion.Config, config_spec: Any, name: str = "this kernel") -> helion.Config:
    """``config`` if it fits ``config_spec`` (a bound kernel's ``config_spec``), else ``ConfigError``.

    Every knob must be one of the spec's; each value of the type Helion's default has (exact types: an
    int is not a bool, a list is a list), lists as long as the spec's, numbers within the spec's range
    and enum values among its choices. Block sizes are checked as positive ints only: Helion clamps a
    block larger than its dimension, and a pinned config serves arguments of every shape. Knobs left
    out take Helion's defaults, so a partial config is valid.
    """
    knobs = _knobs(config_spec)
    for key, value in config.config.items():
        knob = knobs.get(key)
        if knob is None:
            raise ConfigError(f"unknown knob {key!r} for {name}; its knobs are {', '.join(sorted(knobs))}")
        _literal(key, value)  # plain literals only (exact types), whatever the knob
        problem = _problem(knob, _as_lowered(key, value, knob))
        if problem is not None:
            raise ConfigError(f"config knob {key!r} of {name} is {value!r}; it must be {problem}")
    return config


def _as_lowered(key: str, value: Any, knob: _Knob) -> Any:
    """``value`` as Helion lowers it, where it accepts a value its space no longer offers.

    ``indexing="block_ptr"``: Triton 3.8 removed block pointers (triton-lang/triton#9668), so the
    space offers only ``pointer`` (and ``tensor_descriptor``), but Helion still takes a config that
    names them and lowers them as ``pointer`` (with a ``BlockPtrIndexingUnavailable`` warning):
    configs written for an older Triton, like a pinned ``@helion.kernel(config=...)``, keep working.
    """
    if key != "indexing" or knob.fragments is None:
        return value
    enums = [f.inner if isinstance(f, ListOf) else f for f in knob.fragments]
    choices = {choice for f in enums if isinstance(f, EnumFragment) for choice in f.choices}
    if "block_ptr" in choices or "pointer" not in choices:
        return value
    if value == "block_ptr":
        return "pointer"
    if type(value) in (list, tuple):
        return type(value)("pointer" if v == "block_ptr" else v for v in value)
    return value


def _problem(knob: _Knob, value: Any) -> str | None:
    """What ``value`` should have been for ``knob``, or ``None`` when it fits."""
    if knob.fragments is None:
        return _unlike(knob.default, value)
    if knob.per_item:  # one fragment per loop or block: a list exactly that long
        n = len(knob.fragments)
        if type(value) not in (list, tuple) or len(value) != n:
            like = f", like the default {knob.default!r}" if type(knob.default) is list else ""
            return f"a list of {n} item{'s' if n != 1 else ''}{like}"
        # None is a value where Helion's default has it (reduction_loops: None is "the whole row")
        defaults = knob.default if type(knob.default) is list and len(knob.default) == n else [0] * n
        for i, (fragment, item, default) in enumerate(zip(knob.fragments, value, defaults)):
            if item is None and default is None:
                continue
            problem = _fragment_problem(fragment, item)
            if problem is not None:
                return f"a list of {n} whose item {i} is {problem}"
        return None
    if len(knob.fragments) != 1:
        return _unlike(knob.default, value)
    fragment = knob.fragments[0]
    if isinstance(fragment, ListOf) and type(value) not in (list, tuple):
        problem = _fragment_problem(fragment.inner, value)  # Helion repeats a scalar for every item
        return None if problem is None else f"{problem}, or a list of {fragment.length} of them"
    return _fragment_problem(fragment, value)


def _fragment_problem(fragment: ConfigSpecFragment, value: Any) -> str | None:
    if isinstance(fragment, BlockSizeFragment):
        return None if type(value) is int and value >= 1 else "a positive int (a block size)"
    if isinstance(fragment, BaseIntegerFragment):
        pow2 = isinstance(fragment, PowerOfTwoFragment)
        want = f"{'a power of two' if pow2 else 'an int'} from {fragment.low} to {fragment.high}"
        ok = type(value) is int and fragment.low <= value <= fragment.high and not (pow2 and value & (value - 1))
        return None if ok else want
    if isinstance(fragment, EnumFragment):
        ok = any(type(choice) is type(value) and choice == value for choice in fragment.choices)
        return None if ok else f"one of {', '.join(map(repr, fragment.choices))}"
    if isinstance(fragment, BooleanFragment):
        return None if type(value) is bool else "True or False"
    if isinstance(fragment, PermutationFragment):
        ok = type(value) in (list, tuple) and all(type(v) is int for v in value)
        ok = ok and sorted(value) == list(range(fragment.length))
        return None if ok else f"a permutation of {list(range(fragment.length))}"
    if isinstance(fragment, ListOf):
        if type(value) not in (list, tuple) or len(value) != fragment.length:
            return f"a list of {fragment.length}"
        problems = [p for p in (_fragment_problem(fragment.inner, v) for v in value) if p is not None]
        return f"a list of {fragment.length}, each {problems[0]}" if problems else None
    return _unlike(fragment.default(), value)  # a fragment this check does not know: its type only


def _unlike(default: Any, value: Any) -> str | None:
    """Type (and, for lists, length) like Helion's default; ``None`` when it is."""
    if default is None or default is ...:
        return None if value is None or type(value) in (bool, int, float, str) else "a number, string or None"
    if type(default) in (list, tuple):
        if type(value) not in (list, tuple) or len(value) != len(default):
            return f"a list of {len(default)}, like the default {default!r}"
        problems = [p for p in map(_unlike, default, value) if p is not None]
        return problems[0] if problems else None
    if type(value) is not type(default):
        return f"a {type(default).__name__}, like the default {default!r}"
    return None
