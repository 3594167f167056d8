"""An error raised inside Helion's generated code, mapped back to the kernel's own source line.

Helion writes an origin comment above the code each kernel line becomes: ``# src[<file>:N]: text``
(``N-M`` for a statement over several lines). In Triton's interpreter every ``tl.*`` call is Python,
so an error such as a ``tl.dot`` of mis-shaped blocks is raised from a line of the generated module,
and its traceback holds a frame there; the nearest origin comment above that line (inside the same
function) names the kernel line it came from. The root cause (``InterpreterError`` wraps it) is
searched first and its innermost frame first, so the line is the statement that failed, not the
launch that ran it.

Layer rule: core; imports the standard library, ``kernelbench._errors`` and ``kernelbench.core.device``.
"""

from __future__ import annotations

import dataclasses
import linecache
import os
import re
import traceback

from kernelbench._errors import KernelbenchError
from kernelbench.core.device import is_interpreter

__all__ = ["ORIGIN", "KernelRunError", "Origin", "find_origin", "kernel_run_error", "located_message", "origin_lines"]

#: Helion's origin comment, ``# src[<file>:N]: text`` (``N-M`` for several lines): the one pattern
#: for it (the Triton view, the lowered stages and error locations all read it through here).
ORIGIN = re.compile(r"\s*# src\[(?P<file>[^\]]*?):(?P<start>[0-9]+)(?:-(?P<end>[0-9]+))?\]: ?(?P<text>.*)")


def origin_lines(triton_code: str) -> list[int | None]:
    """For each line of Helion's Triton output, the cell line it came from (its origin comments)."""
    mapping: list[int | None] = []
    current: int | None = None
    for line in triton_code.splitlines():
        match = ORIGIN.match(line)
        if match:
            current = int(match.group("start"))
        elif line and not line[0].isspace():
            current = None  # a new top-level statement: no longer inside the commented region
        mapping.append(current)
    return mapping
_SOURCE_CHARS = 100


class KernelRunError(KernelbenchError):
    """A kernel raised while it ran; the message names the kernel line its generated code came from.

    The original error is the ``__cause__``; ``cell_line`` and ``source_line`` are the kernel's line
    (in a ``%%kernel`` cell, as the user sees it: line 1 is the ``%%kernel`` line).
    """

    def __init__(self, message: str, *, origin: Origin, error: BaseException) -> None:
        super().__init__(message)
        self.origin = origin
        self.cell_line = origin.line
        self.source_line = origin.text
        self.error = error


@dataclasses.dataclass(frozen=True)
class Origin:
    """Where a failing line of generated code came from."""

    filename: str  # the kernel's source file (or a cell's name)
    line: int  # its first line there
    text: str  # that source line, stripped
    generated_file: str
    generated_line: int
    error: BaseException  # the exception in the chain whose frame was found (the root cause first)

    @property
    def in_cell(self) -> bool:
        name = os.path.basename(self.filename)
        return self.filename.startswith(("<ipython-input-", "<kernelbench-cell")) or name.startswith("ipykernel_") \
            or "/ipykernel_" in self.filename

    @property
    def where(self) -> str:
        return f"line {self.line} of the cell" if self.in_cell else f"line {self.line} of {os.path.basename(self.filename)}"


def _chain(error: BaseException) -> list[BaseException]:
    """``error`` and what caused it, the root cause first."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not s for s in seen):
        seen.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return seen[::-1]


def _origin_above(filename: str, lineno: int) -> tuple[str, int, str] | None:
    """The origin comment nearest above ``lineno`` in the same top-level function, if any."""
    lines = linecache.getlines(filename)
    for i in range(min(lineno, len(lines)) - 1, -1, -1):
        line = lines[i]
        found = ORIGIN.fullmatch(line.rstrip("\n"))
        if found is not None:
            return found["file"], int(found["start"]), found["text"]
        if line[:1] not in ("", " ", "\t", "#", "\n"):  # a top-level statement: the function's start
            return None
    return None


def find_origin(error: BaseException) -> Origin | None:
    """The kernel line that the innermost generated-code frame of ``error``'s chain came from."""
    for exc in _chain(error):
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.lineno is None:
                continue
            found = _origin_above(frame.filename, frame.lineno)
            if found is None:
                continue
            filename, line, text = found
            source = linecache.getline(filename, line).strip() or text.strip()
            return Origin(filename, line, source, frame.filename, frame.lineno, exc)
    return None


def _what(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def located_message(error: BaseException) -> str | None:
    """``at line N of the cell (`text`): Type: message (...)``, or ``None`` when no frame of the
    error's chain is in generated code with an origin comment."""
    origin = find_origin(error)
    if origin is None:
        return None
    text = origin.text if len(origin.text) <= _SOURCE_CHARS else origin.text[: _SOURCE_CHARS - 3] + "..."
    where = "in Triton's interpreter" if is_interpreter() else "on the GPU"
    return (f"at {origin.where} (`{text}`): {_what(origin.error)} (raised by the Triton Helion generated "
            f"for that line, run {where})")


def kernel_run_error(error: BaseException, kernel_name: str) -> KernelRunError | None:
    """``error`` (raised while ``kernel_name`` ran) as one line at the kernel's own source line;
    ``None`` when it did not come from generated code. Raise it ``from error``."""
    origin = find_origin(error)
    message = located_message(error)
    if origin is None or message is None:
        return None
    return KernelRunError(
        f"{kernel_name} failed {message}; fix that line for these arguments and this config "
        f"({kernel_name}.code(...) shows the Triton, each line marked with its source line)",
        origin=origin,
        error=error,
    )
