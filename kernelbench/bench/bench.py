"""Latency against problem size: the kernel beside its baselines and under the device's ceilings.

``Kernel.bench`` builds a :class:`Bench` here. For each size: make the arguments, tune if asked, then check every
implementation against the float64 reference (the kernel's outputs poisoned first) *before* it is
timed. A wrong or failing implementation at a size is a marked row with no time, never a fast point.
Every implementation goes through the one evaluation pipeline (:func:`kernelbench.core.evaluate.evaluate`).

Ceilings (device-to-device copy bandwidth, bf16 matmul rate) are measured once per GPU with the same
timer and cached in memory and in ``settings.home / "ceilings.json"``, keyed by the device's name.
In the interpreter there are none: its times are not GPU performance.

Like the sweep, this engine knows nothing of widgets: it emits events to observers (the live chart
in ``kernelbench.ui.bench_dashboard``, the text line in ``kernelbench.ui.progress``). Tuning at a size
is injected (a :data:`Tuner`). Stop (:meth:`Bench.stop`) and Ctrl-C end it after keeping every
finished size.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import html
import json
import math
import numbers
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import torch

from kernelbench._errors import BenchError
from kernelbench._settings import settings
from kernelbench.core.check import native_reference, reference
from kernelbench.core.device import DEVICE, device_name, is_interpreter
from kernelbench.core.evaluate import Problem, evaluate, short_error
from kernelbench.core.target import RunnableKernel
from kernelbench.core.timing import time_ms, timer_label
from kernelbench.tune.charts import compact_template
from kernelbench.tune.events import CandidateFinished, Observer, emit

if TYPE_CHECKING:
    import helion
    import pandas as pd
    import plotly.graph_objects as go

    from kernelbench.tune.result import SweepResult

#: How a bench tunes at one size: ``tuner(args, observers)`` runs a sweep and returns its result.
Tuner = Callable[[tuple[Any, ...], Sequence[Observer]], "SweepResult"]

__all__ = [
    "Bench",
    "BenchFinished",
    "BenchInfo",
    "BenchReport",
    "BenchRow",
    "BenchStarted",
    "Ceilings",
    "SizeFinished",
    "SizeStarted",
    "SizeTuning",
    "bench_figure",
    "ceilings",
    "measure_ceilings",
    "row_text",
]

Y_CHOICES = ("gbps", "ms", "tflops")
Y_LABELS = {"gbps": "GB/s (log)", "ms": "ms (log)", "tflops": "TFLOP/s"}
_LOG_Y = ("gbps", "ms")  # the y axes figure() draws on a log scale, as the dashboard does
_ENDED = {"done": "finished", "stop": "stopped (Stop pressed)", "interrupt": "interrupted (kernel interrupt)"}


def _ended(stopped: str) -> str:
    """How a bench ended, in words: ``"finished"``, ``"stopped (Stop pressed)"`` ..."""
    return _ENDED.get(stopped, f"ended ({stopped})")
TUNE_CHOICES = ("per-size", "once")
ROW_STATUSES = ("ok", "wrong", "error")
NOT_CORRECT = "wrong or failed (not timed)"
NOT_CORRECT_COLOUR = "#d62728"
_FAILED_MS_FACTOR = 1.5  # in the ms chart, not-correct markers sit above the slowest time: never fast


# --------------------------------------------------------------------------------------------------
# Ceilings


@dataclasses.dataclass(frozen=True)
class Ceilings:
    """The best one device does, measured with the timer every other number uses."""

    device: str
    copy_gbps: float  # device-to-device copy: bytes read + bytes written, per second
    matmul_tflops: float  # bf16 n x n x n matmul through torch (cuBLAS)
    copy_bytes: int  # bytes in the copied buffer (far larger than L2)
    matmul_n: int
    measured: str  # ISO time of the measurement
    torch: str

    def describe(self) -> str:
        return (f"copy {self.copy_gbps:.4g} GB/s, bf16 matmul {self.matmul_tflops:.4g} TFLOP/s "
                f"(measured {self.measured[:10]})")


_CEILINGS: dict[str, Ceilings] = {}


def ceilings_path() -> Path:
    return settings.home / "ceilings.json"


def ceilings(refresh: bool = False) -> Ceilings | None:
    """This device's ceilings: measured once, then read from memory or ``ceilings.json``.

    ``None`` in the interpreter. ``refresh=True`` measures again (after a driver or clock change).
    """
    if is_interpreter():
        return None
    name = device_name()
    if not refresh and name in _CEILINGS:
        return _CEILINGS[name]
    path = ceilings_path()
    stored = _read_ceilings(path)
    found = None if refresh else _ceilings_from_json(stored.get(name))
    if found is None:
        found = measure_ceilings()
        stored[name] = dataclasses.asdict(found)
        _write_ceilings(path, stored)
    _CEILINGS[name] = found
    return found


def _read_ceilings(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        warnings.warn(f"{path} is unreadable ({error}); measuring the ceilings again and rewriting it",
                      RuntimeWarning, stacklevel=3)
        return {}
    return data if isinstance(data, dict) else {}


def _ceilings_from_json(entry: Any) -> Ceilings | None:
    """A stored entry, or None when there is none or it was written by another version."""
    if not isinstance(entry, dict) or set(entry) != {f.name for f in dataclasses.fields(Ceilings)}:
        return None
    return Ceilings(**entry)


def _write_ceilings(path: Path, stored: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2, sort_keys=True))
    except OSError as error:
        warnings.warn(f"could not cache the ceilings in {path} ({error}); they will be measured again next "
                      "session. Set KERNELBENCH_HOME to a writable folder", RuntimeWarning, stacklevel=3)


def measure_ceilings() -> Ceilings:
    """Copy bandwidth and bf16 matmul rate of this GPU (a few seconds)."""
    if is_interpreter():
        raise BenchError("ceilings are measured on a GPU; in Triton's interpreter there are none")
    free, _total = torch.cuda.mem_get_info()
    # Two buffers of up to 1 GiB each: far beyond any L2, small beside the card's memory.
    copy_bytes = min(1 << 30, free // 8) // 4 * 4
    src = torch.ones(copy_bytes // 4, dtype=torch.float32, device=DEVICE)
    dst = torch.empty_like(src)
    with torch.no_grad():
        copy_ms = time_ms(lambda s, d: d.copy_(s), (src, dst))
    del src, dst
    n = 8192 if free > 16 * 8192 * 8192 * 2 else 4096
    a = torch.randn(n, n, dtype=torch.bfloat16, device=DEVICE)
    b = torch.randn(n, n, dtype=torch.bfloat16, device=DEVICE)
    with torch.no_grad():
        matmul_ms = time_ms(torch.matmul, (a, b))
    del a, b
    torch.cuda.empty_cache()
    return Ceilings(
        device=device_name(),
        copy_gbps=2 * copy_bytes / (copy_ms * 1e-3) / 1e9,
        matmul_tflops=2 * n**3 / (matmul_ms * 1e-3) / 1e12,
        copy_bytes=copy_bytes,
        matmul_n=n,
        measured=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        torch=torch.__version__,
    )


# --------------------------------------------------------------------------------------------------
# What a bench measures


@dataclasses.dataclass
class BenchRow:
    """One implementation at one size. ``ms`` is only there when the outputs were correct."""

    size_index: int
    size: Any
    impl: str
    status: str  # ok, wrong (checked and mismatched: not timed), error (raised: not timed)
    ms: float | None = None
    gbps: float | None = None
    tflops: float | None = None
    pct_of_ceiling: float | None = None
    ceiling_ms: float | None = None  # roofline time: the least the ceilings allow for this work
    bytes: int | None = None
    flops: float | None = None
    max_abs_err: float | None = None
    config: dict[str, Any] | None = None
    config_source: str | None = None
    error: str | None = None

    @property
    def correct(self) -> bool:
        return self.status == "ok"


@dataclasses.dataclass
class BenchInfo:
    """What a bench is: shown in chart titles, the live chart's header and the text line."""

    kernel: str
    device: str
    mode: str
    timer: str
    interpreter: bool
    sizes: list[Any]
    impls: list[str]  # the kernel first, then the baselines in the order given
    reference: str
    tune: str | bool
    budget: int | None
    bytes_label: str
    flops_given: bool
    ceilings: Ceilings | None
    source_hash: str = ""


@dataclasses.dataclass
class BenchStarted:
    info: BenchInfo


@dataclasses.dataclass
class SizeStarted:
    index: int
    size: Any
    total: int
    phase: str  # "measuring", "tuning" (per size) or "tuning once" (at the largest size)


@dataclasses.dataclass
class SizeTuning:
    """A candidate of the tuning at ``size`` finished (so the live chart can show progress)."""

    index: int
    size: Any
    done: int
    budget: int | None
    best_ms: float | None


@dataclasses.dataclass
class SizeFinished:
    index: int
    size: Any
    rows: list[BenchRow]
    done: int
    total: int
    elapsed_s: float


@dataclasses.dataclass
class BenchFinished:
    report: BenchReport


BenchEvent = Union[BenchStarted, SizeStarted, SizeTuning, SizeFinished, BenchFinished]


def _x(size: Any) -> Any:
    """A size as a chart's x value: numbers as they are, anything else (tuples) as text."""
    return size if isinstance(size, (int, float)) and not isinstance(size, bool) else str(size)


def _fmt(value: float | None, unit: str) -> str:
    return f"{value:.4g} {unit}" if value is not None else "—"


@dataclasses.dataclass
class BenchReport:
    """A finished (or stopped) bench. Every finished size is here, whatever ended it."""

    info: BenchInfo
    rows: list[BenchRow]
    stopped: str  # done, stop, interrupt
    wall_s: float
    tuning: list[tuple[Any, SweepResult]] = dataclasses.field(default_factory=list)

    @property
    def sizes_done(self) -> list[Any]:
        seen: list[int] = []
        for r in self.rows:
            if r.size_index not in seen:
                seen.append(r.size_index)
        return [self.info.sizes[i] for i in seen]

    def rows_of(self, impl: str) -> list[BenchRow]:
        return [r for r in self.rows if r.impl == impl]

    @property
    def df(self) -> pd.DataFrame:
        """One row per (size, implementation); ``ms``/``gbps``/``tflops`` are empty unless correct."""
        import pandas as pd

        columns = ["size", "impl", "ms", "gbps", "tflops", "pct_of_ceiling", "correct", "status", "error",
                   "config_source", "config", "max_abs_err", "bytes", "flops", "ceiling_ms"]
        records = [
            {"size": r.size, "impl": r.impl, "ms": r.ms, "gbps": r.gbps, "tflops": r.tflops,
             "pct_of_ceiling": r.pct_of_ceiling, "correct": r.correct, "status": r.status, "error": r.error,
             "config_source": r.config_source, "config": r.config, "max_abs_err": r.max_abs_err,
             "bytes": r.bytes, "flops": r.flops, "ceiling_ms": r.ceiling_ms}
            for r in self.rows
        ]
        df = pd.DataFrame(records, columns=columns)
        for column in ("ms", "gbps", "tflops", "pct_of_ceiling", "max_abs_err", "flops", "ceiling_ms"):
            df[column] = df[column].astype(float)
        return df

    def figure(self, y: str = "gbps") -> go.Figure:
        """Plotly figure of ``y`` (``"gbps"``, ``"ms"`` or ``"tflops"``) against size, one line per
        implementation; sizes that were wrong or failed are red crosses at the slow end, off the lines."""
        _check_y(y, self.info)
        try:
            import plotly.graph_objects as go
        except ImportError:
            raise BenchError("report.figure() needs plotly: pip install plotly") from None
        return bench_figure(go.Figure(), self.info, self.rows, y=y)

    def summary(self) -> str:
        done = self.sizes_done
        parts = [f"{self.info.kernel}: {len(done)} of {len(self.info.sizes)} sizes on {self.info.mode} "
                 f"({self.info.timer}), {_ended(self.stopped)} after {self.wall_s:.1f} s"]
        if done:
            last = max(r.size_index for r in self.rows)
            at_last = [r for r in self.rows if r.size_index == last]
            parts.append(f"at size {self.info.sizes[last]}: " + ", ".join(row_text(r) for r in at_last))
        for impl in self.info.impls:
            bad = [r.size for r in self.rows_of(impl) if not r.correct]
            if bad:
                parts.append(f"{impl} not correct at sizes {bad}")
        return "; ".join(parts)

    def __repr__(self) -> str:
        return f"<BenchReport {self.summary()}>"

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='padding:2px 8px'>{html.escape(i)}</th>" for i in self.info.impls)
        body = []
        for index in sorted({r.size_index for r in self.rows}):
            cells = []
            for impl in self.info.impls:
                row = next((r for r in self.rows if r.size_index == index and r.impl == impl), None)
                if row is None:
                    cells.append("")
                elif row.correct:
                    extra = f" · {row.gbps:.4g} GB/s" if row.gbps is not None else ""
                    extra += f" · {row.pct_of_ceiling:.3g}%" if row.pct_of_ceiling is not None else ""
                    cells.append(f"{row.ms:.4g} ms{extra}")
                else:
                    cells.append(f"<b style='color:{NOT_CORRECT_COLOUR}' title='{html.escape(row.error or '')}'>"
                                 f"{row.status}</b>")
            body.append(f"<tr><td style='padding:2px 8px'>{html.escape(str(self.info.sizes[index]))}</td>"
                        + "".join(f"<td style='padding:2px 8px'>{c}</td>" for c in cells) + "</tr>")
        return (f"<div><b>{html.escape(self.info.kernel)}</b> bench: {html.escape(self.summary())}"
                f"<table style='border-collapse:collapse'><tr><th style='padding:2px 8px'>size</th>{head}</tr>"
                f"{''.join(body)}</table></div>")


    def to_html(self, path: str | Path, *, plotlyjs: str = "inline") -> Path:
        """A styled HTML report, as :meth:`SweepResult.to_html <kernelbench.tune.result.SweepResult.to_html>`:
        the summary, throughput and latency against size, the table of sizes by implementation and
        the environment. ``plotlyjs="inline"`` (default: plotly.js once, in the file) or ``"cdn"``."""
        from kernelbench.tune.result import REPORT_PLOTLYJS, facts_table, report_page, versions_text

        if plotlyjs not in REPORT_PLOTLYJS:
            raise BenchError(f"plotlyjs must be one of {', '.join(map(repr, REPORT_PLOTLYJS))}; got {plotlyjs!r}")
        path = Path(path)
        info = self.info
        ys = [y for y in ("gbps", "ms", "tflops") if y != "tflops" or info.flops_given]
        charts = []
        for k, y in enumerate(ys):
            include: bool | str = (True if plotlyjs == "inline" else "cdn") if k == 0 else False
            charts.append(f"<div class='chart'>{self.figure(y=y).to_html(full_html=False, include_plotlyjs=include, default_width='100%')}</div>")
        facts = [("sizes", f"{len(self.sizes_done)} of {len(info.sizes)} done: {', '.join(map(str, info.sizes))}"),
                 ("implementations", ", ".join(info.impls) + f" (checked against {info.reference})"),
                 ("ended", f"{_ended(self.stopped)} after {self.wall_s:.3g} s"),
                 ("times", info.timer),
                 ("ceiling", info.ceilings.describe() if info.ceilings else "none (Triton's interpreter has none)")]
        head = "".join(f"<th>{html.escape(i)}</th>" for i in info.impls)
        body = []
        for index in sorted({r.size_index for r in self.rows}):
            cells = []
            for impl in info.impls:
                row = next((r for r in self.rows if r.size_index == index and r.impl == impl), None)
                if row is None:
                    cells.append("")
                elif row.correct:
                    cells.append(html.escape(row_text(row).removeprefix(f"{impl} ")))
                else:
                    cells.append(f"<span class='st st-wrong' title='{html.escape(row.error or '')}'>{row.status}</span>")
            body.append(f"<tr><td>{html.escape(str(info.sizes[index]))}</td>"
                        + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        table = (f"<div class='scroll'><table class='rows'><thead><tr><th>size</th>{head}</tr></thead><tbody>"
                 + "".join(body) + "</tbody></table></div>")
        environment = [("device", f"{info.device} · {info.mode}"), ("libraries", versions_text()),
                       ("kernel", f"{info.kernel} (source {info.source_hash or '?'})"),
                       ("tuning", str(info.tune) + (f", budget {info.budget}" if info.budget else "")),
                       ("bytes", info.bytes_label)]
        sections = [facts_table(facts), *charts, "<h2>Sizes by implementation</h2>", table,
                    "<h2>Environment</h2>", facts_table(environment)]
        path.write_text(report_page(f"{info.kernel}: bench report", f"{info.mode} · {info.timer}", sections))
        return path


def row_text(r: BenchRow) -> str:
    if r.status == "ok":
        text = f"{r.impl} {r.ms:.4g} ms"
        if r.gbps is not None:
            text += f" {r.gbps:.4g} GB/s"
        if r.tflops is not None:
            text += f" {r.tflops:.4g} TFLOP/s"
        if r.pct_of_ceiling is not None:
            text += f" ({r.pct_of_ceiling:.3g}% of ceiling)"
        return text
    return f"{r.impl} {r.status.upper()} ({(r.error or '').splitlines()[0][:100] if r.error else ''})"


# --------------------------------------------------------------------------------------------------
# The chart (a Figure or a FigureWidget: filled the same way, so live and static charts agree)


def _check_y(y: str, info: BenchInfo) -> None:
    if y not in Y_CHOICES:
        raise BenchError(f"y must be one of {', '.join(Y_CHOICES)}; got {y!r}")
    if y == "tflops" and not info.flops_given:
        raise BenchError("no TFLOP/s without the work done: pass flops=lambda size: <floating-point operations> "
                         "to bench")


def _metric(row: BenchRow, y: str) -> float | None:
    return {"gbps": row.gbps, "ms": row.ms, "tflops": row.tflops}[y]


def bench_figure(fig: Any, info: BenchInfo, rows: list[BenchRow], *, y: str) -> Any:
    """Fill ``fig``: one line per implementation, a trace of not-correct points, and the ceiling."""
    _check_y(y, info)
    done = sorted({r.size_index for r in rows})
    xs = [_x(info.sizes[i]) for i in done]
    measured = [r.ms for r in rows if r.ms is not None]
    # A wrong size is never fast: 0 GB/s or TFLOP/s, or above the slowest time on the ms chart.
    rates = [v for r in rows for v in [{"gbps": r.gbps, "tflops": r.tflops}.get(y)] if v]
    if y == "ms":
        floor = max(measured) * _FAILED_MS_FACTOR if measured else 1.0
    elif y in _LOG_Y:  # below the slowest rate: a log axis has no 0
        floor = min(rates) / _FAILED_MS_FACTOR if rates else 1.0
    else:
        floor = 0.0
    numeric = all(isinstance(_x(s), (int, float)) for s in info.sizes)
    spread = numeric and min(info.sizes) > 0 and max(info.sizes) / min(info.sizes) >= 4
    with fig.batch_update() if hasattr(fig, "batch_update") else contextlib.nullcontext():
        fig.data = []
        for impl in info.impls:
            by_index = {r.size_index: r for r in rows if r.impl == impl}
            ys = [_metric(by_index[i], y) if i in by_index and by_index[i].correct else None for i in done]
            texts = [f"{impl} at size {info.sizes[i]}: {row_text(by_index[i])}" if i in by_index else ""
                     for i in done]
            fig.add_scatter(x=xs, y=ys, mode="lines+markers", name=impl, connectgaps=False,
                            hovertext=texts, hoverinfo="text")
        bad = [r for r in rows if not r.correct]
        fig.add_scatter(x=[_x(r.size) for r in bad], y=[floor] * len(bad), mode="markers", name=NOT_CORRECT,
                        hovertext=[f"{r.impl} at size {r.size}: {r.status} — {(r.error or '')[:160]}" for r in bad],
                        hoverinfo="text", marker={"color": NOT_CORRECT_COLOUR, "size": 11, "symbol": "x"})
        c = info.ceilings
        if c is not None and y in ("gbps", "tflops"):
            level = c.copy_gbps if y == "gbps" else c.matmul_tflops
            what = f"copy bandwidth {level:.4g} GB/s" if y == "gbps" else f"bf16 matmul {level:.4g} TFLOP/s"
            ends = [_x(info.sizes[0]), _x(info.sizes[-1])]
            if numeric:
                ends = [min(info.sizes), max(info.sizes)]
            fig.add_scatter(x=ends, y=[level, level], mode="lines", name=f"ceiling: {what}",
                            line={"dash": "dash", "color": "#555"}, hoverinfo="name")
        elif c is not None and y == "ms":
            bound = {r.size_index: r.ceiling_ms for r in rows if r.ceiling_ms is not None}
            fig.add_scatter(x=[_x(info.sizes[i]) for i in done if i in bound], y=[bound[i] for i in done if i in bound],
                            mode="lines", name="ceiling: roofline time", line={"dash": "dash", "color": "#555"})
        if info.interpreter:
            where = f"{info.mode} · {info.timer}; no ceiling in the interpreter"
        else:
            where = f"{info.mode} · ceiling {c.describe()}" if c else info.mode
        fig.update_layout(
            title=f"{info.kernel}: {Y_LABELS[y]} against size — {where}",
            xaxis_title="size",
            xaxis_type="log" if spread else ("linear" if numeric else "category"),
            yaxis_title=Y_LABELS[y],
            yaxis_type="log" if y in _LOG_Y else "linear",
            yaxis_rangemode="normal" if y in _LOG_Y else "tozero",
            height=400,
            margin={"l": 60, "r": 20, "t": 50, "b": 40},
            legend={"orientation": "h", "y": -0.2},
            template=compact_template(),
        )
    return fig


# --------------------------------------------------------------------------------------------------
# The engine


def _magnitude(size: Any, position: int) -> float:
    """How large a size is, to find the largest: a number, the product of a tuple, else its position."""
    if isinstance(size, (int, float)) and not isinstance(size, bool):
        return float(size)
    if isinstance(size, (tuple, list)) and size and all(isinstance(s, (int, float)) for s in size):
        return float(math.prod(size))
    return float(position)


class Bench:
    """One bench of ``kernel`` over ``sizes``. Build it, then :meth:`run` it (once)."""

    def __init__(
        self,
        kernel: RunnableKernel,
        sizes: Sequence[Any],
        make_args: Callable[[Any], Any],
        *,
        baselines: Mapping[str, Callable[..., Any] | str] | None = None,
        tune: str | bool = False,
        ref: Callable[..., Any] | None = None,
        budget: int | None = None,
        bytes: int | Callable[[Any], float] | None = None,  # noqa: A002 - the public keyword is `bytes=`
        flops: float | Callable[[Any], float] | None = None,
        observers: Sequence[Observer] = (),
        rtol: float | None = None,
        atol: float | None = None,
        tuner: Tuner | None = None,
    ) -> None:
        self.kernel = kernel
        self.tuner = tuner
        self.sizes = list(sizes) if isinstance(sizes, Sequence) and not isinstance(sizes, str) else None
        if not self.sizes:
            raise BenchError(f"sizes must be a non-empty list, e.g. sizes=[256, 512, 1024]; got {sizes!r}")
        if not callable(make_args):
            raise BenchError("make_args must be a function of one size returning the kernel's arguments, "
                             "e.g. make_args=lambda n: (torch.randn(4096, n, device=kernelbench.DEVICE),)")
        if tune is True or (tune is not False and tune not in TUNE_CHOICES):
            raise BenchError(f"tune must be False, 'per-size' or 'once'; got {tune!r}")
        if budget is not None and (not isinstance(budget, numbers.Integral) or isinstance(budget, bool)
                                   or budget < 1):
            raise BenchError(f"budget must be at least 1 candidate, as a whole number (e.g. budget=8); got "
                             f"{budget!r}")
        if tune and tuner is None:
            raise BenchError(f"tune={tune!r} needs a tuner: Bench(..., tuner=fn(args, observers) -> SweepResult)")
        self.make_args = make_args
        self.tune = tune
        self.budget = budget
        self.bytes, self.flops = bytes, flops
        self.rtol, self.atol = rtol, atol
        self.observers = list(observers)
        self._stop_requested = False
        self._once: tuple[helion.Config, Any] | None = None
        self.rows: list[BenchRow] = []
        self.tuning: list[tuple[Any, SweepResult]] = []

        given = dict(baselines or {}) if isinstance(baselines, Mapping) or baselines is None else None
        if given is None:
            raise BenchError("baselines must be a dict of name -> callable (or 'compile'), e.g. "
                             "{'torch': lambda x: torch.softmax(x, -1), 'torch.compile': 'compile'}")
        for name, fn in given.items():
            if not (callable(fn) or fn == "compile"):
                raise BenchError(f"baseline {name!r} must be a callable or the string 'compile', got {fn!r}")
            if name == kernel.name:
                raise BenchError(f"baseline {name!r} has the kernel's own name; give it another name")
        callables = [(n, fn) for n, fn in given.items() if callable(fn)]
        if ref is not None:
            self.ref, ref_text = ref, "ref="
        elif callables:
            self.ref, ref_text = callables[0][1], f"baseline {callables[0][0]!r}"
        else:
            raise BenchError(
                "bench checks every size against a reference before timing it: pass ref=<torch function of "
                "the kernel's arguments>, or a callable baseline (the first one is the reference; "
                "'compile' compiles it)"
            )
        # (name, callable or None, why it cannot run)
        self.baselines: list[tuple[str, Callable[..., Any] | None, str | None]] = []
        for name, fn in given.items():
            if fn == "compile":
                try:
                    self.baselines.append((name, torch.compile(self.ref), None))
                except Exception as error:  # noqa: BLE001 - torch.compile is unsupported on some platforms
                    self.baselines.append((name, None, f"torch.compile is unavailable here: {short_error(error)}"))
            else:
                self.baselines.append((name, fn, None))

        if self.bytes is None:
            bytes_label = "bytes of all tensor inputs and outputs"
        else:
            bytes_label = "bytes(size) given" if callable(self.bytes) else "bytes given"
        self.info = BenchInfo(
            kernel=kernel.name,
            device=DEVICE,
            mode=device_name(),
            timer=timer_label(),
            interpreter=is_interpreter(),
            sizes=self.sizes,
            impls=[kernel.name, *(name for name, _, _ in self.baselines)],
            reference=ref_text,
            tune=tune,
            budget=budget,
            bytes_label=bytes_label,
            flops_given=flops is not None,
            ceilings=ceilings(),
            source_hash=kernel.source_hash,
        )

    # -- running ----------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the bench to end after the size under way (safe from a widget callback)."""
        self._stop_requested = True

    def _emit(self, event: Any) -> None:
        emit(self.observers, event)

    def run(self) -> BenchReport:
        started = time.perf_counter()
        total = len(self.sizes)
        self._emit(BenchStarted(self.info))
        stopped = "done"
        try:
            if self.tune == "once":
                index = max(range(total), key=lambda i: (_magnitude(self.sizes[i], i), i))
                size = self.sizes[index]
                self._emit(SizeStarted(index, size, total, "tuning once"))
                try:
                    args = self._args(size)
                except Exception:  # noqa: BLE001 - the size's own row says so; the others need no tuning
                    args = None
                if args is not None:
                    result = self._tune(index, size, args)
                    if result.best_config is not None:
                        self._once = (result.best_config, size)
            for index, size in enumerate(self.sizes):
                if self._stop_requested:
                    stopped = "stop"
                    break
                self._emit(SizeStarted(index, size, total, "tuning" if self.tune == "per-size" else "measuring"))
                rows = self._measure_size(index, size)
                self.rows.extend(rows)
                self._emit(SizeFinished(index, size, rows, index + 1, total, time.perf_counter() - started))
        except KeyboardInterrupt:
            stopped = "interrupt"
        report = BenchReport(self.info, list(self.rows), stopped, time.perf_counter() - started, list(self.tuning))
        self._emit(BenchFinished(report))
        return report

    def _args(self, size: Any) -> tuple[Any, ...]:
        args = self.make_args(size)
        return tuple(args) if isinstance(args, (tuple, list)) else (args,)

    def _tune(self, index: int, size: Any, args: tuple[Any, ...]) -> SweepResult:
        def forward(event: Any) -> None:
            if isinstance(event, CandidateFinished):
                best = event.best.ms if event.best is not None else None
                self._emit(SizeTuning(index, size, event.done, self.budget, best))

        assert self.tuner is not None
        result = self.tuner(args, [forward])
        self.tuning.append((size, result))
        if result.stopped == "interrupt":
            # Ctrl-C inside the sweep ended the sweep (which kept its results); it ends the bench too.
            raise KeyboardInterrupt
        return result

    def _kernel_config(self, index: int, size: Any, args: tuple[Any, ...]) -> tuple[helion.Config, str]:
        if self.tune == "per-size":
            result = self._tune(index, size, args)
            if result.best_config is not None:
                return result.best_config, f"tuned at this size ({len(result.candidates)} candidates)"
            config, why = self.kernel.active_config(*args)
            return config, f"{why} (tuning found no correct config)"
        if self.tune == "once" and self._once is not None:
            return self._once[0], f"tuned once at size {self._once[1]}"
        return self.kernel.active_config(*args)

    def _measure_size(self, index: int, size: Any) -> list[BenchRow]:
        """Every implementation at one size: the kernel first, then the baselines."""
        try:
            args = self._args(size)
        except torch.OutOfMemoryError as error:
            why = f"out of memory making the inputs at this size ({short_error(error)}); leave this size out"
            return [BenchRow(index, size, impl, "error", error=why) for impl in self.info.impls]
        except Exception as error:  # noqa: BLE001 - a size whose inputs cannot be made is a result
            why = (f"make_args({size!r}) raised {short_error(error)}; fix make_args for this size or leave "
                   "the size out")
            return [BenchRow(index, size, impl, "error", error=why) for impl in self.info.impls]
        try:
            natives = native_reference(self.ref, args)
            refs, _precision = reference(self.ref, args)
        except Exception as error:  # noqa: BLE001 - e.g. no memory for the float64 copy at the largest size
            why = f"the reference failed at this size: {short_error(error)}"
            return [BenchRow(index, size, impl, "error", error=why) for impl in self.info.impls]
        work = self._work(size, args, natives)
        rows: list[BenchRow] = []
        name = self.kernel.name
        try:
            config, source = self._kernel_config(index, size, args)
            fn = self.kernel.compiled(*args, config=config)
        except Exception as error:  # noqa: BLE001 - a kernel that fails at one size is a result
            rows.append(BenchRow(index, size, name, "error", error=short_error(error), **work))
        else:
            row = BenchRow(index, size, name, "ok", config=dict(config.config), config_source=source, **work)
            rows.append(self._measure(row, fn, args, refs, natives, poison=True))
        for bname, bfn, unavailable in self.baselines:
            row = BenchRow(index, size, bname, "ok", **work)
            if bfn is None:
                rows.append(dataclasses.replace(row, status="error", error=unavailable))
            else:
                rows.append(self._measure(row, bfn, args, refs, natives, poison=False))
        return rows

    def _work(self, size: Any, args: tuple[Any, ...], natives: list[torch.Tensor]) -> dict[str, Any]:
        """Bytes and flops at this size, and the roofline time the ceilings allow for them."""
        if self.bytes is None:
            tensors = [a for a in args if isinstance(a, torch.Tensor)] + list(natives)
            nbytes = sum(t.numel() * t.element_size() for t in tensors)
        else:
            nbytes = int(self.bytes(size) if callable(self.bytes) else self.bytes)
        flops = None if self.flops is None else float(self.flops(size) if callable(self.flops) else self.flops)
        ceiling_ms = None
        c = self.info.ceilings
        if c is not None:
            bound = nbytes / (c.copy_gbps * 1e9)
            if flops:
                bound = max(bound, flops / (c.matmul_tflops * 1e12))
            ceiling_ms = bound * 1e3
        return {"bytes": nbytes, "flops": flops, "ceiling_ms": ceiling_ms}

    def _measure(self, row: BenchRow, fn: Callable[..., Any], args: tuple[Any, ...], refs: list[torch.Tensor],
                 natives: list[torch.Tensor], *, poison: bool) -> BenchRow:
        """Check first (outputs poisoned for the kernel); only a correct implementation is timed."""
        problem = Problem(row.impl, args, [(args, refs)], natives, self.rtol, self.atol)
        # Warmed up at every size before it is timed: a first call that compiles (torch.compile
        # at a new shape) or sets itself up must not be the time shown for that size.
        outcome = evaluate(lambda: fn, problem, poison=poison, time_wrong=False, warmup=True)
        if outcome.status == "wrong":
            return dataclasses.replace(row, status="wrong", max_abs_err=outcome.max_abs_err, error=outcome.error)
        if not outcome.correct:
            error = (outcome.error or "").splitlines()[0] if outcome.error else None
            return dataclasses.replace(row, status="error", max_abs_err=outcome.max_abs_err, error=error)
        ms = outcome.ms
        assert ms is not None
        seconds = ms * 1e-3
        return dataclasses.replace(
            row,
            ms=ms,
            max_abs_err=outcome.max_abs_err,
            gbps=row.bytes / seconds / 1e9 if row.bytes else None,
            tflops=row.flops / seconds / 1e12 if row.flops else None,
            pct_of_ceiling=100 * row.ceiling_ms / ms if row.ceiling_ms is not None else None,
        )
