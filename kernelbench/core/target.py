"""What the layers above need of "a kernel": small Protocols, so that none of them imports the facade.

Helion's autotuner does the same (``_AutotunableKernel`` in ``helion/autotuner/base_search.py``): the
search sees what it uses, never the class that provides it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import helion

from kernelbench.core.configs import Signature

__all__ = ["KernelTarget", "RunnableKernel"]


@runtime_checkable
class KernelTarget(Protocol):
    """A kernel that can be identified, bound to arguments and re-created elsewhere from its source."""

    name: str
    source: str  # the function's source ('' when it cannot be read)
    source_hash: str  # the run store and cases key by it
    helion_kernel: helion.Kernel
    fn: Callable[..., Any]

    def bind(self, *args: Any) -> Any:
        """Helion's ``BoundKernel`` for these arguments (errors point at the source line)."""
        ...


@runtime_checkable
class RunnableKernel(KernelTarget, Protocol):
    """A kernel that also knows which config it runs (cases and exports need that)."""

    @property
    def last_signature(self) -> Signature | None:
        """The signature of the arguments the kernel was last bound to, if any."""
        ...

    def active_config(self, *args: Any) -> tuple[helion.Config, str]: ...

    def compiled(self, *args: Any, config: Any = None) -> Callable[..., Any]: ...
