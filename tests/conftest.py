from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import torch

import kernelbench

_names = itertools.count()


@pytest.fixture(autouse=True)
def kernelbench_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Each test gets its own empty run store (tunes write to it), never the user's ~/.cache."""
    home = tmp_path_factory.mktemp("kernelbench_home")
    monkeypatch.setenv("KERNELBENCH_HOME", str(home))
    with kernelbench.settings.scope(home=home):
        yield home


@pytest.fixture(scope="session")
def shell() -> Any:
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython()
    # A notebook front end renders every mime type; the terminal shell only text/plain.
    ip.display_formatter.active_types = ip.display_formatter.format_types
    ip.run_line_magic("load_ext", "kernelbench")
    return ip


@pytest.fixture
def ip(shell: Any) -> Iterator[Any]:
    """The real IPython shell with kernelbench loaded; cells that fail raise here, not silently."""
    shell.user_ns["kernelbench"] = kernelbench
    yield shell


def run(ip: Any, cell: str) -> Any:
    """Run a cell and re-raise its error so a test fails loudly."""
    result = ip.run_cell(cell)
    if result.error_before_exec is not None:
        raise result.error_before_exec
    if result.error_in_exec is not None:
        raise result.error_in_exec
    return result.result


def unique(prefix: str) -> str:
    return f"{prefix}_{next(_names)}"


@pytest.fixture
def device() -> str:
    return kernelbench.DEVICE


def randn(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(*shape, device=kernelbench.DEVICE, dtype=dtype)
