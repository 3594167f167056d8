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

from kernelbench._errors import StoreError
from kernelbench._settings import settings
from kernelbench.core.space import config_key
from kernelbench.tune.events import CandidateFinished, SweepFinished, SweepStarted

if TYPE_CHECKING:
    from kernelbench.tune.records import Candidate, SweepInfo
    from kernelbench.tune.result import SweepResult

__all__ = [
    "STORE_FILENAME",
    "RunStore",
    "SQLiteStore",
    "StoreObserver",
    "default_store",
    "generation",
    "signature_key",
    "versions",
]

STORE_FILENAME = "runs.sqlite"
#: Seconds a writer waits for another process's write to finish before giving up.
BUSY_TIMEOUT_S = 30.0
#: 2: ``candidates.timed_out`` (the phase a timeout ran past; version 1 only said so in its message).
SCHEMA_VERSION = 2

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
    timed_out TEXT,
    PRIMARY KEY (run_id, idx)
);
CREATE INDEX IF NOT EXISTS runs_by_key ON runs (kernel, source_hash, signature, device);
"""

#: Schema 1 -> 2: the phase of a timeout becomes a column; old rows said it in their message.
_MIGRATE_1_TO_2 = """
ALTER TABLE candidates ADD COLUMN timed_out TEXT;
UPDATE candidates SET timed_out = 'compile' WHERE status = 'timeout' AND error LIKE 'compiling took longer than%';
UPDATE candidates SET timed_out = 'run' WHERE status = 'timeout' AND timed_out IS NULL;
"""

# Bumped whenever this process records a correct candidate into any store, or the default store
# changes: a kernel's cached call path compares it (an int) instead of asking SQLite on every call.
_GENERATION = [0]


def generation() -> int:
    """A number that changes whenever a run store of this process may know a better config."""
    return _GENERATION[0]


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
    """A signature (``kernelbench.core.configs.signature_of``) as the JSON text the store keys it by."""
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
        # The version is read again inside the write lock: two processes may both have seen an old one.
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                script = _SCHEMA
            elif version == 1:  # written by an older kernelbench: keep its rows, add what they lack
                script = _MIGRATE_1_TO_2
            else:
                script = ""
            for statement in filter(str.strip, script.split(";")):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

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
            "max_rel_err, rel_l2, error, finished_s, recorded, timed_out) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, c.index, c.config.to_json(), c.status, c.ms, c.compile_s, c.max_abs_err, c.max_rel_err,
             c.rel_l2, c.error, c.finished_s, _now(), c.timed_out),
        )
        if c.status == "ok":
            _GENERATION[0] += 1

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
            "AND c.status = 'timeout' AND c.timed_out = 'compile' AND c.compile_s >= ?",
            (kernel_name, source_hash, signature_key(signature), device, at_least_s),
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
        _GENERATION[0] += 1
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
