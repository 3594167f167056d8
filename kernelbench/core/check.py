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

Tolerances must be finite and ``>= 0`` (:class:`CheckError` otherwise, before anything runs); one
more than 10x the output dtype's default above (for integer/bool outputs: 10x the float32 default)
passes almost anything, so using one warns (:class:`RuntimeWarning`).
"""

from __future__ import annotations

import dataclasses
import html
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from kernelbench._errors import CheckError

__all__ = [
    "CheckReport",
    "Computed",
    "Drawn",
    "OutputCheck",
    "check_kernel",
    "check_outputs",
    "TrialCheck",
    "compare",
    "copy_args",
    "default_tolerance",
    "flatten_outputs",
    "fresh_inputs",
    "native_reference",
    "poisoned",
    "reference",
    "reference_explained",
    "validate_tolerances",
    "warn_loose_tolerances",
    "written_inputs",
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


#: A tolerance more than this many times the dtype's default warns: it hides real errors.
LOOSE_FACTOR = 10.0


def validate_tolerances(rtol: Any, atol: Any) -> None:
    """Raise a one-line :class:`CheckError` unless each given tolerance is a finite number ``>= 0``."""
    for name, value in (("rtol", rtol), ("atol", atol)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CheckError(f"{name}={value!r} is not a number; give a finite float >= 0 (or None for the default)")
        if not math.isfinite(value) or value < 0:
            raise CheckError(f"{name}={value!r} is not a tolerance; give a finite float >= 0 (or None for the default)")


def warn_loose_tolerances(rtol: float | None, atol: float | None, dtypes: Sequence[torch.dtype], where: str) -> None:
    """Warn (:class:`RuntimeWarning`) when a tolerance used is over 10x the default of an output's dtype."""
    seen: set[torch.dtype] = set()
    for dtype in dtypes:
        if dtype in seen:
            continue
        seen.add(dtype)
        d_rtol, d_atol = default_tolerance(dtype)
        if d_rtol == 0.0 and d_atol == 0.0:  # exact dtypes: compare with the float32 default
            d_rtol, d_atol = _TOLERANCES[torch.float32]
        for name, value, default in (("rtol", rtol, d_rtol), ("atol", atol, d_atol)):
            if value is not None and value > LOOSE_FACTOR * default:
                warnings.warn(
                    f"{where}: {name}={value:g} is over {LOOSE_FACTOR:g}x the default for "
                    f"{str(dtype).removeprefix('torch.')} ({default:g}); a check this loose passes almost "
                    "anything",
                    RuntimeWarning,
                    stacklevel=4,
                )


# --------------------------------------------------------------------------------------------------
# Poisoned outputs


_EMPTY_FACTORIES = {
    torch.empty,
    torch.empty_like,
    torch.empty_strided,
    torch.Tensor.new_empty,
    torch.Tensor.new_empty_strided,
}


#: Poison for float outputs: a quiet NaN with a payload no arithmetic produces (0/0, inf-inf give
#: the default NaN), as the integer bit pattern of the same width. An element still holding exactly
#: this pattern was never written; any other NaN was computed.
POISON_BITS: dict[torch.dtype, tuple[torch.dtype, int]] = {
    torch.float64: (torch.int64, 0x7FF8_0BAD_0BAD_0BAD),
    torch.float32: (torch.int32, 0x7FC0_BAD0),
    torch.float16: (torch.int16, 0x7E5B),
    torch.bfloat16: (torch.int16, 0x7FDB),
}


def poison_mask(t: torch.Tensor) -> torch.Tensor | None:
    """Where ``t`` still holds the float poison pattern (None for dtypes without one)."""
    if t.dtype not in POISON_BITS:
        return None
    int_dtype, bits = POISON_BITS[t.dtype]
    return t.detach().view(int_dtype) == bits


def _poison_(t: torch.Tensor) -> None:
    if t.dtype in POISON_BITS:
        int_dtype, bits = POISON_BITS[t.dtype]
        t.view(int_dtype).fill_(bits)
    elif t.dtype.is_floating_point or t.dtype.is_complex:
        t.fill_(float("nan"))
    elif t.dtype == torch.bool:
        t.fill_(True)
    else:
        t.fill_(torch.iinfo(t.dtype).max)


class poisoned(TorchFunctionMode):
    """While active, every tensor made by an ``empty*`` factory starts as NaN (ints: their max).

    Kernels allocate outputs with ``torch.empty*``; an element the kernel never writes then stays
    NaN and fails the comparison, instead of passing on whatever memory happened to hold. The NaN
    has a distinctive payload (:data:`POISON_BITS`), so an unwritten element is told from a NaN the
    kernel computed.
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


class Drawn(tuple):  # type: ignore[type-arg]
    """Arguments :func:`fresh_inputs` drew: a plain tuple that also says how to draw it again
    (``fresh_inputs(given, drawn.seed)`` on the same given arguments gives the same bits), so a worker
    process or a Ray actor that holds the given arguments redraws it instead of receiving it."""

    seed: int

    def __new__(cls, values: Sequence[Any], seed: int) -> Drawn:
        drawn = super().__new__(cls, values)
        drawn.seed = seed
        return drawn


def fresh_inputs(args: Sequence[Any], seed: int) -> tuple[Any, ...]:
    """New random tensors shaped like ``args`` (same dtype, device, strides).

    * Floating-point values follow the given tensor's mean and spread, estimated from its finite
      values only (non-negative if those are), so a kernel that needs positive inputs still gets
      them; a non-finite value stays at its position, and nowhere else.
    * Integer values are drawn anew in the given tensor's range (same min and max, so indices stay
      valid); a sorted tensor (offsets) stays sorted with the same first and last value, one of
      distinct values (a permutation) is shuffled. Bool tensors get random bools.
    * An expanded (stride-0) argument is drawn at its base shape and expanded the same way.

    Non-tensor arguments are reused as they are.
    """
    out: list[Any] = []
    for i, arg in enumerate(args):
        if isinstance(arg, torch.Tensor) and arg.numel() > 0 and not arg.dtype.is_complex:
            g = torch.Generator(device="cpu").manual_seed(seed * 1000 + i)
            out.append(_fresh_tensor(arg.detach(), g))
        else:
            out.append(arg)
    return Drawn(out, seed)


def _fresh_tensor(arg: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    if any(s == 0 and d > 1 for d, s in zip(arg.shape, arg.stride())):
        base = arg[tuple(slice(0, 1) if s == 0 and d > 1 else slice(None) for d, s in zip(arg.shape, arg.stride()))]
        return _fresh_tensor(base, g).expand(arg.shape)
    cpu = arg.cpu()
    if cpu.dtype.is_floating_point:
        values = _fresh_floats(cpu, g)
    elif cpu.dtype == torch.bool:
        values = torch.randint(0, 2, cpu.shape, generator=g, dtype=torch.int64).bool()
    else:
        values = _fresh_ints(cpu, g)
    try:
        fresh = torch.empty_strided(arg.shape, arg.stride(), dtype=arg.dtype, device=arg.device)
        fresh.copy_(values.to(arg.device))
    except RuntimeError:  # overlapping memory other than expansion: keep the shape, not the strides
        fresh = values.to(arg.device, arg.dtype)
    return fresh


def _fresh_floats(arg: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    stats = arg.float()
    finite_mask = torch.isfinite(stats)
    finite = stats[finite_mask]
    if finite.numel():
        mean = finite.mean().item()
        std = finite.std().item() if finite.numel() > 1 else 1.0
    else:
        mean, std = 0.0, 1.0
    if not math.isfinite(mean):
        mean = 0.0
    if not math.isfinite(std) or std == 0.0:
        std = 1.0
    values = torch.randn(arg.shape, generator=g, dtype=torch.float32) * std + mean
    if finite.numel() and finite.min().item() >= 0:
        values = values.abs()
    values = values.to(torch.float64)
    return torch.where(finite_mask, values, arg.double())


def _fresh_ints(arg: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    flat = arg.reshape(-1).to(torch.int64)
    lo, hi = int(flat.min()), int(flat.max())
    n = flat.numel()
    if lo == hi:
        return arg.clone()
    diffs = flat[1:] - flat[:-1]
    if n > 2 and bool((diffs >= 0).all()):  # offsets: sorted, same ends
        if bool((diffs > 0).all()):  # strictly increasing: distinct values
            inner = torch.randperm(hi - lo - 1, generator=g)[: n - 2] + lo + 1 if hi - lo - 1 <= 1 << 24 else None
            if inner is None or inner.numel() < n - 2:
                inner = torch.randint(lo + 1, hi, (n - 2,), generator=g)
        else:
            inner = torch.randint(lo, hi + 1, (n - 2,), generator=g)
        values = torch.cat([flat[:1], inner.sort().values, flat[-1:]])
    elif flat.unique().numel() == n:  # a permutation (distinct indices): shuffle them
        values = flat[torch.randperm(n, generator=g)]
    else:
        top = hi + 1 if hi < torch.iinfo(torch.int64).max else hi
        values = torch.randint(lo, top, (n,), generator=g)
    return values.reshape(arg.shape).to(arg.dtype)


def copy_args(args: Sequence[Any]) -> tuple[Any, ...]:
    """Copies of the tensor arguments with the same strides (expanded ones stay expanded), so a kernel
    run on them can never modify the caller's tensors; other arguments as they are."""
    return tuple(_clone_exact(a) if isinstance(a, torch.Tensor) else a for a in args)


def _clone_exact(t: torch.Tensor) -> torch.Tensor:
    t = t.detach()
    if t.numel() == 0 or t.device.type == "meta":
        return t.clone()
    extent = 1 + sum((d - 1) * s for d, s in zip(t.shape, t.stride()))
    flat = torch.as_strided(t, (extent,), (1,)).clone()
    return flat.as_strided(t.shape, t.stride())


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.is_floating_point or a.dtype.is_complex:
        return bool(((a == b) | (torch.isnan(a) & torch.isnan(b))).all())
    return torch.equal(a, b)


def written_inputs(before: Sequence[Any], after: Sequence[Any]) -> list[int]:
    """Indices of the tensor arguments whose values differ between ``before`` and ``after``."""
    return [
        i for i, (a, b) in enumerate(zip(before, after))
        if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.device.type != "meta" and not _same(a, b)
    ]


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


class Computed(list):  # type: ignore[type-arg]
    """Reference outputs :func:`reference` computed: a plain list that also says how (``ref`` called on
    the input set, in ``precision``), so a worker process or a Ray actor that can rebuild ``ref``
    computes them again where they are used instead of receiving them."""

    ref: Callable[..., Any]
    precision: str

    def __init__(self, outs: Sequence[torch.Tensor], ref: Callable[..., Any], precision: str) -> None:
        super().__init__(outs)
        self.ref, self.precision = ref, precision


def reference(ref: Callable[..., Any], args: Sequence[Any]) -> tuple[list[torch.Tensor], str]:
    """The reference's outputs computed in float64 where it can be; also says which precision."""
    outs, precision, _why = reference_explained(ref, args)
    return outs, precision


def reference_explained(ref: Callable[..., Any], args: Sequence[Any]) -> tuple[list[torch.Tensor], str, str]:
    """As :func:`reference`, and why the reference did not run (all) in float64: ``""`` when it did."""
    floats = sorted({str(a.dtype).removeprefix("torch.") for a in args
                     if isinstance(a, torch.Tensor) and a.dtype.is_floating_point})
    if floats:
        try:
            with torch.no_grad():
                outs = flatten_outputs(ref(*_upcast(args)), "the reference")
        except CheckError:
            raise
        except Exception as error:  # noqa: BLE001 - ops without float64 support fall back to the inputs' dtype
            text = str(error).strip().splitlines()
            why = (f"{'/'.join(floats)}, not float64: in float64 it raised {type(error).__name__}"
                   f"{': ' + text[0][:160] if text else ''}")
        else:
            narrow = sorted({str(o.dtype).removeprefix("torch.") for o in outs
                             if o.dtype.is_floating_point and o.dtype != torch.float64})
            why = (f"float64 inputs, but its outputs came back as {'/'.join(narrow)}: it computes in a narrower "
                   "dtype inside" if narrow else "")
            return Computed(outs, ref, "float64"), "float64", why
    else:
        why = "the arguments' own dtypes, not float64: no floating-point argument to run in float64"
    return Computed(native_reference(ref, args), ref, "native"), "native", why


# --------------------------------------------------------------------------------------------------
# Comparison


@dataclasses.dataclass
class OutputCheck:
    """How one output of one trial compared with the reference.

    ``max_abs_err``, ``max_rel_err`` and ``rel_l2`` cover the ``finite`` elements where output and
    reference are both finite (of ``numel``); every element counts for ``mismatch_fraction``.
    """

    index: int
    shape: tuple[int, ...]
    dtype: str
    rtol: float
    atol: float
    max_abs_err: float
    max_rel_err: float
    mismatch_fraction: float
    rel_l2: float
    unwritten: int  # elements still holding the poison (never written by the kernel)
    passed: bool
    first_mismatches: list[tuple[tuple[int, ...], float, float]]
    computed_nan: int = 0  # NaN the kernel computed where the reference has a number
    finite: int = -1  # elements where both are finite: what the error statistics cover
    numel: int = -1
    ref_rms: float = 1.0  # rms of the finite reference: atol is in these units

    @property
    def tolerance(self) -> str:
        """``rtol 0.016, atol 0.016 × rms(ref) 1.02``: what an element is allowed (module docstring)."""
        return f"rtol {self.rtol:g}, atol {self.atol:g} × rms(ref) {self.ref_rms:.3g}"

    @property
    def coverage(self) -> str:
        """What the error statistics cover, e.g. ``over 90 of 100 elements (both finite)``."""
        return f"over {self.finite} of {self.numel} elements (both finite)"


def compare(
    out: torch.Tensor, ref: torch.Tensor, *, index: int = 0, rtol: float | None = None, atol: float | None = None
) -> OutputCheck:
    """Compare one output with its (float64) reference using the rules in this module's docstring."""
    validate_tolerances(rtol, atol)
    d_rtol, d_atol = default_tolerance(out.dtype)
    rtol = d_rtol if rtol is None else rtol
    atol = d_atol if atol is None else atol
    # On the output's device: float64 there is fast enough, and copying 4096^2 to the host is not.
    o = out.detach().to(torch.float64)
    r = ref.detach().to(o.device, torch.float64)
    poison = poison_mask(out)
    o_nan, r_nan = torch.isnan(o), torch.isnan(r)
    if poison is None:  # no payload to tell them apart: any NaN where the reference has none
        poison = o_nan & ~r_nan
    both_finite = ~o_nan & ~r_nan
    finite = torch.isfinite(o) & torch.isfinite(r)
    finite_ref = r[torch.isfinite(r)]
    scale = finite_ref.pow(2).mean().sqrt().item() if finite_ref.numel() else 0.0
    scale = scale if scale > 0 else 1.0
    diff = torch.where(both_finite, (o - r).abs(), torch.zeros_like(o))
    same_inf = both_finite & torch.isinf(r) & (o == r)
    diff = torch.where(same_inf, torch.zeros_like(diff), diff)
    ok = ((diff <= atol * scale + rtol * r.abs()) & both_finite | same_inf | (o_nan & r_nan)) & ~poison
    bad = ~ok
    n = max(1, o.numel())
    fdiff = torch.where(finite, diff, torch.zeros_like(diff))
    nonzero = finite & (r != 0)
    rel = fdiff[nonzero] / r[nonzero].abs()
    ref_norm = torch.linalg.vector_norm(torch.where(finite, r, torch.zeros_like(r))).item()
    err_norm = torch.linalg.vector_norm(fdiff).item()
    unwritten = int(poison.sum())
    computed_nan = int((o_nan & ~r_nan & ~poison).sum())
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
        max_abs_err=fdiff.max().item() if fdiff.numel() else 0.0,
        max_rel_err=rel.max().item() if rel.numel() else 0.0,
        mismatch_fraction=n_bad / n,
        rel_l2=(err_norm / ref_norm) if ref_norm > 0 else err_norm,
        unwritten=unwritten,
        passed=n_bad == 0,
        first_mismatches=first,
        computed_nan=computed_nan,
        finite=int(finite.sum()),
        numel=o.numel(),
        ref_rms=scale,
    )


def percent(fraction: float) -> str:
    """A fraction as a percentage to 3 significant figures: ``0.0061%``, never ``0.00%``."""
    return f"{100 * fraction:.3g}%"


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
            failure = (f"output {i}: {percent(c.mismatch_fraction)} mismatched, max abs {c.max_abs_err:.3g}"
                       + (f" {c.coverage}" if c.finite < c.numel else "")
                       + (f", {c.unwritten} unwritten" if c.unwritten else "")
                       + (f", {c.computed_nan} computed NaN" if c.computed_nan else ""))
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
    #: Input arguments the kernel modified (it ran on copies) and those the reference modified.
    wrote_inputs: list[int] = dataclasses.field(default_factory=list)
    reference_wrote: list[int] = dataclasses.field(default_factory=list)
    #: Why the reference did not run (all) in float64; ``""`` when it did.
    reference_note: str = ""

    @property
    def reference_text(self) -> str:
        """The precision the reference ran in, and why when it is not float64."""
        return self.reference_note or ("float64" if self.reference_precision == "float64"
                                       else f"{self.reference_precision}, not float64")

    @property
    def bad_writes(self) -> list[int]:
        """Inputs the kernel wrote that the reference leaves alone: a failure."""
        return [i for i in self.wrote_inputs if i not in self.reference_wrote]

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outputs) and not self.bad_writes

    def write_note(self) -> str:
        """One line on the inputs the kernel wrote, or ``""``."""
        if not self.wrote_inputs:
            return ""
        parts = []
        for i in self.wrote_inputs:
            tail = "as the reference does" if i in self.reference_wrote else "the reference does not"
            parts.append(f"the kernel wrote its input argument {i} ({tail})")
        return "; ".join(parts)


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

    @property
    def reference_precision(self) -> str:
        """The precision the reference ran in (every distinct one over the trials), and why when not float64."""
        return "; ".join(dict.fromkeys(t.reference_text for t in self.trials))

    def _first_failure(self) -> tuple[TrialCheck, OutputCheck] | None:
        for t in self.trials:
            for o in t.outputs:
                if not o.passed:
                    return t, o
        return None

    def __repr__(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        lines = [f"CheckReport({self.kernel}: {verdict}, {len(self.trials)} trial(s); reference in "
                 f"{self.reference_precision})"]
        for t in self.trials:
            for o in t.outputs:
                lines.append(
                    f"  trial {t.trial} [{t.inputs}] out{o.index} {o.dtype}{list(o.shape)}: "
                    f"{'ok' if o.passed else 'MISMATCH'} max_abs={o.max_abs_err:.3g} "
                    f"max_rel={o.max_rel_err:.3g} mismatched={percent(o.mismatch_fraction)} "
                    f"rel_l2={o.rel_l2:.3g}" + (f" unwritten={o.unwritten}" if o.unwritten else "")
                    + (f" computed_nan={o.computed_nan}" if o.computed_nan else "")
                    + (f" stats {o.coverage}" if 0 <= o.finite < o.numel else "")
                    + f" rtol={o.rtol:g} atol={o.atol:g}x rms(ref)={o.ref_rms:.3g}"
                )
            if t.wrote_inputs:
                lines.append(f"  trial {t.trial}: {'WROTE INPUT: ' if t.bad_writes else ''}{t.write_note()}")
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
            f"against the reference, {len(self.trials)} trial(s); reference in "
            f"{html.escape(self.reference_precision)}",
            '<table style="border-collapse:collapse;margin-top:4px"><tr>'
            + "".join(
                f'<th style="text-align:left;padding:2px 8px">{h}</th>'
                for h in ("trial", "inputs", "output", "result", "max abs", "max rel", "mismatched",
                          "‖out−ref‖/‖ref‖", "stats over", "unwritten", "computed NaN",
                          "tolerance (atol × rms(ref))")
            )
            + "</tr>",
        ]
        for t in self.trials:
            for o in t.outputs:
                ok = "ok" if o.passed else f'<b style="color:{colour}">mismatch</b>'
                cells = (t.trial, html.escape(t.inputs), f"{o.index}: {o.dtype}{list(o.shape)}", ok,
                         f"{o.max_abs_err:.3g}", f"{o.max_rel_err:.3g}", percent(o.mismatch_fraction),
                         f"{o.rel_l2:.3g}", html.escape(o.coverage) if o.finite >= 0 else "",
                         o.unwritten, o.computed_nan, html.escape(o.tolerance))
                # Every cell but "stats over" on one line: an output's dtype and shape read as one token.
                parts.append("<tr>" + "".join(
                    f'<td style="padding:2px 8px{"" if k == 8 else ";white-space:nowrap"}">{c}</td>'
                    for k, c in enumerate(cells)) + "</tr>")
            if t.wrote_inputs:
                note = html.escape(t.write_note())
                if t.bad_writes:
                    note = f'<b style="color:{colour}">{note}</b>'
                parts.append(f'<tr><td style="padding:2px 8px">{t.trial}</td><td colspan="12" '
                             f'style="padding:2px 8px">{note}</td></tr>')
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
    Kernel and reference each run on copies of the arguments (the caller's tensors are never
    modified); a kernel that writes an input the reference leaves alone fails.
    """
    validate_tolerances(rtol, atol)
    results: list[TrialCheck] = []
    cfg = config
    first_args: tuple[Any, ...] | None = None
    warned_same = False
    for trial in range(1, trials + 1):
        if inputs is not None:
            given = inputs(seed + trial - 1)
            trial_args = (given,) if isinstance(given, torch.Tensor) else tuple(given)
            origin = f"inputs(seed={seed + trial - 1})"
            if first_args is None:
                first_args = trial_args
            elif not warned_same and _same_args(first_args, trial_args):
                warned_same = True
                warnings.warn(
                    f"inputs({seed}) and inputs({seed + trial - 1}) returned the same tensors: the trials "
                    "are not independent; draw the inputs from the seed",
                    RuntimeWarning,
                    stacklevel=3,
                )
        elif trial == 1:
            trial_args, origin = tuple(args), "given"
        else:
            trial_args, origin = fresh_inputs(args, seed + trial - 1), f"random(seed={seed + trial - 1})"
        if cfg is None:
            cfg = kernel.active_config(*trial_args)[0]
        run_args = copy_args(trial_args)
        fn = kernel.compiled(*run_args, config=cfg)
        with torch.no_grad(), poisoned():
            outs = flatten_outputs(fn(*run_args), kernel.name)
        wrote = written_inputs(trial_args, run_args)
        ref_args = copy_args(trial_args)
        refs, precision, precision_note = reference_explained(ref, ref_args)
        if precision == "native":
            natives = refs
        else:
            ref_args = copy_args(trial_args)
            natives = native_reference(ref, ref_args)
        ref_wrote = written_inputs(trial_args, ref_args)
        check_structure(outs, natives, kernel.name)
        if trial == 1:
            warn_loose_tolerances(rtol, atol, [o.dtype for o in outs], f"check of {kernel.name}")
        results.append(TrialCheck(
            trial=trial,
            inputs=origin,
            reference_precision=precision,
            reference_note=precision_note,
            outputs=[compare(o, r, index=i, rtol=rtol, atol=atol) for i, (o, r) in enumerate(zip(outs, refs))],
            wrote_inputs=wrote,
            reference_wrote=ref_wrote,
        ))
    return CheckReport(kernel=kernel.name, config=dict(cfg.config) if cfg else {}, trials=results)


def _same_args(a: Sequence[Any], b: Sequence[Any]) -> bool:
    """Whether two argument tuples hold the same tensors (the same objects or equal values)."""
    pairs = [(x, y) for x, y in zip(a, b) if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)]
    return bool(pairs) and len(a) == len(b) and all(x is y or _same(x, y) for x, y in pairs)
