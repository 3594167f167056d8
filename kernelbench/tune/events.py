"""Events a sweep emits. Observers (dashboard, progress line, run store) are plain callables."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    import helion

    from kernelbench.tune.records import Candidate, SweepInfo
    from kernelbench.tune.result import SweepResult

__all__ = ["CandidateFinished", "CandidateStarted", "Event", "Observer", "SweepFinished", "SweepStarted", "emit"]


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
    """Follows every :class:`SweepStarted`, however the sweep ended: one that raises emits it first,
    with ``result.stopped == "error"`` and ``result.error`` the message, so no record is left open."""

    result: SweepResult


Event = Union[SweepStarted, CandidateStarted, CandidateFinished, SweepFinished]
Observer = Callable[[Any], None]


def emit(observers: Sequence[Observer], event: Any) -> None:
    """Tell every observer; one that fails is warned about, never allowed to lose measurements."""
    for observer in observers:
        try:
            observer(event)
        except KeyboardInterrupt:
            raise
        except Exception as error:  # noqa: BLE001 - a display bug must not lose measurements
            warnings.warn(f"kernelbench observer {observer!r} failed on {type(event).__name__}: {error}",
                          RuntimeWarning, stacklevel=3)
