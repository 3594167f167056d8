"""GPU code without a GPU (kernelbench.core.lowering): real compiles for sm_90 with Triton's own NVIDIA
backend and tools, stages mapped to source lines, resources and occupancy, screening in a sweep, the
run store's resource columns, and ``%%kernel --show ptx --target h100``.

Each compile is ~2 s on CPU: the kernels here are compiled a handful of times in all.
"""

from __future__ import annotations

import inspect
import sqlite3
from pathlib import Path

import helion.language as hl
import pytest
import torch
from IPython.utils.capture import capture_output

import kernelbench
from kernelbench import SQLiteStore
from kernelbench.core.lowering import (
    TARGETS,
    LoweringError,
    check_toolchain,
    lower,
    occupancy,
    resolve_target,
    screen_reason,
)
from kernelbench.tune.charts import x_values
from kernelbench.tune.records import skipped_note

from .conftest import randn, run, unique


@kernelbench.kernel
def scale_relu(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = torch.relu(x[tile]) * 2.0
    return out


@kernelbench.kernel
def matmul(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    m, k = x.size()
    _, n = y.size()
    out = torch.empty([m, n], dtype=torch.float32, device=x.device)
    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = torch.addmm(acc, x[tile_m, tile_k], y[tile_k, tile_n])
        out[tile_m, tile_n] = acc
    return out


def _line_of(fn: object, text: str) -> int:
    """The file line number of the line of ``fn``'s source containing ``text``."""
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if text in line)


def test_targets_and_occupancy_from_the_limits_table() -> None:
    assert resolve_target("H100") is TARGETS["h100"] and resolve_target("sm90").capability == 90
    assert resolve_target("sm_100").capability == 100 == resolve_target("b200").capability
    with pytest.raises(LoweringError, match="unknown GPU target 'v100'; use one of a100, h100"):
        resolve_target("v100")
    h100 = TARGETS["h100"]
    # 168 registers x 32 threads = 5376 per warp: 12 warps fit in 64K registers, 6 blocks of 2 warps.
    found = occupancy(h100, registers=168, shared=0, num_warps=2)
    assert found["blocks_per_sm"] == 6 and found["warps_per_sm"] == 12 and found["limited_by"] == "registers"
    # 48 KiB (+1 KiB reserved) per block: 4 blocks in 228 KiB.
    found = occupancy(h100, registers=32, shared=48 * 1024, num_warps=4)
    assert found["blocks_per_sm"] == 4 and found["limited_by"] == "shared memory"
    assert occupancy(h100, registers=32, shared=0, num_warps=4)["occupancy"] == 1.0
    over = occupancy(h100, registers=32, shared=240 * 1024, num_warps=4)
    assert not over["launchable"] and "shared memory per block, over the 232448 of h100" in over["reason"]
    assert not occupancy(h100, registers=32, shared=0, num_warps=64)["launchable"]  # 2048 threads
    spilling = {"target": "h100", "registers": 255, "spill_stores": 64, "spill_loads": 48,
                **occupancy(h100, registers=255, shared=0, num_warps=4)}
    assert screen_reason(spilling, True) is None and screen_reason(spilling, False) is None
    assert screen_reason(spilling, "spills") == ("spills on h100: 64 bytes of spill stores, 48 of spill loads "
                                                 "(255 registers)")
    assert screen_reason({"target": "h100", **over}, True).startswith("cannot launch on h100: 245760 bytes")


def test_a_triton_without_the_nvidia_tools_is_one_error_naming_them(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for tool in ("PTXAS", "CUOBJDUMP", "NVDISASM"):
        monkeypatch.delenv(f"TRITON_{tool}_PATH", raising=False)
    with pytest.raises(LoweringError) as caught:
        check_toolchain(tmp_path)  # an empty bin/: the tools of a Triton built without them
    message = str(caught.value)
    assert "\n" not in message and all(f"{tool} (looked in {tmp_path}" in message
                                       for tool in ("ptxas", "cuobjdump", "nvdisasm"))
    check_toolchain()  # this wheel's own bin/ has them


@pytest.mark.skipif(kernelbench.DEVICE != "cpu", reason="on a GPU the device is the default target")
def test_in_the_interpreter_a_gpu_stage_needs_a_target() -> None:
    x = randn(8, 16)
    assert "_helion_scale_relu" in scale_relu.code(x)  # the Triton source needs no target
    with pytest.raises(LoweringError, match="stage='ptx' needs a GPU target here .* pass target= one of 'a100'"):
        scale_relu.code(x, stage="ptx")
    with pytest.raises(LoweringError, match="resources needs a GPU target"):
        scale_relu.resources(x)
    with pytest.raises(LoweringError, match="unknown stage 'asm'; use one of triton, ttir, ttgir, llir, ptx, sass"):
        scale_relu.code(x, stage="asm", target="h100")


def test_every_stage_for_h100_maps_back_to_the_kernel_lines_after_the_interpreter_ran() -> None:
    x = randn(16, 32)
    torch.testing.assert_close(scale_relu(x), torch.relu(x) * 2.0)  # the interpreter has run (and patched Triton)
    body = _line_of(scale_relu.fn, "out[tile] = torch.relu")
    loop = _line_of(scale_relu.fn, "for tile in hl.tile")
    ptx = scale_relu.code(x, stage="ptx", target="h100")
    assert ".target sm_90a" in ptx and ptx.target == "h100"
    ptx_lines = ptx.splitlines()
    loads = [i for i, line in enumerate(ptx_lines) if "ld.global" in line]
    stores = [i for i, line in enumerate(ptx_lines) if "st.global" in line]
    assert loads and stores and {ptx.cell_lines[i] for i in loads + stores} == {body}
    assert set(ptx.lines_for(body)) >= {i + 1 for i in loads}
    sass = scale_relu.code(x, stage="sass", target="h100")
    sass_lines = sass.splitlines()
    assert {sass.cell_lines[i] for i, line in enumerate(sass_lines) if "LDG" in line or "STG" in line} == {body}
    for stage in ("ttir", "ttgir", "llir"):
        code = scale_relu.code(x, stage=stage, target="h100")
        assert {c for c in code.cell_lines if c is not None} <= {loop, body} and body in code.cell_lines, stage
    # The interpreter still runs right after the compiler borrowed Triton's modules.
    torch.testing.assert_close(scale_relu(x), torch.relu(x) * 2.0)


def test_resources_registers_spills_shared_memory_and_occupancy() -> None:
    x = randn(16, 32)
    found = scale_relu.resources(x, target="h100")
    assert found["target"] == "h100" and found["arch"] == "sm_90" and found["kernel"] == "_helion_scale_relu"
    assert 0 < found["registers"] <= 255 and found["spill_stores"] == 0 == found["spill_loads"]
    assert found["shared_mem"] == 0 == found["local_mem"] and found["launchable"]
    assert found["warps_per_sm"] == found["blocks_per_sm"] * found["num_warps"] > 0
    # The same source under another module name (Helion's own, on a GPU host): Triton's cache answers
    # with the first compile's code, whose locations name the first module; lines still map.
    (again,) = lower(scale_relu.code(x), (x,), "h100", name="elsewhere")
    body = _line_of(scale_relu.fn, "out[tile] = torch.relu")
    assert again.resources()["registers"] == found["registers"] and body in again.code("ptx").cell_lines


def test_tune_for_h100_records_resources_and_screens_what_cannot_launch(tmp_path: Path) -> None:
    x, y = randn(64, 256), randn(256, 64)
    store = SQLiteStore(tmp_path / "runs.sqlite")
    # 64x64 tiles with a K step of 64: fp32 operands take 32 KiB a stage; 8 stages do not fit in 227 KiB.
    fixed = {"block_sizes": [64, 64, 64], "num_warps": 4, "num_stages": [1, 8]}
    result = matmul.tune(x, y, ref=torch.matmul, strategy="grid", fixed=fixed, budget=2, live=False,
                         store=store, target="h100", screen=True)
    df = result.df
    assert sorted(df["status"]) == ["ok", "screened"]
    screened = df[df["status"] == "screened"].iloc[0]
    assert screened["num_stages"] == 8 and "cannot launch on h100" in screened["error"]
    assert "shared memory per block" in screened["error"] and screened["shared_mem"] > 232448
    ok = df[df["status"] == "ok"].iloc[0]
    assert ok["registers"] > 0 and ok["shared_mem"] > 0 and 0 < ok["occupancy"] <= 1
    assert "1 screened out before timing (h100)" in result.summary()
    assert result.info.gpu_target == "h100" and "screening for h100" in skipped_note(result.info)
    assert x_values(result.candidates, "registers") == list(df["registers"])  # a dashboard axis
    rows = store.candidates(store.runs()[-1]["id"])
    assert [r["gpu_target"] for r in rows] == ["h100", "h100"]
    assert {r["status"]: r["registers"] for r in rows}["ok"] == ok["registers"]


def test_a_schema_4_store_gains_the_resource_columns(tmp_path: Path) -> None:
    from kernelbench.store.sqlite import _MIGRATE_3_TO_4, _SCHEMA, APPLICATION_ID, SCHEMA_VERSION

    path = tmp_path / "runs.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(_SCHEMA + _MIGRATE_3_TO_4)
    conn.execute("INSERT INTO runs (kernel, source_hash, signature, device, torch_version, triton_version, "
                 "helion_version, strategy, knobs, timer, started) VALUES ('old', 'h', '[]', 'cpu', '', '', '', "
                 "'random', '[]', 't', 'now')")
    conn.execute("INSERT INTO candidates (run_id, idx, config, status, compile_s, finished_s, recorded) "
                 "VALUES (1, 0, '{}', 'ok', 0.1, 0.2, 'now')")
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()
    (old,) = SQLiteStore(path).candidates(1)
    assert old["status"] == "ok" and old["registers"] is None and old["gpu_target"] is None
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    conn.close()


def test_magic_shows_the_cell_beside_its_ptx_for_h100(ip) -> None:
    name = unique("shown_ptx")
    run(ip, "xs = torch.randn(16, 32, device=kernelbench.DEVICE)")
    cell = (f"def {name}(x: torch.Tensor) -> torch.Tensor:\n"
            "    out = torch.empty_like(x)\n"
            "    for tile in hl.tile(x.size()):\n"
            "        out[tile] = torch.relu(x[tile])\n"
            "    return out\n")
    with capture_output() as captured:
        ip.run_cell_magic("kernel", "--args xs --show ptx --target h100 -q", cell)
    (view,) = [o.data["text/html"] for o in captured.outputs if "text/html" in o.data]
    assert f"PTX of {name} for h100" in view and "ld.global" in view
    # Cell line 5 (`out[tile] = ...`; line 1 is the %%kernel line) links to its PTX rows.
    assert 'class="kb-l kb-c5"' in view and "kb-s5" in view and "kb-s3" not in view
    assert ":has(.kb-c5:hover) .kb-s5" in view
    with pytest.raises(Exception, match="unknown stage"):
        ip.run_cell_magic("kernel", "--args xs --show asm --target h100 -q", cell)
