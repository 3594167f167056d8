"""What the sweep and bench dashboards share: the widget skeleton, the clock, Stop and the ending.

A view (``kernelbench.ui.dashboard.Dashboard`` for sweeps, ``kernelbench.ui.bench_dashboard.BenchDashboard``
for benches) maps its engine's events onto :meth:`DashboardBase._start`, :meth:`DashboardBase._step` and
:meth:`DashboardBase._finish`, and draws its own header, chart and table through the hooks below.

Widget clicks are not delivered while a cell runs: :class:`~kernelbench.ui.stop.StopChannel` makes
**Stop** reach the engine mid-cell. When the run ends, :class:`~kernelbench.ui.live_chart.LiveChart`
swaps the live ``FigureWidget`` for a plain plotly figure, so saved notebooks stay small.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol

import ipywidgets as widgets
import plotly.graph_objects as go
from IPython.display import display

from kernelbench.ui.live_chart import LiveChart, fmt_seconds
from kernelbench.ui.stop import StopChannel

__all__ = ["END_LABELS", "DashboardBase", "Stoppable", "end_label"]

# How a run ended, worded the same in every view (the Stop button's label once it is over).
END_LABELS = {"stop": "Stopped", "interrupt": "Interrupted"}


def end_label(stopped: str) -> str:
    """``"Stopped"`` (Stop pressed), ``"Interrupted"`` (kernel interrupt), else ``"Done"``."""
    return END_LABELS.get(stopped, "Done")


class Stoppable(Protocol):
    def stop(self) -> None: ...


class DashboardBase:
    """Header, progress bar, Stop, axis dropdown, status line, live chart, extra rows and final line.

    Hooks a view fills in: :meth:`_begin` (header, axis options, progress max, first drawing),
    :meth:`_draw_live` (redraw the live figure after the axis changes) and :meth:`_static_figure`
    (the plain figure that replaces it at the end).
    """

    STOP_TOOLTIP = "End the run after the current step; keep every result"

    def __init__(self, show: bool, *, axis: widgets.Dropdown, extra: Sequence[widgets.Widget] = ()) -> None:
        self.show = show
        self.engine: Stoppable | None = None
        self.info: Any = None
        self.started = time.perf_counter()
        self.header = widgets.HTML()
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="", layout={"width": "40%"})
        self.status = widgets.HTML()
        self.stop_button = widgets.Button(description="Stop", icon="stop", button_style="danger",
                                          tooltip=self.STOP_TOOLTIP)
        self.stop_button.on_click(self._on_stop)
        self.axis_select = axis
        self.axis = axis.value
        self.axis_select.observe(self._on_axis, names="value")
        self.live = LiveChart()
        self.figure = self.live.figure
        self.chart = self.live.box
        self.final = widgets.HTML()
        self.root = widgets.VBox([
            self.header,
            widgets.HBox([self.progress, self.stop_button, self.axis_select]),
            self.status,
            self.chart,
            *extra,
            self.final,
        ])
        self.stop_channel = StopChannel(self.stop_button)

    # -- hooks ------------------------------------------------------------------------------------

    def _begin(self, info: Any) -> None:
        """Fill the header, axis options, progress maximum and first live drawing for ``info``."""
        raise NotImplementedError

    def _draw_live(self) -> None:
        """Redraw the live figure from scratch (the axis changed)."""
        raise NotImplementedError

    def _static_figure(self) -> tuple[go.Figure, str]:
        """The plain figure that replaces the live one, and its text/plain label."""
        raise NotImplementedError

    # -- wiring -----------------------------------------------------------------------------------

    def attach(self, engine: Stoppable) -> None:
        """Let Stop reach ``engine`` (a sweep or a bench: anything with ``.stop()``)."""
        self.engine = engine

    def _on_stop(self, _button: Any = None) -> None:
        if self.engine is not None:
            self.engine.stop()
        self.stop_button.disabled = True
        self.stop_button.description = "Stopping…"

    def _on_axis(self, change: dict[str, Any]) -> None:
        self.axis = change["new"]
        if self.info is None:
            return
        if not self.live.frozen:
            self._draw_live()
        else:
            self._draw_static()

    # -- the run ----------------------------------------------------------------------------------

    def _start(self, info: Any) -> None:
        self.info = info
        self.started = time.perf_counter()
        self._begin(info)
        if self.show:
            display(self.root)
        self.stop_channel.open()

    def _step(self) -> None:
        """Between steps (candidates, sizes): let a pending Stop click through."""
        self.stop_channel.process()

    def _finish(self, stopped: str, final_html: str) -> None:
        self.stop_channel.close()
        self.stop_button.disabled = True
        self.stop_button.description = end_label(stopped)
        self.final.value = final_html
        self._draw_static()

    def _draw_static(self) -> None:
        assert self.info is not None
        self.live.freeze(*self._static_figure())

    @property
    def static_chart(self) -> widgets.Output | None:
        return self.live.static

    # -- the clock --------------------------------------------------------------------------------

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self.started

    @staticmethod
    def _pace_eta(elapsed: float, done: int, total: int) -> float:
        """Seconds left at the pace so far (NaN before the first step)."""
        return elapsed / done * (total - done) if done else float("nan")

    def _clock(self, elapsed: float | None = None, eta: float = float("nan")) -> str:
        """``elapsed 12 s`` or ``elapsed 12 s · ETA 30 s`` (no ETA when it is NaN)."""
        text = f"elapsed {fmt_seconds(self.elapsed_s if elapsed is None else elapsed)}"
        if eta == eta:  # not NaN
            text += f" · ETA {fmt_seconds(eta)}"
        return text
