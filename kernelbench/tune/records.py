"""What a sweep is and what it measured, one candidate at a time (plain data: no tables, no charts)."""

from __future__ import annotations

import dataclasses
from typing import Any

import helion

from kernelbench.core.evaluate import STATUSES, Outcome, Phase, Status

__all__ = ["STATUSES", "STATUS_COLOURS", "Candidate", "SweepInfo", "screened_note", "skipped_note"]

STATUS_COLOURS = {
    "ok": "#1f77b4",
    "wrong": "#d62728",
    "slow": "#9ecae1",  # measured, then cut short: over 3x the best so far (interpreter sweeps)
    "compile_error": "#7f7f7f",
    "runtime_error": "#ff7f0e",
    "timeout": "#9467bd",
    "screened": "#bcbd22",  # rejected before timing: cannot launch on the GPU target, or spills
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
    #: Registers, spills, shared memory, occupancy on the sweep's GPU target (``kernelbench.core.lowering``),
    #: or ``{"target", "error"}`` when it does not compile for it; ``None`` when the sweep has no target.
    resources: dict[str, Any] | None = None

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
    #: Helion's default config's knobs (what a view names a candidate's knobs against).
    default: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: The most candidates the sweep can try: the budget, or fewer when the space (a grid) is smaller;
    #: None with a time limit only.
    planned: int | None = None
    #: What the sweep leaves out of the space and why ('' if nothing): the interpreter's tile limit.
    narrowed: str = ""
    #: The GPU target candidates' resources are recorded for ('' if none) and the screen applied
    #: before timing (False, True: cannot launch, "spills": also spilling).
    gpu_target: str = ""
    screen: bool | str = False


def skipped_note(info: SweepInfo) -> str:
    """Says which configs a sweep leaves out, if any ('' if none): those whose compile ran past the
    limit before, and the interpreter's narrowing (:attr:`SweepInfo.narrowed`)."""
    notes = [info.narrowed] if info.narrowed else []
    if info.skipped:
        notes.append(f"{info.skipped} config(s) skipped: their compile ran past settings.compile_timeout_s "
                     "before (raise it to try them again)")
    if info.screen:
        what = "cannot launch or spill" if info.screen == "spills" else "cannot launch"
        notes.append(f"screening for {info.gpu_target}: configs that {what} there are not timed (status screened)")
    return "; ".join(notes)


def screened_note(candidates: list[Candidate]) -> str:
    """How many candidates the screen rejected so far ('' if none)."""
    n = sum(c.status == "screened" for c in candidates)
    return f"{n} screened" if n else ""


