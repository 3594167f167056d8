"""What the sweep and bench dashboards share: the widget skeleton, the ticking clock, Stop and the
static ending.

A view (``kernelbench.ui.dashboard.Dashboard`` for sweeps, ``kernelbench.ui.bench_dashboard.BenchDashboard``
for benches) maps its engine's events onto :meth:`DashboardBase._start`, :meth:`DashboardBase._step` and
:meth:`DashboardBase._finish`, and draws its own header, status, chart and table through the hooks below.

* **Stop mid-cell.** Widget clicks are not delivered while a cell runs: :class:`~kernelbench.ui.stop.StopChannel`
  makes **Stop** reach the engine.
* **Never frozen.** The kernel's main thread is busy running a candidate between events, so a daemon
  thread redraws the status line once a second (ipykernel sends a widget's state from any thread),
  and sends the live chart when it is stale (it is redrawn at most every ``CHART_EVERY_S``).
* **A saved notebook keeps the results.** The dashboard is displayed with a display id; when the run
  ends (finished, stopped, interrupted or failed) that output is *updated* to static HTML (header and
  final status) and two static outputs follow it: the chart's plotly JSON and the table, final line and
  decorator. A reopened, shared or converted notebook shows the end state, not "model not found"; no
  widget state or plotly.js is saved.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

import ipywidgets as widgets
import plotly.graph_objects as go
from IPython.display import display
from ipywidgets.widgets.widget_string import HTMLStyle

from kernelbench.ui._text import ended_text, finished
from kernelbench.ui.live_chart import LiveChart, figure_bundle, fmt_seconds
from kernelbench.ui.stop import StopChannel

__all__ = ["END_LABELS", "DashboardBase", "SharedLooks", "Stoppable", "close_tree", "end_label", "ended_badge",
           "widget_tree"]

# How a run ended, worded the same in every view (the Stop button's label once it is over).
END_LABELS = {"stop": "Stopped", "interrupt": "Interrupted", "error": "Failed"}


def end_label(stopped: str) -> str:
    """``"Stopped"`` (Stop pressed), ``"Interrupted"`` (kernel interrupt), ``"Failed"``, else ``"Done"``."""
    return END_LABELS.get(stopped, "Done")


def ended_badge(stopped: str) -> str:
    """A coloured label of how the run ended, for the static output (where no button is left)."""
    colour = "#1a7f37" if finished(stopped) else "#cf222e" if stopped == "error" else "#9a6700"
    mark = "✓" if finished(stopped) else "✗" if stopped == "error" else "■"
    return (f"<span class='kb-ended' style='color:{colour};font-weight:600'>{mark} "
            f"{html.escape(ended_text(stopped))}</span>")


class SharedLooks:
    """One layout and one HTML style model for all of a dashboard's widgets that use the defaults:
    each model a widget opens is saved in an executed notebook's widget state (nbclient keeps even
    closed ones), so sharing them keeps that state small."""

    def __init__(self) -> None:
        self.layout = widgets.Layout()
        self.html_style = HTMLStyle()

    def html(self) -> widgets.HTML:
        return widgets.HTML(layout=self.layout, style=self.html_style)


def widget_tree(*roots: widgets.Widget) -> list[widgets.Widget]:
    """Every model reachable from ``roots``: each widget, its children and its layout and style models
    (any synced trait that holds a widget or a list of widgets), each once."""
    seen: dict[int, widgets.Widget] = {}
    todo = list(roots)
    while todo:
        widget = todo.pop()
        if id(widget) in seen:
            continue
        seen[id(widget)] = widget
        for name in widget.keys:
            value = getattr(widget, name)
            items = value if isinstance(value, (list, tuple)) else (value,)
            todo.extend(v for v in items if isinstance(v, widgets.Widget) and id(v) not in seen)
    return list(seen.values())


def close_tree(*roots: widgets.Widget, empty: bool = False) -> None:
    """Close every model :func:`widget_tree` reaches from ``roots`` (``Widget.close`` alone leaves the
    layout and style models open, and the notebook saves their state). ``empty``: HTML values and Output
    contents are emptied first, as nbconvert (nbclient) saves the last state even of closed models."""
    for widget in widget_tree(*roots):
        if empty and isinstance(widget, widgets.HTML):
            widget.value = ""
        elif empty and isinstance(widget, widgets.Output):
            widget.outputs = ()
        widget.close()


class Stoppable(Protocol):
    def stop(self) -> None: ...


class DashboardBase:
    """Header, progress bar, Stop, axis dropdown, status line, live chart and extra rows; the final line
    once it ends.

    Hooks a view fills in: :meth:`_begin` (header, axis options, progress max, first drawing),
    :meth:`_status_html` (the status line, from the view's state and the clock: the ticker redraws it),
    :meth:`_draw_live` (redraw the live figure after the axis changes), :meth:`_static_figure` (the plain
    figure the static output shows) and :meth:`_static_text` (what a text-only front end shows).
    """

    STOP_TOOLTIP = "End the run after the current step; keep every result"
    #: Seconds between redraws of the status line while a step runs.
    TICK_S = 1.0
    #: Shortest time between two redraws of the live chart in the browser (each one re-renders it).
    CHART_EVERY_S = 2.0

    def __init__(self, show: bool, *, axis: widgets.Dropdown, extra: Sequence[widgets.Widget] = (),
                 waiting: str = "waiting for the first result…", looks: SharedLooks | None = None) -> None:
        self.show = show
        self.engine: Stoppable | None = None
        self.info: Any = None
        self.started = time.perf_counter()
        self.stopped: str | None = None  # how the run ended, once it has
        self.looks = looks = looks or SharedLooks()  # a view passes its own when its extra rows use it
        self.header = looks.html()
        # The shared layout (ipywidgets' default width): a layout of its own is one more model saved.
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="", layout=looks.layout)
        self.status = looks.html()
        self.stop_button = widgets.Button(description="Stop", icon="stop", button_style="danger",
                                          tooltip=self.STOP_TOOLTIP, layout=looks.layout)
        self.stop_button.on_click(self._on_stop)
        self.axis_select = axis
        self.axis = axis.value
        self.axis_select.observe(self._on_axis, names="value")
        self.live = LiveChart(waiting, layout=looks.layout)
        self.figure = self.live.figure
        self.chart = self.live.box
        self.extra = list(extra)
        #: The final line (best, how it ended, the decorator): shown only in the static output, so it is
        #: no widget (one model fewer saved).
        self.final_html = ""
        self.controls = widgets.HBox([self.progress, self.stop_button, self.axis_select], layout=looks.layout)
        self.root = widgets.VBox([self.header, self.controls, self.status, self.chart, *self.extra],
                                 layout=looks.layout)
        self.stop_channel = StopChannel(self.stop_button)
        self.handle: Any = None  # the DisplayHandle of the live output
        #: The mimebundles that replace the live output once the run ends (also when not shown).
        self.static_outputs: list[dict[str, Any]] = []
        self._lock = threading.RLock()  # the status line and the chart: the clock thread draws them too
        self._ticking = threading.Event()
        self._ticker: threading.Thread | None = None

    # -- hooks ------------------------------------------------------------------------------------

    def _begin(self, info: Any) -> None:
        """Fill the header, axis options, progress maximum and first live drawing for ``info``."""
        raise NotImplementedError

    def _status_html(self) -> str:
        """The status line now (called on every event and by the ticker)."""
        raise NotImplementedError

    def _draw_live(self) -> None:
        """Redraw the live figure from scratch (the axis changed)."""
        raise NotImplementedError

    def _static_figure(self) -> tuple[go.Figure | None, str]:
        """The plain figure the static output shows (None: nothing was measured), and its label."""
        raise NotImplementedError

    def _static_text(self) -> str:
        """The run's summary as plain text (the static output's text/plain)."""
        raise NotImplementedError

    def _static_tail_text(self) -> str:
        """What the last static output says on a text-only front end ('' by default)."""
        return ""

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
        if self.info is not None and self.stopped is None:
            self._draw_live()

    # -- the run ----------------------------------------------------------------------------------

    def _start(self, info: Any) -> None:
        self.info = info
        self.started = time.perf_counter()
        self._begin(info)
        self.refresh_status()
        if self.show:
            self.live.min_interval_s = self.CHART_EVERY_S
            self.handle = display(self.root, display_id=True)
            self._ticker = threading.Thread(target=self._tick, name="kernelbench-dashboard-clock", daemon=True)
            self._ticker.start()
        self.stop_channel.open()

    def _step(self) -> None:
        """Between steps (candidates, sizes): let a pending Stop click through."""
        self.stop_channel.process()

    def refresh_status(self) -> None:
        """Redraw the status line from the view's state and the clock (any thread)."""
        with self._lock:
            self.status.value = self._status_html()

    def _tick(self) -> None:
        while not self._ticking.wait(self.TICK_S):
            self.refresh_status()
            with self._lock:
                self.live.flush()

    def _finish(self, stopped: str, final_html: str) -> None:
        """End the live view: stop the clock, then replace the widget output with static outputs."""
        self._ticking.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        self.stop_channel.close()
        self.stopped = stopped
        self.stop_button.disabled = True
        self.stop_button.description = end_label(stopped)
        self.progress.value = self.progress.max if finished(stopped) else self.progress.value
        self.final_html = final_html
        self.refresh_status()
        self.static_outputs = self._static_outputs()
        if self.handle is not None:
            self.handle.update(self.static_outputs[0], raw=True)
            for bundle in self.static_outputs[1:]:
                display(bundle, raw=True)
        self._close_widgets()

    def _static_outputs(self) -> list[dict[str, Any]]:
        """Head (header, final status, how it ended), the chart if anything was measured, and the rest
        (each extra row and the final line) as static mimebundles."""
        text = self._static_text()
        outputs = [{
            "text/html": (f"<div class='kb-dashboard kb-static'>{self.header.value}"
                          f"<div style='margin-top:4px'>{ended_badge(self.stopped or '')} · {self.status.value}</div></div>"),
            "text/plain": text,
        }]
        fig, label = self._static_figure()
        if fig is not None:
            outputs.append(figure_bundle(fig, label))
        tail = "".join(w.value for w in self.extra if isinstance(w, widgets.HTML)) + self.final_html
        outputs.append({"text/html": f"<div class='kb-dashboard kb-static'>{tail}</div>",
                        "text/plain": self._static_tail_text()})
        return outputs

    def _close_widgets(self) -> None:
        """Close every widget of the live view, with their layout and style models and children:
        no model of it is left in the kernel, on the page or in the saved notebook."""
        close_tree(self.root, empty=self.show)  # the live chart's Output among them

    @property
    def static_chart(self) -> dict[str, Any] | None:
        """The static chart's mimebundle once the run ended (None before, or with nothing measured)."""
        return next((o for o in self.static_outputs if "application/vnd.plotly.v1+json" in o), None)

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
