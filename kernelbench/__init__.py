"""kernelbench: a Jupyter workbench for Helion GPU kernels.

``%load_ext kernelbench`` adds the ``%%kernel`` cell magic; ``@kernelbench.kernel`` does the same
for ``.py`` files. On a machine with no GPU, kernels run in Triton's interpreter.
"""

from __future__ import annotations

from typing import Any

from ._bench import BenchReport
from ._check import CheckReport
from ._device import DEVICE, device_name, is_interpreter
from ._errors import (
    BenchError,
    CaseError,
    CheckError,
    ConfigError,
    KernelbenchError,
    KernelDefinitionError,
    StoreError,
    SweepError,
)
from ._export import load_config, save_config
from ._kernel import Kernel, kernel
from ._result import Candidate, SweepResult
from ._settings import Settings, settings
from ._store import RunStore, SQLiteStore, history

__all__ = [
    "DEVICE",
    "BenchError",
    "BenchReport",
    "CaseError",
    "CheckError",
    "Candidate",
    "CheckReport",
    "ConfigError",
    "Kernel",
    "KernelDefinitionError",
    "KernelbenchError",
    "RunStore",
    "SQLiteStore",
    "Settings",
    "StoreError",
    "SweepError",
    "SweepResult",
    "device_name",
    "history",
    "is_interpreter",
    "kernel",
    "load_config",
    "load_ipython_extension",
    "release_workers",
    "save_config",
    "settings",
    "start_workers",
]

__version__ = "0.1.0"


def release_workers() -> None:
    """End the sweep worker processes kept warm for the next sweep (they hold memory, GPU too)."""
    from ._worker import release_workers as release

    release()


def start_workers() -> None:
    """Start the sweep worker processes now, in the background, so that the next isolated sweep finds
    them up (its first result then comes in about a second instead of the ~10 s a GPU worker takes to
    import torch and Helion and create a CUDA context). Returns at once; ``release_workers()`` ends them."""
    from ._worker import start_workers as start

    start()


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext kernelbench``: registers ``%%kernel`` (imported lazily to keep this module light)."""
    from ._magic import load_ipython_extension as load

    load(ipython)
