"""Benches over problem sizes in the interpreter: rows, per-size correctness, figures, stop, baselines."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
import torch

import kernelbench
from kernelbench import BenchError, BenchReport
from kernelbench.bench.bench import (
    NOT_CORRECT,
    Bench,
    BenchFinished,
    BenchStarted,
    Ceilings,
    SizeFinished,
    SizeStarted,
    ceilings,
)
from kernelbench.core.timing import timer_label

from .kernels import by_size, tiles

DEV = kernelbench.DEVICE
SIZES = [16, 32, 64]


@pytest.fixture(autouse=True)
def one_timed_run() -> Any:
    with kernelbench.settings.scope(cpu_reps=1):
        yield


def rows16(n: int) -> tuple[torch.Tensor]:
    return (torch.randn(16, n, device=DEV),)


def triple(x: torch.Tensor) -> torch.Tensor:
    return x * 3


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> BenchReport:
    with kernelbench.settings.scope(cpu_reps=1, home=tmp_path_factory.mktemp("bench_home")):
        return tiles.scale.bench(SIZES, rows16, baselines={"torch": triple}, live=False, flops=lambda n: 16 * n)


def test_one_row_per_size_and_implementation(report: BenchReport) -> None:
    df = report.df
    assert list(zip(df["size"], df["impl"])) == [(n, impl) for n in SIZES for impl in ("scale", "torch")]
    assert {"size", "impl", "ms", "gbps", "tflops", "pct_of_ceiling", "correct"} <= set(df.columns)
    assert df["correct"].all() and (df["status"] == "ok").all() and (df["ms"] > 0).all()
    assert list(df["bytes"]) == [2 * 16 * n * 4 for n in SIZES for _ in range(2)]  # input + output, fp32
    assert df["gbps"].tolist() == pytest.approx((df["bytes"] / (df["ms"] * 1e-3) / 1e9).tolist())
    assert df["tflops"].tolist() == pytest.approx((df["flops"] / (df["ms"] * 1e-3) / 1e12).tolist())
    assert report.stopped == "done" and report.sizes_done == SIZES
    assert report.info.timer == timer_label() and report.info.reference == "baseline 'torch'"
    kernel_rows = df[df["impl"] == "scale"]
    assert kernel_rows["config"].map(lambda c: "block_sizes" in c).all()
    if kernelbench.is_interpreter():
        assert ceilings() is None and report.info.ceilings is None
        assert df["pct_of_ceiling"].isna().all()


def test_figure_has_one_line_per_implementation(report: BenchReport) -> None:
    fig = report.figure()
    assert [t.name for t in fig.data][:3] == ["scale", "torch", NOT_CORRECT]
    assert list(fig.data[0].x) == SIZES and None not in fig.data[0].y
    assert list(fig.data[1].y) == pytest.approx(report.df[report.df["impl"] == "torch"]["gbps"].tolist())
    assert len(fig.data[2].x) == 0
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.title.text == "GB/s (log)"
    assert fig.layout.yaxis.type == "log" and report.figure(y="ms").layout.yaxis.type == "log"  # as the dashboard
    if kernelbench.is_interpreter():
        assert len(fig.data) == 3  # no ceiling line
        assert "interpreter" in fig.layout.title.text and "no ceiling" in fig.layout.title.text
    assert report.figure(y="ms").layout.yaxis.type == "log"
    assert list(report.figure(y="tflops").data[0].y) == pytest.approx(
        report.df[report.df["impl"] == "scale"]["tflops"].tolist())
    with pytest.raises(BenchError, match="y must be one of gbps, ms, tflops"):
        report.figure(y="speed")
    assert "<table" in report._repr_html_() and "scale" in repr(report)


def test_ceiling_is_a_horizontal_line_when_there_is_one(report: BenchReport) -> None:
    ceiling = Ceilings(device="a GPU", copy_gbps=3000.0, matmul_tflops=700.0, copy_bytes=1 << 30, matmul_n=8192,
                       measured="2025-01-01T00:00:00+00:00", torch=torch.__version__)
    info = dataclasses.replace(report.info, ceilings=ceiling, interpreter=False, mode="a GPU")
    fig = BenchReport(info, report.rows, "done", 0.0).figure()
    line = fig.data[-1]
    assert line.name == "ceiling: copy bandwidth 3000 GB/s" and list(line.y) == [3000.0, 3000.0]
    assert list(line.x) == [16, 64]
    assert BenchReport(info, report.rows, "done", 0.0).figure(y="tflops").data[-1].y == (700.0, 700.0)
    assert "interpreter" not in fig.layout.title.text and "copy 3000 GB/s" in fig.layout.title.text


def test_kernel_wrong_at_one_size_is_caught_at_that_size() -> None:
    report = by_size.first_32_columns.bench(SIZES, rows16, ref=triple, live=False)
    df = report.df
    assert list(df["correct"]) == [True, True, False]
    wrong = df.iloc[2]
    assert wrong["size"] == 64 and wrong["status"] == "wrong"
    assert "unwritten" in wrong["error"] and "50% mismatched" in wrong["error"]
    assert pd_isna(wrong["ms"]) and pd_isna(wrong["gbps"])  # checked before timing: never timed
    fig = report.figure()
    assert fig.data[0].y[:2] == tuple(df["gbps"][:2]) and fig.data[0].y[2] is None  # a gap, not a point
    assert fig.data[1].name == NOT_CORRECT and list(fig.data[1].x) == [64]
    assert 0 < fig.data[1].y[0] < min(df["gbps"][:2])  # below the slowest rate: a log axis has no 0
    ms_fig = report.figure(y="ms")
    assert ms_fig.data[1].y[0] > df["ms"].max()  # on the slow side of every time
    assert "first_32_columns not correct at sizes [64]" in report.summary()


def pd_isna(value: Any) -> bool:
    return value is None or value != value


def test_failing_and_wrong_baselines_are_marked_rows() -> None:
    baselines = {
        "viewed": lambda x: (x * 3).view(16, 16, -1).view(x.shape),  # raises unless 256 divides numel
        "off_above_16": lambda x: x * 3 + (x.shape[1] > 16),
    }
    report = tiles.scale.bench([16, 24], rows16, ref=triple, baselines=baselines, live=False)
    status = {(s, i): st for s, i, st in zip(report.df["size"], report.df["impl"], report.df["status"])}
    assert status == {(16, "scale"): "ok", (16, "viewed"): "ok", (16, "off_above_16"): "ok",
                      (24, "scale"): "ok", (24, "viewed"): "error", (24, "off_above_16"): "wrong"}
    failed = report.df[report.df["status"] != "ok"]
    assert failed["ms"].isna().all() and not failed["correct"].any()
    assert failed["error"].str.contains("RuntimeError|mismatched").all()
    assert report.info.reference == "ref="


def test_compile_baseline_gives_rows_or_marked_failures() -> None:
    report = tiles.scale.bench([16, 32], rows16, baselines={"torch": lambda x: x * 3, "compiled": "compile"},
                               live=False)
    rows = report.df[report.df["impl"] == "compiled"]
    assert list(rows["size"]) == [16, 32]
    for _, row in rows.iterrows():
        if row["status"] == "ok":
            assert row["correct"] and row["ms"] > 0
        else:
            assert row["status"] == "error" and row["error"]


def test_every_implementation_is_warmed_up_at_each_size_before_it_is_timed() -> None:
    import time

    calls: dict[int, int] = {}

    def settles_after_two_calls(x: torch.Tensor) -> torch.Tensor:
        """Slow on its first two calls at each new width (a compile, then a recompile for dynamic
        shapes, as torch.compile does), fast after."""
        n = x.shape[1]
        calls[n] = calls.get(n, 0) + 1
        if calls[n] <= 2:
            time.sleep(0.5)
        return x * 3

    report = tiles.scale.bench(SIZES, rows16, baselines={"settling": settles_after_two_calls}, live=False)
    rows = report.rows_of("settling")
    assert [r.status for r in rows] == ["ok"] * len(SIZES)
    assert all(r.ms is not None and r.ms < 250 for r in rows), [r.ms for r in rows]  # no 500 ms call timed
    assert all(calls[n] >= 3 for n in SIZES)


def test_stop_keeps_finished_sizes() -> None:
    events: list[Any] = []
    box: list[Bench] = []

    def stop_after_first(event: Any) -> None:
        events.append(event)
        if isinstance(event, SizeFinished) and event.done == 1:
            box[0].stop()

    bench = Bench(tiles.scale, SIZES, rows16, ref=triple, observers=[stop_after_first])
    box.append(bench)
    report = bench.run()
    assert report.stopped == "stop" and report.sizes_done == [16] and len(report.df) == 1
    assert isinstance(events[0], BenchStarted) and isinstance(events[-1], BenchFinished)
    assert [e.size for e in events if isinstance(e, SizeStarted)] == [16]


def test_interrupt_mid_size_keeps_finished_sizes() -> None:
    def args(n: int) -> tuple[torch.Tensor]:
        if n == 64:
            raise KeyboardInterrupt  # Ctrl-C while the third size is being prepared
        return rows16(n)

    report = tiles.scale.bench(SIZES, args, baselines={"torch": triple}, live=False)
    assert report.stopped == "interrupt" and report.sizes_done == [16, 32] and len(report.df) == 4
    assert report.df["correct"].all()


def test_tune_per_size_and_once() -> None:
    k = kernelbench.Kernel(tiles.scale.helion_kernel)
    report = k.bench([16, 32], rows16, ref=triple, tune="per-size", budget=2, live=False)
    assert [size for size, _ in report.tuning] == [16, 32]
    for (size, sweep), row in zip(report.tuning, report.rows):
        assert row.size == size and row.correct
        assert sweep.best_config is not None and row.config == dict(sweep.best_config.config)
        assert row.config_source == "tuned at this size (2 candidates)"
    assert k.active_config(*rows16(32))[1] == "tuned"  # the kernel remembers the best per signature

    once = kernelbench.Kernel(tiles.scale.helion_kernel).bench([32, 16], rows16, ref=triple, tune="once", budget=2,
                                                              live=False)
    assert [size for size, _ in once.tuning] == [32]  # the largest size, wherever it is in the list
    assert {r.config_source for r in once.rows} == {"tuned once at size 32"}
    assert once.rows[0].config == once.rows[1].config == dict(once.tuning[0][1].best_config.config)


def test_bad_arguments_say_how_to_fix() -> None:
    bench = tiles.scale.bench
    with pytest.raises(BenchError, match="pass ref="):
        bench(SIZES, rows16, live=False)
    with pytest.raises(BenchError, match="pass ref="):
        bench(SIZES, rows16, baselines={"compiled": "compile"}, live=False)
    with pytest.raises(BenchError, match="non-empty list"):
        bench([], rows16, ref=triple, live=False)
    with pytest.raises(BenchError, match="'per-size' or 'once'"):
        bench(SIZES, rows16, ref=triple, tune=True, live=False)
    with pytest.raises(BenchError, match="callable or the string 'compile'"):
        bench(SIZES, rows16, baselines={"torch": "torch.softmax"}, live=False)
    with pytest.raises(BenchError, match="kernel's own name"):
        bench(SIZES, rows16, baselines={"scale": triple}, live=False)
    with pytest.raises(BenchError, match="budget must be at least 1"):
        bench(SIZES, rows16, ref=triple, tune="once", budget=0, live=False)
    report = bench([16], rows16, ref=triple, live=False)
    with pytest.raises(BenchError, match="pass flops="):
        report.figure(y="tflops")


def test_text_progress_reports_each_size(capsys: Any) -> None:
    tiles.scale.bench([16, 32], rows16, ref=triple, live=False)
    out = capsys.readouterr().out
    assert "bench scale over 2 sizes" in out and "[1/2]" in out and "[2/2]" in out
    assert "finished after" in out and "stopped by" not in out
    if kernelbench.is_interpreter():
        assert "interpreter time — not GPU performance" in out


def test_live_chart_fills_in_and_stop_keeps_done() -> None:
    from kernelbench.ui.bench_dashboard import BenchDashboard

    dash = BenchDashboard(show=False)
    seen: list[tuple[int, int, int]] = []

    def click_after_two(event: Any) -> None:
        if isinstance(event, SizeFinished):
            seen.append((dash.progress.value, len(dash.figure.data[0].x), len(dash.figure.data[1].x)))
            if event.done == 2:
                dash.stop_button.click()  # exactly what a click in the browser runs

    bench = Bench(tiles.scale, SIZES, rows16, baselines={"torch": triple}, observers=[dash, click_after_two])
    dash.attach(bench)
    assert dash.progress.max == 1  # nothing drawn before the bench starts
    report = bench.run()
    assert seen == [(1, 1, 1), (2, 2, 2)]
    assert dash.progress.max == 3 and report.stopped == "stop" and report.sizes_done == [16, 32]
    assert dash.stop_button.disabled and dash.stop_button.description == "Stopped"
    assert kernelbench.device_name() in dash.header.value
    if kernelbench.is_interpreter():
        assert "interpreter time — not GPU performance" in dash.header.value
    assert "2 of 3 sizes" in dash.final_html
    assert dash.root.comm is None  # the whole live view is closed: static outputs replace it
    assert len(json.dumps(dash.static_outputs)) < 200_000
    data = dash.static_chart["application/vnd.plotly.v1+json"]
    assert [t["name"] for t in data["data"]][:2] == ["scale", "torch"]
    assert data["layout"]["yaxis"]["type"] == "log"  # GB/s spans decades across sizes


@pytest.mark.gpu
@pytest.mark.skipif(kernelbench.is_interpreter(), reason="ceilings are measured on a GPU")
def test_ceilings_are_measured_once_and_cached(tmp_path: Any) -> None:
    import kernelbench.bench.bench as _bench

    with kernelbench.settings.scope(home=tmp_path):
        _bench._CEILINGS.clear()
        measured = ceilings()
        assert measured is not None and measured.copy_gbps > 100 and measured.matmul_tflops > 10
        stored = json.loads((tmp_path / "ceilings.json").read_text())
        assert stored[kernelbench.device_name()]["copy_gbps"] == measured.copy_gbps
        _bench._CEILINGS.clear()
        assert ceilings() == measured  # read back from the file, not measured again
        x = torch.randn(4096, 4096, device=DEV)
        report = tiles.scale.bench([1024, 4096], lambda n: (x[:n],), ref=triple, live=False)
        assert report.df["correct"].all() and (report.df["pct_of_ceiling"] > 0).all()
        assert report.figure().data[-1].name.startswith("ceiling: copy bandwidth")


def test_html_report_is_styled_and_standalone(report: BenchReport, tmp_path: Any) -> None:
    page = report.to_html(tmp_path / "bench.html").read_text()
    assert "<style>" in page and "sans-serif" in page and page.count("plotly.js v") == 1  # inlined, once
    assert page.count("class='chart'") == 3  # GB/s, ms and TFLOP/s (flops were given)
    table = page.split("Sizes by implementation", 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 1 + len(SIZES) and "<th>torch</th>" in table
    assert f"torch {torch.__version__}" in page and report.info.timer in page
    small = report.to_html(tmp_path / "cdn.html", plotlyjs="cdn")
    assert small.stat().st_size < 100_000 and 'src="https://cdn.plot.ly' in small.read_text()
    with pytest.raises(BenchError, match="plotlyjs must be one of"):
        report.to_html(tmp_path / "x.html", plotlyjs="inlined")
