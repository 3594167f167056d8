"""Which device kernels run on, and switching Triton's interpreter on when it is the CPU.

Importing this module decides :data:`DEVICE` once. On CPU it sets ``TRITON_INTERPRET=1`` before any
kernel is ``@triton.jit``-decorated and installs the shims Helion's generated code needs there (``kernelbench._interpret``).
"""

from __future__ import annotations

import functools
import os
import sys

import torch

from kernelbench._settings import settings

__all__ = ["DEVICE", "INTERPRETER_LABEL", "INTERPRETER_TIMING_NOTE", "device_name", "is_interpreter", "synchronize"]

INTERPRETER_LABEL = "Triton interpreter (CPU)"
INTERPRETER_TIMING_NOTE = "interpreter time — not GPU performance"


def _choose_device() -> str:
    if settings.device == "cpu":
        return "cpu"
    usable = torch.cuda.is_available() and torch.cuda.device_count() > 0
    if settings.device == "cuda" and not usable:
        from kernelbench._errors import KernelbenchError

        raise KernelbenchError(
            "KERNELBENCH_DEVICE=cuda but torch sees no usable GPU; unset it to fall back to the "
            "Triton interpreter on CPU"
        )
    return "cuda" if usable else "cpu"


DEVICE: str = _choose_device()

if DEVICE == "cpu":
    # Must happen before Triton jit-decorates anything, its own standard library (tl.sum...) included.
    if "triton.language" in sys.modules and os.environ.get("TRITON_INTERPRET") != "1":
        from kernelbench._errors import KernelbenchError

        raise KernelbenchError(
            "triton was imported before kernelbench on a machine with no GPU, so Triton compiled its "
            "library for a GPU and the interpreter cannot run it. Restart the kernel and import "
            "kernelbench (or %load_ext kernelbench) before anything that imports triton, or set "
            "TRITON_INTERPRET=1 in the environment"
        )
    os.environ["TRITON_INTERPRET"] = "1"
    from kernelbench.core.interpret import install_interpreter_shims

    install_interpreter_shims()


def is_interpreter() -> bool:
    """True when kernels run in Triton's interpreter (every timing is then not GPU performance)."""
    return DEVICE == "cpu"


@functools.cache
def device_name() -> str:
    """Human name of where kernels run: the GPU's name, or the interpreter's label."""
    if is_interpreter():
        return INTERPRETER_LABEL
    return torch.cuda.get_device_name()


def synchronize() -> None:
    """Wait for the GPU's queued work (a no-op in the interpreter, which runs synchronously)."""
    if DEVICE == "cuda":
        torch.cuda.synchronize()
