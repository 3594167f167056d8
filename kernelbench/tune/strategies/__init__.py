"""Search strategies, one module each, behind a registry (as Helion's ``search_algorithms``).

A strategy proposes the next config from what has been measured so far; the sweep engine compiles,
checks and times it; ``helion`` runs Helion's own search, each config it benchmarks going through
our engine. ``auto`` picks ``grid`` when ``fixed`` lists a small explicit space and
``pattern`` otherwise.
"""

from __future__ import annotations

from kernelbench.tune.strategies._base import Strategy
from kernelbench.tune.strategies.grid import GridStrategy
from kernelbench.tune.strategies.helion import HelionStrategy
from kernelbench.tune.strategies.pattern import PatternStrategy
from kernelbench.tune.strategies.random import RandomStrategy

__all__ = ["STRATEGIES", "Strategy", "resolve"]

STRATEGIES: dict[str, type[Strategy]] = {
    "random": RandomStrategy,
    "pattern": PatternStrategy,
    "grid": GridStrategy,
    "helion": HelionStrategy,
}


def resolve(name: str, *, has_choices: bool, grid_size: int) -> type[Strategy]:
    """The strategy class for ``name``; ``auto`` chooses as the module docstring says."""
    if name == "auto":
        return GridStrategy if has_choices and grid_size <= 64 else PatternStrategy
    try:
        return STRATEGIES[name]
    except KeyError:
        from kernelbench._errors import SweepError

        raise SweepError(f"unknown strategy {name!r}; choose one of {sorted(STRATEGIES)} or 'auto'") from None
