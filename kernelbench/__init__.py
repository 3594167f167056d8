"""kernelbench: a Jupyter workbench for Helion GPU kernels.

``%load_ext kernelbench`` adds the ``%%kernel`` cell magic; ``@kernelbench.kernel`` does the same
for ``.py`` files. On a machine with no GPU, kernels run in Triton's interpreter.
"""

from __future__ import annotations

from typing import Any

from ._check import CheckReport
from ._device import DEVICE, device_name, is_interpreter
from ._errors import CheckError, ConfigError, KernelbenchError, KernelDefinitionError, SweepError
from ._kernel import Kernel, kernel
from ._result import Candidate, SweepResult
from ._settings import Settings, settings

__all__ = [
    "DEVICE",
    "CheckError",
    "Candidate",
    "CheckReport",
    "ConfigError",
    "Kernel",
    "KernelDefinitionError",
    "KernelbenchError",
    "Settings",
    "SweepError",
    "SweepResult",
    "device_name",
    "is_interpreter",
    "kernel",
    "load_ipython_extension",
    "settings",
]

__version__ = "0.1.0"


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext kernelbench``: registers ``%%kernel`` (imported lazily to keep this module light)."""
    from ._magic import load_ipython_extension as load

    load(ipython)
