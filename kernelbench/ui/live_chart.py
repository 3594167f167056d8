"""A plotly chart that is live while work runs and small once it is saved.

While a sweep or bench runs, points go to a ``FigureWidget``. A FigureWidget carries megabytes of
JavaScript in saved widget state, so :meth:`LiveChart.freeze` closes it and leaves a plain plotly
figure in its place: one ``application/vnd.plotly.v1+json`` output (JupyterLab's plotly renderer
draws it, no plotly.js inlined).
"""

from __future__ import annotations

import json

import ipywidgets as widgets
import plotly.graph_objects as go

__all__ = ["LiveChart", "fmt_seconds"]


def fmt_seconds(seconds: float) -> str:
    seconds = max(0.0, seconds)
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


class LiveChart:
    """``figure`` while live; ``static`` (an Output widget) once frozen; ``box`` holds either."""

    def __init__(self) -> None:
        self.figure = go.FigureWidget()
        self.box = widgets.Box([self.figure])
        self.static: widgets.Output | None = None

    @property
    def frozen(self) -> bool:
        return self.static is not None

    def freeze(self, fig: go.Figure, label: str) -> None:
        """Show ``fig`` as a static plotly output (closing the live widget the first time)."""
        if self.static is None:
            self.figure.close()
            self.static = widgets.Output()
            self.box.children = [self.static]
        self.static.outputs = ({
            "output_type": "display_data",
            "data": {"application/vnd.plotly.v1+json": json.loads(fig.to_json()), "text/plain": label},
            "metadata": {},
        },)
