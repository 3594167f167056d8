"""``make demo``: define a Helion kernel, show its Triton, check it against torch (headless)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import kernelbench
from kernelbench._display import source_map
from kernelbench._source import define

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
    return 0 if report else 1


if __name__ == "__main__":
    raise SystemExit(main())
