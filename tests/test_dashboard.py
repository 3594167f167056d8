"""The live dashboard's real widget state, candidate by candidate; Stop via the button's handler."""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch

import kernelbench
from kernelbench.tune.events import CandidateFinished
from kernelbench.tune.records import STATUSES
from kernelbench.tune.sweep import Sweep
from kernelbench.ui.dashboard import Dashboard

from .conftest import run, unique
from .kernels import tiles


@pytest.fixture(autouse=True)
def one_timed_run() -> Any:
    with kernelbench.settings.scope(cpu_reps=1):
        yield


def x32() -> torch.Tensor:
    return torch.randn(32, 32, device=kernelbench.DEVICE)


def test_widgets_reflect_each_finished_candidate() -> None:
    dash = Dashboard(show=False)
    seen: list[tuple[int, int, str]] = []

    def inspect(event: Any) -> None:
        if isinstance(event, CandidateFinished):
            points = sum(len(dash.figure.data[i].x) for i in range(len(STATUSES)))
            seen.append((dash.progress.value, points, dash.status.value))

    sweep = Sweep(tiles.scale, (x32(),), ref=lambda t: t * 3, budget=4, seed=0, observers=[dash, inspect])
    dash.attach(sweep)
    assert dash.progress.max == 1  # nothing drawn before the sweep starts
    result = sweep.run()
    assert [s[0] for s in seen] == [1, 2, 3, 4]
    assert [s[1] for s in seen] == [1, 2, 3, 4]
    assert "best" in seen[-1][2] and "/4 candidates" in seen[-1][2]
    assert dash.progress.max == 4
    assert "strategy" in dash.header.value and kernelbench.device_name() in dash.header.value
    if kernelbench.is_interpreter():
        assert "interpreter time — not GPU performance" in dash.header.value
    assert "Best:" in dash.final.value and "@helion.kernel(config=" in dash.final.value
    assert "Top" in dash.top.value
    assert dash.x_select.options[0] == "index" and "num_warps" in dash.x_select.options
    assert result.best is not None


def test_stop_button_handler_ends_sweep_and_keeps_results() -> None:
    dash = Dashboard(show=False)

    def click_after_two(event: Any) -> None:
        if isinstance(event, CandidateFinished) and event.done == 2:
            dash.stop_button.click()  # exactly what a click in the browser runs

    sweep = Sweep(tiles.scale, (x32(),), ref=lambda t: t * 3, budget=20, seed=0, observers=[dash, click_after_two])
    dash.attach(sweep)
    result = sweep.run()
    assert result.stopped == "stop" and len(result.candidates) == 2
    assert dash.stop_button.disabled and dash.stop_button.description == "Stopped"
    assert result.best is not None


def test_finished_dashboard_drops_the_figure_widget_and_stays_small() -> None:
    import ipywidgets
    from ipywidgets.embed import dependency_state

    dash = Dashboard(show=False)
    sweep = Sweep(tiles.scale, (x32(),), ref=lambda t: t * 3, budget=3, seed=0, observers=[dash])
    dash.attach(sweep)
    sweep.run()
    assert dash.figure.comm is None  # closed: its JavaScript is not saved with the notebook
    state = dependency_state([dash.root], drop_defaults=True)
    assert len(json.dumps(state)) < 200_000
    outputs = dash.static_chart.outputs
    assert outputs and "application/vnd.plotly.v1+json" in outputs[0]["data"]
    # Changing the x axis after the sweep redraws the static chart.
    dash.x_select.value = "num_warps"
    assert json.loads(json.dumps(dash.static_chart.outputs[0]["data"]["application/vnd.plotly.v1+json"]))[
        "layout"]["xaxis"]["title"]["text"] == "num_warps"
    assert isinstance(dash.root, ipywidgets.VBox)


def test_x_selector_redraws_live_figure() -> None:
    dash = Dashboard(show=False)

    def switch(event: Any) -> None:
        if isinstance(event, CandidateFinished) and event.done == 2:
            dash.x_select.value = "num_warps"
            assert dash.figure.layout.xaxis.title.text == "num_warps"
            assert sum(len(dash.figure.data[i].x) for i in range(len(STATUSES))) == 2

    sweep = Sweep(tiles.scale, (x32(),), budget=3, seed=0, observers=[dash, switch])
    dash.attach(sweep)
    sweep.run()


def test_both_dashboards_word_an_interrupted_run_the_same_way() -> None:
    from kernelbench.bench.bench import Bench, BenchFinished, BenchReport, BenchStarted
    from kernelbench.tune.events import SweepFinished, SweepStarted
    from kernelbench.tune.result import SweepResult
    from kernelbench.ui.bench_dashboard import BenchDashboard

    info = Sweep(tiles.scale, (x32(),), ref=lambda t: t * 3, budget=2, seed=0).info
    dash = Dashboard(show=False)
    dash(SweepStarted(info))
    dash(SweepFinished(SweepResult(info, [], "interrupt", 1.0)))

    bench_info = Bench(tiles.scale, [16, 32], lambda n: (torch.randn(16, n, device=kernelbench.DEVICE),),
                       ref=lambda t: t * 3).info
    bench_dash = BenchDashboard(show=False)
    bench_dash(BenchStarted(bench_info))
    bench_dash(BenchFinished(BenchReport(bench_info, [], "interrupt", 1.0)))

    assert dash.stop_button.description == bench_dash.stop_button.description == "Interrupted"
    assert dash.stop_button.disabled and bench_dash.stop_button.disabled
    assert dash.figure.comm is None and bench_dash.figure.comm is None  # both swapped for a static chart
    assert dash.static_chart is not None and bench_dash.static_chart is not None


def test_tune_from_the_magic(ip: Any) -> None:
    name = unique("tuned")
    run(ip, "xt = torch.randn(32, 32, device=kernelbench.DEVICE)\ndef ref_scale(t):\n    return t * 5")
    result = run(ip, f"""%%kernel --tune --args xt --ref ref_scale --budget 2 -q
def {name}(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = x[tile] * 5
    return out
""")
    k = ip.user_ns[name]
    assert k.active_config(ip.user_ns["xt"])[1] == "tuned"
    # The cell's value is the SweepResult: IPython displays it, and the next cell has it as `_`.
    assert isinstance(result, kernelbench.SweepResult)
    assert ip.user_ns["_"] is result and "_kernelbench_last_sweep" not in ip.user_ns


def test_magic_tune_needs_args(ip: Any) -> None:
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="--tune needs --args"):
        run(ip, "%%kernel --tune\ndef f(x):\n    return x\n")
    with pytest.raises(UsageError, match="--budget must be at least 1"):
        run(ip, "%%kernel --args xt --budget 0\ndef f(x):\n    return x\n")
