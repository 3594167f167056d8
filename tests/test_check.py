"""check() must not be fooled: poisoned outputs, fresh inputs, dtype-aware tolerances."""

from __future__ import annotations

import pytest
import torch

import kernelbench
from kernelbench import CheckError
from kernelbench.core.check import compare, default_tolerance, fresh_inputs, poisoned

from .kernels import basic

DEV = kernelbench.DEVICE


def test_correct_kernel_passes_with_fresh_inputs_each_trial() -> None:
    seen: list[torch.Tensor] = []

    def ref(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        seen.append(a.clone())
        return a + b

    x = torch.randn(16, 24, device=DEV)
    report = basic.add.check(ref, x, x, trials=3)
    assert report and bool(report) is True
    assert [t.inputs for t in report.trials] == ["given", "random(seed=1)", "random(seed=2)"]
    # Each trial's reference ran on different data (twice a trial: float64 and as given).
    assert not torch.equal(seen[0].float(), seen[2].float())
    assert report.trials[0].reference_precision == "float64"


def test_unwritten_tail_is_caught_by_poison() -> None:
    x = torch.randn(16, 16, device=DEV)
    report = basic.half_written.check(lambda t: t.clone(), x, trials=1)
    assert not report
    out = report.trials[0].outputs[0]
    assert out.unwritten == 8 * 16 and out.mismatch_fraction == pytest.approx(0.5)
    assert "MISMATCH" in repr(report) and "first mismatches" in repr(report)
    assert "mismatch" in report._repr_html_()


def test_poison_fills_empty_factories_only() -> None:
    with poisoned():
        a = torch.empty(4)
        b = torch.empty_like(a)
        c = torch.zeros(4)
        d = torch.empty(3, dtype=torch.int32)
    assert torch.isnan(a).all() and torch.isnan(b).all()
    assert (c == 0).all() and (d == torch.iinfo(torch.int32).max).all()


def test_tolerance_rejects_one_percent_error_on_fp32_elementwise() -> None:
    ref = torch.randn(256, 256, dtype=torch.float64)
    out = (ref * 1.01).float()
    assert not compare(out, ref).passed


def test_tolerance_rejects_all_zeros_softmax() -> None:
    ref = torch.softmax(torch.randn(64, 1024, dtype=torch.float64), -1)
    assert not compare(torch.zeros(64, 1024), ref).passed


def test_tolerance_passes_fp32_reduction_and_tf32_like_matmul_error() -> None:
    x = torch.randn(64, 4096)
    ref = torch.softmax(x.double(), -1)
    assert compare(torch.softmax(x, -1), ref).passed
    # tf32 keeps 10 mantissa bits: round the operands that way and accumulate in fp32.
    a, b = torch.randn(256, 4096), torch.randn(4096, 256)

    def tf32(t: torch.Tensor) -> torch.Tensor:
        return (t.view(torch.int32) & ~0x1FFF).view(torch.float32)

    out = tf32(a) @ tf32(b)
    check = compare(out, a.double() @ b.double())
    assert check.passed, check
    assert 1e-4 < check.rel_l2 < 1e-3


def test_bf16_default_tolerance_is_looser() -> None:
    assert default_tolerance(torch.bfloat16)[0] > default_tolerance(torch.float32)[0]
    assert default_tolerance(torch.int32) == (0.0, 0.0)


def test_tuple_outputs_compared_each() -> None:
    x = torch.randn(8, 8, device=DEV)
    assert basic.split.check(lambda t: (t * 2, t - 1), x, trials=2)
    report = basic.split.check(lambda t: (t * 2, t + 1), x, trials=1)
    assert not report and report.trials[0].outputs[0].passed and not report.trials[0].outputs[1].passed


def test_structure_mismatches_are_clear_errors() -> None:
    x = torch.randn(8, 8, device=DEV)
    with pytest.raises(CheckError, match="returned 2 output"):
        basic.split.check(lambda t: t * 2, x)
    with pytest.raises(CheckError, match=r"shape \(8, 8\).*\(8,\)"):
        basic.gelu_tanh.check(lambda t: t.sum(0), x)
    with pytest.raises(CheckError, match="float32 but the reference returned torch.float16"):
        basic.gelu_tanh.check(lambda t: t.half(), x)


def test_reference_that_raises_is_a_clear_error() -> None:
    x = torch.randn(8, 8, device=DEV)

    def bad_ref(t: torch.Tensor) -> torch.Tensor:
        raise ValueError("boom")

    with pytest.raises(CheckError, match="reference raised ValueError: boom"):
        basic.gelu_tanh.check(bad_ref, x)


def test_inputs_function_is_used_per_trial() -> None:
    seeds: list[int] = []

    def inputs(seed: int) -> tuple[torch.Tensor]:
        seeds.append(seed)
        return (torch.randn(4, 4, device=DEV, generator=torch.Generator(device=DEV).manual_seed(seed)),)

    assert basic.gelu_tanh.check(
        lambda t: torch.nn.functional.gelu(t, approximate="tanh"), inputs=inputs, trials=3, seed=10
    )
    assert seeds == [10, 11, 12]


def test_fresh_inputs_keep_layout_and_domain() -> None:
    x = torch.rand(6, 4).t()  # non-contiguous, non-negative
    (y,) = fresh_inputs((x,), seed=3)
    assert y.stride() == x.stride() and y.dtype == x.dtype and (y >= 0).all()
    assert not torch.equal(x, y)
    (i,) = fresh_inputs((torch.arange(4),), seed=3)
    assert torch.equal(i, torch.arange(4))


def test_report_says_atol_scales_with_the_reference_and_keeps_figures() -> None:
    x = torch.randn(64, 64, device=DEV, dtype=torch.bfloat16)
    report = basic.half_written.check(lambda t: t.clone(), x, trials=1)
    out = report.trials[0].outputs[0]
    assert out.ref_rms == pytest.approx(x.double().pow(2).mean().sqrt().item(), rel=1e-3)
    page = report._repr_html_()
    assert "tolerance (atol × rms(ref))" in page and f"× rms(ref) {out.ref_rms:.3g}" in page
    # The output cell (dtype and shape) never wraps.
    assert "white-space:nowrap\">0: bfloat16[64, 64]</td>" in page
    assert f"x rms(ref)={out.ref_rms:.3g}" in repr(report)
    # A tiny mismatched fraction keeps its figures instead of rounding to 0.00%.
    from kernelbench.core.check import compare, percent

    assert percent(1 / 40000) == "0.0025%" and percent(0.5) == "50%"
    ref = torch.randn(100, 100, dtype=torch.float64)
    one_off = ref.clone()
    one_off[0, 0] += 10
    assert compare(one_off.float(), ref).mismatch_fraction == pytest.approx(1e-4)
