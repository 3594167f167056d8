"""The run store: every sweep and every candidate it measured, kept across notebook sessions.

The engine does not know about it: :class:`StoreObserver` is an observer of the sweep's events and
writes each candidate **as it finishes** (one commit per candidate), so a sweep that is interrupted,
or a notebook kernel that dies, loses nothing already measured.

:class:`RunStore` is the small interface (a shared server database can implement it later);
:class:`SQLiteStore` is the default: one SQLite file, ``$KERNELBENCH_HOME/runs.sqlite``, in WAL mode
with a busy timeout so that two notebooks (two processes) can write at once.

The store touches only its own files: before anything that writes (WAL mode included) it checks the
file is a kernelbench store (``PRAGMA application_id``, ``user_version`` and its tables); another
program's SQLite file is a :class:`StoreError` and stays byte for byte as it was. A store that cannot
be written (a read-only file, or ``SQLiteStore(path, read_only=True)``) is still read; its writes are
skipped with one ``RuntimeWarning``.
"""

from __future__ import annotations

import abc
import datetime
import functools
import importlib.metadata
import json
import os
import socket
import sqlite3
import stat
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import helion
import torch
import triton

from kernelbench._errors import ConfigError, StoreError
from kernelbench._settings import settings
from kernelbench.core.configs import parse_config
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
#: 3: ``runs.error`` (why a run stopped with ``stopped = 'error'``), and ``application_id`` set.
#: 4: ``runs.origin`` (the notebook or script a run came from), ``host`` and ``pid`` (so a reader can
#: tell a running run from one whose process died), ``bytes`` and ``flops`` (for its throughput).
#: 5: per candidate, its resources on the sweep's GPU target (``gpu_target``, ``registers``, ``spill_stores``,
#: ``spill_loads``, ``shared_mem``, ``local_mem``, ``occupancy``, ``blocks_per_sm``; ``kernelbench.core.lowering``).
SCHEMA_VERSION = 5
#: ``PRAGMA application_id`` of every kernelbench store ("KBRS"); files of schema 1 and 2 have 0.
APPLICATION_ID = 0x4B425253
_TABLES = frozenset({"runs", "candidates"})

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
    wall_s REAL,
    error TEXT
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

#: Schema 2 -> 3: a run that ended in an error says which.
_MIGRATE_2_TO_3 = """
ALTER TABLE runs ADD COLUMN error TEXT;
"""

#: Schema 3 -> 4 (for a new store too: ``_SCHEMA`` is schema 3): where a run came from, which process
#: ran it, and its bytes and flops per call.
_MIGRATE_3_TO_4 = """
ALTER TABLE runs ADD COLUMN origin TEXT;
ALTER TABLE runs ADD COLUMN host TEXT;
ALTER TABLE runs ADD COLUMN pid INTEGER;
ALTER TABLE runs ADD COLUMN bytes INTEGER;
ALTER TABLE runs ADD COLUMN flops REAL;
"""

#: Schema 4 -> 5: each candidate's resources on the sweep's GPU target (NULL when it had none).
_MIGRATE_4_TO_5 = """
ALTER TABLE candidates ADD COLUMN gpu_target TEXT;
ALTER TABLE candidates ADD COLUMN registers INTEGER;
ALTER TABLE candidates ADD COLUMN spill_stores INTEGER;
ALTER TABLE candidates ADD COLUMN spill_loads INTEGER;
ALTER TABLE candidates ADD COLUMN shared_mem INTEGER;
ALTER TABLE candidates ADD COLUMN local_mem INTEGER;
ALTER TABLE candidates ADD COLUMN occupancy REAL;
ALTER TABLE candidates ADD COLUMN blocks_per_sm INTEGER;
"""

#: The scripts that bring a store of each older version up to SCHEMA_VERSION, chained.
_MIGRATIONS = {0: _SCHEMA + _MIGRATE_3_TO_4 + _MIGRATE_4_TO_5,
               1: _MIGRATE_1_TO_2 + _MIGRATE_2_TO_3 + _MIGRATE_3_TO_4 + _MIGRATE_4_TO_5,
               2: _MIGRATE_2_TO_3 + _MIGRATE_3_TO_4 + _MIGRATE_4_TO_5, 3: _MIGRATE_3_TO_4 + _MIGRATE_4_TO_5,
               4: _MIGRATE_4_TO_5}


def _resource_values(resources: dict[str, Any] | None) -> tuple[Any, ...]:
    """The candidate's resource columns (schema 5), in the order of the INSERT."""
    found = resources or {}
    return (found.get("target"), *(found.get(k) for k in ("registers", "spill_stores", "spill_loads", "shared_mem",
                                                            "local_mem", "occupancy", "blocks_per_sm")))


def _writable(path: Path) -> bool:
    """Whether this process may write ``path`` (root may write anything; SQLite tells then)."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _is_read_only_error(error: BaseException) -> bool:
    text = str(error).lower()
    return isinstance(error, sqlite3.OperationalError) and ("readonly" in text or "read-only" in text)

# Bumped whenever this process records a correct candidate into any store, or the default store
# changes: a kernel's cached call path compares it (an int) instead of asking SQLite on every call.
_GENERATION = [0]


def generation() -> int:
    """A number that changes whenever a run store of this process may know a better config."""
    return _GENERATION[0]


def origin() -> str | None:
    """The notebook or script this process runs: Jupyter tells a kernel its notebook's path
    (``JPY_SESSION_NAME``); a script is ``sys.argv[0]``; ``None`` for a bare interpreter."""
    session = os.environ.get("JPY_SESSION_NAME")
    if session:
        return session
    script = sys.argv[0] if sys.argv else ""
    if not script or script == "-c" or script.endswith("ipykernel_launcher.py"):
        return None
    return os.path.abspath(script)


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

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False) -> None:
        self.path = Path(path) if path is not None else settings.home / STORE_FILENAME
        #: Never write (and never create) the file; found out on its own when the file is read-only.
        self.read_only = read_only
        self._read_only_why = "opened with read_only=True"
        self._connections: dict[tuple[int, int], tuple[sqlite3.Connection | None, tuple[int, int]]] = {}
        self._skip_warned = False

    def __repr__(self) -> str:
        flag = ", read_only=True" if self.read_only else ""
        return f"SQLiteStore({str(self.path)!r}{flag})"

    # -- connections ------------------------------------------------------------------------------

    def _error(self, error: BaseException) -> StoreError:
        if isinstance(error, StoreError):
            return error
        return StoreError(
            f"the run store {self.path} cannot be used ({type(error).__name__}: {error}); move the file "
            "away to start a fresh one, or point KERNELBENCH_HOME at another folder"
        )

    def _foreign(self, why: str) -> StoreError:
        return StoreError(
            f"{self.path} is not a kernelbench run store ({why}) and kernelbench leaves it untouched; point "
            "KERNELBENCH_HOME at another folder, or give SQLiteStore the path of a new file"
        )

    def _connect(self, *, read_only: bool, immutable: bool = False) -> sqlite3.Connection:
        if read_only:
            # mode=ro never writes; immutable=1 also reads a WAL store whose folder cannot hold its -shm.
            uri = f"file:{quote(str(self.path.absolute()))}?mode=ro" + ("&immutable=1" if immutable else "")
            conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
        else:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
        conn.row_factory = sqlite3.Row
        # Both only set this connection up: neither writes the file.
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        # WAL keeps every committed row when the process is killed; NORMAL sync is enough for that.
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _open(self, *, write: bool) -> sqlite3.Connection | None:
        """This thread's connection with the schema in place; ``None`` when there is nothing to read
        (a store never written) or nothing may be written (a read-only store: see :meth:`_write`).

        Connections are kept (one per process and thread): closing the last one checkpoints the WAL
        with an fsync, which would cost ~15 ms per candidate. A file replaced or deleted under us is
        noticed (its inode changes) and reopened.
        """
        try:
            try:
                st = self.path.stat()
                identity: tuple[int, int] | None = (st.st_dev, st.st_ino)
            except FileNotFoundError:
                if not write or self.read_only:
                    return None
                identity = None
            else:
                if not stat.S_ISREG(st.st_mode):
                    raise StoreError(f"the run store {self.path} is not a regular file; point KERNELBENCH_HOME "
                                     "at another folder")
            if write and self.read_only:
                return None
            key = (os.getpid(), threading.get_ident())
            cached = self._connections.get(key)
            if cached is not None and cached[1] == identity:
                return cached[0]
            if cached is not None and cached[0] is not None:
                cached[0].close()
            if identity is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            else:
                self._check_header()
                if not self.read_only and not _writable(self.path):
                    self.read_only, self._read_only_why = True, "the file or its folder is not writable"
                    if write:
                        return None
            conn = self._connect_checked()
            st = self.path.stat()
            self._connections[key] = (conn, (st.st_dev, st.st_ino))
            if conn is None or (write and self.read_only):
                return None
            return conn
        except (OSError, sqlite3.Error) as error:
            raise self._error(error) from None

    def _check_header(self) -> None:
        """Refuse another program's database from its 100-byte header, before SQLite opens it at all
        (opening a WAL database, even to read it, makes its -wal and -shm files)."""
        with self.path.open("rb") as f:
            header = f.read(100)
        if not header:
            return  # an empty file: SQLite makes it a database
        if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
            raise self._error(sqlite3.DatabaseError("file is not a database"))
        version = int.from_bytes(header[60:64], "big")
        app = int.from_bytes(header[68:72], "big")
        pages = int.from_bytes(header[28:32], "big")
        if app == APPLICATION_ID:
            return
        # Before application_id, kernelbench stores had user_version 1 or 2 (the tables are checked
        # next); a database of user_version 0 with pages beyond the first has someone else's tables.
        if app != 0 or version > 2 or (version == 0 and pages > 1):
            raise self._foreign(f"another program's SQLite database: application_id {app:#x}, user_version "
                                f"{version}")

    def _connect_checked(self) -> sqlite3.Connection | None:
        """A connection to a file known to be ours, its schema brought up to date unless read-only;
        ``None`` for a read-only store with no tables yet."""
        if not self.read_only:
            conn = self._connect(read_only=False)
            try:
                self._init_schema(conn)
                return conn
            except sqlite3.OperationalError as error:
                conn.close()
                if not _is_read_only_error(error):
                    raise
                # e.g. a file even root may not write (a read-only mount): read it as it is
                self.read_only, self._read_only_why = True, str(error)
            except BaseException:
                conn.close()
                raise
        for immutable in (False, True):
            conn = self._connect(read_only=True, immutable=immutable)
            try:
                version = self._recognise(conn)
                return conn if version else None
            except sqlite3.OperationalError:
                conn.close()
                if immutable:
                    raise
            except BaseException:
                conn.close()
                raise
        raise AssertionError("unreachable")

    def _recognise(self, conn: sqlite3.Connection) -> int:
        """The schema version of a kernelbench store (0: an empty file), read without writing a byte.

        Anything else (another program's database) is a :class:`StoreError`: nothing has touched it.
        """
        app = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if app == APPLICATION_ID:
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the run store {self.path} was written by a newer kernelbench (schema {version}, this one "
                    f"reads {SCHEMA_VERSION}); upgrade kernelbench or point KERNELBENCH_HOME elsewhere"
                )
            if version and not _TABLES <= tables:
                raise self._foreign(f"it has kernelbench's application_id but not its tables {sorted(_TABLES)}")
            return version
        if app == 0 and version == 0 and not tables - {"sqlite_sequence"}:
            return 0  # an empty database: nothing of anyone's to lose
        if app == 0 and version in (1, 2) and _TABLES <= tables:
            return version  # written by an older kernelbench (before application_id)
        found = ", ".join(sorted(tables)) or "none"
        raise self._foreign(f"another program's SQLite database: application_id {app:#x}, user_version {version}, "
                            f"tables {found}")

    def _init_schema(self, conn: sqlite3.Connection) -> None:
        version = self._recognise(conn)  # before any PRAGMA that writes
        if version == SCHEMA_VERSION:
            return
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        # The version is read again inside the write lock: two processes may both have seen an old one.
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = self._recognise(conn)
            for statement in filter(str.strip, _MIGRATIONS.get(version, "").split(";")):
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
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
            if key == mine and conn is not None:
                conn.close()  # sqlite3 refuses to close another thread's connection; GC does that

    def _skip_write(self, why: str | None = None) -> int:
        """A write to a read-only store: skipped, with one warning per store."""
        if why is not None:
            self.read_only, self._read_only_why = True, why
            self._connections.clear()  # reopened read-only on the next read
        why = self._read_only_why
        if not self._skip_warned:
            self._skip_warned = True
            warnings.warn(f"the run store {self.path} is read-only ({why}); its history is read but this "
                          "session's runs are not recorded there. Point KERNELBENCH_HOME at a writable folder "
                          "to record them", RuntimeWarning, stacklevel=4)
        return 0

    def _write(self, sql: str, params: Sequence[Any]) -> int:
        try:
            conn = self._open(write=True)
            if conn is None:
                return self._skip_write()
            with conn:  # one transaction, committed before this returns
                cursor = conn.execute(sql, params)
            return int(cursor.lastrowid or 0)
        except sqlite3.Error as error:
            if _is_read_only_error(error):
                return self._skip_write(str(error))
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
            "helion_version, strategy, seed, budget, time_limit, knobs, timer, ref_ms, started, origin, host, "
            "pid, bytes, flops) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (info.kernel, info.source_hash, signature_key(info.signature), info.mode, v["torch"], v["triton"],
             v["helion"], info.strategy, info.seed, info.budget, info.time_limit, json.dumps(info.knobs),
             info.timer, info.ref_ms, _now(), origin(), socket.gethostname(), os.getpid(), info.bytes,
             info.flops),
        )

    def record_candidate(self, run_id: int, candidate: Candidate) -> None:
        c = candidate
        self._write(
            "INSERT OR REPLACE INTO candidates (run_id, idx, config, status, ms, compile_s, max_abs_err, "
            "max_rel_err, rel_l2, error, finished_s, recorded, timed_out, gpu_target, registers, spill_stores, "
            "spill_loads, shared_mem, local_mem, occupancy, blocks_per_sm) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, c.index, c.config.to_json(), c.status, c.ms, c.compile_s, c.max_abs_err, c.max_rel_err,
             c.rel_l2, c.error, c.finished_s, _now(), c.timed_out, *_resource_values(c.resources)),
        )
        if c.status == "ok":
            _GENERATION[0] += 1

    def finish_run(self, run_id: int, result: SweepResult) -> None:
        self._write(
            "UPDATE runs SET finished = ?, stopped = ?, wall_s = ?, error = ? WHERE id = ?",
            (_now(), result.stopped, result.wall_s, getattr(result, "error", None), run_id),
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
        for config in self._stored_configs(rows):
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
        return list(self._stored_configs(rows))

    def _stored_configs(self, rows: Sequence[sqlite3.Row]) -> Iterator[helion.Config]:
        """The configs of ``rows``; a row that is not a config (knob names that are not identifiers,
        JSON nested too deep, not an object) is skipped with a warning naming this file."""
        for row in rows:
            try:
                yield parse_config(row["config"])
            except (ConfigError, ValueError, TypeError) as error:
                warnings.warn(f"{self.path}: skipped a stored config that is not a config ({error})",
                              RuntimeWarning, stacklevel=4)


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
