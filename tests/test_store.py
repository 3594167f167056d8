"""The run store on real SQLite in a temporary KERNELBENCH_HOME: rows as a sweep runs, a sweep killed
with SIGKILL, two writer processes, history, and warm starts from the best known config."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import helion
import pandas as pd
import pytest
import torch

import kernelbench
from kernelbench import KernelbenchError, SQLiteStore
from kernelbench._kernel import parse_config
from kernelbench.store.sqlite import default_store
from kernelbench.tune.events import CandidateFinished
from kernelbench.tune.records import STATUSES, Candidate

from .kernels import tiles

DEV = kernelbench.DEVICE
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def one_timed_run() -> Any:
    with kernelbench.settings.scope(cpu_reps=1):
        yield


def x32() -> torch.Tensor:
    return torch.randn(32, 32, device=DEV)


def db(home: Path) -> Path:
    return home / "runs.sqlite"


def count(home: Path, sql: str = "SELECT COUNT(*) FROM candidates") -> int:
    """Read the store the way another process would: a fresh connection of its own."""
    conn = sqlite3.connect(db(home), timeout=30)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def subprocess_env(home: Path) -> dict[str, str]:
    # ROOT first, the parent's PYTHONPATH kept (Helion lives there on the GPU host).
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "KERNELBENCH_HOME": str(home), "KERNELBENCH_CPU_REPS": "1", "PYTHONPATH": path}


# --------------------------------------------------------------------------------------------------
# Writing as the sweep runs


def test_rows_appear_while_the_sweep_runs(kernelbench_home: Path) -> None:
    seen: list[int] = []

    def peek(event: Any) -> None:
        if isinstance(event, CandidateFinished):
            seen.append(count(kernelbench_home))

    result = tiles.scale.tune(x32(), ref=lambda t: t * 3, budget=4, seed=1, live=False, observers=[peek])
    assert seen == [1, 2, 3, 4]  # each candidate is committed before the next observer hears of it
    runs = kernelbench.history()
    assert len(runs) == 1
    run = runs.iloc[0]
    assert run["kernel"] == "scale" and run["stopped"] == "budget" and run["candidates"] == 4
    assert run["best_ms"] == pytest.approx(result.best_ms)
    assert run["source_hash"] == tiles.scale.source_hash
    assert json.loads(run["signature"]) == [[[32, 32], "float32", [32, 1]]]
    assert run["device"] == kernelbench.device_name() and run["strategy"] == result.info.strategy
    assert run["torch"] == torch.__version__ and run["helion"] and run["triton"]
    assert run["seed"] == 1 and pd.notna(run["started"]) and run["finished"] >= run["started"]

    cands = kernelbench.history(int(runs.index[0]))
    assert list(cands.index) == [0, 1, 2, 3]
    assert list(cands["status"]) == list(result.df["status"])
    assert cands["ms"].tolist() == pytest.approx(result.df["ms"].tolist())
    assert {"block_sizes", "num_warps", "compile_s", "max_abs_err", "error", "config"} <= set(cands.columns)
    for text, candidate in zip(cands["config"], result.candidates):
        assert helion.Config.from_json(text) == candidate.config  # Helion's own JSON


def test_store_false_writes_nothing(kernelbench_home: Path) -> None:
    tiles.scale.tune(x32(), budget=1, live=False, store=False)
    assert not db(kernelbench_home).exists()
    assert kernelbench.history().empty


def test_a_given_store_gets_the_rows(kernelbench_home: Path, tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "elsewhere.sqlite")
    tiles.scale.tune(x32(), budget=2, live=False, store=store)
    assert not db(kernelbench_home).exists()
    assert len(kernelbench.history(store=store)) == 1 and len(kernelbench.history(1, store=store)) == 2


def test_interrupted_sweep_records_how_it_stopped() -> None:
    def interrupt(event: Any) -> None:
        if isinstance(event, CandidateFinished) and event.done == 2:
            raise KeyboardInterrupt

    tiles.scale.tune(x32(), ref=lambda t: t * 3, budget=10, seed=0, live=False, observers=[interrupt])
    run = kernelbench.history("scale").iloc[0]
    assert run["stopped"] == "interrupt" and run["candidates"] == 2


_SWEEP_SCRIPT = """
import torch, kernelbench
from tests.kernels import tiles
tiles.scale.tune(torch.randn(32, 32, device=kernelbench.DEVICE), ref=lambda t: t * 3, budget=100000, seed=3,
                 strategy="random", live=False, fixed={"block_sizes": [32, 32]})
"""


def test_killed_sweep_keeps_every_finished_candidate(kernelbench_home: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _SWEEP_SCRIPT], env=subprocess_env(kernelbench_home),
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        seen = 0
        while seen < 3:
            assert proc.poll() is None, f"the sweep process died: {proc.stderr.read().decode()[-2000:]}"  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no candidates reached the store in time"
            time.sleep(0.05)
            if db(kernelbench_home).exists():
                try:
                    seen = count(kernelbench_home)
                except sqlite3.OperationalError:  # the schema is being created right now
                    seen = 0
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    conn = sqlite3.connect(db(kernelbench_home))
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()

    runs = kernelbench.history()
    assert len(runs) == 1
    run = runs.iloc[0]
    assert pd.isna(run["stopped"]) and pd.isna(run["finished"])  # it never got to say goodbye
    cands = kernelbench.history(int(runs.index[0]))
    assert len(cands) >= seen and list(cands.index) == list(range(len(cands)))
    assert set(cands["status"]) <= set(STATUSES) and cands["compile_s"].notna().all()
    for text in cands["config"]:
        helion.Config.from_json(text)
    # What the dead sweep measured is what a fresh kernel now starts from.
    if (cands["status"] == "ok").any():
        fresh = kernelbench.Kernel(tiles.scale.helion_kernel)
        config, why = fresh.active_config(x32())
        fastest = cands[cands["status"] == "ok"].sort_values("ms").iloc[0]
        assert why == "best known" and config == helion.Config.from_json(fastest["config"])


_WRITER_SCRIPT = """
import sys, time, warnings, torch, kernelbench
from pathlib import Path
from kernelbench.store.sqlite import default_store
from tests.kernels import tiles

warnings.simplefilter("error", RuntimeWarning)  # a store failure (locked, lost rows) fails this writer
rendezvous, seed = Path(sys.argv[1]), int(sys.argv[2])

def meet(name):
    (rendezvous / f"{name}_{seed}").touch()
    while len(list(rendezvous.glob(f"{name}_*"))) < 2:
        time.sleep(0.005)

meet("imported")  # both sweeps run at the same time
result = tiles.scale.tune(torch.randn(32, 32, device=kernelbench.DEVICE), budget=3, seed=seed,
                          strategy="random", live=False, fixed={"block_sizes": [32, 32]})  # fast candidates
store = default_store()
run_id = max(r["id"] for r in store.runs() if r["seed"] == seed)
extra = result.candidates[0]
meet("tuned")  # then both hammer the file at once
for i in range(1000):
    extra.index = 100 + i
    store.record_candidate(run_id, extra)
print("done", run_id)
"""


def test_two_writers_at_once(kernelbench_home: Path, tmp_path: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER_SCRIPT, str(tmp_path), str(seed)],
                         env=subprocess_env(kernelbench_home), cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for seed in (1, 2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0 and "done" in out, err[-3000:]
    runs = kernelbench.history()
    assert sorted(runs["seed"]) == [1, 2] and len(set(runs.index)) == 2
    assert (runs["candidates"] == 3 + 1000).all()
    assert runs["stopped"].tolist() == ["budget", "budget"]


# --------------------------------------------------------------------------------------------------
# History


def test_history_by_name_kernel_and_run_id() -> None:
    tiles.scale.tune(x32(), budget=1, live=False)
    tiles.always_wrong.tune(torch.randn(64, device=DEV), ref=lambda t: t.clone(), budget=1, live=False)
    assert list(kernelbench.history()["kernel"]) == ["scale", "always_wrong"]
    assert list(kernelbench.history("scale")["kernel"]) == ["scale"]
    assert list(kernelbench.history(tiles.always_wrong).index) == [2]
    wrong = kernelbench.history(tiles.always_wrong).iloc[0]
    assert wrong["ok"] == 0 and pd.isna(wrong["best_ms"])
    assert kernelbench.history("nothing").empty
    with pytest.raises(KernelbenchError, match=r"no run 99 .*kernelbench.history\(\) lists the runs"):
        kernelbench.history(99)
    with pytest.raises(KernelbenchError, match="got a bool"):
        kernelbench.history(True)


def test_history_of_an_empty_home_is_empty_and_creates_nothing(kernelbench_home: Path) -> None:
    assert kernelbench.history().empty
    assert kernelbench.Kernel(tiles.scale.helion_kernel).active_config(x32())[1] == "default"
    assert not db(kernelbench_home).exists()  # reads never create the store


# --------------------------------------------------------------------------------------------------
# Warm starts


def _tune_off_default(x: torch.Tensor) -> kernelbench.SweepResult:
    """A sweep whose best config cannot be Helion's default (num_warps is forced off it)."""
    default_warps = tiles.scale.default_config(x).config["num_warps"]
    result = kernelbench.Kernel(tiles.scale.helion_kernel).tune(
        x, ref=lambda t: t * 3, budget=3, seed=4, live=False, fixed={"num_warps": default_warps // 2}
    )
    assert result.best_config is not None and result.best_config != tiles.scale.default_config(x)
    return result


def test_warm_start_uses_the_stored_best() -> None:
    x = x32()
    result = _tune_off_default(x)
    fresh = kernelbench.Kernel(tiles.scale.helion_kernel)  # a new session's kernel: same source
    config, why = fresh.active_config(x)
    assert why == "best known" and config == result.best_config
    torch.testing.assert_close(fresh(x), x * 3)
    other_shape = torch.randn(16, 16, device=DEV)
    assert kernelbench.Kernel(tiles.scale.helion_kernel).active_config(other_shape)[1] == "default"
    fresh.pin(tiles.scale.default_config(x))
    assert fresh.active_config(x)[1] == "pinned"  # a pinned config still wins

    # A new sweep starts from the best known configs (fastest first), then Helion's default.
    known = [c.config for c in sorted(result.candidates, key=lambda c: c.ms)]
    again = kernelbench.Kernel(tiles.scale.helion_kernel).tune(x, ref=lambda t: t * 3, budget=4, seed=9, live=False)
    assert [c.config for c in again.candidates] == [*known, tiles.scale.default_config(x)]
    cold = kernelbench.Kernel(tiles.scale.helion_kernel).tune(x, budget=1, live=False, store=False)
    assert cold.candidates[0].config == tiles.scale.default_config(x)


def test_warm_start_needs_the_same_source_and_device(kernelbench_home: Path) -> None:
    x = x32()
    _tune_off_default(x)
    edited = kernelbench.Kernel(tiles.scale.helion_kernel)
    edited.source_hash = "0" * 16  # as if the source had been edited
    assert edited.active_config(x)[1] == "default"
    conn = sqlite3.connect(db(kernelbench_home))
    with conn:
        conn.execute("UPDATE runs SET device = 'another GPU'")
    conn.close()
    assert kernelbench.Kernel(tiles.scale.helion_kernel).active_config(x)[1] == "default"


def test_lookups_are_cached_per_signature(kernelbench_home: Path) -> None:
    x = x32()
    result = _tune_off_default(x)
    k = kernelbench.Kernel(tiles.scale.helion_kernel)
    assert k.active_config(x) == (result.best_config, "best known")
    db(kernelbench_home).unlink()  # the store is gone, but this signature was already looked up
    assert k.active_config(x) == (result.best_config, "best known")


def test_a_corrupt_store_never_breaks_a_call(kernelbench_home: Path) -> None:
    db(kernelbench_home).write_bytes(b"this is not a database" * 100)
    x = x32()
    k = kernelbench.Kernel(tiles.scale.helion_kernel)
    with pytest.warns(RuntimeWarning, match=r"runs.sqlite cannot be used.*KERNELBENCH_HOME.*skipped"):
        torch.testing.assert_close(k(x), x * 3)
    assert k.active_config(torch.randn(16, 16, device=DEV))[1] == "default"  # warned once: no warning now
    with pytest.warns(RuntimeWarning, match="goes on without recording"):
        result = k.tune(x, ref=lambda t: t * 3, budget=2, live=False)
    assert len(result.candidates) == 2 and result.best is not None


def test_a_stored_config_that_no_longer_compiles_falls_back_to_default() -> None:
    x = x32()
    result = tiles.scale.tune(x, budget=1, live=False, store=False)
    store = default_store()
    run_id = store.start_run(result.info)
    stale = parse_config({**tiles.scale.default_config(x).config, "block_sizes": [8, 8, 8]})
    store.record_candidate(run_id, Candidate(0, stale, "ok", ms=0.001))
    k = kernelbench.Kernel(tiles.scale.helion_kernel)
    assert k.active_config(x) == (stale, "best known")
    with pytest.warns(RuntimeWarning, match="best known config from the run store does not compile"):
        torch.testing.assert_close(k(x), x * 3)
    assert k.active_config(x)[1] == "default"


def test_the_store_follows_kernelbench_home(tmp_path: Path) -> None:
    with kernelbench.settings.scope(home=tmp_path / "a"):
        assert default_store().path == tmp_path / "a" / "runs.sqlite"
        tiles.scale.tune(x32(), budget=1, live=False)
    with kernelbench.settings.scope(home=tmp_path / "b"):
        assert kernelbench.history().empty
    assert (tmp_path / "a" / "runs.sqlite").exists()
    conn = sqlite3.connect(tmp_path / "a" / "runs.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
