"""How long do random configs take to compile (Triton to a GPU binary included), and are the slow
compiles ever fast kernels? Measured, not asserted; it sets the sweep's slow-compile policy.

    python benchmarks/compile_survey.py --out benchmarks/results [--kernels softmax,matmul] [--budget 16]

Each kernel of the GPU suite gets a seeded random sweep (isolated: compile workers, one eval
worker) with a generous compile limit, so the slow compiles finish and can be compared with the
fast ones. Writes ``<date>-<device>-compile-survey.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import kernelbench  # first: on CPU it switches Triton's interpreter on before triton loads

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.gpu_suite import specs  # noqa: E402


def survey(name: str, budget: int, compile_limit_s: float, small: bool) -> dict[str, Any]:
    spec = specs(small)[name]
    args = spec.make_args(0)
    k = kernelbench.Kernel(spec.kernel.helion_kernel)
    with kernelbench.settings.scope(compile_timeout_s=compile_limit_s, run_timeout_s=30.0):
        result = k.tune(*args, ref=spec.ref, budget=budget, seed=0, strategy="random", isolate=True,
                        live=False, store=False)
    rows = [{"config": dict(c.config.config), "status": c.status, "compile_s": round(c.compile_s, 3),
             "ms": c.ms, "finished_s": round(c.finished_s, 2)} for c in result.candidates]
    ok = [r for r in rows if r["status"] == "ok" and r["ms"]]
    best = min((r["ms"] for r in ok), default=None)
    compiles = sorted(r["compile_s"] for r in rows if r["status"] in ("ok", "wrong"))
    return {
        "name": name, "shape": list(args[0].shape), "dtype": str(args[0].dtype).removeprefix("torch."),
        "wall_s": result.wall_s, "compile_limit_s": compile_limit_s, "best_ms": best,
        "compile_s_median": statistics.median(compiles) if compiles else None,
        "compile_s_max_finished": compiles[-1] if compiles else None,
        "timeouts": sum(r["status"] == "timeout" for r in rows),
        "statuses": result.df["status"].value_counts().to_dict(),
        # The question: how close to the best are configs whose compile took more than N s?
        "slow_compiles": [{"compile_s": r["compile_s"], "ms": r["ms"], "x_best": (r["ms"] / best) if best and r["ms"] else None,
                           "config": r["config"]} for r in rows if r["compile_s"] > 10],
        "candidates": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--kernels", default="softmax,matmul")
    parser.add_argument("--budget", type=int, default=16)
    parser.add_argument("--compile-limit-s", type=float, default=90.0)
    parser.add_argument("--smoke", action="store_true", help="CPU interpreter, tiny sizes")
    opts = parser.parse_args()
    record: dict[str, Any] = {"date": dt.date.today().isoformat(), "device": kernelbench.device_name(), "kernels": []}
    slug = re.sub(r"[^A-Za-z0-9]+", "-", record["device"]).strip("-")
    opts.out.mkdir(parents=True, exist_ok=True)
    path = opts.out / f"{record['date']}-{slug}-compile-survey.json"
    for name in opts.kernels.split(","):
        start = time.perf_counter()
        row = survey(name, opts.budget, opts.compile_limit_s, opts.smoke)
        record["kernels"].append(row)
        path.write_text(json.dumps(record, indent=2, default=str))  # keep what is done
        print(f"{name}: {time.perf_counter() - start:.0f} s, statuses {row['statuses']}, compile median "
              f"{row['compile_s_median']} s, max {row['compile_s_max_finished']} s, best {row['best_ms']} ms", flush=True)
        for slow in row["slow_compiles"]:
            print(f"  slow compile {slow['compile_s']:.1f} s -> {slow['ms']} ms ({slow['x_best']}x best) {slow['config']}",
                  flush=True)


if __name__ == "__main__":
    main()
