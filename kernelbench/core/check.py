"""Correctness checking that cannot be fooled: poisoned outputs, fresh inputs, float64 references.

Default tolerances (by output dtype; ``atol`` is relative to the reference's RMS, so it has the units
of the output): an element passes when ``|out - ref| <= atol * rms(ref) + rtol * |ref|`` and every
element must pass; NaN must sit exactly where the reference has NaN.

============  =======  =======  =============================================================
dtype         rtol     atol     why
============  =======  =======  =============================================================
float64       1e-7     1e-7     reassociation only
float32       2e-3     5e-3     passes fp32 reductions and a tf32 matmul (~6 sigma of tf32 error
                                at any K); rejects a 1e-2 relative error on elementwise work
float16       5e-3     5e-3     ~10 ulp of fp16 output rounding
bfloat16      1.6e-2   1.6e-2   ~2 ulp of bf16 output rounding (inputs are exact in the reference)
float8        0.125    0.125    one step of e4m3
integer/bool  0        0        exact
============  =======  =======  =============================================================

An all-zeros output of softmax fails (its error is the reference itself, far above ``rtol * |ref|``).
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from kernelbench._errors import CheckError

__all__ = [
    "CheckReport",
    "OutputCheck",
    "check_kernel",
    "check_outputs",
    "TrialCheck",
    "compare",
    "default_tolerance",
    "flatten_outputs",
    "fresh_inputs",
    "native_reference",
    "poisoned",
    "reference",
]

_TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.float64: (1e-7, 1e-7),
    torch.float32: (2e-3, 5e-3),
    torch.float16: (5e-3, 5e-3),
    torch.bfloat16: (1.6e-2, 1.6e-2),
    torch.float8_e4m3fn: (0.125, 0.125),
    torch.float8_e5m2: (0.25, 0.25),
}


def default_tolerance(dtype: torch.dtype) -> tuple[float, float]:
    """``(rtol, atol)`` used for an output of ``dtype`` when the user gives none."""
    if dtype in _TOLERANCES:
        return _TOLERANCES[dtype]
    if dtype.is_floating_point or dtype.is_complex:
        return _TOLERANCES[torch.float32]
    return (0.0, 0.0)


# --------------------------------------------------------------------------------------------------
# Poisoned outputs


_EMPTY_FACTORIES = {
    torch.empty,
    torch.empty_like,
    torch.empty_strided,
    torch.Tensor.new_empty,
    torch.Tensor.new_empty_strided,
}


def _poison_(t: torch.Tensor) -> None:
    if t.dtype.is_floating_point or t.dtype.is_complex:
        t.fill_(float("nan"))
    elif t.dtype == torch.bool:
        t.fill_(True)
    else:
        t.fill_(torch.iinfo(t.dtype).max)


class poisoned(TorchFunctionMode):
    """While active, every tensor made by an ``empty*`` factory starts as NaN (ints: their max).

    Kernels allocate outputs with ``torch.empty*``; an element the kernel never writes then stays
    NaN and fails the comparison, instead of passing on whatever memory happened to hold.
    """

    def __torch_function__(
        self, func: Callable[..., Any], types: Any, args: Sequence[Any] = (), kwargs: dict | None = None
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        if func in _EMPTY_FACTORIES and isinstance(out, torch.Tensor):
            _poison_(out)
        return out


# --------------------------------------------------------------------------------------------------
# Inputs and references


def fresh_inputs(args: Sequence[Any], seed: int) -> tuple[Any, ...]:
    """New random floating-point tensors shaped like ``args`` (same dtype, device, strides).

    Values follow the given tensor's mean and spread (non-negative if it is), so a kernel that needs
    positive inputs still gets them. Non-float arguments are reused as they are.
    """
    out: list[Any] = []
    for i, arg in enumerate(args):
        if isinstance(arg, torch.Tensor) and arg.dtype.is_floating_point and arg.numel() > 0:
            g = torch.Generator(device="cpu").manual_seed(seed * 1000 + i)
            stats = arg.detach().float()
            mean, std = stats.mean().item(), stats.std().item() if arg.numel() > 1 else 1.0
            if not math.isfinite(std) or std == 0.0:
                std = 1.0
            values = torch.randn(arg.shape, generator=g, dtype=torch.float32) * std + mean
            if stats.min().item() >= 0:
                values = values.abs()
            fresh = torch.empty_strided(arg.shape, arg.stride(), dtype=arg.dtype, device=arg.device)
            fresh.copy_(values.to(arg.device))
            out.append(fresh)
        else:
            out.append(arg)
    return tuple(out)


def flatten_outputs(value: Any, who: str) -> list[torch.Tensor]:
    """A kernel's or reference's result as a list of tensors (tuples and lists allowed)."""
    items = list(value) if isinstance(value, (tuple, list)) else [value]
    for i, item in enumerate(items):
        if not isinstance(item, torch.Tensor):
            raise CheckError(
                f"{who} returned {type(item).__name__} at output {i}; it must return a tensor or a "
                "tuple of tensors"
            )
    return items


def _upcast(args: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(
        a.double() if isinstance(a, torch.Tensor) and a.dtype.is_floating_point else a for a in args
    )


def native_reference(ref: Callable[..., Any], args: Sequence[Any]) -> list[torch.Tensor]:
    """The reference's outputs on the arguments as given (their dtypes are the contract)."""
    try:
        with torch.no_grad():
            return flatten_outputs(ref(*args), "the reference")
    except CheckError:
        raise
    except Exception as error:
        raise CheckError(
            f"the reference raised {type(error).__name__}: {error}. It is called with the kernel's "
            "arguments; fix it or pass another reference"
        ) from None


def reference(ref: Callable[..., Any], args: Sequence[Any]) -> tuple[list[torch.Tensor], str]:
    """The reference's outputs computed in float64 where it can be; also says which precision."""
    if any(isinstance(a, torch.Tensor) and a.dtype.is_floating_point for a in args):
        try:
            with torch.no_grad():
                return flatten_outputs(ref(*_upcast(args)), "the reference"), "float64"
        except CheckError:
            raise
        except Exception:  # noqa: BLE001 - ops without float64 support fall back to the inputs' dtype
            pass
    return native_reference(ref, args), "native"


# --------------------------------------------------------------------------------------------------
# Comparison


@dataclasses.dataclass
class OutputCheck:
    """How one output of one trial compared with the reference."""

    index: int
    shape: tuple[int, ...]
    dtype: str
    rtol: float
    atol: float
    max_abs_err: float
    max_rel_err: float
    mismatch_fraction: float
    rel_l2: float
    unwritten: int  # NaN in the output where the reference has a number (poison left in place)
    passed: bool
    first_mismatches: list[tuple[tuple[int, ...], float, float]]


def compare(
    out: torch.Tensor, ref: torch.Tensor, *, index: int = 0, rtol: float | None = None, atol: float | None = None
) -> OutputCheck:
    """Compare one output with its (float64) reference using the rules in this module's docstring."""
    d_rtol, d_atol = default_tolerance(out.dtype)
    rtol = d_rtol if rtol is None else rtol
    atol = d_atol if atol is None else atol
    # On the output's device: float64 there is fast enough, and copying 4096^2 to the host is not.
    o = out.detach().to(torch.float64)
    r = ref.detach().to(o.device, torch.float64)
    o_nan, r_nan = torch.isnan(o), torch.isnan(r)
    both_finite = ~o_nan & ~r_nan
    finite_ref = r[~r_nan & torch.isfinite(r)]
    scale = finite_ref.pow(2).mean().sqrt().item() if finite_ref.numel() else 0.0
    scale = scale if scale > 0 else 1.0
    diff = torch.where(both_finite, (o - r).abs(), torch.zeros_like(o))
    same_inf = both_finite & torch.isinf(r) & (o == r)
    diff = torch.where(same_inf, torch.zeros_like(diff), diff)
    ok = (diff <= atol * scale + rtol * r.abs()) & both_finite | same_inf | (o_nan & r_nan)
    bad = ~ok
    n = max(1, o.numel())
    nonzero = both_finite & (r != 0) & ~same_inf
    rel = diff[nonzero] / r[nonzero].abs()
    ref_norm = torch.linalg.vector_norm(torch.where(both_finite, r, torch.zeros_like(r))).item()
    err_norm = torch.linalg.vector_norm(diff).item()
    unwritten = int((o_nan & ~r_nan).sum())
    first = []
    for idx in bad.nonzero()[:5].tolist():
        first.append((tuple(idx), o[tuple(idx)].item(), r[tuple(idx)].item()))
    n_bad = int(bad.sum())
    return OutputCheck(
        index=index,
        shape=tuple(out.shape),
        dtype=str(out.dtype).removeprefix("torch."),
        rtol=rtol,
        atol=atol,
        max_abs_err=diff.max().item() if diff.numel() else 0.0,
        max_rel_err=rel.max().item() if rel.numel() else 0.0,
        mismatch_fraction=n_bad / n,
        rel_l2=(err_norm / ref_norm) if ref_norm > 0 else err_norm,
        unwritten=unwritten,
        passed=n_bad == 0,
        first_mismatches=first,
    )


def check_outputs(
    outs: Sequence[torch.Tensor],
    refs: Sequence[torch.Tensor],
    *,
    rtol: float | None,
    atol: float | None,
    worst: dict[str, float],
) -> str | None:
    """Compare each output with its reference; fold the largest errors into ``worst`` (keys
    ``max_abs_err``, ``max_rel_err``, ``rel_l2``); return the first failure in one line, or None."""
    failure = None
    for i, (o, r) in enumerate(zip(outs, refs)):
        c = compare(o, r, index=i, rtol=rtol, atol=atol)
        worst["max_abs_err"] = max(worst.get("max_abs_err", 0.0), c.max_abs_err)
        worst["max_rel_err"] = max(worst.get("max_rel_err", 0.0), c.max_rel_err)
        worst["rel_l2"] = max(worst.get("rel_l2", 0.0), c.rel_l2)
        if not c.passed and failure is None:
            failure = (f"output {i}: {c.mismatch_fraction:.2%} mismatched, max abs {c.max_abs_err:.3g}"
                       + (f", {c.unwritten} unwritten" if c.unwritten else ""))
    return failure


def check_structure(outs: list[torch.Tensor], native_refs: list[torch.Tensor], kernel_name: str) -> None:
    """Raise a clear :class:`CheckError` when outputs and reference outputs do not line up."""
    if len(outs) != len(native_refs):
        raise CheckError(
            f"{kernel_name} returned {len(outs)} output(s) but the reference returned "
            f"{len(native_refs)}; make the reference return the same tuple"
        )
    for i, (o, r) in enumerate(zip(outs, native_refs)):
        if tuple(o.shape) != tuple(r.shape):
            raise CheckError(
                f"output {i}: {kernel_name} returned shape {tuple(o.shape)} but the reference returned "
                f"{tuple(r.shape)}; they must agree"
            )
        if o.dtype != r.dtype:
            raise CheckError(
                f"output {i}: {kernel_name} returned {o.dtype} but the reference returned {r.dtype} "
                "for the same inputs; cast one of them so they agree"
            )


# --------------------------------------------------------------------------------------------------
# Reports


@dataclasses.dataclass
class TrialCheck:
    """One trial: the inputs' origin and each output's comparison."""

    trial: int
    inputs: str  # "given", "random(seed=N)" or "inputs(seed=N)"
    reference_precision: str
    outputs: list[OutputCheck]

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outputs)


@dataclasses.dataclass
class CheckReport:
    """Result of :meth:`Kernel.check`. ``bool(report)`` is pass/fail."""

    kernel: str
    config: dict[str, Any]
    trials: list[TrialCheck]

    @property
    def passed(self) -> bool:
        return bool(self.trials) and all(t.passed for t in self.trials)

    def __bool__(self) -> bool:
        return self.passed

    @property
    def max_abs_err(self) -> float:
        return max((o.max_abs_err for t in self.trials for o in t.outputs), default=0.0)

    @property
    def max_rel_err(self) -> float:
        return max((o.max_rel_err for t in self.trials for o in t.outputs), default=0.0)

    @property
    def worst_rel_l2(self) -> float:
        return max((o.rel_l2 for t in self.trials for o in t.outputs), default=0.0)

    def _first_failure(self) -> tuple[TrialCheck, OutputCheck] | None:
        for t in self.trials:
            for o in t.outputs:
                if not o.passed:
                    return t, o
        return None

    def __repr__(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        lines = [f"CheckReport({self.kernel}: {verdict}, {len(self.trials)} trial(s))"]
        for t in self.trials:
            for o in t.outputs:
                lines.append(
                    f"  trial {t.trial} [{t.inputs}] out{o.index} {o.dtype}{list(o.shape)}: "
                    f"{'ok' if o.passed else 'MISMATCH'} max_abs={o.max_abs_err:.3g} "
                    f"max_rel={o.max_rel_err:.3g} mismatched={o.mismatch_fraction:.2%} "
                    f"rel_l2={o.rel_l2:.3g}" + (f" unwritten={o.unwritten}" if o.unwritten else "")
                )
        failure = self._first_failure()
        if failure:
            t, o = failure
            where = ", ".join(f"{list(i)}: got {g:.6g}, want {w:.6g}" for i, g, w in o.first_mismatches)
            lines.append(f"  first mismatches (trial {t.trial}, out{o.index}): {where}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        colour = "#1a7f37" if self.passed else "#cf222e"
        parts = [
            '<div class="kb-check" style="font-family:var(--jp-ui-font-family,sans-serif);font-size:13px">',
            f'<b style="color:{colour}">{verdict}</b> <code>{html.escape(self.kernel)}</code> '
            f"against the reference, {len(self.trials)} trial(s)",
            '<table style="border-collapse:collapse;margin-top:4px"><tr>'
            + "".join(
                f'<th style="text-align:left;padding:2px 8px">{h}</th>'
                for h in ("trial", "inputs", "output", "result", "max abs", "max rel", "mismatched",
                          "‖out−ref‖/‖ref‖", "unwritten", "rtol/atol")
            )
            + "</tr>",
        ]
        for t in self.trials:
            for o in t.outputs:
                ok = "ok" if o.passed else f'<b style="color:{colour}">mismatch</b>'
                cells = (t.trial, html.escape(t.inputs), f"{o.index}: {o.dtype}{list(o.shape)}", ok,
                         f"{o.max_abs_err:.3g}", f"{o.max_rel_err:.3g}", f"{o.mismatch_fraction:.2%}",
                         f"{o.rel_l2:.3g}", o.unwritten, f"{o.rtol:g}/{o.atol:g}")
                parts.append("<tr>" + "".join(f'<td style="padding:2px 8px">{c}</td>' for c in cells) + "</tr>")
        parts.append("</table>")
        failure = self._first_failure()
        if failure:
            t, o = failure
            rows = "".join(
                f"<tr><td style='padding:2px 8px'><code>{list(i)}</code></td>"
                f"<td style='padding:2px 8px'>{g:.6g}</td><td style='padding:2px 8px'>{w:.6g}</td></tr>"
                for i, g, w in o.first_mismatches
            )
            parts.append(
                f"<div style='margin-top:4px'>First mismatches (trial {t.trial}, output {o.index}):</div>"
                "<table style='border-collapse:collapse'><tr><th style='padding:2px 8px'>index</th>"
                f"<th style='padding:2px 8px'>kernel</th><th style='padding:2px 8px'>reference</th></tr>{rows}</table>"
            )
        parts.append("</div>")
        return "".join(parts)


# --------------------------------------------------------------------------------------------------
# The check of a whole kernel


def check_kernel(
    kernel: Any,
    ref: Callable[..., Any],
    args: Sequence[Any],
    *,
    trials: int,
    config: Any,
    inputs: Callable[[int], Sequence[Any]] | None,
    seed: int,
    rtol: float | None,
    atol: float | None,
) -> CheckReport:
    """``kernel`` (a :class:`kernelbench.core.target.RunnableKernel`) against ``ref`` over ``trials``.

    Trial 1 uses ``args`` (or ``inputs(seed)``); later trials draw fresh inputs shaped like them (or
    call ``inputs(seed + trial)``). Outputs are poisoned before each run; the reference runs in
    float64 where it can; output count, shapes and dtypes are checked against the reference as written.
    """
    results: list[TrialCheck] = []
    cfg = config
    for trial in range(1, trials + 1):
        if inputs is not None:
            trial_args, origin = tuple(inputs(seed + trial - 1)), f"inputs(seed={seed + trial - 1})"
        elif trial == 1:
            trial_args, origin = tuple(args), "given"
        else:
            trial_args, origin = fresh_inputs(args, seed + trial - 1), f"random(seed={seed + trial - 1})"
        if cfg is None:
            cfg = kernel.active_config(*trial_args)[0]
        fn = kernel.compiled(*trial_args, config=cfg)
        with torch.no_grad(), poisoned():
            outs = flatten_outputs(fn(*trial_args), kernel.name)
        refs, precision = reference(ref, trial_args)
        check_structure(outs, refs if precision == "native" else native_reference(ref, trial_args), kernel.name)
        results.append(TrialCheck(
            trial=trial,
            inputs=origin,
            reference_precision=precision,
            outputs=[compare(o, r, index=i, rtol=rtol, atol=atol) for i, (o, r) in enumerate(zip(outs, refs))],
        ))
    return CheckReport(kernel=kernel.name, config=dict(cfg.config) if cfg else {}, trials=results)
