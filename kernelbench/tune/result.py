"""What a sweep measured: candidates, the best one, and ways to look at them (pandas, plotly, HTML)."""

from __future__ import annotations

import dataclasses
import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import helion

from kernelbench._errors import KernelbenchError, SweepError
from kernelbench.core.configs import decorator_text
from kernelbench.tune.records import STATUSES, Candidate, SweepInfo

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

__all__ = ["SweepResult"]

@dataclasses.dataclass
class SweepResult:
    """A finished (or stopped) sweep. Everything measured is here, whatever ended it."""

    info: SweepInfo
    candidates: list[Candidate]
    stopped: str  # budget, time_limit, stop, interrupt, exhausted, error
    wall_s: float
    #: With ``stopped == "error"``: the one-line message of the error that ended the sweep (it is raised).
    error: str | None = None

    # -- the best -------------------------------------------------------------------------------

    @property
    def best(self) -> Candidate | None:
        ok = [c for c in self.candidates if c.status == "ok" and c.ms is not None]
        return min(ok, key=lambda c: c.ms) if ok else None  # type: ignore[arg-type, return-value]

    @property
    def best_config(self) -> helion.Config | None:
        best = self.best
        return best.config if best else None

    @property
    def best_ms(self) -> float | None:
        best = self.best
        return best.ms if best else None

    @property
    def speedup(self) -> float | None:
        """Reference latency over the best candidate's (same timer)."""
        if self.best_ms and self.info.ref_ms:
            return self.info.ref_ms / self.best_ms
        return None

    def gbps(self, ms: float | None = None) -> float | None:
        ms = self.best_ms if ms is None else ms
        if not ms or not self.info.bytes:
            return None
        return self.info.bytes / (ms * 1e-3) / 1e9

    def tflops(self, ms: float | None = None) -> float | None:
        ms = self.best_ms if ms is None else ms
        if not ms or not self.info.flops:
            return None
        return self.info.flops / (ms * 1e-3) / 1e12

    @property
    def candidates_per_s(self) -> float:
        return len(self.candidates) / self.wall_s if self.wall_s > 0 else 0.0

    def decorator(self) -> str:
        """``@helion.kernel(config=helion.Config(...))`` to paste into a ``.py`` file."""
        if self.best_config is None:
            raise self._no_best()
        return decorator_text(self.best_config)

    def _no_best(self) -> Exception:
        counts = {s: sum(c.status == s for c in self.candidates) for s in STATUSES}
        summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        return SweepError(
            f"no candidate of {self.info.kernel} was correct ({summary or 'none tried'}); "
            "look at result.df's error column, check the reference, or widen the search"
        )

    # -- tables and charts ----------------------------------------------------------------------

    @property
    def df(self) -> pd.DataFrame:
        """One row per candidate: knobs as columns, status, ms, compile_s, errors, correct."""
        import pandas as pd

        rows = []
        for c in self.candidates:
            row: dict[str, Any] = {"index": c.index}
            for knob in self.info.knobs:
                value = c.config.config.get(knob)
                row[knob] = str(value) if isinstance(value, (list, dict)) else value
            row.update(
                status=c.status,
                ms=c.ms,
                gbps=self.gbps(c.ms) if c.ms else None,
                compile_s=c.compile_s,
                max_abs_err=c.max_abs_err,
                max_rel_err=c.max_rel_err,
                rel_l2=c.rel_l2,
                correct=c.correct,
                error=c.error,
                finished_s=c.finished_s,
            )
            rows.append(row)
        columns = ["index", *self.info.knobs, "status", "ms", "gbps", "compile_s", "max_abs_err",
                   "max_rel_err", "rel_l2", "correct", "error", "finished_s"]
        return pd.DataFrame(rows, columns=columns).set_index("index")

    def figure(self, x: str = "index") -> go.Figure:
        """Plotly figure of latency (log) against ``x`` (a knob, or the candidate index)."""
        try:
            import plotly.graph_objects as go
        except ImportError:
            raise KernelbenchError("result.figure() needs plotly: pip install plotly") from None
        from kernelbench.tune.charts import latency_figure

        return latency_figure(go.Figure(), self.info, x=x, candidates=self.candidates)

    def summary(self) -> str:
        best = self.best
        unit = f" ({self.info.timer})"
        if best is None:
            return f"{self.info.kernel}: no correct candidate in {len(self.candidates)} tried"
        parts = [f"{self.info.kernel}: best {best.ms:.4g} ms{unit} at candidate {best.index} of {len(self.candidates)}"]
        if self.speedup:
            parts.append(f"{self.speedup:.3g}x the reference")
        if self.gbps():
            parts.append(f"{self.gbps():.3g} GB/s ({self.info.bytes_label})")
        if self.tflops():
            parts.append(f"{self.tflops():.1f} TFLOP/s")
        parts.append(f"stopped by {self.stopped} after {self.wall_s:.1f} s, {self.candidates_per_s:.2f} candidates/s")
        return "; ".join(parts)

    def __repr__(self) -> str:
        return f"<SweepResult {self.summary()}>"

    def _repr_html_(self) -> str:
        best = self.best
        deco = html.escape(self.decorator()) if best else "—"
        return (
            f"<div><b>{html.escape(self.info.kernel)}</b> sweep: {html.escape(self.summary())}"
            f"<pre style='white-space:pre-wrap'>{deco}</pre></div>"
        )

    def to_html(self, path: str | Path) -> Path:
        """A standalone HTML report: summary, chart (plotly.js inlined) and the candidates table."""
        path = Path(path)
        fig = self.figure()
        table = self.df.to_html(float_format=lambda v: f"{v:.4g}" if not math.isnan(v) else "")
        body = (
            f"<h2>kernelbench sweep: {html.escape(self.info.kernel)}</h2>"
            f"<p>{html.escape(self.info.mode)} · strategy {html.escape(self.info.strategy)} · "
            f"space {html.escape(self.info.space)}</p>"
            f"<p><b>{html.escape(self.summary())}</b></p>"
            f"<pre>{html.escape(self.decorator()) if self.best else ''}</pre>"
            f"{fig.to_html(full_html=False, include_plotlyjs=True)}{table}"
        )
        path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(self.info.kernel)} sweep</title></head><body>{body}</body></html>")
        return path
