"""An expanded (stride-0) argument, as Helion's fp8_matmul passes ``scale.reshape(m, 1).expand(m, n)``:
check's fresh trials and tune (in this process and in a worker) keep it expanded and run."""

from __future__ import annotations

import torch

import kernelbench
from kernelbench.core.check import fresh_inputs

from .kernels.expanded import scaled_rows

DEV = kernelbench.DEVICE


def _args() -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(16, 32, device=DEV)
    scale = torch.rand(16, device=DEV).reshape(16, 1).expand(16, 32)  # strides (1, 0)
    return x, scale


def _ref(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * scale


def test_fresh_inputs_keep_the_expansion() -> None:
    x, scale = _args()
    fresh = fresh_inputs((x, scale), seed=3)[1]
    assert fresh.shape == scale.shape and fresh.stride() == scale.stride() == (1, 0)
    assert not torch.equal(fresh, scale)


def test_check_runs_every_trial_on_an_expanded_argument() -> None:
    report = scaled_rows.check(_ref, *_args(), trials=3)
    assert report.passed and len(report.trials) == 3, repr(report)


def test_tune_in_process_and_isolated_on_an_expanded_argument() -> None:
    x, scale = _args()
    for isolate in (False, True):
        result = scaled_rows.tune(x, scale, ref=_ref, budget=2, strategy="random", seed=0, live=False,
                                  store=False, isolate=isolate)
        statuses = [c.status for c in result.candidates]
        # every candidate ran and was checked ("slow": cut short by the interpreter's speed cutoff)
        assert "ok" in statuses and set(statuses) <= {"ok", "slow"}, (isolate, [c.error for c in result.candidates])
