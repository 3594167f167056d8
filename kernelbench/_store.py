"""The run store: every sweep and every candidate it measured, kept across notebook sessions.

The engine does not know about it: :class:`StoreObserver` is an observer of the sweep's events and
writes each candidate **as it finishes** (one commit per candidate), so a sweep that is interrupted,
or a notebook kernel that dies, loses nothing already measured.

:class:`RunStore` is the small interface (a shared server database can implement it later);
:class:`SQLiteStore` is the default: one SQLite file, ``$KERNELBENCH_HOME/runs.sqlite``, in WAL mode
with a busy timeout so that two notebooks (two processes) can write at once.
"""

from __future__ import annotations

import abc
import datetime
import functools
import importlib.metadata
import json
import os
import sqlite3
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import helion
import torch
import triton

from ._device import device_name
from ._errors import KernelbenchError, StoreError
from ._events import CandidateFinished, SweepFinished, SweepStarted
from ._result import COMPILE_TIMEOUT_PREFIX
from ._settings import settings
from ._space import config_key

if TYPE_CHECKING:
    import pandas as pd

    from ._kernel import Kernel
    from ._result import Candidate, SweepInfo, SweepResult

__all__ = [
    "STORE_FILENAME",
    "RunStore",
    "SQLiteStore",
    "StoreObserver",
    "default_store",
    "history",
    "known_configs",
    "signature_key",
    "versions",
]

STORE_FILENAME = "runs.sqlite"
#: Seconds a writer waits for another process's write to finish before giving up.
BUSY_TIMEOUT_S = 30.0
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kernel TEXT NOT NULL,
    source_hash TEXT NOT NULL,
    signature TEXT NOT NULL,
    device TEXT NOT NULL,
    torch_version TEXT NOT NULL,
    triton_version TEXT NOT NULL,
    helion_version TEXT NOT NULL,
    strategy TEXT NOT NULL,
    seed INTEGER,
    budget INTEGER,
    time_limit REAL,
    knobs TEXT NOT NULL,
    timer TEXT NOT NULL,
    ref_ms REAL,
    started TEXT NOT NULL,
    finished TEXT,
    stopped TEXT,
    wall_s REAL
);
CREATE TABLE IF NOT EXISTS candidates (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    idx INTEGER NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    ms REAL,
    compile_s REAL NOT NULL,
    max_abs_err REAL,
    max_rel_err REAL,
    rel_l2 REAL,
    error TEXT,
    finished_s REAL NOT NULL,
    recorded TEXT NOT NULL,
    PRIMARY KEY (run_id, idx)
);
CREATE INDEX IF NOT EXISTS runs_by_key ON runs (kernel, source_hash, signature, device);
"""


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


@functools.cache
def versions() -> dict[str, str]:
    """The library versions a run is recorded with (a config's speed depends on all three)."""
    return {
        "torch": torch.__version__,
        "triton": triton.__version__,
        "helion": importlib.metadata.version("helion"),  # helion has no __version__
    }


def signature_key(signature: Sequence[Any]) -> str:
    """A signature (``kernelbench._kernel.signature_of``) as the JSON text the store keys it by."""
    return json.dumps(list(signature), separators=(",", ":"))


# --------------------------------------------------------------------------------------------------
# The interface


class RunStore(abc.ABC):
    """Where runs and their candidates go. Implementations raise :class:`StoreError` on failure."""

    @abc.abstractmethod
    def start_run(self, info: SweepInfo) -> int:
        """Record a new run; return its id."""

    @abc.abstractmethod
    def record_candidate(self, run_id: int, candidate: Candidate) -> None:
        """Record (and make durable) one finished candidate of run ``run_id``."""

    @abc.abstractmethod
    def finish_run(self, run_id: int, result: SweepResult) -> None:
        """Record how and when run ``run_id`` ended."""

    @abc.abstractmethod
    def runs(self, kernel: str | None = None) -> list[dict[str, Any]]:
        """Every run (of ``kernel``, if given), oldest first, with candidate counts and best ms."""

    @abc.abstractmethod
    def candidates(self, run_id: int) -> list[dict[str, Any]]:
        """The candidates of run ``run_id`` in the order they were measured."""

    @abc.abstractmethod
    def best_configs(
        self, kernel_name: str, source_hash: str, signature: Sequence[Any], device: str, limit: int = 3
    ) -> list[helion.Config]:
        """The fastest distinct correct configs ever measured for this key, fastest first."""

    def slow_compiles(
        self, kernel_name: str, source_hash: str, signature: Sequence[Any], device: str, at_least_s: float
    ) -> list[helion.Config]:
        """Configs whose compile was cut after at least ``at_least_s`` seconds (default: none known)."""
        return []

    def best_config(
        self, kernel_name: str, source_hash: str, signature: Sequence[Any], device: str
    ) -> helion.Config | None:
        """The fastest correct config ever measured for this source, signature and device."""
        found = self.best_configs(kernel_name, source_hash, signature, device, limit=1)
        return found[0] if found else None


# --------------------------------------------------------------------------------------------------
# SQLite


class SQLiteStore(RunStore):
    """The run store in one SQLite file (default ``settings.home / "runs.sqlite"``).

    Each process and thread has its own connection (so a store can be shared across threads and
    survives a fork); the file and its folder are created on the first write, never by a read.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else settings.home / STORE_FILENAME
        self._connections: dict[tuple[int, int], tuple[sqlite3.Connection, tuple[int, int]]] = {}

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    # -- connections ------------------------------------------------------------------------------

    def _error(self, error: BaseException) -> StoreError:
        return StoreError(
            f"the run store {self.path} cannot be used ({type(error).__name__}: {error}); move the file "
            "away to start a fresh one, or point KERNELBENCH_HOME at another folder"
        )

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        # WAL keeps every committed row when the process is killed; NORMAL sync is enough for that.
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _open(self, *, write: bool) -> sqlite3.Connection | None:
        """This thread's connection with the schema in place; ``None`` for a read of a store never written.

        Connections are kept (one per process and thread): closing the last one checkpoints the WAL
        with an fsync, which would cost ~15 ms per candidate. A file replaced or deleted under us is
        noticed (its inode changes) and reopened.
        """
        try:
            try:
                st = self.path.stat()
                identity: tuple[int, int] | None = (st.st_dev, st.st_ino)
            except FileNotFoundError:
                if not write:
                    return None
                identity = None
            key = (os.getpid(), threading.get_ident())
            cached = self._connections.get(key)
            if cached is not None and cached[1] == identity:
                return cached[0]
            if cached is not None:
                cached[0].close()
            if write:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._connect()
            try:
                self._init_schema(conn)
            except BaseException:
                conn.close()
                raise
            st = self.path.stat()
            self._connections[key] = (conn, (st.st_dev, st.st_ino))
            return conn
        except (OSError, sqlite3.Error) as error:
            raise self._error(error) from None

    def _init_schema(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the run store {self.path} was written by a newer kernelbench (schema {version}, this one "
                f"reads {SCHEMA_VERSION}); upgrade kernelbench or point KERNELBENCH_HOME elsewhere"
            )
        if version == SCHEMA_VERSION:
            return
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(f"BEGIN IMMEDIATE;\n{_SCHEMA}\nPRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;")

    def close(self) -> None:
        """Close this thread's connection and forget other threads' (all reopen on their next use)."""
        mine = (os.getpid(), threading.get_ident())
        for key in [k for k in self._connections if k[0] == mine[0]]:
            conn = self._connections.pop(key)[0]
            if key == mine:
                conn.close()  # sqlite3 refuses to close another thread's connection; GC does that

    def _write(self, sql: str, params: Sequence[Any]) -> int:
        conn = self._open(write=True)
        assert conn is not None
        try:
            with conn:  # one transaction, committed before this returns
                cursor = conn.execute(sql, params)
            return int(cursor.lastrowid or 0)
        except sqlite3.Error as error:
            raise self._error(error) from None

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        conn = self._open(write=False)
        if conn is None:
            return []
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.Error as error:
            raise self._error(error) from None

    # -- writing ----------------------------------------------------------------------------------

    def start_run(self, info: SweepInfo) -> int:
        v = versions()
        return self._write(
            "INSERT INTO runs (kernel, source_hash, signature, device, torch_version, triton_version, "
            "helion_version, strategy, seed, budget, time_limit, knobs, timer, ref_ms, started) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (info.kernel, info.source_hash, signature_key(info.signature), info.mode, v["torch"], v["triton"],
             v["helion"], info.strategy, info.seed, info.budget, info.time_limit, json.dumps(info.knobs),
             info.timer, info.ref_ms, _now()),
        )

    def record_candidate(self, run_id: int, candidate: Candidate) -> None:
        c = candidate
        self._write(
            "INSERT OR REPLACE INTO candidates (run_id, idx, config, status, ms, compile_s, max_abs_err, "
            "max_rel_err, rel_l2, error, finished_s, recorded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, c.index, c.config.to_json(), c.status, c.ms, c.compile_s, c.max_abs_err, c.max_rel_err,
             c.rel_l2, c.error, c.finished_s, _now()),
        )

    def finish_run(self, run_id: int, result: SweepResult) -> None:
        self._write(
            "UPDATE runs SET finished = ?, stopped = ?, wall_s = ? WHERE id = ?",
            (_now(), result.stopped, result.wall_s, run_id),
        )

    # -- reading ----------------------------------------------------------------------------------

    def runs(self, kernel: str | None = None) -> list[dict[str, Any]]:
        rows = self._read(
            "SELECT r.*, COUNT(c.idx) AS n_candidates, COALESCE(SUM(c.status = 'ok'), 0) AS n_ok, "
            "MIN(CASE WHEN c.status = 'ok' THEN c.ms END) AS best_ms "
            "FROM runs r LEFT JOIN candidates c ON c.run_id = r.id "
            "WHERE (? IS NULL OR r.kernel = ?) GROUP BY r.id ORDER BY r.id",
            (kernel, kernel),
        )
        return [dict(row) for row in rows]

    def candidates(self, run_id: int) -> list[dict[str, Any]]:
        rows = self._read("SELECT * FROM candidates WHERE run_id = ? ORDER BY idx", (run_id,))
        return [dict(row) for row in rows]

    def best_configs(
        self, kernel_name: str, source_hash: str, signature: Sequence[Any], device: str, limit: int = 3
    ) -> list[helion.Config]:
        rows = self._read(
            "SELECT c.config FROM candidates c JOIN runs r ON r.id = c.run_id "
            "WHERE r.kernel = ? AND r.source_hash = ? AND r.signature = ? AND r.device = ? "
            "AND c.status = 'ok' AND c.ms IS NOT NULL ORDER BY c.ms LIMIT ?",
            # Several runs may have measured the same config: read enough rows to find `limit` distinct.
            (kernel_name, source_hash, signature_key(signature), device, limit * 20),
        )
        found: dict[str, helion.Config] = {}
        for row in rows:
            try:
                config = helion.Config.from_json(row["config"])
            except (ValueError, TypeError) as error:
                raise self._error(error) from None
            found.setdefault(config_key(config), config)
            if len(found) == limit:
                break
        return list(found.values())

    def slow_compiles(
        self, kernel_name: str, source_hash: str, signature: Sequence[Any], device: str, at_least_s: float
    ) -> list[helion.Config]:
        rows = self._read(
            "SELECT DISTINCT c.config FROM candidates c JOIN runs r ON r.id = c.run_id "
            "WHERE r.kernel = ? AND r.source_hash = ? AND r.signature = ? AND r.device = ? "
            "AND c.status = 'timeout' AND c.error LIKE ? AND c.compile_s >= ?",
            (kernel_name, source_hash, signature_key(signature), device, f"{COMPILE_TIMEOUT_PREFIX}%", at_least_s),
        )
        try:
            return [helion.Config.from_json(row["config"]) for row in rows]
        except (ValueError, TypeError) as error:
            raise self._error(error) from None


_DEFAULT_STORES: dict[Path, SQLiteStore] = {}


def default_store() -> SQLiteStore:
    """The store in ``settings.home``: the same object while the home stays (callers cache by identity)."""
    path = settings.home / STORE_FILENAME
    store = _DEFAULT_STORES.get(path)
    if store is None:
        for old in _DEFAULT_STORES.values():  # KERNELBENCH_HOME changed: let go of the old file
            old.close()
        _DEFAULT_STORES.clear()
        store = _DEFAULT_STORES[path] = SQLiteStore(path)
    return store


# --------------------------------------------------------------------------------------------------
# The observer and the lookups


class StoreObserver:
    """Writes a sweep into ``store`` as its events arrive: the run, then each candidate as it finishes.

    If the store fails (a corrupt file, a full disk) it warns once and the sweep goes on without it.
    """

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self.run_id: int | None = None
        self.failed = False

    def __repr__(self) -> str:
        return f"StoreObserver({self.store!r})"

    def __call__(self, event: Any) -> None:
        if self.failed:
            return
        try:
            if isinstance(event, SweepStarted):
                self.run_id = self.store.start_run(event.info)
            elif isinstance(event, CandidateFinished) and self.run_id is not None:
                self.store.record_candidate(self.run_id, event.candidate)
            elif isinstance(event, SweepFinished) and self.run_id is not None:
                self.store.finish_run(self.run_id, event.result)
        except StoreError as error:
            self.failed = True
            warnings.warn(f"{error}. This sweep goes on without recording.", RuntimeWarning, stacklevel=2)


_WARNED: set[str] = set()


def known_configs(store: RunStore, kernel: Kernel, signature: Sequence[Any], limit: int = 3) -> list[helion.Config]:
    """The store's best configs for ``kernel`` on this signature and device; ``[]`` if it cannot say.

    This is on the call path of every kernel call (once per signature): a missing store is simply
    empty, and a broken one is skipped with one warning, never an error.
    """
    if not kernel.source:
        return []  # no source, no source hash worth keying by
    try:
        return store.best_configs(kernel.name, kernel.source_hash, signature, device_name(), limit=limit)
    except StoreError as error:
        if repr(store) not in _WARNED:
            _WARNED.add(repr(store))
            warnings.warn(f"{error}. Best known configs are skipped.", RuntimeWarning, stacklevel=3)
        return []


def known_slow_compiles(store: RunStore, kernel: Kernel, signature: Sequence[Any]) -> list[helion.Config]:
    """Configs of ``kernel`` on this signature and device whose compile ran past a limit at least as
    long as today's ``settings.compile_timeout_s``: a sweep skips them (raise the limit to retry them)."""
    if not kernel.source:
        return []
    try:
        return store.slow_compiles(kernel.name, kernel.source_hash, signature, device_name(),
                                   settings.compile_timeout_s)
    except StoreError:
        return []  # known_configs has warned about this store already


# --------------------------------------------------------------------------------------------------
# History


_RUN_COLUMNS = {
    "id": "run_id",
    "kernel": "kernel",
    "started": "started",
    "finished": "finished",
    "stopped": "stopped",
    "n_candidates": "candidates",
    "n_ok": "ok",
    "best_ms": "best_ms",
    "strategy": "strategy",
    "seed": "seed",
    "device": "device",
    "signature": "signature",
    "source_hash": "source_hash",
    "timer": "timer",
    "ref_ms": "ref_ms",
    "torch_version": "torch",
    "triton_version": "triton",
    "helion_version": "helion",
}
_CANDIDATE_COLUMNS = ["status", "ms", "compile_s", "max_abs_err", "max_rel_err", "rel_l2", "correct", "error",
                      "finished_s", "config"]


def history(kernel: str | Kernel | int | None = None, *, store: RunStore | None = None) -> pd.DataFrame:
    """The run store as pandas: ``history()`` every run, ``history("softmax")`` or ``history(k)`` the
    runs of one kernel (by name, across edits of its source), ``history(run_id)`` one run's candidates.

    Runs have one row each (``run_id`` index): kernel, start and end, how it stopped (empty if the
    process died mid-run), candidates and correct ones, best ms, strategy, seed, device, signature,
    source hash and library versions. Candidates have their knobs as columns, then status, ms,
    compile time, errors and the config as Helion JSON.
    """
    import pandas as pd

    from ._kernel import Kernel

    store = default_store() if store is None else store
    if isinstance(kernel, bool):
        raise KernelbenchError("history() takes a kernel, its name, or a run id; got a bool")
    if isinstance(kernel, int):
        return _candidates_frame(store, kernel)
    if isinstance(kernel, Kernel):
        kernel = kernel.name
    elif kernel is not None and not isinstance(kernel, str):
        raise KernelbenchError(
            f"history() takes a Kernel, a kernel name or a run id; got {type(kernel).__name__}"
        )
    rows = [{new: row[old] for old, new in _RUN_COLUMNS.items()} for row in store.runs(kernel)]
    df = pd.DataFrame(rows, columns=list(_RUN_COLUMNS.values()))
    for column in ("started", "finished"):
        df[column] = pd.to_datetime(df[column], utc=True, format="ISO8601")
    return df.set_index("run_id")


def _candidates_frame(store: RunStore, run_id: int) -> pd.DataFrame:
    import pandas as pd

    runs = {row["id"]: row for row in store.runs()}
    if run_id not in runs:
        where = getattr(store, "path", store)
        raise KernelbenchError(
            f"there is no run {run_id} in the run store {where}; kernelbench.history() lists the runs"
        )
    knobs: list[str] = list(json.loads(runs[run_id]["knobs"]))
    rows = []
    for c in store.candidates(run_id):
        config = json.loads(c["config"])
        for knob in config:
            if knob not in knobs:
                knobs.append(knob)
        row: dict[str, Any] = {"index": c["idx"]}
        row.update({k: str(v) if isinstance(v, (list, dict)) else v for k, v in config.items()})
        row.update({k: c[k] for k in _CANDIDATE_COLUMNS if k in c})
        row["correct"] = c["status"] == "ok"
        rows.append(row)
    return pd.DataFrame(rows, columns=["index", *knobs, *_CANDIDATE_COLUMNS]).set_index("index")
