"""Measured, not asserted: warm %%kernel cell and check() latency (issue 2); sweep throughput in
candidates/s and the dashboard's overhead against live=False (issue 3).

    python benchmarks/core_bench.py --out benchmarks/results

Writes ``<date>-<device>-core.json`` and prints a table. Runs on CPU (interpreter) or a GPU.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import platform
import re
import statistics
import time
from pathlib import Path
from typing import Any

import kernelbench  # first: on CPU it switches Triton's interpreter on before triton loads

# isort: split
import helion.language as hl
import torch


@kernelbench.kernel
def softmax_tune(x: torch.Tensor) -> torch.Tensor:
    n, _m = x.size()
    out = torch.empty_like(x)
    for tile_n in hl.tile(n):
        row = x[tile_n, :]
        e = torch.exp(row - torch.amax(row, dim=1, keepdim=True))
        out[tile_n, :] = e / torch.sum(e, dim=1, keepdim=True)
    return out

SOFTMAX_CELL = """%%kernel {line}
def softmax_bench(x: torch.Tensor) -> torch.Tensor:
    n, _m = x.size()
    out = torch.empty_like(x)
    for tile_n in hl.tile(n):
        row = x[tile_n, :]
        e = torch.exp(row - torch.amax(row, dim=1, keepdim=True))
        out[tile_n, :] = e / torch.sum(e, dim=1, keepdim=True)
    return out
"""


def _median_ms(fn: Any, reps: int) -> float:
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def cell_and_check(n: int) -> dict[str, float]:
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython()
    ip.display_formatter.active_types = ip.display_formatter.format_types
    ip.run_line_magic("load_ext", "kernelbench")
    ip.user_ns["x"] = torch.randn(n, n, device=kernelbench.DEVICE)

    def run(cell: str) -> None:
        result = ip.run_cell(cell, silent=True)
        if not result.success:
            raise RuntimeError(result.error_in_exec or result.error_before_exec)

    run(SOFTMAX_CELL.format(line="-q"))  # cold: imports, first Helion use
    out: dict[str, float] = {}
    out["cell_warm_ms"] = _median_ms(lambda: run(SOFTMAX_CELL.format(line="")), 5)
    run(SOFTMAX_CELL.format(line="--args x"))
    out["cell_args_warm_ms"] = _median_ms(lambda: run(SOFTMAX_CELL.format(line="--args x")), 5)
    k = ip.user_ns["softmax_bench"]
    x = ip.user_ns["x"]
    k(x)  # compile once
    out["check_3_trials_ms"] = _median_ms(lambda: k.check(lambda t: torch.softmax(t, -1), x), 3)
    out["call_warm_ms"] = _median_ms(lambda: k(x), 5)
    return out


def sweep_rates(n: int, budget: int) -> dict[str, Any]:
    from kernelbench.tune.sweep import Sweep
    from kernelbench.ui.dashboard import Dashboard

    x = torch.randn(n, n, device=kernelbench.DEVICE)
    ref = lambda t: torch.softmax(t, -1)  # noqa: E731
    rows: dict[str, Any] = {}
    # Same configs in the same order for both: a seeded random sweep.
    walls = {"plain": [], "dashboard": []}
    for rep in range(2):
        for mode in ("plain", "dashboard"):
            observers: list[Any] = []
            dash = None
            if mode == "dashboard":
                dash = Dashboard(show=False)
                observers.append(dash)
            k = kernelbench.Kernel(softmax_tune.helion_kernel)
            sweep = Sweep(k, (x,), ref=ref, budget=budget, seed=7, strategy="random", observers=observers)
            if dash is not None:
                dash.attach(sweep)
            result = sweep.run()
            print(f"sweep {mode} rep {rep}: {result.summary()}", flush=True)
            walls[mode].append(result.wall_s)
            rows[f"{mode}_{rep}"] = {
                "wall_s": result.wall_s,
                "candidates": len(result.candidates),
                "candidates_per_s": result.candidates_per_s,
                "best_ms": result.best_ms,
                "statuses": result.df["status"].value_counts().to_dict(),
                "compile_s_median": float(result.df["compile_s"].median()),
                "first_result_s": result.candidates[0].finished_s if result.candidates else None,
            }
    # Start-up: the runs above after the first found their workers warm (same kernel, same inputs);
    # a sweep on other inputs re-initialises the parked workers instead of starting new ones.
    k = kernelbench.Kernel(softmax_tune.helion_kernel)
    other = torch.randn(n, n, device=kernelbench.DEVICE)
    result = Sweep(k, (other,), ref=ref, budget=2, seed=7, strategy="random").run()
    rows["other_inputs_first_result_s"] = result.candidates[0].finished_s
    kernelbench.release_workers()
    result = Sweep(k, (other,), ref=ref, budget=2, seed=7, strategy="random").run()
    rows["cold_first_result_s"] = result.candidates[0].finished_s
    # kernelbench.start_workers() in a notebook's first cell, the kernel written meanwhile (15 s here).
    kernelbench.release_workers()
    kernelbench.start_workers()
    time.sleep(15)
    result = Sweep(k, (x,), ref=ref, budget=2, seed=7, strategy="random").run()
    rows["started_ahead_first_result_s"] = result.candidates[0].finished_s
    plain, dashboard = min(walls["plain"]), min(walls["dashboard"])
    rows["dashboard_overhead_pct"] = 100 * (dashboard - plain) / plain
    rows["timer"] = result.info.timer
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--budget", type=int, default=None)
    opts = parser.parse_args()

    import triton

    gpu = kernelbench.DEVICE == "cuda"
    n_cell = 4096 if gpu else 256
    n_sweep = 4096 if gpu else 128
    budget = opts.budget or (12 if gpu else 8)
    record: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "device": kernelbench.device_name(),
        "host": platform.node(),
        "torch": torch.__version__,
        "triton": triton.__version__,
        "helion": importlib.metadata.version("helion"),
        "cell": {"n": n_cell, **cell_and_check(n_cell)},
        "sweep": {"n": n_sweep, "budget": budget, **sweep_rates(n_sweep, budget)},
    }
    opts.out.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", record["device"]).strip("-")
    path = opts.out / f"{record['date']}-{slug}-core.json"
    path.write_text(json.dumps(record, indent=2, default=str))
    c, s = record["cell"], record["sweep"]
    print(f"\n{record['device']} ({record['date']}), written to {path}")
    print(f"| warm %%kernel cell | {c['cell_warm_ms']:.1f} ms |\n| warm cell with --args | {c['cell_args_warm_ms']:.1f} ms |")
    print(f"| check, 3 trials, {n_cell}^2 | {c['check_3_trials_ms']:.1f} ms |\n| warm call | {c['call_warm_ms']:.2f} ms |")
    print(f"| sweep candidates/s ({budget}, {n_sweep}^2) | {s['plain_1']['candidates_per_s']:.2f} |")
    print(f"| dashboard overhead vs live=False | {s['dashboard_overhead_pct']:.1f} % |")
    print(f"| first result: cold / same inputs warm / other inputs warm | {s['cold_first_result_s']:.2f} s / "
          f"{s['plain_1']['first_result_s']:.2f} s / {s['other_inputs_first_result_s']:.2f} s |")
    print(f"| first result after start_workers() | {s['started_ahead_first_result_s']:.2f} s |")


if __name__ == "__main__":
    main()
