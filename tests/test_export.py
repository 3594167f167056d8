"""Configs as Helion's own JSON, and kernels exported as standalone modules that run without kernelbench."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import helion
import pytest
import torch

import kernelbench
from kernelbench import ConfigError, KernelbenchError

from .kernels import basic, tiles
from .kernels import exportable as kernels

DEV = kernelbench.DEVICE


@pytest.fixture(autouse=True)
def one_timed_run() -> Any:
    with kernelbench.settings.scope(cpu_reps=1):
        yield


def x32() -> torch.Tensor:
    return torch.randn(32, 32, device=DEV)


def test_configs_save_and_load_as_helions_json(tmp_path: Path) -> None:
    config = tiles.scale.default_config(x32())
    ours = kernelbench.save_config(config, tmp_path / "ours.json")
    assert helion.Config.load(ours) == config
    assert json.loads(ours.read_text()) == dict(config.config)
    config.save(tmp_path / "helions.json")
    assert kernelbench.load_config(tmp_path / "helions.json") == config
    assert kernelbench.load_config(kernelbench.save_config({"block_sizes": [8, 8]}, tmp_path / "d.json")) == (
        helion.Config(block_sizes=[8, 8])
    )


def test_load_config_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read a config from .*missing.json.*helion.Config.save"):
        kernelbench.load_config(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{block_sizes: [8]")
    with pytest.raises(ConfigError, match="bad.json: config is not valid JSON"):
        kernelbench.load_config(tmp_path / "bad.json")


def _imports(text: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
    return names


_RUN_EXPORTED = """
import importlib.util, sys, torch
sys.modules["kernelbench"] = None  # the exported modules must not need it: importing it now fails

def load(path):
    spec = importlib.util.spec_from_file_location(path.rsplit("/", 1)[-1][:-3], path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # Helion reads the kernel's globals through sys.modules
    spec.loader.exec_module(module)
    return module

device = sys.argv[1]
x = torch.randn(32, 32, device=device)
torch.testing.assert_close(load(sys.argv[2]).scale(x), x * 3)
torch.testing.assert_close(load(sys.argv[3]).shifted_root(x), (x + 0.25) * 2 ** 0.5)
torch.testing.assert_close(load(sys.argv[4]).scale_by(x, 1.5), x * 1.5)
print("exported kernels ran")
"""


def test_export_round_trip_imports_and_runs_without_kernelbench(tmp_path: Path) -> None:
    x = x32()
    k = kernelbench.Kernel(tiles.scale.helion_kernel)
    result = k.tune(x, ref=lambda t: t * 3, budget=3, seed=2, live=False)
    scale_py = k.export(tmp_path / "scale_kernel.py", x)
    text = scale_py.read_text()
    assert f"\n{result.decorator()}\n" in text  # the tuned config, as the sweep reports it
    assert "Config: tuned" in text and "def scale(x: torch.Tensor) -> torch.Tensor:" in text
    assert _imports(text) == {"torch", "helion", "helion.language"}
    assert "@kernelbench" not in text

    shifted_py = kernels.shifted_root.export(tmp_path / "shifted.py", x)
    assert _imports(shifted_py.read_text()) == {"torch", "helion", "helion.language", "math"}
    assert "SHIFT = 0.25" in shifted_py.read_text() and "def _shifted(" in shifted_py.read_text()
    scale_by_py = kernels.scale_by.export(tmp_path / "scale_by.py", config={"block_sizes": [16, 8]})
    assert "helion.Config(\n    block_sizes=[16, 8],\n))" in scale_by_py.read_text()  # one knob per line

    # The parent's PYTHONPATH stays (Helion may live there, as on the GPU host); kernelbench is kept
    # out by the script itself (sys.modules["kernelbench"] = None).
    env = dict(os.environ)
    if kernelbench.is_interpreter():
        env["TRITON_INTERPRET"] = "1"  # what the exported module needs on a machine with no GPU
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_RUN_EXPORTED), DEV, str(scale_py), str(shifted_py), str(scale_by_py)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0 and "exported kernels ran" in run.stdout, run.stderr[-3000:]


def test_export_picks_the_config(tmp_path: Path) -> None:
    text = basic.pinned_add.export(tmp_path / "pinned.py").read_text()
    assert "@helion.kernel(config=helion.Config(\n    block_sizes=[16, 16],\n))" in text
    assert "kernelbench.kernel(config" not in text  # the original decorator is gone
    fresh = kernelbench.Kernel(tiles.scale.helion_kernel)
    with pytest.raises(KernelbenchError, match=r"does not know which config of scale.*scale.export\(path, x"):
        fresh.export(tmp_path / "nothing.py")
    x = x32()
    assert "Config: default" in fresh.export(tmp_path / "default.py", x).read_text()
    fresh.tune(x, budget=1, live=False, store=False)
    assert "Config: tuned" in fresh.export(tmp_path / "tuned.py").read_text()  # the last arguments' best


def test_export_refuses_globals_it_cannot_write(tmp_path: Path) -> None:
    with pytest.raises(KernelbenchError, match=r"uses the global '_TABLE' \(Tensor\).*constant, a plain function, or an argument"):
        kernels.reads_a_tensor_global.export(tmp_path / "table.py", config={"block_sizes": [8, 8]})
    assert not (tmp_path / "table.py").exists()


def test_exported_config_is_literals_and_a_forged_knob_is_refused(tmp_path: Path) -> None:
    text = basic.pinned_add.export(tmp_path / "pinned.py").read_text()
    calls = [n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Call) and ast.unparse(n.func) == "helion.Config"]
    assert len(calls) == 1 and not calls[0].args
    for keyword in calls[0].keywords:
        ast.literal_eval(keyword.value)  # raises for anything that is not a plain literal
    forged = helion.Config(**{"z=__import__('os').system('touch pwned') or 1, zz": 1})
    with pytest.raises(ConfigError, match="not a knob name"):
        basic.pinned_add.export(tmp_path / "forged.py", config=forged)
    assert not (tmp_path / "forged.py").exists()
    with pytest.raises(ConfigError, match="not a knob name"):
        basic.pinned_add.decorator(config=forged)

    class Sneaky(int):
        def __repr__(self) -> str:
            return "__import__('os').getcwd()"

    with pytest.raises(ConfigError, match="knob values are numbers"):
        basic.pinned_add.decorator(config=helion.Config(num_warps=Sneaky(4)))
