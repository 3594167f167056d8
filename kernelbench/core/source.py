"""Turning source text (a ``%%kernel`` cell) into a Helion kernel, with errors that point at cell lines.

Line numbers everywhere are the ones the user sees: in a cell, line 1 is the ``%%kernel`` line, so the
body is compiled with one blank line in front of it. The source goes into ``linecache`` so that
``inspect`` (and therefore Helion) can read it back, and the kernel's globals are the namespace it was
defined in (the notebook's), so it reads notebook constants and helpers as they are when it compiles.

While Helion compiles a kernel whose globals are an IPython user namespace, two kinds of names are
taken out of that namespace (:func:`notebook_names_hidden`): IPython's own history names (``_``,
``_3``, ``In``, ``Out``, ...), and notebook globals that the kernel binds as locals (Python never reads
a local from the globals, but Helion's type propagation does, and then calls ``acc = ...`` in a tile
loop "modifying host variable ``acc``" because the notebook has an ``acc``). Everything else stays the
live notebook namespace.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import linecache
import os
import re
import sys
import traceback
import types
from collections.abc import Callable, Iterator
from typing import Any

import helion

from kernelbench._errors import KernelDefinitionError

__all__ = [
    "cache_source",
    "define",
    "format_located_error",
    "helion_error_to_definition_error",
    "is_ipython_namespace",
    "notebook_names_hidden",
]

#: IPython's output-history and shell names in a user namespace (``InteractiveShell.init_user_ns``,
#: ``DisplayHook.update_user_ns``, ``HistoryManager``); ``_N`` and ``_iN`` are numbered cells.
IPYTHON_NAMES = frozenset(
    {"_", "__", "___", "_i", "_ii", "_iii", "_ih", "_oh", "_dh", "In", "Out", "exit", "quit", "get_ipython"}
)
_IPYTHON_NUMBERED = re.compile(r"_i?[0-9]+")


def is_ipython_name(name: str) -> bool:
    """True for the names IPython itself keeps in a user namespace (see :data:`IPYTHON_NAMES`)."""
    return name in IPYTHON_NAMES or _IPYTHON_NUMBERED.fullmatch(name) is not None


def is_ipython_namespace(namespace: dict[str, Any]) -> bool:
    """True for an IPython shell's user namespace: IPython binds ``In`` and ``_ih`` to one list."""
    history = namespace.get("_ih")
    return isinstance(history, list) and namespace.get("In") is history


def _names_to_hide(fn: types.FunctionType) -> list[str]:
    namespace = fn.__globals__
    code = fn.__code__
    local = [n for n in (*code.co_varnames, *code.co_cellvars) if n in namespace]
    history = [n for n in code.co_names if is_ipython_name(n) and n in namespace]
    return list(dict.fromkeys(local + history))


@contextlib.contextmanager
def notebook_names_hidden(fn: Callable[..., Any]) -> Iterator[None]:
    """While Helion compiles ``fn``: if its globals are an IPython user namespace, take out the
    IPython names it mentions and the notebook globals it binds as locals (see the module's
    docstring); put them back after. Any other namespace is left alone (a module's globals are
    Helion's to read as Helion does)."""
    if not isinstance(fn, types.FunctionType) or not is_ipython_namespace(fn.__globals__):
        yield
        return
    namespace = fn.__globals__
    hidden = {name: namespace.pop(name) for name in _names_to_hide(fn)}
    try:
        yield
    finally:
        for name, value in hidden.items():
            namespace.setdefault(name, value)  # a value written meanwhile (a subshell's output) wins


def cache_source(source: str, filename: str) -> None:
    """Put ``source`` into ``linecache`` under ``filename`` for good (``checkcache`` keeps it)."""
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)


class _NamespaceModule:
    """A module whose ``__dict__`` is a given namespace (IPython's ``DummyMod`` trick)."""


def register_namespace(namespace: dict[str, Any]) -> str:
    """Make ``sys.modules[namespace["__name__"]]`` a module over ``namespace``; return the name.

    Helion resolves a kernel's globals through ``sys.modules[fn.__globals__["__name__"]]`` and
    insists that module's ``__dict__`` *is* the namespace. A running IPython kernel already
    registers its user module as ``__main__`` (``InteractiveShell.init_sys_modules``); embedded
    shells and test harnesses do not, so we do what IPython does.
    """
    name = namespace.setdefault("__name__", f"_kernelbench_ns_{id(namespace):x}")
    module = sys.modules.get(name)
    if module is None or module.__dict__ is not namespace:
        module = _NamespaceModule()
        module.__dict__ = namespace  # type: ignore[assignment]
        sys.modules[name] = module  # type: ignore[assignment]
    return name


def default_filename(source: str, name_hint: str = "kernel") -> str:
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    return f"<kernelbench-cell {name_hint} {digest}>"


def format_located_error(
    message: str, *, filename: str, line: int | None, col: int | None = None, end_col: int | None = None
) -> tuple[str, str | None]:
    """``message`` plus the offending source line, marked; returns (text, the source line)."""
    if line is None:
        return message, None
    text = linecache.getline(filename, line).rstrip("\n")
    if not text:
        return f"{message}\n  (cell line {line})", None
    marker = ""
    if col is not None:
        width = max(1, (end_col or col + 1) - col)
        marker = "\n" + " " * (len(f"{line:>4} | ") + col) + "^" * width
    return f"{message}\n{line:>4} | {text}{marker}", text


def _kernel_functions(tree: ast.Module, filename: str) -> str:
    """The name of the one kernel function the source defines (the rule is in the magic's help)."""
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    if not functions:
        raise KernelDefinitionError(
            "this %%kernel cell defines no function; write `def name(args): ...` with hl.tile loops "
            "in it (the magic adds the @helion.kernel decorator for you)"
        )
    if len(functions) == 1:
        return functions[0].name
    decorated = [f for f in functions if any(_is_helion_kernel(d) for d in f.decorator_list)]
    if len(decorated) == 1:
        return decorated[0].name
    names = ", ".join(f.name for f in (decorated or functions))
    raise KernelDefinitionError(
        f"this %%kernel cell defines {len(decorated or functions)} candidate kernels ({names}); "
        "put each kernel in its own %%kernel cell, or mark the one kernel with @helion.kernel "
        "(other functions in the cell are then plain helpers)"
    )


def _is_helion_kernel(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    return isinstance(target, ast.Attribute) and target.attr == "kernel" or (
        isinstance(target, ast.Name) and target.id == "kernel"
    )


def define(
    source: str,
    namespace: dict[str, Any],
    *,
    filename: str,
    first_line: int = 1,
    cache: Callable[[str, str], None] = cache_source,
) -> tuple[helion.Kernel, str]:
    """Execute kernel ``source`` in ``namespace``; return the Helion kernel it defines and its name.

    ``first_line`` is the line number the source's first line has for the user (2 in a cell, below
    the ``%%kernel`` line). An undecorated function is wrapped with ``helion.kernel()``; a function
    the source already decorates keeps its own settings and configs.
    """
    padded = "\n" * (first_line - 1) + source
    cache(padded, filename)
    try:
        tree = ast.parse(padded, filename)
        code = compile(tree, filename, "exec")
    except SyntaxError as error:
        message, text = format_located_error(
            f"SyntaxError at cell line {error.lineno}: {error.msg}",
            filename=filename,
            line=error.lineno,
            col=(error.offset - 1) if error.offset else None,
            end_col=(error.end_offset - 1) if error.end_offset and error.end_lineno == error.lineno else None,
        )
        raise KernelDefinitionError(message, cell_line=error.lineno, source_line=text) from None
    except (ValueError, RecursionError, MemoryError) as error:  # null bytes; nesting too deep for Python
        if isinstance(error, ValueError):
            why = f"{error}; remove the NUL characters (e.g. from a paste)"
        else:
            why = "it is nested too deeply for Python to parse; split the deepest expression into several lines"
        raise KernelDefinitionError(f"this kernel's source cannot be parsed: {why}") from None
    name = _kernel_functions(tree, filename)
    missing = object()
    before = namespace.get(name, missing)
    try:
        exec(code, namespace)  # noqa: S102 - running the user's own cell is the point
    except Exception as error:
        # The kernel's name keeps what it had before the cell: never a half-defined raw function.
        if before is missing:
            namespace.pop(name, None)
        else:
            namespace[name] = before
        raise _cell_error(error, name, filename) from None
    obj = namespace[name]
    fn = obj.fn if isinstance(obj, helion.Kernel) else obj
    if not callable(fn):
        raise KernelDefinitionError(f"{name} is not a function after the cell ran; got {type(obj).__name__}")
    fn.__module__ = register_namespace(namespace)
    return (obj if isinstance(obj, helion.Kernel) else helion.kernel(fn)), name


def _cell_error(error: Exception, name: str, filename: str) -> KernelDefinitionError:
    """The error a cell raised while it ran (not while Helion compiled), in one line with its cell line."""
    if isinstance(error, helion.exc.Base):
        found = helion_error_to_definition_error(error, name)
        if found.cell_line is not None:
            return found
    in_cell = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == filename]
    line = in_cell[0] if in_cell else None  # the cell's own statement that raised
    lines = str(error).strip().splitlines()
    where = f" at cell line {line}" if line else ""
    if len(in_cell) > 1 and in_cell[-1] != line:
        where += f" (from cell line {in_cell[-1]})"
    hint = ("Helion's language runs only inside a kernel: call the kernel in another cell"
            if isinstance(error, helion.exc.Base) else "fix it and run the cell again")
    return KernelDefinitionError(
        f"the cell raised {type(error).__name__}{where} after defining {name}: {lines[0] if lines else ''}; "
        f"{hint} ({name} was not (re)defined)",
        cell_line=line,
        helion_error=error if isinstance(error, helion.exc.Base) else None,
    )


def helion_error_to_definition_error(error: helion.exc.Base, kernel_name: str) -> KernelDefinitionError:
    """Helion's error as one short message pointing at the kernel's source line."""
    location = getattr(error, "location", None)
    base_len = getattr(error, "base_msg_len", None)
    message = str(error)[:base_len] if base_len else str(error).split("\nWhile processing:")[0]
    message = message.strip()
    if location is None or not location.lineno:
        return KernelDefinitionError(
            f"Helion could not compile {kernel_name}: {type(error).__name__}: {message}", helion_error=error
        )
    line = location.lineno
    where = f"{os.path.basename(location.filename)}:{line}" if os.path.exists(location.filename) else f"cell line {line}"
    text, source_line = format_located_error(
        f"Helion could not compile {kernel_name} ({where}): {type(error).__name__}: {message}",
        filename=location.filename,
        line=line,
        col=location.colno,
        end_col=location.end_colno if location.end_lineno == line else None,
    )
    return KernelDefinitionError(text, cell_line=line, source_line=source_line, helion_error=error)
