"""kernelbench: a Jupyter workbench for Helion GPU kernels.

``%load_ext kernelbench`` adds the ``%%kernel`` cell magic; ``@kernelbench.kernel`` does the same
for ``.py`` files. On a machine with no GPU, kernels run in Triton's interpreter.

The package is layered, each layer importing only the ones before it (each says so in its
docstring): ``_errors``, ``_settings`` → ``core`` → ``tune`` → ``store`` → ``bench`` → ``io`` → ``ui``
→ ``_kernel`` (the facade) → ``_magic``. Importing ``kernelbench`` decides the device (and switches
Triton's interpreter on when it is the CPU); the public names below load their layers on first use,
so a sweep's worker process, which imports ``kernelbench.tune.worker``, loads no store, bench, io or
ui module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kernelbench._errors import (
    BenchError,
    CaseError,
    CheckError,
    ConfigError,
    KernelbenchError,
    KernelDefinitionError,
    StoreError,
    SweepError,
)
from kernelbench._settings import Settings, settings
from kernelbench.core.device import DEVICE, device_name, is_interpreter

if TYPE_CHECKING:
    from kernelbench._kernel import Kernel, kernel, tune_many
    from kernelbench.bench.bench import BenchReport
    from kernelbench.core.check import CheckReport
    from kernelbench.io.export import load_config, save_config
    from kernelbench.io.problem import Problem, ProblemError, problem
    from kernelbench.store.history import history
    from kernelbench.store.sqlite import RunStore, SQLiteStore
    from kernelbench.tune.ray.executor import RayExecutor
    from kernelbench.tune.records import Candidate
    from kernelbench.tune.result import SweepResult

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
    "Problem",
    "ProblemError",
    "RayExecutor",
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
    "problem",
    "release_workers",
    "save_config",
    "settings",
    "start_workers",
    "tune_many",
]

__version__ = "0.1.0"

#: Public name -> the module that defines it (imported on first use).
_LAZY = {
    "Kernel": "kernelbench._kernel",
    "kernel": "kernelbench._kernel",
    "tune_many": "kernelbench._kernel",
    "RayExecutor": "kernelbench.tune.ray.executor",
    "BenchReport": "kernelbench.bench.bench",
    "CheckReport": "kernelbench.core.check",
    "load_config": "kernelbench.io.export",
    "save_config": "kernelbench.io.export",
    "Problem": "kernelbench.io.problem",
    "ProblemError": "kernelbench.io.problem",
    "problem": "kernelbench.io.problem",
    "history": "kernelbench.store.history",
    "RunStore": "kernelbench.store.sqlite",
    "SQLiteStore": "kernelbench.store.sqlite",
    "Candidate": "kernelbench.tune.records",
    "SweepResult": "kernelbench.tune.result",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kernelbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def release_workers() -> None:
    """End the sweep worker processes kept warm for the next sweep (they hold memory, GPU too)."""
    from kernelbench.tune.worker.pool import release_workers as release

    release()


def start_workers() -> None:
    """Start the sweep worker processes now, in the background, so that the next isolated sweep finds
    them up (its first result then comes in about a second instead of the ~10 s a GPU worker takes to
    import torch and Helion and create a CUDA context). Returns at once; ``release_workers()`` ends them."""
    from kernelbench.tune.worker.pool import start_workers as start

    start()


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext kernelbench``: registers ``%%kernel`` (imported lazily to keep this module light)."""
    from kernelbench._magic import load_ipython_extension as load

    load(ipython)
