"""kernelbench.core.tracemap: an error raised inside the generated Triton points at the cell line,
in calls, check and tune candidates. A real %%kernel cell whose `.T` makes a mis-shaped `tl.dot`
only for configs with different N and K tiles (Triton's interpreter raises from the generated line)."""

from __future__ import annotations

import pytest
import torch
from triton.runtime.errors import InterpreterError

import kernelbench
from kernelbench.core.tracemap import KernelRunError, find_origin

from .conftest import run, unique

pytestmark = pytest.mark.skipif(kernelbench.DEVICE != "cpu",
                                reason="on a GPU Triton rejects the mis-shaped dot when it compiles, not as it runs")

CELL = """%%kernel -q
def {name}(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    m, k = x.size()
    _k, n = y.size()
    out = torch.empty([m, n], dtype=x.dtype, device=x.device)
    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = torch.addmm(acc, x[tile_m, tile_k], y[tile_k, tile_n].T)
        out[tile_m, tile_n] = acc.to(out.dtype)
    return out
"""
LINE = 9  # the addmm, counting the %%kernel line as line 1
BAD = {"block_sizes": [16, 32, 16]}  # tile_n 32, tile_k 16: y[tile_k, tile_n].T is 32x16


def _define(ip):
    name = unique("mm_t")
    run(ip, CELL.format(name=name))
    return name, ip.user_ns[name]


def _args() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(16, 32, device=kernelbench.DEVICE), torch.randn(32, 32, device=kernelbench.DEVICE)


def _is_at_the_addmm(message: str) -> None:
    assert f"line {LINE} of the cell" in message, message
    assert "`acc = torch.addmm(acc, x[tile_m, tile_k], y[tile_k, tile_n].T)`" in message
    assert "input and other must have equal reduction dimensions" in message
    assert "interpreter" in message and "\n" not in message


def test_a_call_that_fails_in_the_interpreter_names_the_cell_line(ip) -> None:
    name, k = _define(ip)
    x, y = _args()
    k.pin(BAD)
    with pytest.raises(KernelRunError) as info:
        k(x, y)
    _is_at_the_addmm(str(info.value))
    assert str(info.value).startswith(f"{name} failed at line {LINE} of the cell")
    assert info.value.cell_line == LINE and isinstance(info.value.__cause__, InterpreterError)
    with pytest.raises(KernelRunError):  # the cached call path maps it too
        k(x, y)
    k.pin({"block_sizes": [16, 32, 32]})  # whole-width N and K tiles: the .T is right, and it runs
    torch.testing.assert_close(k(x, y), x @ y.T)


def test_check_and_tune_candidates_name_the_cell_line(ip) -> None:
    _, k = _define(ip)
    x, y = _args()
    with pytest.raises(KernelRunError) as info:
        k.check(lambda a, b: a @ b.T, x, y, config=BAD)
    _is_at_the_addmm(str(info.value))
    result = k.tune(x, y, ref=lambda a, b: a @ b.T, fixed={"block_sizes": [[16, 32, 32], BAD["block_sizes"]]},
                    live=False, store=False)
    rows = {str(c.config.config["block_sizes"]): c for c in result.candidates}
    assert rows["[16, 32, 32]"].status == "ok"
    bad = rows["[16, 32, 16]"]
    assert bad.status == "runtime_error"
    assert f"line {LINE} of the cell" in bad.error and "equal reduction dimensions" in bad.error, bad.error
    first, *frames = bad.error.splitlines()
    assert "line" in first and frames and len("\n".join(frames)) <= 500
    assert frames[0].startswith(("Traceback", "  ")), frames[0]  # whole traceback lines, never cut mid-word


def test_an_error_from_elsewhere_has_no_origin() -> None:
    try:
        torch.ones(2) @ torch.ones(3)
    except RuntimeError as error:
        assert find_origin(error) is None
