"""Bad input is one clear line: a KernelbenchError subclass naming the problem and the fix, never a
TypeError from deep inside, a RecursionError, or a read that blocks for ever."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch

import kernelbench
from kernelbench import BenchError, CaseError, KernelbenchError, SweepError
from kernelbench.core.source import define
from kernelbench.io.case import load_case

from .kernels import tiles

DEV = kernelbench.DEVICE


@pytest.fixture(autouse=True)
def one_timed_run() -> Any:
    with kernelbench.settings.scope(cpu_reps=1):
        yield


def x32() -> torch.Tensor:
    return torch.randn(32, 32, device=DEV)


def one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(error.value)
    assert isinstance(error.value, KernelbenchError) and "\n" not in text
    return text


# --------------------------------------------------------------------------------------------------
# Sweeps and benches


@pytest.mark.parametrize("budget", ["8", 2.5, True, None])
def test_a_budget_that_is_not_a_whole_number_is_a_sweep_error(budget: Any) -> None:
    kwargs = {"budget": budget} if budget is not None else {"time_limit": "60"}
    with pytest.raises(SweepError) as error:
        tiles.scale.tune(x32(), live=False, store=False, **kwargs)
    assert "e.g." in one_line(error) and repr(budget if budget is not None else "60") in str(error.value)
    assert kernelbench.history().empty


def test_a_nan_time_limit_is_a_sweep_error() -> None:
    with pytest.raises(SweepError, match="time_limit must be a positive number"):
        tiles.scale.tune(x32(), time_limit=float("nan"), live=False)


def test_a_bench_budget_that_is_not_a_whole_number_is_a_bench_error() -> None:
    with pytest.raises(BenchError, match="budget must be at least 1") as error:
        tiles.scale.bench([16], lambda n: (torch.randn(16, n, device=DEV),), ref=lambda x: x * 3, tune="once",
                          budget="8", live=False)
    one_line(error)


def test_tensors_on_another_device_are_refused_before_anything_runs() -> None:
    with pytest.raises(SweepError, match=r"argument 0 of scale is a tensor on 'meta'.*kernelbench\.DEVICE") as e:
        tiles.scale.tune(torch.empty(32, 32, device="meta"), budget=1, live=False)
    one_line(e)
    assert kernelbench.history().empty  # refused in Sweep.__init__: no half-written run


def test_make_args_raising_at_one_size_is_a_marked_row_per_implementation() -> None:
    def make_args(n: int) -> tuple[torch.Tensor]:
        if n == 24:
            raise ValueError("no inputs at 24")
        return (torch.randn(16, n, device=DEV),)

    report = tiles.scale.bench([16, 24], make_args, ref=lambda x: x * 3, baselines={"torch": lambda x: x * 3},
                               live=False)
    df = report.df
    bad = df[df["size"] == 24]
    assert list(bad["status"]) == ["error", "error"] and bad["ms"].isna().all()
    assert bad["error"].str.contains(r"make_args\(24\) raised ValueError: no inputs at 24").all()
    assert list(df[df["size"] == 16]["status"]) == ["ok", "ok"]


def test_make_args_raising_at_the_size_tuned_once_still_benches_the_rest() -> None:
    def make_args(n: int) -> tuple[torch.Tensor]:
        if n == 32:
            raise RuntimeError("too big")
        return (torch.randn(16, n, device=DEV),)

    report = kernelbench.Kernel(tiles.scale.helion_kernel).bench([16, 32], make_args, ref=lambda x: x * 3,
                                                                 tune="once", budget=1, live=False)
    assert [r.status for r in report.rows] == ["ok", "error"] and report.tuning == []
    assert "make_args(32) raised RuntimeError: too big" in (report.rows[1].error or "")


# --------------------------------------------------------------------------------------------------
# Case files


def header_file(path: Path, header: bytes) -> Path:
    path.write_bytes(len(header).to_bytes(8, "little") + header)
    return path


def test_deeply_nested_json_in_a_case_header_is_a_case_error(tmp_path: Path) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(CaseError, match="nested too deeply") as error:
        load_case(header_file(tmp_path / "deep.safetensors", b'{"a": ' + deep + b"}"))
    one_line(error)
    inner = {"__metadata__": {"format": "kernelbench-case", "format_version": "1", "case": "[" * 100_000}}
    with pytest.raises(CaseError, match="case metadata is not valid JSON|nested too deeply"):
        load_case(header_file(tmp_path / "inner.safetensors", json.dumps(inner).encode()))
    inner["__metadata__"]["case"] = "[" * 100_000 + "]" * 100_000
    with pytest.raises(CaseError, match="case metadata is JSON nested too deeply"):
        load_case(header_file(tmp_path / "inner2.safetensors", json.dumps(inner).encode()))


@pytest.mark.parametrize("payload", [pickle.dumps({"x": 1}), b"\xff\xfe{}", b'{"a": "\xc3\x28"}'])
def test_binary_bytes_in_a_case_header_are_a_case_error(tmp_path: Path, payload: bytes) -> None:
    with pytest.raises(CaseError, match="its header is not UTF-8 text") as error:
        load_case(header_file(tmp_path / "bin.safetensors", payload))
    one_line(error)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_or_device_as_a_case_path_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "case.safetensors"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer for ever
    with pytest.raises(CaseError, match=r"not a regular file \(a FIFO\)") as error:
        tiles.scale.check(case=fifo)
    one_line(error)
    if Path("/dev/zero").exists():  # a read that never ends
        with pytest.raises(CaseError, match=r"not a regular file \(a character device\)"):
            load_case("/dev/zero")


def test_an_unreadable_case_path_is_a_case_error(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="no case file"):
        load_case(tmp_path / "missing.safetensors")
    too_long = tmp_path / ("x" * 300)  # ENAMETOOLONG: an OSError of its own
    with pytest.raises(CaseError, match="cannot be read"):
        load_case(too_long)


# --------------------------------------------------------------------------------------------------
# Kernel source


def test_source_nested_too_deeply_for_python_is_a_definition_error() -> None:
    source = "def k(x):\n    return (" + "1+" * 200_000 + "1)\n"
    with pytest.raises(kernelbench.KernelDefinitionError, match="nested too deeply") as error:
        define(source, {}, filename="<deep>")
    one_line(error)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_or_device_as_a_config_path_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)
    with pytest.raises(kernelbench.ConfigError, match=r"not a config file: it is not a regular file \(a FIFO\)") as error:
        kernelbench.load_config(fifo)
    one_line(error)
    if Path("/dev/zero").exists():
        with pytest.raises(kernelbench.ConfigError, match=r"\(a character device\)"):
            kernelbench.load_config("/dev/zero")


def test_a_tensor_on_another_device_is_one_clear_line_in_a_call_and_a_check() -> None:
    x = torch.empty(8, 8, device="meta")  # no data: what any device but the kernel's looks like here
    for attempt in (lambda: tiles.scale(x), lambda: tiles.scale.check(lambda t: t * 3, x)):
        with pytest.raises(kernelbench.KernelbenchError, match=r"argument 0 is a tensor on meta.*\.to\(kernelbench\.DEVICE\)") as error:
            attempt()
        one_line(error)
