"""Sweeps on real kernels in the interpreter: rows, statuses, best applied, fixed, stop, seeds."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import kernelbench
from kernelbench import SweepError
from kernelbench.core.space import config_key
from kernelbench.tune.events import CandidateFinished, SweepFinished, SweepStarted
from kernelbench.tune.records import STATUSES
from kernelbench.tune.worker.pool import Isolated

from .kernels import basic, tiles

DEV = kernelbench.DEVICE


@pytest.fixture(autouse=True)
def one_timed_run() -> Any:
    with kernelbench.settings.scope(cpu_reps=1):
        yield


def x32() -> torch.Tensor:
    return torch.randn(32, 32, device=DEV)


def test_small_sweep_rows_statuses_and_best_applied() -> None:
    x = x32()
    result = tiles.scale.tune(x, ref=lambda t: t * 3, budget=5, seed=1, live=False)
    df = result.df
    assert len(df) == 5 and len(result.candidates) == 5
    assert set(df["status"]) <= set(STATUSES)
    assert {"block_sizes", "num_warps", "status", "ms", "compile_s", "max_abs_err", "correct"} <= set(df.columns)
    assert result.stopped == "budget"
    assert result.best is not None and result.best.status == "ok"
    assert result.best_ms == df[df["correct"]]["ms"].min()
    config, why = tiles.scale.active_config(x)
    assert why == "tuned" and config == result.best_config
    assert result.decorator().startswith("@helion.kernel(config=helion.Config(")
    assert result.info.ref_ms is not None and result.speedup is not None
    assert "interpreter time" in result.info.timer if kernelbench.is_interpreter() else True


def test_first_candidate_is_helions_default() -> None:
    x = x32()
    result = tiles.scale.tune(x, ref=lambda t: t * 3, budget=1, live=False)
    assert result.candidates[0].config == tiles.scale.default_config(x)


def test_fixed_pins_knobs_and_lists_restrict_them() -> None:
    x = x32()
    result = tiles.scale.tune(x, budget=4, seed=2, fixed={"num_warps": 2, "pid_type": "flat"}, live=False)
    assert set(result.df["num_warps"]) == {2} and set(result.df["pid_type"]) == {"flat"}
    # A grid is exactly its grid: no warm start, even where the store knows a config inside it.
    tiles.scale.tune(x, budget=1, fixed={"block_sizes": [8, 8], "num_warps": 2}, live=False)
    result = tiles.scale.tune(x, fixed={"block_sizes": [[8, 8], [16, 32]]}, live=False)
    assert result.info.strategy == "grid"
    assert sorted(result.df["block_sizes"]) == ["[16, 32]", "[8, 8]"]


def test_unknown_or_bad_knobs_are_clear_errors() -> None:
    x = x32()
    with pytest.raises(SweepError, match=r"unknown knob\(s\) \['num_wraps'\].*num_warps"):
        tiles.scale.tune(x, fixed={"num_wraps": 4}, live=False)
    with pytest.raises(SweepError, match="empty list"):
        tiles.scale.tune(x, fixed={"num_warps": []}, live=False)
    with pytest.raises(SweepError, match="budget must be at least 1"):
        tiles.scale.tune(x, budget=0, live=False)
    with pytest.raises(SweepError, match="time_limit must be a positive"):
        tiles.scale.tune(x, time_limit=-1, live=False)
    with pytest.raises(SweepError, match="unknown strategy"):
        tiles.scale.tune(x, strategy="annealing", live=False)


def test_wrong_candidates_are_never_best() -> None:
    x = torch.randn(64, device=DEV)
    result = tiles.right_only_at_block_16.tune(
        x, ref=lambda t: t.clone(), fixed={"block_sizes": [[8], [16], [32], [64]]}, live=False
    )
    statuses = dict(zip(result.df["block_sizes"], result.df["status"]))
    assert statuses == {"[8]": "wrong", "[16]": "ok", "[32]": "wrong", "[64]": "wrong"}
    assert result.best_config.config["block_sizes"] == [16]
    wrong = result.df[result.df["status"] == "wrong"]
    assert wrong["ms"].notna().all() and (wrong["error"].str.contains("mismatched")).all()


def test_all_wrong_sweep_says_so() -> None:
    x = torch.randn(64, device=DEV)
    result = tiles.always_wrong.tune(x, ref=lambda t: t.clone(), budget=3, seed=0, live=False)
    assert result.best is None and result.best_config is None
    assert set(result.df["status"]) == {"wrong"}
    with pytest.raises(SweepError, match="no candidate of always_wrong was correct"):
        result.decorator()
    assert tiles.always_wrong.active_config(x)[1] == "default"
    assert "no correct candidate" in result.summary()


def test_no_ref_checks_against_helions_default() -> None:
    result = tiles.scale.tune(x32(), budget=3, seed=5, live=False)
    assert result.info.ref_ms is None
    # Each agrees with the default (slow ones were cut short after a run that agreed too).
    assert set(result.df["status"]) <= {"ok", "slow"} and result.best is not None


def test_failing_candidates_are_results_not_the_end() -> None:
    x = x32()
    good = tiles.scale.default_config(x)
    # A config naming more block sizes than the kernel has fails to compile: a result, not a crash.
    bad = kernelbench.Kernel(tiles.scale.helion_kernel)
    bad.seed_configs = [kernelbench._kernel.parse_config({**good.config, "block_sizes": [8, 8, 8]})]
    result = bad.tune(x, ref=lambda t: t * 3, budget=3, seed=0, live=False)
    assert result.candidates[0].status == "compile_error" and result.candidates[0].error
    assert len(result.candidates) == 3 and result.best is not None


def test_observers_see_every_candidate_and_stop_ends_early() -> None:
    from kernelbench.tune.sweep import Sweep

    events: list[Any] = []
    sweep_box: list[Sweep] = []

    def observer(event: Any) -> None:
        events.append(event)
        if isinstance(event, CandidateFinished) and event.done == 2:
            sweep_box[0].stop()

    sweep = Sweep(tiles.scale, (x32(),), ref=lambda t: t * 3, budget=10, seed=0, observers=[observer])
    sweep_box.append(sweep)
    result = sweep.run()
    assert result.stopped == "stop" and len(result.candidates) == 2
    assert isinstance(events[0], SweepStarted) and isinstance(events[-1], SweepFinished)
    assert [e.done for e in events if isinstance(e, CandidateFinished)] == [1, 2]


def test_interrupt_keeps_results() -> None:
    def interrupt(event: Any) -> None:
        if isinstance(event, CandidateFinished) and event.done == 2:
            raise KeyboardInterrupt

    result = tiles.scale.tune(x32(), ref=lambda t: t * 3, budget=10, seed=0, live=False, observers=[interrupt])
    assert result.stopped == "interrupt" and len(result.candidates) == 2 and result.best is not None


def test_time_limit_ends_sweep() -> None:
    result = tiles.scale.tune(x32(), ref=lambda t: t * 3, time_limit=0.5, seed=0, live=False)
    assert result.stopped in ("time_limit", "exhausted") and len(result.candidates) >= 1
    assert result.info.budget is None


def test_seeded_sweeps_repeat() -> None:
    def keys(seed: int) -> list[str]:
        k = kernelbench.Kernel(tiles.scale.helion_kernel)
        # store=False: a sweep with the run store starts from what earlier sweeps found best.
        result = k.tune(x32(), budget=6, seed=seed, strategy="random", live=False, store=False)
        return [config_key(c.config) for c in result.candidates]

    assert keys(11) == keys(11)
    assert keys(11) != keys(12)


def test_pattern_strategy_explores_neighbours_of_best() -> None:
    x = x32()
    result = kernelbench.Kernel(tiles.scale.helion_kernel).tune(x, budget=8, seed=3, strategy="pattern", live=False)
    assert len({config_key(c.config) for c in result.candidates}) == 8  # never the same config twice


def test_pattern_strategy_line_searches_when_steps_run_out() -> None:
    """A whole-row reduction (``reduction_loops=[None]``) is many halvings from a 16-wide loop; once
    every one- and two-step neighbour of the best is worse, each knob is tried at every value."""
    from kernelbench.core.space import ConfigSpace
    from kernelbench.tune.records import Candidate
    from kernelbench.tune.strategies import PatternStrategy

    x, w = torch.randn(64, 1024, device=DEV), torch.randn(1024, device=DEV)
    space = ConfigSpace(basic.rms_norm.bind(x, w), None, seed=0)
    near = {str(c.config["reduction_loops"]) for r in (1, 2) for c in space.neighbors(space.default(), r)}
    far = {str(c.config["reduction_loops"]) for c in space.lines(space.default())}
    assert "[16]" in far and "[16]" not in near

    strategy = PatternStrategy(space)
    strategy.probes_left = 0
    history = [Candidate(0, strategy.propose([]), "ok", ms=1.0)]  # the default, and it stays the best
    proposed = []
    while (config := strategy.propose(history)) is not None and len(history) < 400:
        proposed.append(str(config.config["reduction_loops"]))
        history.append(Candidate(len(history), config, "ok", ms=2.0))
        if "[16]" in proposed:
            break
    assert "[16]" in proposed  # reached by the line search, not by a random restart
    assert strategy.centre is not None


def test_figure_and_html_report(tmp_path: Any) -> None:
    result = tiles.scale.tune(x32(), ref=lambda t: t * 3, budget=3, seed=0, live=False)
    fig = result.figure(x="num_warps")
    names = [t.name for t in fig.data]
    assert names[: len(STATUSES)] == list(STATUSES) and "best so far" in names
    assert sum(len(t.x) for t in fig.data[: len(STATUSES)]) == 3
    assert fig.layout.yaxis.type == "log" and fig.layout.xaxis.title.text == "num_warps"
    path = result.to_html(tmp_path / "report.html")
    text = path.read_text()
    assert "plotly" in text and result.info.timer in text and "@helion.kernel" in text


def test_text_progress_reports_each_candidate(capsys: Any) -> None:
    tiles.scale.tune(x32(), budget=2, seed=0, live=False)
    out = capsys.readouterr().out
    assert "[1/2]" in out and "[2/2]" in out and "stopped by budget" in out


def test_throughput_from_bytes_and_flops() -> None:
    x = x32()
    result = tiles.scale.tune(x, budget=1, live=False, flops=x.numel())
    assert result.info.bytes == 2 * x.numel() * 4
    assert result.info.bytes_label == "bytes of all tensor inputs and outputs"
    assert result.gbps() == pytest.approx(result.info.bytes / (result.best_ms * 1e-3) / 1e9)
    assert result.tflops() is not None
    assert tiles.scale.tune(x, budget=1, live=False, bytes=123).info.bytes_label == "bytes given"


def test_two_input_tensor_kernel_tunes() -> None:
    x = x32()
    result = basic.add.tune(x, x, ref=lambda a, b: a + b, budget=2, seed=0, live=False)
    assert result.best is not None


def test_helion_strategy_streams_its_configs_through_our_engine() -> None:
    from kernelbench.tune.sweep import Sweep

    finished: list[int] = []
    sweep = Sweep(tiles.scale, (x32(),), ref=lambda t: t * 3, budget=5, strategy="helion", fixed={"num_warps": 2},
                  observers=[lambda e: finished.append(e.done) if isinstance(e, CandidateFinished) else None])
    result = sweep.run()
    assert result.info.strategy == "helion" and result.stopped == "budget"
    assert finished == [1, 2, 3, 4, 5]
    assert set(result.df["num_warps"]) == {2}  # fixed knobs reach Helion's search as overrides
    assert len({config_key(c.config) for c in result.candidates}) == 5
    assert result.best is not None


def test_helions_rebenchmarks_read_the_engines_timings() -> None:
    # Helion re-times the candidates near its best; in the interpreter its own re-timer needs a GPU
    # driver (CI once failed: "0 active drivers"). It asks the engine instead: every timing in the
    # result is one the engine measured, and the best is the fastest of them.
    result = tiles.scale_rebenchmarked.tune(x32(), ref=lambda t: t * 3, budget=8, seed=0, strategy="helion",
                                            live=False, store=False)
    ok = [c for c in result.candidates if c.status == "ok"]
    assert len(ok) >= 2 and result.best is not None
    assert result.best.ms == min(c.ms for c in ok)


def test_engine_timings_name_the_candidate_without_running_it() -> None:
    from kernelbench.tune.strategies.helion import _engine_timings, _Measured

    class Exploding:
        def compile_config(self, *a: Any, **k: Any) -> Any:
            raise AssertionError("a re-benchmark must not compile or run the kernel")

    fast, slow = _Measured(Exploding(), None, 1.5), _Measured(Exploding(), None, 4.0)  # type: ignore[arg-type]
    assert _engine_timings([lambda: slow(1, 2), lambda: fast(3)], repeat=50) == [4.0, 1.5]
    assert _engine_timings([lambda: None]) == [float("inf")]


def test_helion_strategy_in_a_worker_and_stop() -> None:
    box: list[Any] = []

    def stop_after_two(event: Any) -> None:
        if isinstance(event, CandidateFinished) and event.done == 2:
            box[0].stop()

    from kernelbench.tune.sweep import Sweep

    sweep = Sweep(tiles.scale, (x32(),), ref=lambda t: t * 3, budget=10, strategy="helion", executor=Isolated(),
                  observers=[stop_after_two])
    box.append(sweep)
    result = sweep.run()
    assert result.stopped == "stop" and len(result.candidates) == 2
    assert all(c.status == "ok" for c in result.candidates)


# -- interpreter sweeps do useful work: slow candidates cut short, a narrowed space, the time limit --

interpreter_only = pytest.mark.skipif(not kernelbench.is_interpreter(), reason="interpreter sweeps only")


def _sleepy_problem(calls: list[float], *, sleep_s: float, best_ms: float | None = None,
                    deadline: float | None = None) -> Any:
    """A real evaluation of a plain callable that sleeps each call (a stand-in for a slow config)."""
    import time

    from kernelbench.core.evaluate import Cutoff, Problem

    x = torch.randn(8, device=DEV)

    def fn(t: torch.Tensor) -> torch.Tensor:
        calls.append(time.perf_counter())
        time.sleep(sleep_s)
        return t * 3

    refs = [x.double() * 3]
    problem = Problem("sleepy", (x,), [((x,), refs), ((x,), refs)], [x * 3],
                      cutoff=Cutoff(best_ms=best_ms, deadline=deadline))
    return fn, problem


@interpreter_only
def test_a_run_over_3x_the_best_ends_the_measurement_as_slow() -> None:
    from kernelbench.core.evaluate import evaluate

    calls: list[float] = []
    fn, problem = _sleepy_problem(calls, sleep_s=0.05, best_ms=1.0)  # 50 ms a run, best 1 ms
    with kernelbench.settings.scope(cpu_reps=5):
        outcome = evaluate(lambda: fn, problem)
    assert outcome.status == "slow" and not outcome.correct
    assert len(calls) == 1  # its first run (over 10x the best) was its last
    assert outcome.ms is not None and outcome.ms >= 50
    assert "over 10x the best so far (1 ms)" in (outcome.error or "") and "1 of 2 input set" in (outcome.error or "")
    # Without a best so far nothing is cut: both checks and all five timed runs.
    calls.clear()
    fn, problem = _sleepy_problem(calls, sleep_s=0.01)
    with kernelbench.settings.scope(cpu_reps=5):
        assert evaluate(lambda: fn, problem).status == "ok"
    assert len(calls) == 2 + 5


@interpreter_only
def test_no_run_starts_after_the_deadline() -> None:
    import time

    from kernelbench.core.evaluate import DeadlinePassed, evaluate

    calls: list[float] = []
    fn, problem = _sleepy_problem(calls, sleep_s=0.05, deadline=time.perf_counter() + 0.01)
    with pytest.raises(DeadlinePassed):  # its checks were not done: not a result
        evaluate(lambda: fn, problem)
    assert len(calls) == 1
    # Checks done, then the deadline passes while it is timed: the runs timed so far are its time.
    calls.clear()
    fn, problem = _sleepy_problem(calls, sleep_s=0.05)
    problem.cutoff.deadline = time.perf_counter() + 0.3
    with kernelbench.settings.scope(cpu_reps=20):
        outcome = evaluate(lambda: fn, problem)
    assert outcome.status == "ok" and 2 < len(calls) < 2 + 20
    assert all(start < problem.cutoff.deadline for start in calls)  # none started after it


@interpreter_only
def test_slow_candidates_are_labelled_in_the_record_the_df_and_the_store() -> None:
    x = torch.randn(64, 64, device=DEV)
    # One tile against 256 tiles of 4x4: in the interpreter the second is many times slower.
    result = tiles.scale.tune(x, ref=lambda t: t * 3, fixed={"block_sizes": [[64, 64], [4, 4]]}, live=False)
    by_block = dict(zip(result.df["block_sizes"], result.df["status"]))
    assert by_block == {"[64, 64]": "ok", "[4, 4]": "slow"}
    slow = next(c for c in result.candidates if c.status == "slow")
    assert slow.ms is not None and not slow.correct and "best so far" in (slow.error or "")
    assert result.best is not None and result.best.config.config["block_sizes"] == [64, 64]
    assert "1 cut short as slow" in result.summary()
    runs = kernelbench.history()
    stored = kernelbench.history(int(runs.index[0]))
    assert sorted(stored["status"]) == ["ok", "slow"]
    fig = result.figure()
    assert [t.name for t in fig.data if t.name == "slow" and len(t.x) == 1] == ["slow"]


@interpreter_only
def test_interpreter_space_leaves_out_configs_of_many_tiles(capsys: Any) -> None:
    from kernelbench.tune.sweep import INTERPRETER_MAX_TILES, TileLimit

    x = torch.randn(64, 64, device=DEV)
    result = kernelbench.Kernel(tiles.scale.helion_kernel).tune(x, budget=10, seed=4, strategy="random",
                                                                live=False, store=False)
    assert "no config of more than 16 tiles" in result.info.narrowed
    assert "16 tiles" in capsys.readouterr().out  # the text header says so (the dashboard's too)
    rule = TileLimit(tiles.scale.bind(x))
    assert rule.tiles(helion_config(block_sizes=[2, 4])) == 512 and not rule(helion_config(block_sizes=[2, 4]))
    proposed = result.candidates[1:]  # the first is Helion's default, always tried
    assert len(proposed) == 9 and all(rule.tiles(c.config) <= INTERPRETER_MAX_TILES for c in proposed)
    # A grid is what the user listed: not narrowed.
    grid = tiles.scale.tune(x, fixed={"block_sizes": [[64, 64], [8, 8]]}, live=False)
    assert grid.info.narrowed == "" and len(grid.candidates) == 2


def helion_config(**knobs: Any) -> Any:
    import helion

    return helion.Config(**knobs)


@interpreter_only
def test_time_limit_is_kept_to_within_a_run() -> None:
    x = torch.randn(32, 32, device=DEV)
    # One tile of 32x32, then configs of 512 tiny tiles (~0.5 s a run): the limit comes mid-candidate.
    grid = {"block_sizes": [[32, 32], [1, 2], [2, 1], [1, 4]]}
    result = tiles.scale.tune(x, ref=lambda t: t * 3, fixed=grid, time_limit=0.5, live=False)
    assert result.stopped == "time_limit" and 1 <= len(result.candidates) < 4
    # What is recorded was measured (the slow one cut short after one run); none is half-measured.
    assert [c.status for c in result.candidates][:2] in (["ok"], ["ok", "slow"])
    assert all(c.ms is not None for c in result.candidates)
