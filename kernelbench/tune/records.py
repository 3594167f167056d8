"""What a sweep is and what it measured, one candidate at a time (plain data: no tables, no charts)."""

from __future__ import annotations

import dataclasses
from typing import Any

import helion

from kernelbench.core.evaluate import STATUSES, Outcome, Phase, Status

__all__ = ["STATUSES", "STATUS_COLOURS", "Candidate", "SweepInfo", "skipped_note"]

STATUS_COLOURS = {
    "ok": "#1f77b4",
    "wrong": "#d62728",
    "compile_error": "#7f7f7f",
    "runtime_error": "#ff7f0e",
    "timeout": "#9467bd",
}


@dataclasses.dataclass
class Candidate:
    """One config tried: its status, latency and how far its outputs were from the reference."""

    index: int
    config: helion.Config
    status: Status
    ms: float | None = None
    compile_s: float = 0.0
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    rel_l2: float | None = None
    error: str | None = None
    finished_s: float = 0.0  # seconds since the sweep started
    timed_out: Phase | None = None  # for a timeout: the phase that ran past its limit

    @classmethod
    def from_outcome(cls, index: int, config: helion.Config, outcome: Outcome) -> Candidate:
        return cls(index, config, outcome.status, ms=outcome.ms, compile_s=outcome.compile_s,
                   max_abs_err=outcome.max_abs_err, max_rel_err=outcome.max_rel_err, rel_l2=outcome.rel_l2,
                   error=outcome.error, timed_out=outcome.timed_out)

    @property
    def compile_timed_out(self) -> bool:
        """Its compile ran past ``settings.compile_timeout_s`` (a later sweep skips it)."""
        return self.status == "timeout" and self.timed_out == "compile"

    @property
    def correct(self) -> bool:
        return self.status == "ok"


@dataclasses.dataclass
class SweepInfo:
    """What a sweep is: shown in the dashboard's header and stored with the run."""

    kernel: str
    device: str
    mode: str
    strategy: str
    knobs: list[str]
    space: str
    space_size: int | None
    budget: int | None
    time_limit: float | None
    timer: str
    seed: int | None
    bytes: int | None
    bytes_label: str
    flops: float | None
    ref_ms: float | None
    signature: tuple[Any, ...] = ()
    source_hash: str = ""
    interpreter: bool = False
    skipped: int = 0  # configs not tried: their compile ran past the limit in an earlier sweep


def skipped_note(info: SweepInfo) -> str:
    """Says which configs a sweep leaves out, if any ('' if none)."""
    if not info.skipped:
        return ""
    return (f"{info.skipped} config(s) skipped: their compile ran past settings.compile_timeout_s "
            "before (raise it to try them again)")


