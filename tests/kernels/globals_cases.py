"""Plain functions (and one Helion kernel) reading globals of every kind: cases for kernelbench.core.globals."""

from __future__ import annotations

import enum
import functools
import threading
from json import JSONEncoder
from math import sqrt

import helion
import helion.language as hl
import numpy as np
import torch

SCALE = 2.0
SIZES = (16, 32)
NAMES = ["a", "b"]
NOT_A_NUMBER = float("nan")
DT = torch.float16
OFFSET = 3
LOCK = threading.Lock()
n = 10  # shadowed by a local in `shadows`
ENCODE = JSONEncoder.encode  # importable as json.encoder.JSONEncoder.encode (a dotted qualname)


class Colour(enum.IntEnum):
    RED = 1


RED = Colour.RED  # an int subclass with its own repr: not a constant


def uses_np_alias(x):
    return np.asarray(x) * SCALE


def uses_dtype(x):
    return torch.zeros(2, dtype=DT) + x


def uses_tuple_and_list():
    return SIZES[0] + len(NAMES) + (0 if NOT_A_NUMBER == NOT_A_NUMBER else 1)


def uses_sqrt(v):
    return sqrt(v)


def uses_dotted_importable():
    return ENCODE(JSONEncoder(), [1])


def _inner(v):
    return v + OFFSET


def _outer(v):
    return _inner(v) * 2


def uses_nested(v):
    return _outer(v)


def shadows(x):
    n = 3
    total = [i for i in range(n)]
    return x + n + len(total) + max(total)


def uses_lock():
    with LOCK:
        return 1


def uses_int_enum():
    return RED + 1


def _wrap(f):
    @functools.wraps(f)
    def wrapper(*args):
        return f(*args)

    return wrapper


@_wrap
def _decorated(v):
    return v + 1


def uses_decorated(v):
    return _decorated(v)


def _make_closure():
    k = 2

    def closure_helper(v):
        return v * k

    return closure_helper


closure_helper = _make_closure()


def uses_closure(v):
    return closure_helper(v)


@helion.kernel
def add_offset(x: torch.Tensor) -> torch.Tensor:
    """A real Helion kernel calling a helper that calls a helper reading a constant."""
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = _outer(x[tile])
    return out


def calls_kernel(x):
    return add_offset(x)
