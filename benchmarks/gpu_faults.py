"""Fault isolation on a real device (issue 7), run once and recorded:

1. a sweep of a gather kernel whose indices point far out of bounds (a CUDA illegal address in the
   worker), 2. a sweep of a kernel that spins for ever (run time limit), 3. the notebook process's
   CUDA context still computes afterwards, 4. a normal sweep still works in the same process.

    python benchmarks/gpu_faults.py --out benchmarks/results
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import time
from pathlib import Path
from typing import Any

import kernelbench  # first: on CPU it switches Triton's interpreter on before triton loads

# isort: split
import torch

from tests.kernels import faults, tiles


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    opts = parser.parse_args()
    dev = kernelbench.DEVICE
    record: dict[str, Any] = {"date": dt.date.today().isoformat(), "device": kernelbench.device_name()}
    n = 1 << 20
    x = torch.randn(n, device=dev)
    bad_idx = torch.full((4096,), 1 << 40, dtype=torch.int64, device=dev)

    def safe_gather(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return t[idx.clamp(max=t.numel() - 1)]

    with kernelbench.settings.scope(run_timeout_s=20.0, compile_timeout_s=120.0):
        start = time.perf_counter()
        oob = faults.gather.tune(x, bad_idx, ref=safe_gather, budget=3, seed=0, isolate=True, live=False, store=False)
        record["out_of_bounds"] = {"wall_s": time.perf_counter() - start,
                                   "statuses": [c.status for c in oob.candidates],
                                   "errors": [c.error for c in oob.candidates]}
        start = time.perf_counter()
        hang = faults.spin.tune(x[:4096], (1 << 31) - 1 if dev == "cuda" else (1 << 11), ref=lambda t, k: t, budget=2, seed=0, isolate=True,
                                live=False, store=False)
        record["hang"] = {"wall_s": time.perf_counter() - start, "statuses": [c.status for c in hang.candidates],
                          "errors": [c.error for c in hang.candidates]}
    y = torch.ones(1024, device=dev)
    record["parent_context_ok"] = bool((y * 2).sum().item() == 2048)
    good = tiles.scale.tune(torch.randn(4096, 4096, device=dev), ref=lambda t: t * 3, budget=6, seed=0,
                            isolate=True, live=False, store=False)
    record["after"] = {"statuses": [c.status for c in good.candidates], "best_ms": good.best_ms,
                       "candidates_per_s": good.candidates_per_s}
    opts.out.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", record["device"]).strip("-")
    path = opts.out / f"{record['date']}-{slug}-faults.json"
    path.write_text(json.dumps(record, indent=2))
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
