"""Each way to fool ``check`` (issue 13 §2) against a real Helion kernel: it must fail, and say why."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

import kernelbench
from kernelbench import CheckError
from kernelbench.core.check import compare, fresh_inputs, poisoned
from kernelbench.core.evaluate import Problem, evaluate

from .kernels import basic, cheats

DEV = kernelbench.DEVICE


def _gen(seed: int) -> torch.Generator:
    return torch.Generator(device=DEV).manual_seed(seed)


def test_fresh_trials_draw_new_integers_in_range() -> None:
    x = torch.randn(64, device=DEV)
    idx = torch.arange(64, device=DEV).flip(0)  # the kernel memorised "reverse"
    report = cheats.memorised_gather.check(lambda t, i: t[i], x, idx, trials=3)
    assert report.trials[0].passed and not report
    assert cheats.gather.check(lambda t, i: t[i], x, idx, trials=3)
    # Random indices keep their range and dtype; bools are redrawn.
    r = torch.randint(3, 9, (200,), dtype=torch.int32)
    b = torch.zeros(200, dtype=torch.bool)
    fr, fb = fresh_inputs((r, b), seed=1)
    assert fr.dtype == torch.int32 and int(fr.min()) == 3 and int(fr.max()) == 8 and not torch.equal(fr, r)
    assert fb.dtype == torch.bool and fb.any()
    # Offsets stay sorted with the same ends.
    (o,) = fresh_inputs((torch.tensor([0, 3, 3, 9, 12, 20]),), seed=2)
    assert o[0] == 0 and o[-1] == 20 and bool((o[1:] >= o[:-1]).all())
    # inputs= still wins.
    assert cheats.memorised_gather.check(lambda t, i: t[i], inputs=lambda s: (x, idx), trials=1)


def test_one_nan_input_does_not_make_fresh_inputs_all_nan() -> None:
    x = torch.randn(16, 16, device=DEV)
    x[3, 5] = float("nan")
    (y,) = fresh_inputs((x,), seed=1)
    assert torch.isnan(y[3, 5]) and int(torch.isnan(y).sum()) == 1
    assert y[~torch.isnan(y)].std() > 0.5
    report = cheats.garbage_plus_zero_x.check(lambda t: t * 2, x, trials=3)
    assert not any(t.passed for t in report.trials)


def test_expanded_arguments_stay_expanded() -> None:
    x = torch.randn(16, 24, device=DEV)
    scale = torch.randn(24, device=DEV).expand(16, 24)
    _, fs = fresh_inputs((x, scale), seed=4)
    assert fs.stride() == (0, 1) and not torch.equal(fs, scale)
    assert torch.equal(fs[0], fs[7])
    assert cheats.mul.check(lambda a, b: a * b, x, scale, trials=3)


def test_kernel_writing_its_input_fails_and_leaves_the_callers_tensor_alone() -> None:
    x = torch.randn(16, 16, device=DEV)
    before = x.clone()
    report = cheats.relu_in_place.check(torch.relu, x, trials=2)
    assert not report and torch.equal(x, before)
    assert report.trials[0].outputs[0].passed and report.trials[0].wrote_inputs == [0]
    assert "wrote its input argument 0" in repr(report) and "wrote its input argument 0" in report._repr_html_()
    # A reference that writes its input too: the kernel may.
    assert cheats.relu_in_place.check(lambda t: t.relu_(), x, trials=2)
    assert torch.equal(x, before)


def test_evaluate_runs_candidates_on_copies_and_flags_input_writes() -> None:
    x = torch.randn(16, 16, device=DEV)
    before = x.clone()
    fn = cheats.relu_in_place.compiled(x)
    problem = Problem("relu_in_place", (x,), [((x,), [torch.relu(x.double())])], [torch.relu(x)])
    outcome = evaluate(lambda: fn, problem)
    assert outcome.status == "wrong" and "wrote its input argument 0" in (outcome.error or "")
    assert torch.equal(x, before)
    problem.mutates = (0,)
    assert evaluate(lambda: fn, problem).status == "ok"
    assert torch.equal(x, before)


def test_inputs_returning_the_same_tensors_warn() -> None:
    x = torch.randn(8, 8, device=DEV)

    def gelu(t: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.gelu(t, approximate="tanh")

    with pytest.warns(RuntimeWarning, match="not independent"):
        basic.gelu_tanh.check(gelu, inputs=lambda seed: (x,), trials=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # A bare tensor is one argument, not a tuple of rows.
        report = basic.gelu_tanh.check(gelu, inputs=lambda s: torch.randn(8, 8, device=DEV, generator=_gen(s)),
                                       trials=2)
    assert report and report.trials[0].outputs[0].shape == (8, 8)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # numpy, in the interpreter
def test_computed_nan_is_not_unwritten() -> None:
    x = torch.randn(8, 8, device=DEV)
    report = cheats.zeros_then_nan.check(lambda t: t * 1, x, trials=1)
    out = report.trials[0].outputs[0]
    assert not report and out.unwritten == 0 and out.computed_nan == 64
    assert "computed_nan=64" in repr(report)
    # The poison is a distinctive NaN: only elements still holding it count as unwritten.
    unwritten = basic.half_written.check(lambda t: t.clone(), x, trials=1).trials[0].outputs[0]
    assert unwritten.unwritten == 32 and unwritten.computed_nan == 0
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        with poisoned():
            p = torch.empty(4, dtype=dtype)
        c = compare(torch.cat([p[:2], torch.full((2,), float("nan"), dtype=dtype)]), torch.zeros(4))
        assert (c.unwritten, c.computed_nan) == (2, 2), dtype


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_error_statistics_say_what_they_cover() -> None:
    x = torch.randn(32, 32, device=DEV, generator=_gen(0))
    report = cheats.log.check(lambda t: torch.log(t.abs()), x, trials=1)
    out = report.trials[0].outputs[0]
    n_finite = int((x > 0).sum())
    assert not report and out.finite == n_finite and out.max_abs_err < 1e-5
    text = f"over {n_finite} of 1024 elements (both finite)"
    assert text in repr(report) and text in report._repr_html_()


def test_loose_tolerances_are_shown_and_warn(tmp_path: Path) -> None:
    x = torch.randn(8, 8, device=DEV)
    with pytest.warns(RuntimeWarning, match="rtol=1e\\+300 is over 10x the default for float32"):
        report = cheats.off_by_one.check(lambda t: t, x, trials=1, rtol=1e300, atol=1e300)
    assert report and "rtol=1e+300 atol=1e+300" in repr(report)
    assert "rtol=0.002 atol=0.005" in repr(basic.add.check(lambda a, b: a + b, x, x, trials=1))
    path = cheats.off_by_one.save_case(tmp_path / "loose.safetensors", x, ref=lambda t: t, rtol=1e300, atol=1e300)
    with pytest.warns(RuntimeWarning, match="atol=1e\\+300"):
        assert cheats.off_by_one.check(case=path)


def test_bad_tolerances_are_refused_before_anything_runs() -> None:
    calls: list[int] = []

    def ref(t: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        return t + 1

    x = torch.randn(4, 4, device=DEV)
    with pytest.raises(CheckError, match=r"^rtol=-1 is not a tolerance"):
        cheats.off_by_one.check(ref, x, rtol=-1)
    with pytest.raises(CheckError, match=r"^atol=nan is not a tolerance"):
        cheats.off_by_one.check(ref, x, atol=float("nan"))
    assert calls == []
