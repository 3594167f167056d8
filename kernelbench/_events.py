"""Events a sweep emits. Observers (dashboard, progress line, run store) are plain callables."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    import helion

    from ._result import Candidate, SweepInfo, SweepResult

__all__ = ["CandidateFinished", "CandidateStarted", "Event", "Observer", "SweepFinished", "SweepStarted"]


@dataclasses.dataclass
class SweepStarted:
    info: SweepInfo


@dataclasses.dataclass
class CandidateStarted:
    index: int
    config: helion.Config


@dataclasses.dataclass
class CandidateFinished:
    candidate: Candidate
    best: Candidate | None
    done: int
    elapsed_s: float


@dataclasses.dataclass
class SweepFinished:
    result: SweepResult


Event = Union[SweepStarted, CandidateStarted, CandidateFinished, SweepFinished]
Observer = Callable[[Any], None]
