"""The run store as pandas DataFrames: runs, and one run's candidates."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from kernelbench._errors import KernelbenchError
from kernelbench.core.target import KernelTarget
from kernelbench.store.sqlite import RunStore, default_store

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["history"]

_RUN_COLUMNS = {
    "id": "run_id",
    "kernel": "kernel",
    "started": "started",
    "finished": "finished",
    "stopped": "stopped",
    "error": "error",
    "n_candidates": "candidates",
    "n_ok": "ok",
    "best_ms": "best_ms",
    "strategy": "strategy",
    "seed": "seed",
    "device": "device",
    "origin": "origin",
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


def history(kernel: str | KernelTarget | int | None = None, *, store: RunStore | None = None) -> pd.DataFrame:
    """The run store as pandas: ``history()`` every run, ``history("softmax")`` or ``history(k)`` the
    runs of one kernel (by name, across edits of its source), ``history(run_id)`` one run's candidates.

    Runs have one row each (``run_id`` index): kernel, start and end, how it stopped (empty if the
    process died mid-run; ``error`` with its message in ``error``), candidates and correct ones, best ms, strategy, seed, device,
    the notebook or script it came from (``origin``), signature, source hash and library versions.
    Candidates have their knobs as columns, then status, ms, compile time, errors and the config as Helion JSON.
    """
    import pandas as pd

    store = default_store() if store is None else store
    if isinstance(kernel, bool):
        raise KernelbenchError("history() takes a kernel, its name, or a run id; got a bool")
    if isinstance(kernel, int):
        return _candidates_frame(store, kernel)
    if isinstance(kernel, KernelTarget):
        kernel = kernel.name
    elif kernel is not None and not isinstance(kernel, str):
        raise KernelbenchError(
            f"history() takes a Kernel, a kernel name or a run id; got {type(kernel).__name__}"
        )
    rows = [{new: row.get(old) for old, new in _RUN_COLUMNS.items()} for row in store.runs(kernel)]
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
