"""What a sweep measured: candidates, the best one, and ways to look at them (pandas, plotly, HTML)."""

from __future__ import annotations

import dataclasses
import datetime
import html
import importlib.metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import helion

from kernelbench._errors import KernelbenchError, SweepError
from kernelbench.core.configs import decorator_text
from kernelbench.core.lowering import RESOURCE_COLUMNS
from kernelbench.tune.records import STATUSES, Candidate, SweepInfo, skipped_note

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

__all__ = ["REPORT_PLOTLYJS", "SweepResult", "facts_table", "report_page", "versions_text"]

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
        """One row per candidate: knobs as columns, status, ms, compile_s, errors, correct.

        A ``slow`` row (interpreter sweeps) was cut short: its ``ms`` is one run, over 3x the best so
        far, and ``error`` says which run; it is not ``correct`` (not checked in full) and never the best."""
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
            if self.info.gpu_target:
                row.update({k: (c.resources or {}).get(k) for k in RESOURCE_COLUMNS})
            rows.append(row)
        columns = ["index", *self.info.knobs, "status", "ms", "gbps", "compile_s", "max_abs_err",
                   "max_rel_err", "rel_l2", "correct", "error", "finished_s"]
        if self.info.gpu_target:  # resources on the sweep's GPU target (kernelbench.core.lowering)
            columns += list(RESOURCE_COLUMNS)
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
            parts.append(f"{self.tflops():.3g} TFLOP/s")
        slow = sum(c.status == "slow" for c in self.candidates)
        if slow:
            parts.append(f"{slow} cut short as slow")
        screened = sum(c.status == "screened" for c in self.candidates)
        if screened:
            parts.append(f"{screened} screened out before timing ({self.info.gpu_target})")
        parts.append(f"stopped by {self.stopped} after {self.wall_s:.3g} s, {self.candidates_per_s:.3g} candidates/s")
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

    def to_html(self, path: str | Path, *, plotlyjs: str = "inline") -> Path:
        """A styled HTML report people keep: the summary, the chart, the best config's decorator, the
        candidates sorted by latency (with the knobs that varied) and the environment.

        ``plotlyjs="inline"`` (the default) puts plotly.js in the file once, so it opens anywhere
        offline (~4.7 MB); ``"cdn"`` loads it from the plotly CDN instead (a file of kilobytes)."""
        if plotlyjs not in REPORT_PLOTLYJS:
            raise SweepError(f"plotlyjs must be one of {', '.join(map(repr, REPORT_PLOTLYJS))}; got {plotlyjs!r}")
        path = Path(path)
        info = self.info
        chart = self.figure().to_html(full_html=False, include_plotlyjs=True if plotlyjs == "inline" else "cdn",
                                      default_width="100%")
        best = self.best
        facts = [("best", f"{best.ms:.4g} ms (candidate {best.index})" if best and best.ms else "no correct candidate")]
        if self.speedup:
            facts.append(("against the reference", f"{self.speedup:.3g}x its speed ({info.ref_ms:.4g} ms)"))
        if self.gbps():
            facts.append(("throughput", f"{self.gbps():.4g} GB/s ({info.bytes_label})"))
        if self.tflops():
            facts.append(("compute", f"{self.tflops():.4g} TFLOP/s"))
        counts = {s: sum(c.status == s for c in self.candidates) for s in STATUSES}
        facts.append(("candidates", ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"))
        facts.append(("ended", f"stopped by {self.stopped} after {self.wall_s:.3g} s "
                               f"({self.candidates_per_s:.3g} candidates/s)"))
        facts.append(("times", info.timer))
        sections = [
            facts_table(facts),
            f"<div class='chart'>{chart}</div>",
            "<h2>Best config</h2>" + (f"<pre>{html.escape(self.decorator())}</pre>" if best else
                                      f"<p>{html.escape(str(self._no_best()))}</p>"),
            "<h2>Candidates, fastest first</h2>" + self._candidates_table(),
            "<h2>Environment</h2>" + facts_table(self._environment()),
        ]
        title = f"{info.kernel}: sweep report"
        path.write_text(report_page(title, f"{info.mode} · strategy {info.strategy} · {info.space}", sections))
        return path

    def _candidates_table(self) -> str:
        """Rows sorted by latency (unmeasured last); knob columns only for knobs that varied."""
        varied = [k for k in self.info.knobs
                  if len({repr(c.config.config.get(k)) for c in self.candidates}) > 1]
        show_compile = not self.info.interpreter  # in the interpreter compiling is lazy: its time means nothing
        head = ["#", "status", "ms", *(["GB/s"] if self.info.bytes else []), *varied,
                *(["compile s"] if show_compile else [])]
        rows: list[str] = []
        notes: list[str] = []
        order = sorted(self.candidates, key=lambda c: (c.ms is None, c.ms if c.ms is not None else 0.0, c.index))
        for c in order:
            cells = [str(c.index), f"<span class='st st-{c.status}'>{c.status}</span>",
                     f"{c.ms:.4g}" if c.ms is not None else ""]
            if self.info.bytes:
                gbps = self.gbps(c.ms) if c.ms else None
                cells.append(f"{gbps:.4g}" if gbps else "")
            cells += [html.escape(str(c.config.config.get(k))) for k in varied]
            if show_compile:
                cells.append(f"{c.compile_s:.3g}")
            if c.error:
                notes.append(f"<li><b>#{c.index}</b> <span class='st st-{c.status}'>{c.status}</span>: "
                             f"{html.escape(c.error.splitlines()[0][:300])}</li>")
            best = " class='best'" if self.best is c else ""
            rows.append(f"<tr{best}>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
        fixed = [k for k in self.info.knobs if k not in varied]
        same = ""
        if fixed and self.candidates:
            first = self.candidates[0].config.config
            same = ("<p class='muted'>The same in every candidate: "
                    + ", ".join(f"<code>{html.escape(k)}={html.escape(str(first.get(k)))}</code>" for k in fixed)
                    + "</p>")
        return ("<div class='scroll'><table class='rows'><thead><tr>"
                + "".join(f"<th>{html.escape(h)}</th>" for h in head)
                + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>" + same
                + (f"<h3>Notes</h3><ul class='notes'>{''.join(notes)}</ul>" if notes else ""))

    def _environment(self) -> list[tuple[str, str]]:
        info = self.info
        facts = [("device", f"{info.device} · {info.mode}"), ("libraries", versions_text())]
        facts.append(("kernel", f"{info.kernel} (source {info.source_hash or '?'})"))
        if info.signature:
            facts.append(("arguments", "; ".join(_describe_arg(a) for a in info.signature)))
        facts.append(("search", f"{info.strategy} over {info.space}"
                                + (f", seed {info.seed}" if info.seed is not None else "")))
        limits = [f"budget {info.budget}" if info.budget else "", f"time limit {info.time_limit:g} s"
                  if info.time_limit else ""]
        facts.append(("limits", ", ".join(x for x in limits if x) or "none"))
        if note := skipped_note(info):
            facts.append(("left out", note))
        facts.append(("written", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")))
        return facts


REPORT_PLOTLYJS = ("inline", "cdn")

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;font-size:14px;
color:#1f2328;margin:0;background:#f6f8fa}
main{max-width:1100px;margin:0 auto;padding:24px 28px;background:#fff;min-height:100vh;box-sizing:border-box}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;
padding-bottom:4px}.sub{color:#59636e;margin:0 0 16px}.muted{color:#59636e;font-size:13px}
table{border-collapse:collapse}td,th{padding:3px 10px;text-align:left;vertical-align:top}
table.facts th{color:#59636e;font-weight:600;white-space:nowrap}
table.rows{width:100%;font-size:13px}table.rows th{border-bottom:2px solid #d0d7de;white-space:nowrap;
position:sticky;top:0;background:#fff}table.rows td{border-bottom:1px solid #eaeef2;white-space:nowrap}
table.rows tr.best td{background:#dafbe1}.scroll{overflow-x:auto;max-width:100%}
h3{font-size:14px;margin:16px 0 4px}ul.notes{font-size:13px;color:#59636e;padding-left:20px;margin:0}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:10px 12px;overflow-x:auto;
font-size:13px;line-height:1.45}code{font-size:12px}.chart{margin-top:12px}
.st{font-weight:600}.st-ok{color:#1a7f37}.st-wrong{color:#cf222e}.st-slow{color:#0969da}
.st-compile_error,.st-runtime_error,.st-timeout{color:#9a6700}
"""


def report_page(title: str, subtitle: str, sections: list[str]) -> str:
    """A standalone report page: one column, sans-serif, no wider than the window."""
    return (f"<!doctype html><html><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width,initial-scale=1'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><main><h1>{html.escape(title)}</h1>"
            f"<p class='sub'>{html.escape(subtitle)}</p>{''.join(sections)}"
            "<p class='muted'>Written by kernelbench.</p></main></body></html>")


def facts_table(facts: list[tuple[str, str]]) -> str:
    return ("<table class='facts'>" + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                                              for k, v in facts) + "</table>")


def _describe_arg(arg: Any) -> str:
    """One entry of a signature: ``(shape, dtype, strides)`` as ``bfloat16[64, 64]``, else as given."""
    if isinstance(arg, (tuple, list)) and len(arg) == 3 and isinstance(arg[1], str):
        return f"{arg[1]}{list(arg[0])}"
    return str(arg)


def versions_text() -> str:
    """The libraries a report was written with (a speed depends on all of them)."""
    import platform

    import torch
    import triton

    parts = [f"torch {torch.__version__}", f"triton {triton.__version__}"]
    for name in ("helion", "kernelbench"):
        try:
            parts.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{name} (not installed as a package)")
    parts.append(f"Python {platform.python_version()}")
    return ", ".join(parts)
