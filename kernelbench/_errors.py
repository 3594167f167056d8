"""One exception root for kernelbench; every message says what went wrong and how to fix it."""

from __future__ import annotations

__all__ = [
    "BenchError",
    "CaseError",
    "CheckError",
    "ConfigError",
    "KernelDefinitionError",
    "KernelbenchError",
    "StoreError",
    "SweepError",
]


class KernelbenchError(Exception):
    """Root of every error kernelbench raises on purpose.

    In IPython these render as their message alone (``_render_traceback_``): the message says what
    to fix, and a stack of compiler internals would only hide it.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[31m{type(self).__name__}\x1b[0m: {line}" if i == 0 else line
                for i, line in enumerate(str(self).splitlines())]


class KernelDefinitionError(KernelbenchError):
    """The kernel's source cannot be turned into a Helion kernel (syntax, no function, Helion error).

    ``cell_line`` is the line as the user sees it (in a ``%%kernel`` cell the magic line is line 1),
    ``source_line`` the offending text; ``helion_error`` is Helion's own exception when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        cell_line: int | None = None,
        source_line: str | None = None,
        helion_error: BaseException | None = None,
    ) -> None:
        super().__init__(message)
        self.cell_line = cell_line
        self.source_line = source_line
        self.helion_error = helion_error


class CheckError(KernelbenchError):
    """A correctness check could not be carried out (reference raised, outputs do not line up)."""


class ConfigError(KernelbenchError):
    """A config or knob given by the user does not fit the kernel's config space."""


class SweepError(KernelbenchError):
    """A sweep was asked for with arguments that cannot work (budget, strategy, fixed knobs)."""


class StoreError(KernelbenchError):
    """The run store cannot be read or written (a corrupt file, a full disk, a newer schema)."""


class CaseError(KernelbenchError):
    """A ``.safetensors`` test case is refused: not a case, a forged header, or not for this kernel."""


class BenchError(KernelbenchError):
    """A bench against problem size was asked for with arguments that cannot work (sizes, tune, y)."""
