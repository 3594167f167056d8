"""A plotly chart that is live while work runs and a plain figure once it ends.

The chart is a plain ``go.Figure`` (the model) shown in an ``ipywidgets.Output`` as one
``application/vnd.plotly.v1+json`` output, replaced on each :meth:`LiveChart.push`: JupyterLab's own
plotly renderer draws it (plotly's ``FigureWidget`` drew empty axes in JupyterLab 4.6 with plotly 7.1
and anywidget 0.11, and carries its JavaScript in the widget state). Until the first point it says
what it waits for: no empty placeholder axes.

When the run ends the dashboard replaces its whole widget output with static outputs; the chart's is
:func:`figure_bundle`: the figure's JSON (the renderer saves a PNG of it beside it, which GitHub and
nbviewer show), no plotly.js inlined.

:func:`readable_layout` is what both views do to a figure before it is shown: the title's long tail
becomes a subtitle (so the toolbar never covers it); :func:`integer_ticks` gives a candidate axis
whole-number ticks.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go

__all__ = ["LiveChart", "figure_bundle", "fmt_seconds", "integer_ticks", "readable_layout"]

PLOTLY_MIME = "application/vnd.plotly.v1+json"


def fmt_seconds(seconds: float) -> str:
    seconds = max(0.0, seconds)
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def figure_bundle(fig: go.Figure, label: str) -> dict[str, Any]:
    """A display_data mimebundle of ``fig``: its JSON for plotly's renderer, ``label`` as text."""
    return {PLOTLY_MIME: json.loads(fig.to_json()), "text/plain": label}


def readable_layout(fig: Any) -> Any:
    """Split ``"kernel: what — where"`` titles into a short title and a subtitle, with room above
    the plot for both (the toolbar sits at the top right, over a long title)."""
    text = fig.layout.title.text or ""
    main, sep, rest = text.partition(" — ")
    if sep:
        fig.update_layout(title={"text": main, "subtitle": {"text": rest}, "x": 0.01, "xanchor": "left"},
                          margin={"t": 80})
    return fig


def integer_ticks(fig: Any, count: int) -> None:
    """Whole-number ticks on the x axis for ``count`` candidates (1, 2, 5, 10, ... apart)."""
    step = 1
    while count / step > 12:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2
    fig.update_xaxes(tick0=0, dtick=step, tickformat="d")


class LiveChart:
    """``figure`` (a ``go.Figure``) shown in ``box`` (an Output widget) by :meth:`push`; before
    :meth:`reveal` (the first point) the box holds a line saying what it waits for.

    Each push re-renders the chart in the browser, so pushes come at most every ``min_interval_s``:
    a push sooner only marks the chart stale, and :meth:`flush` (the dashboard's clock calls it)
    sends it once the interval has passed."""

    def __init__(self, waiting: str = "waiting for the first result…", min_interval_s: float = 0.0,
                 layout: widgets.Layout | None = None) -> None:
        self.figure = go.Figure()
        self.box = widgets.Output() if layout is None else widgets.Output(layout=layout)
        self.waiting = waiting
        self.min_interval_s = min_interval_s
        self.revealed = False
        self.label = "<live chart>"
        self._sent_at = -math.inf
        self._stale = False
        self._send()

    def reveal(self) -> None:
        """The first point is in: show the chart from now on (at once)."""
        first = not self.revealed
        self.revealed = True
        if first:
            self._send()
        else:
            self.push()

    def push(self) -> None:
        """Show the figure as it is now, or as soon as ``min_interval_s`` has passed since the last."""
        if time.perf_counter() - self._sent_at >= self.min_interval_s:
            self._send()
        else:
            self._stale = True

    def flush(self) -> None:
        """Send a stale figure if the interval has passed."""
        if self._stale and time.perf_counter() - self._sent_at >= self.min_interval_s:
            self._send()

    def _send(self) -> None:
        if self.revealed:
            data = figure_bundle(self.figure, self.label)
        else:
            data = {"text/html": f"<div class='kb-waiting' style='color:#888;padding:8px 0'>{self.waiting}</div>",
                    "text/plain": self.waiting}
        self.box.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)
        self._sent_at, self._stale = time.perf_counter(), False

    def close(self) -> None:
        """Close the live widget (nothing of it is saved with the notebook)."""
        self.box.close()
