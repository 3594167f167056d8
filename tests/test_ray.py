"""Sweeps on a real local Ray cluster (``num_cpus=2``: two actors running Triton's interpreter):
the same results as the local executor, a killed actor labelled and replaced, Stop, ``tune_many``
over three shapes, a hanging candidate cut at its time limit, and a clear error where Ray is not
installed.

Ray's start is slow on a loaded 2-core machine (each Ray process imports tens of modules), so one
cluster and one executor serve the whole module, and the sweeps are tiny.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import torch

import kernelbench
from kernelbench import SQLiteStore
from kernelbench.tune.events import CandidateFinished
from kernelbench.tune.sweep import Sweep

from .kernels import faults, tiles

ray = pytest.importorskip("ray", reason='Ray is an optional extra: pip install "kernelbench[ray]"')

DEV = kernelbench.DEVICE
LAYERS_ABOVE_TUNE = ("kernelbench.store", "kernelbench.bench", "kernelbench.io", "kernelbench.ui",
                     "kernelbench._kernel", "kernelbench._magic")


#: jupyter's jsonschema extras install rfc3987_syntax, whose grammar is built when imported, and
#: every Ray process imports jsonschema: seconds of CPU each, which on a loaded 2-core machine take
#: Ray's own agents past their 15 s start-up deadline. The Ray processes of these tests find a stub
#: that is not importable instead (jsonschema then skips that one format check, which nothing here uses).
_NO_GRAMMAR = 'raise ImportError("left out of the Ray processes of kernelbench tests")\n'


def _start_ray(stub_dir: Any) -> None:
    (stub_dir / "rfc3987_syntax").mkdir()
    (stub_dir / "rfc3987_syntax" / "__init__.py").write_text(_NO_GRAMMAR)
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(stub_dir), *([old] if old else [])])
    try:
        for attempt in range(3):  # a loaded machine can still miss Ray's start-up deadline: try again
            try:
                ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
                return
            except Exception:  # noqa: BLE001 - Ray raises a bare Exception when its node is slow to start
                ray.shutdown()
                if attempt == 2:
                    raise
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old


@pytest.fixture(scope="module")
def executor(tmp_path_factory: Any) -> Iterator[kernelbench.RayExecutor]:
    _start_ray(tmp_path_factory.mktemp("ray-stub"))
    ex = kernelbench.RayExecutor()
    try:
        yield ex
    finally:
        ex.shutdown()
        ray.shutdown()


@pytest.fixture(autouse=True)
def quick() -> Iterator[None]:
    with kernelbench.settings.scope(cpu_reps=1):
        yield


class _Watched:
    """The executor, keeping the evaluator it made (to see which actor runs which candidate)."""

    def __init__(self, executor: Any) -> None:
        self.executor, self.name, self.concurrent = executor, executor.name, executor.concurrent
        self.made: Any = None

    def evaluator(self, target: Any, bound: Any, problem: Any) -> Any:
        self.made = self.executor.evaluator(target, bound, problem)
        return self.made


def _statuses(result: Any) -> dict[str, str]:
    return {str(c.config.config["block_sizes"]): c.status for c in result.candidates}


def test_a_seeded_grid_gives_the_local_executor_s_configs_and_statuses(executor: Any) -> None:
    x = torch.randn(64, 8, device=DEV)
    kwargs = {"ref": lambda t: t, "strategy": "grid", "fixed": {"block_sizes": [[8], [16], [32]]}, "seed": 3,
              "live": False, "store": False}
    on_ray = tiles.right_only_at_block_16.tune(x, executor=executor, **kwargs)
    local = tiles.right_only_at_block_16.tune(x, executor="local", **kwargs)
    assert _statuses(on_ray) == _statuses(local) == {"[8]": "wrong", "[16]": "ok", "[32]": "wrong"}
    assert on_ray.best_config.config["block_sizes"] == [16]
    assert all(c.ms is not None for c in on_ray.candidates)
    # Each actor runs the interpreter, like this process, and loaded nothing above the tune layer.
    actors = executor.actors()
    assert len(actors) == 2 and {a["device"] for a in actors} == {DEV}
    for actor in actors:
        assert not [m for m in actor["modules"] if m.startswith(LAYERS_ABOVE_TUNE)], actor["modules"]


@pytest.mark.skipif(not kernelbench.is_interpreter(), reason="uses the interpreter's slowness as the slow kernel")
def test_an_actor_killed_mid_sweep_is_labelled_and_replaced(executor: Any) -> None:
    watched = _Watched(executor)
    killed: list[int] = []
    done = threading.Event()

    def kill_the_slow_one() -> None:
        while not done.is_set():
            running = watched.made.running() if watched.made is not None else {}
            slow = [pid for config, pid in running.values() if config["block_sizes"] == [1, 1]]
            if slow:
                time.sleep(1.0)  # well inside its evaluation (4096 interpreted programs)
                killed.append(slow[0])
                os.kill(slow[0], signal.SIGKILL)
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_the_slow_one, daemon=True)
    killer.start()
    try:
        sweep = Sweep(faults.slow_scale, (torch.randn(64, 64, device=DEV),), ref=lambda t: t * 2, strategy="grid",
                      fixed={"block_sizes": [[1, 1], [32, 32], [16, 16]]}, executor=watched)
        result = sweep.run()
    finally:
        done.set()
        killer.join()
    assert killed
    statuses = _statuses(result)
    assert statuses == {"[1, 1]": "runtime_error", "[32, 32]": "ok", "[16, 16]": "ok"}
    dead = next(c for c in result.candidates if c.status == "runtime_error")
    assert "actor died" in dead.error and "took its place" in dead.error
    pids = [a["pid"] for a in executor.actors()]
    assert len(pids) == 2 and killed[0] not in pids  # a new actor took the dead one's place


def test_a_hanging_candidate_is_a_timeout_and_its_actor_is_replaced(executor: Any) -> None:
    before = {a["pid"] for a in executor.actors()}
    n = (1 << 31) - 1 if DEV != "cpu" else 1 << 11  # n * n steps a tile: far past the limit
    with kernelbench.settings.scope(run_timeout_s=3.0):
        result = faults.spin.tune(torch.randn(32, device=DEV), n, ref=lambda t, k: t, budget=1, executor=executor,
                                  live=False, store=False)
    (hung,) = result.candidates
    assert hung.status == "timeout" and hung.timed_out == "run"
    assert "run_timeout_s" in hung.error and "replaced" in hung.error
    after = {a["pid"] for a in executor.actors()}
    assert len(after) == 2 and len(after - before) == 1  # the hung actor was killed, a new one took its place


@pytest.mark.skipif(not kernelbench.is_interpreter(), reason="uses the interpreter's slowness as the slow kernel")
def test_stop_cancels_outstanding_work_and_keeps_every_finished_result(executor: Any, tmp_path: Any) -> None:
    from kernelbench.store.sqlite import StoreObserver

    store = SQLiteStore(tmp_path / "runs.sqlite")
    sweeps: list[Sweep] = []

    def stop_after_the_first(event: Any) -> None:
        if isinstance(event, CandidateFinished):
            sweeps[0].stop()

    # The fast config finishes while the 1x1 one (4096 interpreted programs) still runs: Stop then
    # kills its actor instead of waiting for it, and the configs queued behind are never sent.
    sweeps.append(Sweep(faults.slow_scale, (torch.randn(64, 64, device=DEV),), ref=lambda t: t * 2, strategy="grid",
                        fixed={"block_sizes": [[32, 32], [1, 1], [16, 16], [8, 8], [4, 4]]}, executor=executor,
                        observers=[StoreObserver(store), stop_after_the_first]))
    result = sweeps[0].run()
    assert result.stopped == "stop"
    assert [c.status for c in result.candidates] == ["ok"]
    run = store.runs("slow_scale")[0]
    assert run["stopped"] == "stop"
    assert len(store.candidates(run["id"])) == 1  # nothing lost from the store
    assert len(executor.actors()) == 2  # the pool is whole again for the next sweep


def test_tune_many_runs_three_shapes_into_the_store_with_one_view(executor: Any, tmp_path: Any,
                                                                    capsys: Any) -> None:
    from kernelbench.ui.many_dashboard import ManyDashboard

    store = SQLiteStore(tmp_path / "runs.sqlite")
    dashboard = ManyDashboard(show=False)
    shapes = [(16, 16), (32, 16), (32, 32)]
    results = kernelbench.tune_many(tiles.scale, [(torch.randn(*s, device=DEV),) for s in shapes],
                                    ref=lambda t: t * 3, budget=2, executor=executor, live=False, store=store,
                                    observers=[dashboard])
    assert [len(r.candidates) for r in results] == [2, 2, 2]
    assert all(r.best is not None for r in results)
    assert len({r.info.signature for r in results}) == 3
    assert len(store.runs("scale")) == 3
    # One row per shape: its progress and best so far.
    assert [row.label for row in dashboard.rows] == ["16×16 float32", "32×16 float32", "32×32 float32"]
    assert [row.done for row in dashboard.rows] == [2, 2, 2]
    assert all(row.best is not None and row.ended == "budget" for row in dashboard.rows)
    assert "32×16 float32" in dashboard.table.value and dashboard.stop_button.description == "Done"
    out = capsys.readouterr().out
    assert "tune_many scale: 3 shape(s), side by side (ray)" in out
    assert all(f"[{label}]" in out for label in ("16×16 float32", "32×16 float32", "32×32 float32"))


def test_without_ray_asking_for_it_says_how_to_install_it(tmp_path: Any) -> None:
    code = """
import sys
sys.modules["ray"] = None  # as if Ray were not installed
import torch, kernelbench
from tests.kernels import tiles
x = torch.randn(16, 16)
print("STATUS", tiles.scale.tune(x, ref=lambda t: t * 3, budget=1, live=False, store=False).candidates[0].status)
for ask in (lambda: kernelbench.RayExecutor(),
            lambda: tiles.scale.tune(x, ref=lambda t: t * 3, budget=1, live=False, store=False, executor="ray")):
    try:
        ask()
    except kernelbench.SweepError as error:
        print("ERROR", error)
kernelbench.settings.executor = "ray"
try:
    kernelbench.tune_many(tiles.scale, [x], ref=lambda t: t * 3, budget=1, live=False, store=False)
except kernelbench.SweepError as error:
    print("ERROR", error)
"""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "KERNELBENCH_HOME": str(tmp_path), "KERNELBENCH_CPU_REPS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=root,
                         env=env)
    lines = out.stdout.strip().splitlines()
    assert "STATUS ok" in lines, out.stdout + out.stderr  # kernelbench works without Ray
    errors = [line for line in lines if line.startswith("ERROR")]
    assert len(errors) == 3, out.stdout + out.stderr
    for line in errors:
        assert 'pip install "kernelbench[ray]"' in line, line


def test_the_executor_setting_takes_local_or_ray_and_names_itself_when_wrong() -> None:
    assert kernelbench.Settings().executor == "local"
    with kernelbench.settings.scope(executor="ray"):
        assert kernelbench.settings.executor == "ray"
    with pytest.raises(kernelbench.KernelbenchError, match=r"settings.executor \(KERNELBENCH_EXECUTOR\) must be one "
                                                           r"of local, ray; got 'dask'"):
        kernelbench.settings.executor = "dask"
    with pytest.raises(kernelbench.KernelbenchError, match="executor='dask' is not an executor"):
        tiles.scale.tune(torch.randn(16, 16, device=DEV), ref=lambda t: t * 3, budget=1, live=False, store=False,
                         executor="dask")


def test_problem_file_and_torch_function_references_are_computed_on_the_actors(executor: Any, tmp_path: Any,
                                                                               caplog: Any) -> None:
    import functools

    from kernelbench.io.problem import load_module

    from .test_worker import JITTERY, PROBLEMS

    def tune(kernel: Any, args: Any, ref: Any, on: Any) -> list[str]:
        result = kernel.tune(*args, ref=ref, budget=1, seed=0, executor=on, live=False, store=False)
        return [c.status for c in result.candidates]

    kernels = load_module(os.path.join(PROBLEMS, "kernels", "scale_add.py"))
    p = kernelbench.problem(os.path.join(PROBLEMS, "scale_add.py"))
    x = torch.randn(32, 32, device=DEV)
    for kernel, args, ref, want in ((kernels.scale_add, p.args, p.ref, "ok"),
                                    (kernels.scale_add_wrong, p.args, p.ref, "wrong"),
                                    (tiles.scale, (x,), functools.partial(torch.mul, other=3.0), "ok")):
        watched = _Watched(executor)
        assert tune(kernel, args, ref, watched) == tune(kernel, args, ref, "local") == [want]
        # The object store got the arguments only; every actor computed the references and matched.
        assert not [key for key in watched.made._setup.eval_tensors if key.startswith("ref")]
        assert not watched.made.shipped
    # A reference the actors compute otherwise than the notebook: sent after all, and still checked right.
    path = tmp_path / "jittery.py"
    path.write_text(JITTERY)
    q = kernelbench.problem(path)
    for kernel, want in ((tiles.always_wrong, "ok"), (tiles.scale, "wrong")):
        watched = _Watched(executor)
        assert tune(kernel, q.args, q.ref, watched) == [want]
        assert watched.made.shipped and "differs from the notebook's" in caplog.text
