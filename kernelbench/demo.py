"""``make demo``: define a Helion kernel, show its Triton, check it, tune it, write an HTML report."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import kernelbench
from kernelbench.core.source import define
from kernelbench.ui.display import source_map

SOFTMAX = '''
def softmax(x: torch.Tensor) -> torch.Tensor:
    n, _m = x.size()
    out = torch.empty_like(x)
    for tile_n in hl.tile(n):
        row = x[tile_n, :]
        e = torch.exp(row - torch.amax(row, dim=1, keepdim=True))
        out[tile_n, :] = e / torch.sum(e, dim=1, keepdim=True)
    return out
'''


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("demo-output"))
    parser.add_argument("--budget", type=int, default=None, help="candidates to try (default 8 on CPU, 48 on GPU)")
    opts = parser.parse_args(argv)
    opts.out.mkdir(parents=True, exist_ok=True)

    import helion
    import helion.language as hl

    print(f"kernelbench {kernelbench.__version__} on {kernelbench.DEVICE}: {kernelbench.device_name()}")
    namespace = {"__name__": "kernelbench_demo_cell", "torch": torch, "helion": helion, "hl": hl}
    hk, name = define(SOFTMAX, namespace, filename="<demo cell>", first_line=2)
    softmax = kernelbench.Kernel(hk, name=name)

    n = 4096 if kernelbench.DEVICE == "cuda" else 256
    x = torch.randn(n, n, device=kernelbench.DEVICE)
    code = softmax.code(x)
    (opts.out / "softmax_triton.py").write_text(code)
    print("\n# Triton for softmax (Helion default config), with the cell line each line came from:")
    for cell_line, line in zip(source_map(code), code.splitlines()):
        if "@triton.jit" in line or cell_line is not None:
            print(f"{'' if cell_line is None else cell_line:>4} | {line}")

    start = time.perf_counter()
    report = softmax.check(lambda t: torch.softmax(t, -1), x)
    print(f"\n{report!r}\n(check took {time.perf_counter() - start:.2f} s)")
    if not report:
        return 1

    budget = opts.budget or (48 if kernelbench.DEVICE == "cuda" else 8)
    print(f"\n# Tuning softmax ({budget} candidates):")
    result = softmax.tune(x, ref=lambda t: torch.softmax(t, -1), budget=budget, seed=0, live=False)
    report_path = result.to_html(opts.out / "softmax_sweep.html")
    result.df.to_csv(opts.out / "softmax_sweep.csv")
    print(f"\n{result.decorator()}\nreport: {report_path}")
    return 0 if result.best is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
