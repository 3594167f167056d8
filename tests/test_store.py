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
from kernelbench.tune.events import CandidateFinished, SweepFinished
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
    deadline = time.monotonic() + 120
    while len(list(rendezvous.glob(f"{name}_*"))) < 2:
        if (rendezvous / "failed").exists() or time.monotonic() > deadline:
            sys.exit(f"writer {seed}: the other writer never reached {name!r}")
        time.sleep(0.005)

def failed(kind, value, tb):  # tell the other writer at once, then fail as usual
    (rendezvous / "failed").touch()
    sys.__excepthook__(kind, value, tb)

sys.excepthook = failed

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
    # Only correct, fully timed candidates are known: a run cut short as `slow` (the interpreter's
    # early stop, which load on the machine can trigger) is never a best.
    known = [c.config for c in sorted((c for c in result.candidates if c.status == "ok"), key=lambda c: c.ms)]
    again = kernelbench.Kernel(tiles.scale.helion_kernel).tune(x, ref=lambda t: t * 3, budget=len(known) + 1,
                                                               seed=9, live=False)
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
    stale = parse_config({**tiles.scale.default_config(x).config, "num_sm_multiplier": 128})  # each knob fits; Helion refuses the pair
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


# --------------------------------------------------------------------------------------------------
# Every run row ends


def _raw_runs(path: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM runs ORDER BY id")]
    finally:
        conn.close()


def test_a_reference_of_the_wrong_shape_ends_its_run_with_the_error(kernelbench_home: Path) -> None:
    finished: list[Any] = []
    with pytest.raises(kernelbench.SweepError, match="shape") as error:
        tiles.scale.tune(x32(), ref=lambda t: t[:16] * 3, budget=1, live=False,
                         observers=[lambda e: finished.append(e) if isinstance(e, SweepFinished) else None])
    assert [e.result.stopped for e in finished] == ["error"] and finished[0].result.error == str(error.value)
    runs = kernelbench.history()
    assert not runs.empty and runs["finished"].notna().all()  # no row that looks like a crash
    assert list(runs["stopped"]) == ["error"]
    (row,) = _raw_runs(db(kernelbench_home))
    assert row["error"] == str(error.value) and row["wall_s"] is not None


def test_a_reference_that_raises_writes_no_run_at_all() -> None:
    def broken(t: torch.Tensor) -> torch.Tensor:
        raise ValueError("bad reference")

    with pytest.raises(kernelbench.CheckError, match="bad reference"):
        tiles.scale.tune(x32(), ref=broken, budget=2, live=False)
    assert kernelbench.history().empty  # refused before the sweep started: no half row


# --------------------------------------------------------------------------------------------------
# Only our own files


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize(("journal", "app_id", "user_version"), [("delete", 0, 0), ("wal", 0, 0), ("wal", 7, 0),
                                                                  ("delete", 0, 2)])
def test_another_programs_sqlite_file_is_refused_and_left_untouched(tmp_path: Path, journal: str, app_id: int,
                                                                    user_version: int) -> None:
    path = tmp_path / "notes.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode = {journal}")
    with conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.execute("INSERT INTO notes VALUES ('mine')")
        conn.execute(f"PRAGMA application_id = {app_id}")
        conn.execute(f"PRAGMA user_version = {user_version}")
    conn.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.sqlite"]  # a WAL file closed: no -wal, -shm
    before = _snapshot(tmp_path)
    store = SQLiteStore(path)
    result = tiles.scale.tune(x32(), budget=1, live=False, store=False)
    with pytest.raises(kernelbench.StoreError, match="not a kernelbench run store.*untouched") as error:
        store.start_run(result.info)
    assert "\n" not in str(error.value)
    with pytest.raises(kernelbench.StoreError, match="not a kernelbench run store"):
        store.runs()
    with pytest.raises(kernelbench.StoreError, match="not a kernelbench run store"):
        kernelbench.history(store=store)
    with pytest.warns(RuntimeWarning, match="not a kernelbench run store"):
        tiles.scale.tune(x32(), budget=1, live=False, store=store)
    store.close()
    assert _snapshot(tmp_path) == before  # same bytes, no -wal or -shm beside it


def test_a_new_store_is_marked_as_ours(kernelbench_home: Path) -> None:
    from kernelbench.store.sqlite import APPLICATION_ID, SCHEMA_VERSION

    tiles.scale.tune(x32(), budget=1, live=False)
    conn = sqlite3.connect(db(kernelbench_home))
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    conn.close()


def _old_store(path: Path, version: int) -> None:
    """A store as kernelbench wrote it at schema ``version`` (no application_id), with one run."""
    from kernelbench.store.sqlite import _SCHEMA

    script = _SCHEMA.replace(",\n    error TEXT\n);", "\n);")
    if version == 1:
        script = script.replace(",\n    timed_out TEXT,", ",")
    conn = sqlite3.connect(path)
    with conn:
        conn.executescript(script)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("INSERT INTO runs (kernel, source_hash, signature, device, torch_version, triton_version, "
                     "helion_version, strategy, knobs, timer, started, finished, stopped) VALUES ('old', 'h', '[]', "
                     "'d', 't', 't', 'h', 's', '[]', 't', '2024-01-01T00:00:00+00:00', "
                     "'2024-01-01T00:00:01+00:00', 'budget')")
        conn.execute("INSERT INTO candidates (run_id, idx, config, status, compile_s, error, finished_s, recorded) "
                     "VALUES (1, 0, '{}', 'timeout', 1.0, 'compiling took longer than 5 s', 1.0, 'now')")
    conn.close()


@pytest.mark.parametrize("version", [1, 2])
def test_old_stores_are_recognised_and_migrated(tmp_path: Path, version: int) -> None:
    from kernelbench.store.sqlite import APPLICATION_ID

    path = tmp_path / "runs.sqlite"
    _old_store(path, version)
    store = SQLiteStore(path)
    (old,) = store.runs()
    assert old["kernel"] == "old" and old["stopped"] == "budget" and old["error"] is None
    assert store.candidates(1)[0]["timed_out"] == ("compile" if version == 1 else None)
    result = tiles.scale.tune(x32(), budget=1, live=False, store=store)
    assert [r["kernel"] for r in store.runs()] == ["old", "scale"] and len(result.candidates) == 1
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 5
    conn.close()


def test_a_store_of_a_newer_kernelbench_is_refused(tmp_path: Path) -> None:
    from kernelbench.store.sqlite import APPLICATION_ID

    path = tmp_path / "runs.sqlite"
    tiles.scale.tune(x32(), budget=1, live=False, store=SQLiteStore(path))
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("PRAGMA user_version = 9")
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    conn.close()
    with pytest.raises(kernelbench.StoreError, match="newer kernelbench"):
        SQLiteStore(path).runs()


# --------------------------------------------------------------------------------------------------
# Read-only stores


def _read_only_checks(path: Path, store: SQLiteStore) -> None:
    before = path.read_bytes()
    assert [r["kernel"] for r in kernelbench.history(store=store).to_dict("records")] == ["scale"]
    assert len(kernelbench.history(1, store=store)) == 1
    with pytest.warns(RuntimeWarning, match="is read-only.*not recorded") as warned:
        result = tiles.scale.tune(x32(), budget=1, live=False, store=store)
    assert len(result.candidates) == 1 and len(warned) == 1  # one warning for its three writes
    assert len(store.runs()) == 1
    store.close()
    assert path.read_bytes() == before  # (reading a WAL file leaves its -shm, as any SQLite reader does)


def test_read_only_flag_reads_history_and_skips_writes(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    writer = SQLiteStore(path)
    tiles.scale.tune(x32(), budget=1, live=False, store=writer)
    writer.close()
    _read_only_checks(path, SQLiteStore(path, read_only=True))
    assert SQLiteStore(tmp_path / "none.sqlite", read_only=True).runs() == []
    assert not (tmp_path / "none.sqlite").exists()


def test_a_file_that_is_not_writable_is_read_and_its_writes_skipped(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "runs.sqlite"
    writer = SQLiteStore(path)
    tiles.scale.tune(x32(), budget=1, live=False, store=writer)
    writer.close()
    path.chmod(0o444)
    if os.access(path, os.W_OK):  # root writes anything: the permission check is what is tested then
        monkeypatch.setattr("kernelbench.store.sqlite._writable", lambda p: False)
    store = SQLiteStore(path)
    try:
        _read_only_checks(path, store)
        assert store.read_only
    finally:
        path.chmod(0o644)


def test_a_write_refused_by_sqlite_switches_to_read_only(tmp_path: Path) -> None:
    """SQLite's own "attempt to write a readonly database" (a read-only mount, even for root)."""
    path = tmp_path / "runs.sqlite"
    writer = SQLiteStore(path)
    tiles.scale.tune(x32(), budget=1, live=False, store=writer)
    writer.close()
    store = SQLiteStore(path)
    store.runs()
    key = next(iter(store._connections))
    conn, identity = store._connections[key]
    store._connections[key] = (store._connect(read_only=True), identity)  # as a read-only mount opens it
    assert conn is not None
    conn.close()
    _read_only_checks(path, store)
    assert store.read_only
