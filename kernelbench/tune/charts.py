"""Plotly traces shared by the live dashboard (FigureWidget) and static figures."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from kernelbench.tune.records import STATUS_COLOURS, STATUSES, Candidate, SweepInfo

__all__ = ["best_so_far", "compact_template", "latency_figure", "status_points", "x_values"]

_FAILED_Y_FACTOR = 1.5  # failures have no latency: draw them just above the slowest measured one
MEASURED = ("ok", "wrong", "slow")  # statuses drawn at their own latency
_SYMBOLS = {"ok": "circle", "slow": "triangle-up"}  # slow: one run, cut short (at least this slow)


def x_values(candidates: list[Candidate], x: str) -> list[Any]:
    if x == "index":
        return [c.index for c in candidates]
    out = []
    for c in candidates:
        # a knob, or a resource on the sweep's GPU target (registers, occupancy...: lowering.RESOURCE_COLUMNS)
        v = c.config.config.get(x) if x in c.config.config else (c.resources or {}).get(x)
        out.append(str(v) if isinstance(v, (list, dict)) else v)
    return out


def status_points(candidates: list[Candidate], x: str, status: str,
                  default: Mapping[str, Any] | None = None) -> tuple[list[Any], list[float], list[str]]:
    """x, y and hover text of the candidates with ``status`` (failures sit above the slowest). The
    hover text names the knobs that vary between the candidates and, given Helion's ``default``
    config, only those off it (as the status line and the top table do), and a failure's error (not
    a slow one's, always the same sentence: its marker and name say it)."""
    measured = [c.ms for c in candidates if c.ms]
    ceiling = max(measured) * _FAILED_Y_FACTOR if measured else 1.0
    chosen = [c for c in candidates if c.status == status]
    ys = [_round(c.ms) if (c.ms and status in MEASURED) else _round(ceiling) for c in chosen]
    varying = varying_knobs(candidates)
    texts = [
        f"#{c.index} {c.status}" + (f" {c.ms:.4g} ms" if c.ms else "")
        + (f"<br>{c.error[:120]}" if c.error and c.status != "slow" else "")
        + "<br>" + _knobs_hover(c.config.config, varying, default)
        for c in chosen
    ]
    return x_values(chosen, x), ys, texts


def _knobs_hover(config: Mapping[str, Any], varying: set[str], default: Mapping[str, Any] | None) -> str:
    off = {k: v for k, v in config.items() if default is None or k not in default or _norm(default[k]) != _norm(v)}
    if not off:
        return "Helion's default config"
    return ", ".join(f"{k}={v}" for k, v in off.items() if k in varying) or "(same knobs as the others)"


def _norm(value: Any) -> Any:
    return [_norm(v) for v in value] if isinstance(value, (list, tuple)) else value


def varying_knobs(candidates: list[Candidate]) -> set[str]:
    """The knobs whose value differs between ``candidates`` (all knobs with one candidate): the hover
    text names only these, so the saved chart stays small."""
    if len(candidates) < 2:
        return {k for c in candidates for k in c.config.config}
    keys = {k for c in candidates for k in c.config.config}
    return {k for k in keys if len({repr(c.config.config.get(k)) for c in candidates}) > 1}


def _round(value: float) -> float:
    """Four significant digits: enough to read off a chart, and short in the saved JSON."""
    return float(f"{value:.4g}")


#: What a 2-D chart of scatter lines and markers takes from a plotly template: its looks without the
#: colour scales, 3-D scenes, maps and the 40-odd other trace types' defaults (9 of the 10 kB that
#: plotly's default template adds to every saved figure).
_TEMPLATE_LAYOUT = ("annotationdefaults", "autotypenumbers", "colorway", "font", "hoverlabel", "hovermode",
                    "legend", "margin", "paper_bgcolor", "plot_bgcolor", "shapedefaults", "title", "xaxis", "yaxis")


def compact_template() -> Any:
    """plotly's current default template (``plotly.io.templates.default``) cut down to what a scatter
    chart uses, so a saved figure carries 1 kB of template, not 10 kB, and looks the same."""
    import plotly.graph_objects as go
    import plotly.io as pio

    name = pio.templates.default
    if not name or name == "none":
        return "none"
    full = pio.templates[name].to_plotly_json()
    layout = {k: v for k, v in full.get("layout", {}).items() if k in _TEMPLATE_LAYOUT}
    data = {k: v for k, v in full.get("data", {}).items() if k == "scatter"}
    return go.layout.Template(layout=layout, data=data)


def best_so_far(candidates: list[Candidate]) -> tuple[list[int], list[float]]:
    xs, ys, best = [], [], math.inf
    for c in candidates:
        if c.status == "ok" and c.ms is not None and c.ms < best:
            best = c.ms
        if best < math.inf:
            xs.append(c.index)
            ys.append(_round(best))
    return xs, ys


def latency_figure(fig: Any, info: SweepInfo, *, x: str, candidates: list[Candidate]) -> Any:
    """Fill ``fig`` (a Figure or FigureWidget) with one scatter per status and the best-so-far line."""
    with fig.batch_update() if hasattr(fig, "batch_update") else _null():
        fig.data = []
        for status in STATUSES:
            xs, ys, texts = status_points(candidates, x, status, info.default)
            fig.add_scatter(x=xs, y=ys, mode="markers", name=status, hovertext=texts, hoverinfo="text",
                            marker={"color": STATUS_COLOURS[status], "size": 8,
                                    "symbol": _SYMBOLS.get(status, "x")})
        bx, by = best_so_far(candidates) if x == "index" else ([], [])
        fig.add_scatter(x=bx, y=by, mode="lines", name="best so far", line={"shape": "hv", "color": "#2ca02c"},
                        visible=x == "index")
        fig.update_layout(
            title=f"{info.kernel}: latency per candidate — {info.timer}",
            xaxis_title="candidate" if x == "index" else x,
            yaxis_title="ms (log)",
            yaxis_type="log",
            height=380,
            margin={"l": 60, "r": 20, "t": 50, "b": 40},
            legend={"orientation": "h", "y": -0.2},
            template=compact_template(),
        )
    return fig


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
