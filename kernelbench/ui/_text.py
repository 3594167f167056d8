"""Words and numbers the views share: significant figures, knob values, how a run ended.

Plain strings only (no widget import), so the text progress line and the dashboards say the same.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["ALWAYS_SHOWN", "ended_text", "finished", "knob_diff", "knob_value", "knobs_text", "sig"]

#: Knobs a reader always wants to see in a table (the rest only when they vary).
ALWAYS_SHOWN = ("block_sizes", "num_warps")


def sig(value: float | None, digits: int = 3) -> str:
    """``value`` to ``digits`` significant figures, never ``0.0`` for a small positive number
    (``0.000123``, ``1.23e-07``, ``12.3``; whole numbers stay whole: ``12345``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    magnitude = math.floor(math.log10(abs(value)))
    if abs(round(value, digits - 1 - magnitude)) >= 10 ** (magnitude + 1):
        magnitude += 1  # 0.99999 rounds up to 1.00
    if -5 <= magnitude < 6:
        decimals = max(0, digits - 1 - magnitude)
        return f"{round(value, decimals):.{decimals}f}"
    return f"{value:.{digits - 1}e}"


def knob_value(value: Any) -> str:
    """A knob's value as compact text, whole (``[32, 64]``, ``'pointer'``, ``4``, ``[None]``)."""
    return repr(_norm(value))


def knob_diff(config: Mapping[str, Any], default: Mapping[str, Any]) -> dict[str, Any]:
    """The knobs of ``config`` whose value differs from ``default`` (all of them without a default)."""
    return {k: v for k, v in sorted(config.items()) if k not in default or _norm(default[k]) != _norm(v)}


def _norm(value: Any) -> Any:
    return [_norm(v) for v in value] if isinstance(value, (list, tuple)) else value


def knobs_text(config: Mapping[str, Any], default: Mapping[str, Any]) -> str:
    """``block_sizes=[16, 64], num_warps=2`` (the knobs off the default), or ``the default config``."""
    diff = knob_diff(config, default)
    if not diff:
        return "the default config"
    return ", ".join(f"{k}={knob_value(v)}" for k, v in diff.items())


# How a sweep ended (SweepResult.stopped) and how a bench ended (BenchReport.stopped), in words.
_ENDED = {
    "budget": "finished: budget used",
    "time_limit": "finished: time limit reached",
    "exhausted": "finished: every config tried",
    "done": "finished",
    "stop": "stopped (Stop pressed)",
    "interrupt": "interrupted (kernel interrupt)",
    "error": "failed",
}


def ended_text(stopped: str) -> str:
    """``"finished: budget used"``, ``"stopped (Stop pressed)"``, ``"interrupted (kernel interrupt)"`` ..."""
    return _ENDED.get(stopped, f"ended ({stopped})")


def finished(stopped: str) -> bool:
    """The run went to its planned end (not stopped, interrupted or failed)."""
    return stopped in ("budget", "time_limit", "exhausted", "done")
