"""Does screening help on the GPU? Time for our sweep to reach Helion-quick's best, with and without
rejecting (before timing) the candidates that cannot launch or that spill (issue 18).

    python3 benchmarks/screen_bench.py --out DIR            # one H200: about 4 minutes
    python3 benchmarks/screen_bench.py --smoke --out DIR    # CPU interpreter, tiny sizes (plumbing only)

For each kernel (default softmax and matmul of ``benchmarks/gpu_suite.py``, at its sizes) the target
is the latency of Helion-quick's config recorded in ``benchmarks/results/*-redesign.json`` (measured
again here with the sweeps' own timer; Helion-quick is run, capped, when no record has the kernel).
Then one sweep per mode, the same seed and time limit each:

* ``off``       no resources recorded (``settings.gpu_resources = False``): the sweep as it was;
* ``resources`` each candidate's registers/spills/shared memory/occupancy recorded (the GPU default):
  what recording costs (each candidate compiled once more, in the notebook's process);
* ``screen``    ``screen=True``: candidates that cannot launch on the device are not timed;
* ``spills``    ``screen="spills"``: spilling candidates are not timed either.

Each row: time to reach the target (s; null if not reached), best ms, candidates, statuses, and the
seconds the sweep spent on resource compiles. Written to ``DIR/<date>-<device>-screen.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import kernelbench  # first: on CPU it switches Triton's interpreter on before triton loads

# isort: split
import helion

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python3 benchmarks/screen_bench.py` from anywhere
from benchmarks.gpu_suite import helion_quick, specs, time_to_reach
from kernelbench.core.timing import time_ms

MODES: dict[str, dict[str, Any]] = {
    "off": {"gpu_resources": False, "screen": False},
    "resources": {"gpu_resources": True, "screen": False},
    "screen": {"gpu_resources": True, "screen": True},
    "spills": {"gpu_resources": True, "screen": "spills"},
}


def recorded_quick_configs() -> dict[str, dict[str, Any]]:
    """Helion-quick's config per kernel from the newest recorded GPU suite run."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(__file__).parent.glob("results/*-redesign.json")):
        for row in json.loads(path.read_text()).get("kernels", []):
            if row.get("helion_quick_config"):
                found[row["name"]] = row["helion_quick_config"]
    return found


def run(name: str, spec: Any, *, time_limit: float, smoke: bool, modes: list[str], log: Any) -> dict[str, Any]:
    args = spec.make_args(0)
    recorded = recorded_quick_configs().get(name)
    if smoke:
        quick = spec.kernel.default_config(*args)
    elif recorded is not None:
        quick = helion.Config(**recorded)
    else:
        quick, _wall = helion_quick(spec, args, cap_s=60.0)
    target_ms = time_ms(spec.kernel.compiled(*args, config=quick), args)
    row: dict[str, Any] = {"name": name, "shape": list(args[0].shape), "target_ms": target_ms,
                           "quick_config": dict(quick.config), "quick_config_recorded": recorded is not None}
    log(f"{name}: Helion-quick's config runs in {target_ms:.4g} ms")
    for mode in modes:
        setting = MODES[mode]
        k = kernelbench.Kernel(spec.kernel.helion_kernel)
        with kernelbench.settings.scope(gpu_resources=setting["gpu_resources"]):
            target = "h100" if smoke and setting["screen"] else None  # the interpreter has no device target
            result = k.tune(*args, ref=spec.ref, time_limit=time_limit, seed=0, live=False, store=False,
                            screen=setting["screen"], target=target)
        df = result.df
        reach = time_to_reach(result, target_ms)
        row[mode] = {
            "time_to_target_s": reach,
            "best_ms": result.best_ms,
            "candidates": len(result.candidates),
            "statuses": df["status"].value_counts().to_dict(),
            "screened_reasons": [c.error for c in result.candidates if c.status == "screened"][:10],
            "spilling_timed": int(sum(1 for c in result.candidates if c.status != "screened" and c.resources
                                      and (c.resources.get("spill_stores") or 0) > 0)),
            "wall_s": result.wall_s,
            "trace": [[c.status, c.ms, round(c.compile_s, 2), round(c.finished_s, 2),
                       (c.resources or {}).get("registers"), (c.resources or {}).get("spill_stores")]
                      for c in result.candidates],
        }
        log(f"{name} {mode}: reached target after {reach} s; {result.summary()}")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--kernels", default="softmax,matmul")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--time-limit", type=float, default=28.0, help="seconds per sweep")
    parser.add_argument("--smoke", action="store_true", help="CPU interpreter, tiny sizes")
    opts = parser.parse_args()
    opts.out.mkdir(parents=True, exist_ok=True)

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    all_specs = specs(small=opts.smoke)
    record: dict[str, Any] = {"date": dt.date.today().isoformat(), "device": kernelbench.device_name(),
                              "time_limit_s": opts.time_limit, "kernels": []}
    slug = re.sub(r"[^A-Za-z0-9]+", "-", record["device"]).strip("-")
    path = opts.out / f"{record['date']}-{slug}-screen.json"
    for name in opts.kernels.split(","):
        record["kernels"].append(run(name, all_specs[name], time_limit=opts.time_limit, smoke=opts.smoke,
                                     modes=opts.modes.split(","), log=log))
        path.write_text(json.dumps(record, indent=2, default=str))  # keep what is done
    kernelbench.release_workers()
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
