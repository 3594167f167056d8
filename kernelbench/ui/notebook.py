"""Where we are running, and so which observers show a sweep or a bench: a live dashboard in a
Jupyter kernel (with ipywidgets and plotly), a text line anywhere else.

The facade asks here; the engines never do (they emit events to whatever observers they are given).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["bench_observer", "in_notebook", "sweep_observer"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel with ipywidgets and plotly available (a dashboard can render)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    try:
        import ipywidgets  # noqa: F401
        import plotly  # noqa: F401
    except ImportError:
        return False
    return True


def sweep_observer(live: bool | None) -> tuple[Callable[[Any], None], Callable[[Any], None]]:
    """The observer that shows a sweep (``live``: the dashboard; ``None`` picks by
    :func:`in_notebook`), and a function to call with the sweep once it exists (wires Stop)."""
    if live is None:
        live = in_notebook()
    if live:
        from kernelbench.ui.dashboard import Dashboard

        dashboard = Dashboard()
        return dashboard, dashboard.attach
    from kernelbench.ui.progress import TextProgress

    return TextProgress(), lambda sweep: None


def bench_observer(live: bool | None) -> tuple[Callable[[Any], None], Callable[[Any], None]]:
    """As :func:`sweep_observer`, for a bench: its live chart, or a text line per size."""
    if live is None:
        live = in_notebook()
    if live:
        from kernelbench.ui.bench_dashboard import BenchDashboard

        dashboard = BenchDashboard()
        return dashboard, dashboard.attach
    from kernelbench.ui.progress import BenchProgress

    return BenchProgress(), lambda bench: None
