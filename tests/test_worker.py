"""Fault isolation on CPU: time limits, killed and crashing workers, failing candidates — each
labelled, the sweep finishing, nothing measured lost."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import pytest
import torch

import kernelbench
from kernelbench import SweepError
from kernelbench._kernel import parse_config
from kernelbench.tune.events import CandidateStarted
from kernelbench.tune.sweep import Sweep
from kernelbench.tune.worker.pool import EvalWorker, Isolated, recipe_for

from .kernels import faults, tiles

DEV = kernelbench.DEVICE
SLOW_AND_FAST = {"block_sizes": [[1, 1], [32, 32]]}  # 1x1 tiles: 4096 interpreted programs


@pytest.fixture(autouse=True)
def quick() -> Any:
    with kernelbench.settings.scope(cpu_reps=1, compile_workers=0):
        yield


class _Watched(Isolated):
    """The isolated executor, keeping the evaluator it made (to reach its live worker)."""

    def evaluator(self, target: Any, bound: Any, problem: Any) -> Any:
        self.made = super().evaluator(target, bound, problem)
        return self.made


def x64() -> torch.Tensor:
    return torch.randn(64, 64, device=DEV)


@pytest.mark.skipif(not kernelbench.is_interpreter(), reason="uses the interpreter's slowness as the slow kernel")
def test_slow_candidate_times_out_and_sweep_goes_on() -> None:
    with kernelbench.settings.scope(run_timeout_s=1.0):
        result = faults.slow_scale.tune(x64(), ref=lambda t: t * 2, fixed=SLOW_AND_FAST, isolate=True,
                                        live=False, store=False)
    statuses = dict(zip(result.df["block_sizes"], result.df["status"]))
    assert statuses == {"[1, 1]": "timeout", "[32, 32]": "ok"}
    slow = result.df[result.df["status"] == "timeout"].iloc[0]
    assert "run_timeout_s" in slow["error"] and "restarted" in slow["error"]
    assert result.best_config.config["block_sizes"] == [32, 32]


@pytest.mark.skipif(not kernelbench.is_interpreter(), reason="uses the interpreter's slowness as the slow kernel")
def test_worker_killed_mid_candidate_is_labelled_and_replaced() -> None:
    killed: list[int] = []

    def kill_during_slow(event: Any) -> None:
        if isinstance(event, CandidateStarted) and event.config.config["block_sizes"] == [1, 1]:
            proc = executor.made.eval_worker._ensure().proc  # the live worker, about to run this one

            def kill() -> None:
                killed.append(proc.pid)
                os.kill(proc.pid, signal.SIGKILL)

            threading.Timer(1.0, kill).start()

    executor = _Watched()
    sweep = Sweep(faults.slow_scale, (x64(),), ref=lambda t: t * 2, fixed=SLOW_AND_FAST, executor=executor,
                  observers=[kill_during_slow])
    result = sweep.run()
    assert killed
    by_block = {str(c.config.config["block_sizes"]): c for c in result.candidates}
    assert by_block["[1, 1]"].status == "runtime_error"
    assert "killed by SIGKILL" in by_block["[1, 1]"].error
    assert by_block["[32, 32]"].status == "ok"  # the next candidate ran in a fresh worker
    assert len(result.candidates) == 2


def test_compile_error_and_crash_are_results() -> None:
    x = torch.randn(32, 32, device=DEV)
    k = kernelbench.Kernel(tiles.scale.helion_kernel)
    good = k.default_config(x)
    k.seed_configs = [parse_config({**good.config, "block_sizes": [8, 8, 8]})]
    result = k.tune(x, ref=lambda t: t * 3, budget=2, seed=0, isolate=True, live=False, store=False)
    assert [c.status for c in result.candidates] == ["compile_error", "ok"]
    assert result.candidates[0].error

    # A worker that dies outright (as on a segfault or CUDA illegal address) is labelled with the cause.
    from kernelbench.tune.worker.pool import _Pool

    sweep = Sweep(tiles.scale, (x,), ref=lambda t: t * 3, budget=1)
    pool = _Pool(recipe_for(tiles.scale), sweep.problem)
    worker = EvalWorker(pool)
    try:
        worker.crash_for_test(code=7)
        outcome = worker.evaluate(0, dict(good.config))
        assert outcome.status == "runtime_error" and "exited with status 7" in outcome.error
        assert worker.evaluate(1, dict(good.config)).status == "ok"  # restarted
    finally:
        worker.close()


def test_recipe_carries_globals_and_refuses_what_cannot_travel(ip: Any) -> None:
    from .conftest import run, unique

    name = unique("glob")
    run(ip, "FACTOR = 4.0\nDT = torch.float32")
    run(ip, f"""%%kernel -q
def {name}(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = (x[tile] * FACTOR).to(DT)
    return out
""")
    k = ip.user_ns[name]
    recipe = recipe_for(k)
    assert recipe.values == {"FACTOR": 4.0} and recipe.dtypes == {"DT": "float32"}
    assert recipe.source.splitlines()[1].startswith("def ")  # line 2 of the cell, as the user sees it
    result = k.tune(torch.randn(16, 16, device=DEV), ref=lambda t: t * 4, budget=1, isolate=True,
                    live=False, store=False)
    assert result.candidates[0].status == "ok"
    run(ip, "FACTOR = object()")
    with pytest.raises(SweepError, match="reads the global 'FACTOR'.*isolate=False"):
        recipe_for(k)


def test_bad_inputs_are_clear_errors() -> None:
    from kernelbench import KernelbenchError, KernelDefinitionError

    x = torch.randn(16, 16, device=DEV)
    with pytest.raises(SweepError, match=r"output 0: scale returned shape \(16, 16\) but the reference returned \(16,\)"):
        tiles.scale.tune(x, ref=lambda t: t.sum(0), budget=2, live=False, store=False)
    with pytest.raises(SweepError, match=r"fixed\['num_warps'\] = 'four' does not fit: it must be a int"):
        tiles.scale.tune(x, fixed={"num_warps": "four"}, budget=1, live=False, store=False)
    with pytest.raises(SweepError, match="a list of 2"):
        tiles.scale.tune(x, fixed={"block_sizes": [8]}, budget=1, live=False, store=False)
    with pytest.raises(KernelbenchError, match=r"scale\(x\) was called with 2 argument\(s\) \(Tensor, Tensor\)"):
        tiles.scale(x, x)
    with pytest.raises(KernelDefinitionError, match="no tensor") as info:
        tiles.scale("not a tensor")
    assert "line 0" not in str(info.value)


def test_warm_workers_carry_over_to_the_next_sweep() -> None:
    from kernelbench.tune.worker.pool import _PARKED

    kernelbench.release_workers()
    x = torch.randn(32, 32, device=DEV)

    def sweep(kernel: Any, inputs: torch.Tensor, ref: Any) -> tuple[int, Any]:
        result = Sweep(kernel, (inputs,), ref=ref, budget=2, seed=0, executor=Isolated()).run()
        key, procs = _PARKED["eval"]
        return procs[0].proc.pid, result

    first, _ = sweep(tiles.scale, x, lambda t: t * 3)
    assert sweep(tiles.scale, x, lambda t: t * 3)[0] == first  # same kernel, same inputs: taken over as is
    # Other inputs, then another kernel: the same process, set up again (no new torch/Helion/CUDA start-up),
    # and what it measures is the new sweep's: a wrong reference is caught, a right one passes.
    pid, result = sweep(tiles.scale, torch.randn(32, 32, device=DEV), lambda t: t * 3)
    assert pid == first and set(result.df["status"]) == {"ok"}
    pid, result = sweep(tiles.always_wrong, x, lambda t: t * 3)
    assert pid == first and set(result.df["status"]) == {"wrong"}
    pid, result = sweep(tiles.scale, x, lambda t: t * 4)
    assert pid == first and set(result.df["status"]) == {"wrong"}
    kernelbench.release_workers()
    assert "eval" not in _PARKED
    with pytest.raises(ProcessLookupError):
        os.kill(first, 0)  # ended, not leaked
    with kernelbench.settings.scope(keep_workers=False):
        Sweep(tiles.scale, (x,), ref=lambda t: t * 3, budget=1, executor=Isolated()).run()
    assert "eval" not in _PARKED


def test_wire_format_round_trips_tensors_without_pickle() -> None:
    import socket
    from multiprocessing.connection import Connection

    from kernelbench.tune.worker.pool import recv, send

    a, b = socket.socketpair()
    left, right = Connection(os.dup(a.fileno())), Connection(os.dup(b.fileno()))
    a.close()
    b.close()
    tensors = {
        "bf16": torch.randn(3, 5).to(torch.bfloat16),
        "strided": torch.arange(12.0).reshape(3, 4).t(),  # not contiguous
        "mask": torch.tensor([True, False, True]),
        "scalar": torch.tensor(7, dtype=torch.int64),
        "empty": torch.empty(0, 4, dtype=torch.float16),
    }
    received: dict[str, Any] = {}
    reader = threading.Thread(target=lambda: received.update(zip(("header", "tensors"), recv(right))))
    reader.start()
    send(left, {"command": "init", "n": 1}, tensors)
    reader.join(timeout=30)
    assert received["header"] == {"command": "init", "n": 1}
    for key, t in tensors.items():
        got = received["tensors"][key]
        assert got.dtype == t.dtype and got.shape == t.shape and torch.equal(got, t), key
    left.close()
    right.close()


def test_float64_references_of_16_bit_outputs_travel_as_float32() -> None:
    from kernelbench.core.evaluate import Problem
    from kernelbench.tune.worker.pool import _Pool

    x = torch.randn(16, 16, device=DEV).to(torch.bfloat16)
    ref64 = x.double() * 3
    pool = _Pool(recipe_for(tiles.scale), Problem("scale", (x,), [((x,), [ref64])], [x]))
    assert pool.eval_tensors["ref0_0"].dtype == torch.float32
    assert pool.eval_init["checks"][0]["refs"] == ["float64"]  # widened again in the worker
    assert "check0_0" not in pool.eval_tensors  # the first check set is the arguments: sent once
    result = Sweep(tiles.scale, (x,), ref=lambda t: t * 3, budget=2, seed=0, executor=Isolated()).run()
    assert set(result.df["status"]) == {"ok"}
    result = Sweep(tiles.scale, (x,), ref=lambda t: t * 3.3, budget=1, seed=0, executor=Isolated()).run()
    assert set(result.df["status"]) == {"wrong"}


def test_drawn_check_inputs_travel_as_a_seed_and_are_drawn_again_bit_for_bit() -> None:
    from kernelbench.core.check import Drawn, fresh_inputs
    from kernelbench.core.evaluate import Problem
    from kernelbench.tune.worker.pool import _Pool

    x = torch.randn(64, 64, device=DEV)
    drawn = fresh_inputs((x,), 7)
    assert isinstance(drawn, Drawn) and drawn.seed == 7
    pool = _Pool(recipe_for(tiles.scale), Problem("scale", (x,), [((x,), [x * 3]), (drawn, [drawn[0] * 3])], [x]))
    assert pool.eval_init["checks"][1]["drawn"] == 7 and "check1_0" not in pool.eval_tensors  # not sent
    assert "check1_0" in pool.shipped()[1]  # what is sent should a worker draw other bits
    worker = EvalWorker(pool)
    try:
        assert worker.evaluate(0, {"block_sizes": [32, 32]}).status == "ok"  # the worker's draw checks out
    finally:
        worker.close()
    # A set that only claims to be drawn with seed 8 (its bits are seed 7's): the worker's draw does
    # not match, so the inputs themselves are sent, and the candidate is checked on them.
    liar = Drawn(drawn, 8)
    pool = _Pool(recipe_for(tiles.scale), Problem("scale", (x,), [((x,), [x * 3]), (liar, [liar[0] * 3])], [x]))
    worker = EvalWorker(pool)
    try:
        assert worker.evaluate(0, {"block_sizes": [32, 32]}).status == "ok"
    finally:
        worker.close()


def test_configs_whose_compile_ran_past_the_limit_are_not_proposed_again(capsys: Any) -> None:
    from kernelbench.core.space import config_key

    x = torch.randn(32, 32, device=DEV)
    k = kernelbench.Kernel(tiles.scale.helion_kernel)
    # Nothing compiles that fast. The eval worker compiles (no compile workers): on a GPU host each of
    # 8 compile workers would be killed and restarted per sweep, seconds each.
    with kernelbench.settings.scope(compile_timeout_s=0.001, compile_workers=0):
        first = k.tune(x, ref=lambda t: t * 3, budget=2, seed=0, isolate=True, live=False)
        assert set(first.df["status"]) == {"timeout"}
        assert all(c.timed_out == "compile" and c.compile_s >= 0.001 for c in first.candidates)
        assert all("compiling took longer than" in c.error for c in first.candidates)
        slow = {config_key(c.config) for c in first.candidates}
        again = k.tune(x, ref=lambda t: t * 3, budget=2, seed=0, isolate=True, live=False)
        assert again.info.skipped == 2 and not slow & {config_key(c.config) for c in again.candidates}
        assert "2 config(s) skipped: their compile ran past settings.compile_timeout_s" in capsys.readouterr().out
        # A new session (a fresh Kernel object) learns them from the run store.
        fresh = kernelbench.Kernel(tiles.scale.helion_kernel)
        assert fresh.tune(x, ref=lambda t: t * 3, budget=1, seed=0, isolate=True, live=False).info.skipped == 4
    # A longer limit than they were given: they are tried again.
    retried = k.tune(x, ref=lambda t: t * 3, budget=2, seed=0, isolate=True, live=False)
    assert retried.info.skipped == 0 and {config_key(c.config) for c in retried.candidates} & slow
    assert set(retried.df["status"]) == {"ok"}


def test_start_workers_ahead_of_the_first_sweep() -> None:
    from kernelbench.tune.worker.pool import _PARKED

    kernelbench.release_workers()
    kernelbench.start_workers()  # returns at once: the process loads torch and Helion meanwhile
    key, procs = _PARKED["eval"]
    pid = procs[0].proc.pid
    kernelbench.start_workers()  # already started: nothing more
    assert [p.proc.pid for p in _PARKED["eval"][1]] == [pid]
    result = Sweep(tiles.scale, (torch.randn(32, 32, device=DEV),), ref=lambda t: t * 3, budget=2, seed=0,
                   executor=Isolated()).run()
    assert set(result.df["status"]) == {"ok"}
    assert _PARKED["eval"][1][0].proc.pid == pid  # the sweep ran in the started worker
    kernelbench.release_workers()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_sweep_that_ends_before_its_workers_are_up_keeps_them_for_the_next() -> None:
    """On an H200 a run of 15 s sweeps got no candidate after the first slow one: each sweep ended while
    its workers were still starting, killed them, and the next started cold. Starting workers and
    compile workers mid-compile are parked; the next sweep gets candidates from the same processes."""

    kernelbench.release_workers()
    x = torch.randn(32, 32, device=DEV)
    with kernelbench.settings.scope(compile_workers=1):
        first = Sweep(tiles.scale, (x,), ref=lambda t: t * 3, budget=4, seed=0, time_limit=0.05,
                      executor=Isolated()).run()
        assert first.stopped == "time_limit"
        pids = sorted(_worker_pids())
        assert len(pids) == 2, "the eval and the compile worker are kept, though neither was up"
        for pid in pids:
            os.kill(pid, 0)  # alive
        second = Sweep(tiles.scale, (torch.randn(16, 16, device=DEV),), ref=lambda t: t * 3, budget=3,
                       seed=1, executor=Isolated()).run()
    assert len(second.df) == 3 and set(second.df["status"]) == {"ok"}
    assert sorted(_worker_pids()) == pids  # the same processes, set up again for the other inputs
    kernelbench.release_workers()


def test_compile_workers_never_hold_the_sweep_up() -> None:
    """While every compile worker is still starting, the ready eval worker compiles candidates itself."""
    kernelbench.release_workers()
    x = torch.randn(32, 32, device=DEV)
    Sweep(tiles.scale, (x,), ref=lambda t: t * 3, budget=1, seed=0, executor=Isolated()).run()  # parks an eval worker
    with kernelbench.settings.scope(compile_workers=2):  # cold: they take seconds to import torch and Helion
        result = Sweep(tiles.scale, (x,), ref=lambda t: t * 3, budget=50, seed=1, time_limit=1.5,
                       executor=Isolated()).run()
    kernelbench.release_workers()
    assert len(result.df) >= 1 and set(result.df["status"]) == {"ok"}


def _worker_pids() -> list[int]:
    from kernelbench.tune.worker.pool import _PARKED

    return [p.proc.pid for _, procs in _PARKED.values() for p in procs]


@pytest.mark.skipif(not kernelbench.is_interpreter(), reason="uses the interpreter's slowness as the slow kernel")
def test_ctrl_c_during_a_candidate_kills_the_busy_worker_instead_of_parking_it() -> None:
    from kernelbench.tune.worker.pool import _PARKED

    kernelbench.release_workers()
    busy: list[int] = []

    def interrupt_during_slow(event: Any) -> None:
        if isinstance(event, CandidateStarted) and event.config.config["block_sizes"] == [1, 1]:
            busy.append(executor.made.eval_worker._ensure().proc.pid)
            main = threading.main_thread().ident
            assert main is not None
            # Ctrl-C as the notebook gets it: SIGINT to the main thread, blocked waiting for the worker.
            threading.Timer(1.0, signal.pthread_kill, (main, signal.SIGINT)).start()

    executor = _Watched()
    with kernelbench.settings.scope(run_timeout_s=60.0):
        result = Sweep(faults.slow_scale, (x64(),), ref=lambda t: t * 2, fixed=SLOW_AND_FAST, executor=executor,
                       observers=[interrupt_during_slow]).run()
    assert result.stopped == "interrupt" and busy
    assert busy[0] not in _worker_pids()  # killed, not parked
    assert not any(p.busy for _, procs in _PARKED.values() for p in procs)
    with pytest.raises(ProcessLookupError):
        os.kill(busy[0], 0)
    # The next isolated sweep starts a fresh worker and runs fine.
    after = Sweep(tiles.scale, (x64(),), ref=lambda t: t * 3, budget=1, executor=Isolated()).run()
    assert [c.status for c in after.candidates] == ["ok"]
    kernelbench.release_workers()


def _gone(pid: int) -> bool:
    """The process has ended (a zombie not yet reaped by whoever adopted it counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


_ORPHAN_SCRIPT = """
import sys, time
import torch
import kernelbench
from kernelbench.tune.sweep import Sweep
from kernelbench.tune.worker.pool import _PARKED, EvalWorker, _Pool, recipe_for
from tests.kernels import faults

x = torch.randn(64, 64, device=kernelbench.DEVICE)
pool = _Pool(recipe_for(faults.slow_scale), Sweep(faults.slow_scale, (x,), ref=lambda t: t * 2, budget=1).problem)
worker = EvalWorker(pool)
proc = worker._ensure()  # a busy one: running a slow candidate when its parent is killed
proc.send({"command": "eval", "index": 0, "config": {"block_sizes": [1, 1]}})
while proc.receive(60)[0].get("phase") != "run":
    pass
kernelbench.start_workers()  # and an idle one, parked
print(" ".join(str(p.proc.pid) for p in [*_PARKED["eval"][1], proc]), flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(not kernelbench.is_interpreter(), reason="uses the interpreter's slowness as the slow kernel")
def test_workers_end_when_the_notebook_process_is_killed() -> None:
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).parent.parent)
    try:
        assert script.stdout is not None
        pids = [int(p) for p in script.stdout.readline().split()]
        assert len(pids) == 2 and not any(_gone(p) for p in pids)
    finally:
        script.kill()
        script.wait()
    deadline = time.monotonic() + 10
    while not all(_gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [p for p in pids if not _gone(p)]
    for pid in alive:  # do not leave them behind if the test fails
        os.kill(pid, signal.SIGKILL)
    assert not alive


def test_kernels_with_a_display_name_and_module_helpers_run_isolated() -> None:
    from .kernels import module_helpers

    x = torch.randn(16, 16, device=DEV)
    # The display name is not the function's name: the worker finds the function by its own name.
    named = kernelbench.Kernel(tiles.scale.helion_kernel, name="my_plus1")
    assert recipe_for(named).name == "my_plus1"
    result = named.tune(x, ref=lambda t: t * 3, budget=1, isolate=True, live=False, store=False)
    assert [c.status for c in result.candidates] == ["ok"]
    # A helper reading its module's `math`: the module travels with the helper.
    k = kernelbench.Kernel(module_helpers.times_sqrt16)
    assert recipe_for(k).imports.get("math") == "math"
    result = k.tune(x, ref=lambda t: t * 4, budget=1, isolate=True, live=False, store=False)
    assert [c.status for c in result.candidates] == ["ok"], result.candidates[0].error


def test_notebook_helpers_reading_notebook_modules_run_isolated(ip: Any) -> None:
    from .conftest import run, unique

    name, helper = unique("nbmath"), unique("factor")
    run(ip, "import math")
    run(ip, f"def {helper}():\n    return math.sqrt(16.0)")
    run(ip, f"""%%kernel -q
def {name}(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = x[tile] * {helper}()
    return out
""")
    k = ip.user_ns[name]
    recipe = recipe_for(k)
    assert recipe.imports.get("math") == "math" and [h[0] for h in recipe.helpers] == [helper]
    result = k.tune(torch.randn(16, 16, device=DEV), ref=lambda t: t * 4, budget=1, isolate=True,
                    live=False, store=False)
    assert [c.status for c in result.candidates] == ["ok"], result.candidates[0].error


# --------------------------------------------------------------------------------------------------
# References computed where they are used

PROBLEMS = os.path.join(os.path.dirname(__file__), "problems")

#: A problem whose Model the seed does not fix: Python's own random draws a factor within 1e-9 of 2,
#: other in every process, so a worker's float64 reference differs from the notebook's in its last
#: bits (a kernel computing x * 2 is right against either).
JITTERY = '''
import random
import torch
import torch.nn as nn

_JITTER = 1 + random.random() * 1e-9


class Model(nn.Module):
    def forward(self, x):
        return x * (2.0 * _JITTER)


rows = 32
cols = 32


def get_inputs():
    return [torch.randn(rows, cols)]
'''

_SHIPPED = "sending the check inputs and references themselves"


def _ref_keys(tensors: dict[str, Any]) -> list[str]:
    return sorted(key for key in tensors if key.startswith("ref"))


def _one_config(kernel: Any, args: Any, ref: Any, executor: Any) -> list[str]:
    result = kernel.tune(*args, ref=ref, budget=1, seed=0, executor=executor, live=False, store=False)
    return [c.status for c in result.candidates]  # Helion's default config


def test_a_problem_file_s_references_are_computed_in_the_worker_not_shipped(caplog: Any) -> None:
    from kernelbench.io.problem import load_module

    kernels = load_module(os.path.join(PROBLEMS, "kernels", "scale_add.py"))
    p = kernelbench.problem(os.path.join(PROBLEMS, "scale_add.py"))
    for kernel, want in ((kernels.scale_add, "ok"), (kernels.scale_add_wrong, "wrong")):
        executor = _Watched()
        in_workers = _one_config(kernel, p.args, p.ref, executor)
        assert in_workers == _one_config(kernel, p.args, p.ref, "local") == [want]
        # What went to the worker: the two arguments; the references as a recipe and digests.
        pool = executor.made.eval_worker.pool
        assert sorted(pool.eval_tensors) == ["arg0", "arg1"]
        assert all("computed" in check for check in pool.eval_init["checks"])
        (recipe,) = pool.eval_init["references"]
        assert recipe["qualname"] == "reference_of" and recipe["kwargs"]["path"].endswith("scale_add.py")
    assert _SHIPPED not in caplog.text
    # The float64 references that stayed behind, for a problem of 2 x 8 x 48: shipping them was 6 kB.
    shipped = pool.shipped("for the test")[1]
    assert _ref_keys(shipped) == ["ref0_0", "ref1_0"] and shipped["ref0_0"].dtype == torch.float64


def test_a_reference_the_worker_computes_otherwise_is_shipped_and_still_checks(tmp_path: Any, caplog: Any) -> None:
    path = tmp_path / "jittery.py"
    path.write_text(JITTERY)
    p = kernelbench.problem(path)
    for kernel, want in ((tiles.always_wrong, "ok"), (tiles.scale, "wrong")):  # x * 2 is right, x * 3 not
        caplog.clear()
        executor = _Watched()
        assert _one_config(kernel, p.args, p.ref, executor) == [want]
        assert "differs from the notebook's" in caplog.text and _SHIPPED in caplog.text, caplog.text
    # A problem file edited after the notebook loaded it is not used by the worker either.
    path.write_text(JITTERY.replace("rows = 32", "rows = 32  # edited"))
    caplog.clear()
    assert _one_config(tiles.always_wrong, p.args, p.ref, _Watched()) == ["ok"]
    assert "not the file the notebook loaded" in caplog.text, caplog.text


def test_a_digest_that_does_not_match_sends_the_references(monkeypatch: Any, caplog: Any) -> None:
    import functools

    from kernelbench.core.check import Computed
    from kernelbench.tune.worker import pool as pool_module

    real = pool_module.digest
    monkeypatch.setattr(pool_module, "digest", lambda args: "0" * 32 if isinstance(args, Computed) else real(args))
    x = torch.randn(32, 32, device=DEV)
    ref = functools.partial(torch.mul, other=3.0)
    assert _one_config(tiles.scale, (x,), ref, _Watched()) == ["ok"]
    assert _one_config(tiles.always_wrong, (x,), ref, _Watched()) == ["wrong"]
    assert "check set 0 (torch.mul) computed here in float64 differs" in caplog.text, caplog.text


def test_an_importable_torch_function_reference_is_not_shipped() -> None:
    import functools

    from kernelbench.tune.worker.recipe import reference_recipe

    x = torch.randn(64, 8, device=DEV)
    cases = ((tiles.right_only_at_block_16, torch.clone, [[8], [16], [32]], ["wrong", "ok", "wrong"], []),
             (tiles.scale, functools.partial(torch.mul, other=3.0), [[16, 8]], ["ok"], []),
             (tiles.scale, lambda t: t * 3, [[16, 8]], ["ok"], ["ref0_0", "ref1_0"]))  # a lambda: shipped
    for kernel, ref, blocks, want, shipped in cases:
        executor = _Watched()
        result = kernel.tune(x, ref=ref, strategy="grid", fixed={"block_sizes": blocks}, seed=0, executor=executor,
                             live=False, store=False)
        assert [c.status for c in result.candidates] == want
        assert _ref_keys(executor.made.eval_worker.pool.eval_tensors) == shipped
    assert reference_recipe(torch.clone, (x,)) == {"module": "torch", "qualname": "clone", "make": False,
                                                   "args": [], "kwargs": {}}
    assert reference_recipe(torch.nn.functional.gelu, (x,))["module"] == "torch._C._nn"
    partial = reference_recipe(functools.partial(torch.sum, dim=(0, 1), dtype=torch.float64), (x,))
    assert partial is not None and partial["kwargs"] == {"dim": {"__tuple__": [0, 1]}, "dtype": {"__dtype__": "float64"}}
    assert reference_recipe(functools.partial(torch.mul, other=x), (x,)) is None  # a tensor bound in: shipped
    assert reference_recipe(_ref_keys, (x,)) is None  # a function of the tests (not an installed module)
