"""The Jupyter server extension behind the "Kernel runs" panel: the run store, read-only, over REST.

``GET /kernelbench/api/runs`` lists every run, newest first (``?kernel=NAME``: one kernel's);
``GET /kernelbench/api/runs/<id>`` is one run with its candidates and its fastest configs, each with
the decorator to paste into a ``.py`` file and the notebook cell that pins it. Both sit behind the
Jupyter server's own authentication (a request without the token or login cookie gets 403) and
never write: the store is opened with ``read_only=True``, so the panel cannot create, migrate or lock
it. The store is ``$KERNELBENCH_HOME/runs.sqlite`` of the server's environment.

A run with no end recorded is ``running`` while the process that started it (same host, same pid)
is alive, else ``died`` (its kernel was killed or crashed: what it measured is kept).

Enabled by ``jupyter-config/jupyter_server_config.d/kernelbench.json`` (installed with the package)
or ``--ServerApp.jpserver_extensions='{"kernelbench.server": True}'``. The panel itself is the
prebuilt lab extension in ``kernelbench/labextension`` (source: ``extensions/kernel-runs``).

Layer rule: ``server`` imports only ``_errors``, ``_settings``, ``core`` and ``store`` of kernelbench
(the store lazily: a Jupyter server that never opens the panel never loads torch), plus
``jupyter_server`` and ``tornado``; nothing in kernelbench imports it.
"""

from __future__ import annotations

import asyncio
import json
import keyword
import math
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from kernelbench._errors import KernelbenchError

if TYPE_CHECKING:
    from jupyter_server.serverapp import ServerApp

    from kernelbench.store.sqlite import SQLiteStore

__all__ = ["run_detail", "runs_list"]

#: How many of a run's fastest distinct correct configs the detail view offers.
TOP_CONFIGS = 5
API = "kernelbench/api/runs"


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "kernelbench.server"}]


def _load_jupyter_server_extension(serverapp: ServerApp) -> None:
    web_app = serverapp.web_app
    base = web_app.settings["base_url"]
    web_app.add_handlers(".*$", [
        (url_path_join(base, API), RunsHandler),
        (url_path_join(base, API, r"(\d+)"), RunHandler),
    ])
    serverapp.log.info("kernelbench: Kernel runs panel API at %s", url_path_join(base, API))


# --------------------------------------------------------------------------------------------------
# What the API returns (plain functions of a store: the tests call them too)

_STORES: dict[Path, SQLiteStore] = {}


def _store() -> SQLiteStore:
    """The server's store, read-only (one object per path: it keeps a connection per thread)."""
    from kernelbench._settings import settings
    from kernelbench.store.sqlite import STORE_FILENAME, SQLiteStore

    path = settings.home / STORE_FILENAME
    if path not in _STORES:
        _STORES[path] = SQLiteStore(path, read_only=True)
    return _STORES[path]


def _alive(host: str | None, pid: int | None) -> bool | None:
    """Whether the process ``pid`` on ``host`` still runs (``None``: cannot tell from here)."""
    if host is None or pid is None or host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, but alive
    return True


def _finite(value: Any) -> Any:
    return value if not isinstance(value, float) or math.isfinite(value) else None


def _run_row(row: dict[str, Any]) -> dict[str, Any]:
    if row["finished"] is not None:
        state, ended = "finished", row["stopped"]
    else:
        alive = _alive(row.get("host"), row.get("pid"))
        state = "running" if alive else "died" if alive is False else "unknown"
        ended = {"running": None, "died": "process died"}.get(state, "no end recorded")
    best_ms = _finite(row["best_ms"])
    seconds = best_ms / 1e3 if best_ms else None
    nbytes, flops = row.get("bytes"), row.get("flops")
    return {
        "id": row["id"],
        "kernel": row["kernel"],
        "origin": row.get("origin"),
        "started": row["started"],
        "finished": row["finished"],
        "state": state,
        "ended": ended,
        "error": row["error"],
        "device": row["device"],
        "strategy": row["strategy"],
        "seed": row["seed"],
        "budget": row["budget"],
        "timer": row["timer"],
        "candidates": row["n_candidates"],
        "ok": row["n_ok"],
        "best_ms": best_ms,
        "gbps": _finite(nbytes / seconds / 1e9) if nbytes and seconds else None,
        "tflops": _finite(flops / seconds / 1e12) if flops and seconds else None,
        "signature": row["signature"],
        "source_hash": row["source_hash"],
    }


def runs_list(store: SQLiteStore, kernel: str | None = None) -> list[dict[str, Any]]:
    """Every run of ``store`` (of ``kernel``, if given), newest first, as the panel lists them."""
    return [_run_row(row) for row in reversed(store.runs(kernel))]


def _pin_cell(kernel: str, run_id: int, config_source: str) -> str | None:
    """The notebook cell that pins a config; ``None`` if the kernel's name is not a Python name."""
    if not kernel.isidentifier() or keyword.iskeyword(kernel):
        return None
    return (f"# the config of run {run_id}, pinned (from the Kernel runs panel); {kernel}.pin(None) un-pins\n"
            f"import helion\n\n{kernel}.pin({config_source})\n")


def run_detail(store: SQLiteStore, run_id: int) -> dict[str, Any] | None:
    """Run ``run_id`` with its candidates (in the order measured) and its fastest distinct correct
    configs, each with its ``decorator`` and ``pin`` cell; ``None`` if there is no such run."""
    from kernelbench.core.configs import config_source, decorator_text, parse_config
    from kernelbench.core.space import config_key

    found = [row for row in store.runs() if row["id"] == run_id]
    if not found:
        return None
    run = _run_row(found[0])
    run["knobs"] = json.loads(found[0]["knobs"])
    candidates = []
    for c in store.candidates(run_id):
        candidates.append({
            "index": c["idx"], "status": c["status"], "ms": _finite(c["ms"]), "compile_s": _finite(c["compile_s"]),
            "finished_s": _finite(c["finished_s"]), "error": c["error"], "config": json.loads(c["config"]),
        })
    top: list[dict[str, Any]] = []
    seen: set[str] = set()
    for c in sorted((c for c in candidates if c["status"] == "ok" and c["ms"] is not None), key=lambda c: c["ms"]):
        try:
            config = parse_config(json.dumps(c["config"]))
            # knob names and values are checked as they are written: the text is safe to run
            source, decorator = config_source(config), decorator_text(config)
        except (KernelbenchError, ValueError, TypeError):
            continue
        if config_key(config) in seen:
            continue
        seen.add(config_key(config))
        top.append({"index": c["index"], "ms": c["ms"], "config": c["config"],
                    "decorator": decorator,
                    "pin": _pin_cell(run["kernel"], run_id, source)})
        if len(top) == TOP_CONFIGS:
            break
    return {**run, "candidate_list": candidates, "top": top}


# --------------------------------------------------------------------------------------------------
# Handlers


class _StoreHandler(APIHandler):
    async def _reply(self, fn: Any, *args: Any) -> None:
        try:
            payload = await asyncio.to_thread(lambda: fn(_store(), *args))
        except KernelbenchError as error:  # a store that cannot be read: say why
            raise tornado.web.HTTPError(503, str(error)) from None
        if payload is None:
            raise tornado.web.HTTPError(404, f"there is no run {args[0]} in the run store")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(payload))


class RunsHandler(_StoreHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self._reply(runs_list, self.get_argument("kernel", None) or None)


class RunHandler(_StoreHandler):
    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        await self._reply(run_detail, int(run_id))
