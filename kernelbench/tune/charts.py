"""Plotly traces shared by the live dashboard (FigureWidget) and static figures."""

from __future__ import annotations

import math
from typing import Any

from kernelbench.tune.records import STATUS_COLOURS, STATUSES, Candidate, SweepInfo

__all__ = ["best_so_far", "latency_figure", "status_points", "x_values"]

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


def status_points(candidates: list[Candidate], x: str, status: str) -> tuple[list[Any], list[float], list[str]]:
    """x, y and hover text of the candidates with ``status`` (failures sit above the slowest)."""
    measured = [c.ms for c in candidates if c.ms]
    ceiling = max(measured) * _FAILED_Y_FACTOR if measured else 1.0
    chosen = [c for c in candidates if c.status == status]
    ys = [c.ms if (c.ms and status in MEASURED) else ceiling for c in chosen]
    texts = [
        f"#{c.index} {c.status}" + (f" {c.ms:.4g} ms" if c.ms else "") + (f"<br>{c.error[:120]}" if c.error else "")
        + "<br>" + ", ".join(f"{k}={v}" for k, v in c.config.config.items())
        for c in chosen
    ]
    return x_values(chosen, x), ys, texts


def best_so_far(candidates: list[Candidate]) -> tuple[list[int], list[float]]:
    xs, ys, best = [], [], math.inf
    for c in candidates:
        if c.status == "ok" and c.ms is not None and c.ms < best:
            best = c.ms
        if best < math.inf:
            xs.append(c.index)
            ys.append(best)
    return xs, ys


def latency_figure(fig: Any, info: SweepInfo, *, x: str, candidates: list[Candidate]) -> Any:
    """Fill ``fig`` (a Figure or FigureWidget) with one scatter per status and the best-so-far line."""
    with fig.batch_update() if hasattr(fig, "batch_update") else _null():
        fig.data = []
        for status in STATUSES:
            xs, ys, texts = status_points(candidates, x, status)
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
        )
    return fig


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
