"""Measured, not asserted: candidates per second of a Ray sweep against the number of actors, on CPU
(Triton's interpreter: each candidate is interpreter-bound, so 2 actors on 2 free cores should give
close to 2x; on a machine others load too, less).

    python benchmarks/ray_scaling_cpu.py --out benchmarks/results

Starts a local Ray with ``num_cpus=2`` (needs ``pip install "kernelbench[ray]"``), then for 1 and 2
actors: one warm-up sweep (actors started and set up), then a grid sweep over the same configs of an
elementwise kernel, timed from the first submit to the last result. Writes
``<date>-cpu-ray-scaling.json`` (rates, wall times, the machine's load average before and after).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import kernelbench  # first: on CPU it switches Triton's interpreter on before triton loads

# isort: split
import helion.language as hl
import torch

from kernelbench.tune.sweep import Sweep

SIZE = (128, 128)
#: 12 configs, every one correct: the rate is the evaluator's, not the strategy's.
GRID = {"block_sizes": [[8, 8], [8, 16], [16, 8], [16, 16], [16, 32], [32, 16], [32, 32], [32, 64], [64, 32],
                        [64, 64], [8, 32], [32, 8]]}


@kernelbench.kernel
def scale_add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        out[tile] = x[tile] * 2 + y[tile]
    return out


def _start_ray(ray: Any) -> None:
    # As in tests/test_ray.py: keep rfc3987_syntax's grammar (seconds per process) out of Ray's
    # processes, so that a loaded machine does not take Ray's agents past their start-up deadline.
    stub = Path(tempfile.mkdtemp(prefix="kernelbench-ray-stub-"))
    (stub / "rfc3987_syntax").mkdir()
    (stub / "rfc3987_syntax" / "__init__.py").write_text('raise ImportError("left out of Ray processes")\n')
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(stub), *([old] if old else [])])
    try:
        for attempt in range(3):
            try:
                ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
                return
            except Exception:  # noqa: BLE001 - Ray's bare Exception for a node slow to start
                ray.shutdown()
                if attempt == 2:
                    raise
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old


def _sweep(executor: Any, args: tuple[Any, ...], grid: dict[str, Any]) -> Any:
    return Sweep(scale_add, args, ref=lambda x, y: x * 2 + y, strategy="grid", fixed=grid, executor=executor).run()


def measure(actors: int, args: tuple[Any, ...]) -> dict[str, Any]:
    executor = kernelbench.RayExecutor(max_actors=actors)
    try:
        start = time.perf_counter()
        _sweep(executor, args, {"block_sizes": [[16, 16]]})  # start and set the actors up
        warm_s = time.perf_counter() - start
        start = time.perf_counter()
        result = _sweep(executor, args, GRID)
        wall = time.perf_counter() - start
    finally:
        executor.shutdown()
    n = len(result.candidates)
    statuses = sorted({c.status for c in result.candidates})
    return {"actors": actors, "candidates": n, "statuses": statuses, "wall_s": round(wall, 3),
            "candidates_per_s": round(n / wall, 4), "warm_up_s": round(warm_s, 2),
            "median_candidate_ms": sorted(c.ms for c in result.candidates if c.ms)[n // 2] if n else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    options = parser.parse_args()
    import ray

    torch.manual_seed(0)
    args = (torch.randn(*SIZE), torch.randn(*SIZE))
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    _start_ray(ray)
    ray_start_s = time.perf_counter() - t0
    with kernelbench.settings.scope(cpu_reps=3):
        runs = [measure(1, args), measure(2, args)]
    ray.shutdown()
    report = {
        "date": dt.date.today().isoformat(),
        "what": "candidates/s of a Ray grid sweep (12 configs, scale_add at 128x128 fp32, Triton interpreter) "
                "with 1 and 2 actors on a local Ray with num_cpus=2",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0],
                    "torch": torch.__version__, "ray": ray.__version__,
                    "load_average_before": [round(v, 2) for v in load_before],
                    "load_average_after": [round(v, 2) for v in os.getloadavg()]},
        "ray_start_s": round(ray_start_s, 2),
        "runs": runs,
        "speedup_2_over_1": round(runs[1]["candidates_per_s"] / runs[0]["candidates_per_s"], 3),
    }
    options.out.mkdir(parents=True, exist_ok=True)
    path = options.out / f"{report['date']}-cpu-ray-scaling.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    for run in runs:
        print(f"{run['actors']} actor(s): {run['candidates']} candidates in {run['wall_s']:.1f} s = "
              f"{run['candidates_per_s']:.3f}/s ({', '.join(run['statuses'])})")
    print(f"2 actors / 1 actor: {report['speedup_2_over_1']}x; wrote {path}")


if __name__ == "__main__":
    main()
