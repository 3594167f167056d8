"""The live dashboard's real widget state, candidate by candidate; Stop via the button's handler; the
static outputs that replace it when the run ends, published through IPython's real display machinery."""

from __future__ import annotations

import ast
import io
import json
import re
from typing import Any

import pytest
import torch
from IPython.utils.capture import capture_output

import kernelbench
from kernelbench.tune.events import CandidateFinished, CandidateStarted
from kernelbench.tune.records import STATUSES
from kernelbench.tune.sweep import Sweep
from kernelbench.ui.dashboard import Dashboard

from .conftest import run, unique
from .kernels import tiles

PLOTLY = "application/vnd.plotly.v1+json"


@pytest.fixture(autouse=True)
def one_timed_run() -> Any:
    with kernelbench.settings.scope(cpu_reps=1):
        yield


def x32() -> torch.Tensor:
    return torch.randn(32, 32, device=kernelbench.DEVICE)


def test_widgets_reflect_each_candidate_and_name_the_running_one() -> None:
    dash = Dashboard(show=False)
    seen: list[tuple[int, int, str]] = []
    running: list[str] = []

    def inspect(event: Any) -> None:
        if isinstance(event, CandidateStarted):
            running.append(dash.status.value)
        if isinstance(event, CandidateFinished):
            points = sum(len(dash.figure.data[i].x) for i in range(len(STATUSES)))
            seen.append((dash.progress.value, points, dash.status.value))

    sweep = Sweep(tiles.scale, (x32(),), ref=lambda t: t * 3, budget=4, seed=0, observers=[dash, inspect])
    dash.attach(sweep)
    assert dash.progress.max == 1  # nothing drawn before the sweep starts
    result = sweep.run()
    assert [s[0] for s in seen] == [1, 2, 3, 4]
    assert [s[1] for s in seen] == [1, 2, 3, 4]
    assert "best" in seen[-1][2] and "4/4 candidates" in seen[-1][2]
    assert "running" not in seen[-1][2]  # nothing runs between candidates ...
    assert all("waiting for the next candidate" in s[2] for s in seen)  # ... and the line stays (no jumping chart)
    # While a candidate runs the status names it and the knobs it changes from Helion's default.
    default = sweep.info.default
    for c, text in zip(result.candidates, running):
        assert f"running #{c.index} for " in text
        changed = [k for k, v in c.config.config.items() if json.dumps(v) != json.dumps(default.get(k))]
        for knob in changed:
            assert f"{knob}=" in text
        if not changed:
            assert "the default config" in text
    assert dash.progress.max == 4
    assert "strategy" in dash.header.value and kernelbench.device_name() in dash.header.value
    assert f"{kernelbench.DEVICE} · " not in dash.header.value or not kernelbench.is_interpreter()  # named once
    if kernelbench.is_interpreter():
        assert "interpreter time — not GPU performance" in dash.header.value
    assert "Best:" in dash.final_html and "@helion.kernel(config=" in dash.final_html
    assert "finished: budget used" in dash.final_html
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
    assert "stopped (Stop pressed)" in dash.final_html
    assert result.best is not None


def test_a_finished_sweep_leaves_static_outputs_through_the_display_handle(ip: Any) -> None:  # a real IPython shell publishes the displays
    dash = Dashboard(show=True)
    sweep = Sweep(tiles.scale, (x32(),), ref=lambda t: t * 3, budget=3, seed=0, observers=[dash])
    dash.attach(sweep)
    with capture_output() as captured:
        result = sweep.run()
    first, update, chart, tail = captured.outputs
    # The live view: the widget, shown with a display id ...
    assert "application/vnd.jupyter.widget-view+json" in first.data and not first.update
    display_id = first.transient["display_id"]
    # ... which the end replaces with static HTML (no widget reference left), then the chart and the rest.
    assert update.update and update.transient["display_id"] == display_id
    assert set(update.data) == {"text/html", "text/plain"}
    assert "Tuning" in update.data["text/html"] and "finished: budget used" in update.data["text/html"]
    assert "3/3 candidates" in update.data["text/html"] and "ETA" not in update.data["text/html"]
    assert "running" not in update.data["text/html"] and "waiting for the next" not in update.data["text/html"]
    assert set(chart.data) == {PLOTLY, "text/plain"}
    figure = chart.data[PLOTLY]
    assert sum(len(t["x"]) for t in figure["data"] if t["name"] in STATUSES) == 3
    assert all(len(t["x"]) for t in figure["data"])  # no empty trace: the legend names only what happened
    assert len(json.dumps(figure["layout"]["template"])) < 2_000  # not plotly's whole template (10 kB)
    assert figure["layout"]["xaxis"]["dtick"] == 1 and figure["layout"]["xaxis"]["tickformat"] == "d"
    assert figure["layout"]["title"]["subtitle"]["text"] == result.info.timer  # the long tail, off the toolbar
    html = tail.data["text/html"]
    assert "Top" in html and result.decorator().splitlines()[1].strip() in html
    assert all("widget" not in key for o in captured.outputs[1:] for key in o.data)
    # The live widgets are closed (nothing of them is saved) and everything left is small.
    assert dash.live.box.comm is None and dash.root.comm is None
    assert len(json.dumps([o.data for o in captured.outputs[1:]])) < 100_000
    assert "plotly.js" not in json.dumps(chart.data) and "<script" not in json.dumps(tail.data)


def test_a_finished_sweep_leaves_no_widget_model_open(ip: Any) -> None:  # a real IPython shell publishes the displays
    import ipywidgets

    from kernelbench.ui._base import widget_tree

    registry = ipywidgets.widgets.widget._instances  # every open model (ipywidgets 8), what a notebook saves
    before = set(registry)
    dash = Dashboard(show=True)
    models = widget_tree(dash.root)
    assert {m._model_name for m in models} >= {"LayoutModel", "HTMLStyleModel", "ButtonStyleModel", "OutputModel"}
    ids = [m.model_id for m in models]
    assert all(i in registry for i in ids)
    sweep = Sweep(tiles.scale, (x32(),), ref=lambda t: t * 3, budget=2, seed=0, observers=[dash])
    dash.attach(sweep)
    with capture_output():
        sweep.run()
    assert not any(i in registry for i in ids)  # the layout and style models are closed too
    assert all(m.comm is None for m in models)
    assert set(registry) <= before


def test_tune_many_ends_static_and_closes_every_model_it_opened(ip: Any) -> None:  # a real IPython shell publishes the displays
    import ipywidgets

    from kernelbench.ui._base import widget_tree
    from kernelbench.ui.many_dashboard import ManyDashboard

    registry = ipywidgets.widgets.widget._instances  # every open model (ipywidgets 8), what a notebook saves
    before = set(registry)
    dash = ManyDashboard(show=True)
    models = widget_tree(dash.root)
    ids = [m.model_id for m in models]
    assert all(i in registry for i in ids) and {m._model_name for m in models} >= {"LayoutModel", "HTMLStyleModel"}
    with capture_output() as captured:
        results = kernelbench.tune_many(tiles.scale, [x32(), torch.randn(16, 32, device=kernelbench.DEVICE)],
                                        ref=lambda t: t * 3, budget=2, seed=0, isolate=False, live=False,
                                        store=False, observers=[dash])
    first, update = [o for o in captured.outputs if "text/plain" in o.data and (o.update or "application/vnd.jupyter.widget-view+json" in o.data)]
    # The live table, shown with a display id, which the end replaces with static HTML.
    assert "application/vnd.jupyter.widget-view+json" in first.data and not first.update
    assert update.update and update.transient["display_id"] == first.transient["display_id"]
    assert set(update.data) == {"text/html", "text/plain"} and update.data == dash.static_output
    html = update.data["text/html"]
    assert "tune_many" in html and "<code>scale</code>" in html and "✓ finished" in html
    assert "32×32 float32" in html and "16×32 float32" in html and html.count("2/2") == 2
    assert html.count("finished: budget used") == 2 and "running" not in html and "waiting" not in html
    for r in results:
        assert r.best is not None and f"{r.best.ms:.4g} ms (#{r.best.index})" in html
    text = update.data["text/plain"]
    assert "tune_many scale: 2 shape(s)" in text and "16×32 float32: 2/2 candidates, best" in text and "<" not in text
    # Every model it opened is closed (layouts and styles too): none is left to save.
    assert not any(i in registry for i in ids) and all(m.comm is None for m in models)
    assert set(registry) <= before


def test_interrupted_and_failed_sweeps_also_end_static(ip: Any) -> None:  # a real IPython shell publishes the displays
    from kernelbench.tune.events import SweepFinished, SweepStarted
    from kernelbench.tune.result import SweepResult

    info = Sweep(tiles.scale, (x32(),), ref=lambda t: t * 3, budget=2, seed=0).info
    for stopped, error, words in (("interrupt", None, "interrupted"), ("error", "the worker died", "failed")):
        dash = Dashboard(show=True)
        with capture_output() as captured:
            dash(SweepStarted(info))
            dash(SweepFinished(SweepResult(info, [], stopped, 1.0, error=error)))
        update = captured.outputs[1]
        assert update.update and words in update.data["text/html"]
        assert len(captured.outputs) == 3  # head and tail; no chart of nothing
        if error:
            assert error in captured.outputs[2].data["text/html"]


def test_a_grid_counts_against_its_own_size() -> None:
    dash = Dashboard(show=False)
    sweep = Sweep(tiles.scale, (x32(),), ref=lambda t: t * 3, strategy="grid", fixed={"num_warps": [1, 2, 4]},
                  observers=[dash])
    assert sweep.info.planned == 3 and sweep.budget == 32
    dash.attach(sweep)
    sweep.run()
    assert dash.progress.max == 3 and dash.progress.value == 3
    assert dash.status.value.startswith("3/3 candidates")


def test_top_table_has_a_column_per_knob_that_matters_and_whole_values() -> None:
    from kernelbench.ui.dashboard import top_table_html

    sweep = Sweep(tiles.scale, (x32(),), ref=lambda t: t * 3, budget=6, seed=1)
    result = sweep.run()
    table = top_table_html(result.info, result.candidates)
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", table)
    assert headers[:2] == ["#", "ms"] and "block_sizes" in headers and "num_warps" in headers
    varying = {k for k in result.info.knobs
               if len({json.dumps(c.config.config.get(k, result.info.default.get(k))) for c in result.candidates}) > 1}
    assert set(headers) - {"#", "ms", "GB/s"} == varying | {"block_sizes", "num_warps"}
    for c in result.candidates:
        if c.status == "ok":
            assert f"{c.config.config['block_sizes']}".replace(" ", "") in table.replace(" ", "")
    assert "…" not in table and "0.0 " not in table


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
    assert dash.static_chart is not None
    assert dash.static_chart[PLOTLY]["layout"]["xaxis"]["title"]["text"] == "num_warps"  # the axis last chosen


def test_chart_has_no_empty_axes_before_the_first_point() -> None:
    from kernelbench.tune.events import SweepStarted

    dash = Dashboard(show=False)
    seen: list[tuple[str, ...]] = []

    def inspect(event: Any) -> None:
        if isinstance(event, (SweepStarted, CandidateStarted, CandidateFinished)):
            seen.append(tuple(sorted(dash.live.box.outputs[0]["data"])))

    sweep = Sweep(tiles.scale, (x32(),), ref=lambda t: t * 3, budget=2, seed=0, observers=[dash, inspect])
    sweep.run()
    waiting, drawn = ("text/html", "text/plain"), (PLOTLY, "text/plain")  # a line saying what it waits for
    assert seen == [waiting, waiting, drawn, drawn, drawn]


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
    assert "interrupted (kernel interrupt)" in dash.final_html and "interrupted (kernel interrupt)" in bench_dash.final_html
    assert dash.root.comm is None and bench_dash.root.comm is None  # the live views are closed
    assert dash.static_outputs and bench_dash.static_outputs


def test_bench_dashboard_says_which_size_runs_and_ends_static(ip: Any) -> None:  # a real IPython shell publishes the displays
    from kernelbench.bench.bench import Bench, SizeFinished, SizeStarted
    from kernelbench.ui.bench_dashboard import BenchDashboard

    dash = BenchDashboard(show=True)
    under_way: list[str] = []

    def inspect(event: Any) -> None:
        if isinstance(event, SizeStarted):
            under_way.append(dash.status.value)
        if isinstance(event, SizeFinished):
            assert dash.live.revealed

    bench = Bench(tiles.scale, [16, 64], lambda n: (torch.randn(16, n, device=kernelbench.DEVICE),),
                  ref=lambda t: t * 3, baselines={"torch": lambda t: t * 3}, observers=[dash, inspect])
    dash.attach(bench)
    with capture_output() as captured:
        report = bench.run()
    assert [re.sub(r"for \d+ s", "for N s", s.split("<br>")[-1]) for s in under_way] == [
        "<span class='kb-running'>size 16: measuring for N s…</span>",
        "<span class='kb-running'>size 64: measuring for N s…</span>"]
    assert dash.live.revealed and dash.live.box.comm is None
    first, update, chart, tail = captured.outputs
    assert update.update and update.transient["display_id"] == first.transient["display_id"]
    assert "finished" in update.data["text/html"] and "stopped by" not in update.data["text/html"]
    layout = chart.data[PLOTLY]["layout"]
    assert layout["yaxis"]["type"] == "log" and layout["yaxis"]["title"]["text"] == "GB/s (log)"
    assert "subtitle" in layout["title"]
    assert "finished</b>: 2 of 2 sizes" in tail.data["text/html"] and "torch" in tail.data["text/html"]
    assert report.stopped == "done"


def test_text_progress_names_each_candidates_knobs_and_the_running_one() -> None:
    from kernelbench.ui.progress import TextProgress

    stream = io.StringIO()
    progress = TextProgress(stream, heartbeat_s=0)
    lines_while_running: list[str] = []

    def inspect(event: Any) -> None:
        if isinstance(event, CandidateStarted):
            lines_while_running.append(progress.running_line())

    sweep = Sweep(tiles.scale, (x32(),), ref=lambda t: t * 3, budget=3, seed=0, observers=[progress, inspect])
    result = sweep.run()
    out = stream.getvalue().splitlines()
    assert out[0].startswith(f"tuning scale on {kernelbench.device_name()}")
    finished = [line for line in out if line.startswith("[")]
    assert [line.split()[0] for line in finished] == ["[1/3]", "[2/3]", "[3/3]"]
    for c, line, running in zip(result.candidates, finished, lines_while_running):
        knobs = line.rsplit(" | ", 1)[1]
        assert f"#{c.index} running for " in running and running.endswith(knobs)
        if knobs != "the default config":  # `name=value, ...` reads back as the candidate's knobs
            call = ast.parse(f"f({knobs})", mode="eval").body
            assert all(c.config.config[kw.arg] == ast.literal_eval(kw.value) for kw in call.keywords)  # type: ignore[attr-defined]
    assert progress.running_line() == ""  # nothing runs once the sweep is over


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
