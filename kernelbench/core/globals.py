"""Which globals a kernel function reads, and what each one is: the one answer for export and workers.

:func:`classify_globals` walks the function's source (``inspect.getsource``; its decorators, arguments
and locals are not globals), follows the plain helper functions it calls, recursively, and sorts every
global it reads into one kind: a module, a torch dtype, a constant, an object importable by name
(``from math import sqrt``), a helper function (by source), another kernel (Helion handles calls
between kernels), a builtin, or something neither an exported module nor a worker process can
re-create (:class:`Unsupported`). It never raises for a global: each caller (``kernelbench.io.export``,
``kernelbench.tune.worker.recipe``) turns what it cannot carry into its own error.

Constants are values of exactly ``None``, ``bool``, ``int``, ``float`` or ``str``, or tuples and lists of
those (exact types: a subclass could carry its own ``__repr__``); :func:`constant_source` writes them
as Python source.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import importlib
import inspect
import math
import textwrap
import types
from typing import Any

import helion
import torch

from kernelbench._errors import KernelbenchError

__all__ = ["Helper", "KernelGlobals", "Unsupported", "classify_globals", "constant_source", "importable", "is_constant"]

_SCALARS = (bool, int, float, str, type(None))


def is_constant(value: Any) -> bool:
    """True for exactly None/bool/int/float/str, or a tuple or list of those (no subclasses)."""
    if type(value) in _SCALARS:
        return True
    return type(value) in (tuple, list) and all(type(item) in _SCALARS for item in value)


def constant_source(value: Any) -> str:
    """Python source that evaluates to the constant ``value`` (see :func:`is_constant`)."""
    kind = type(value)
    if kind is float and not math.isfinite(value):
        return f'float("{value}")'  # nan, inf, -inf have no literal
    if kind in _SCALARS:
        return repr(value)  # the builtin types' own repr: no user code runs
    if kind in (tuple, list) and is_constant(value):
        items = ", ".join(constant_source(item) for item in value)
        if kind is list:
            return f"[{items}]"
        return f"({items},)" if len(value) == 1 else f"({items})"
    raise TypeError(f"not a constant: {kind.__name__}")


@dataclasses.dataclass(frozen=True)
class Helper:
    """A plain helper function the kernel (or another helper) calls, re-created from its source."""

    name: str
    source: str  # from the `def` line to its end, decorators dropped, dedented
    filename: str  # the file (or cell name) it was defined in
    lineno: int  # the line of `def` in that file


@dataclasses.dataclass(frozen=True)
class Unsupported:
    """A global that neither an exported module nor a worker can re-create."""

    name: str
    type_name: str  # type(value).__name__
    detail: str = ""  # why, when the type alone does not say (no source, a closure, ...)


@dataclasses.dataclass
class KernelGlobals:
    """The globals a kernel function reads, by kind; every dict and list is in a stable order."""

    modules: dict[str, str] = dataclasses.field(default_factory=dict)  # global name -> module name
    dtypes: dict[str, str] = dataclasses.field(default_factory=dict)  # global name -> torch dtype name
    constants: dict[str, Any] = dataclasses.field(default_factory=dict)  # global name -> constant
    importable: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)  # -> (module, qualname)
    helpers: list[Helper] = dataclasses.field(default_factory=list)  # callees before their callers
    kernels: list[str] = dataclasses.field(default_factory=list)  # other kernels it calls (skipped)
    #: Helper functions with decorators (not plain helpers): name -> (module, qualname) when the
    #: decorated object is importable by name, else None.
    decorated: dict[str, tuple[str, str] | None] = dataclasses.field(default_factory=dict)
    builtins: list[str] = dataclasses.field(default_factory=list)
    unresolved: list[str] = dataclasses.field(default_factory=list)  # neither global nor builtin
    unsupported: list[Unsupported] = dataclasses.field(default_factory=list)
    #: Every global classified above (modules, ..., kernels, decorated, unsupported) -> the object it names.
    bound: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)

    @property
    def names(self) -> list[str]:
        """Every global a re-created kernel must define (kernels, builtins and problems aside)."""
        return [*self.modules, *self.dtypes, *self.constants, *self.importable, *(h.name for h in self.helpers)]


def free_names(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[str]:
    """Names the function reads that it does not define itself (globals or builtins), in source order.

    Decorators are not part of the function; arguments (with their defaults and annotations) are.
    A name bound anywhere in the function (assignment, loop target, import, ``except ... as``, nested
    ``def``/``class``) is a local, unless declared ``global``.
    """
    parts: list[ast.AST] = [node.args]
    if isinstance(node, ast.Lambda):
        parts.append(node.body)
    else:
        parts += [*node.body, *([node.returns] if node.returns else [])]
    nodes = [n for part in parts for n in ast.walk(part)]
    local = {n.arg for n in nodes if isinstance(n, ast.arg)}
    local |= {n.id for n in nodes if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    local |= {n.name for n in nodes if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    local |= {n.name for n in nodes if isinstance(n, ast.ExceptHandler) and n.name}
    local |= {(a.asname or a.name.split(".")[0]) for n in nodes if isinstance(n, (ast.Import, ast.ImportFrom))
              for a in n.names}
    local |= {n.name for n in nodes if isinstance(n, (ast.MatchAs, ast.MatchStar)) and n.name}
    local |= {n.rest for n in nodes if isinstance(n, ast.MatchMapping) and n.rest}
    local -= {name for n in nodes if isinstance(n, ast.Global) for name in n.names}
    loads = [n for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in local]
    loads.sort(key=lambda n: (n.lineno, n.col_offset))
    return list(dict.fromkeys(n.id for n in loads))


def _parse(func: types.FunctionType) -> tuple[ast.FunctionDef | ast.AsyncFunctionDef, list[str], int]:
    """The function's ``def`` node, its dedented source lines, and the file line of its first line."""
    lines, start = inspect.getsourcelines(func)
    text = textwrap.dedent("".join(lines))
    tree = ast.parse(text)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == func.__name__:
            return node, text.splitlines(), start
    raise SyntaxError(f"no `def {func.__name__}` in its source")


def importable(value: Any) -> tuple[str, str] | None:
    """``(module, qualname)`` when ``import module; module.qualname`` gives ``value`` itself (e.g.
    ``math.sqrt``); a builtin whose qualified name is its class's (``torch.clone``:
    ``_VariableFunctionsClass.clone``) is found by its plain name."""
    module = getattr(value, "__module__", None)
    if not isinstance(module, str) or not module or module == "__main__" or module.startswith("_kernelbench"):
        return None
    for qualname in dict.fromkeys([getattr(value, "__qualname__", None), getattr(value, "__name__", None)]):
        if not isinstance(qualname, str) or not qualname or "<" in qualname:
            continue
        try:
            target: Any = importlib.import_module(module)
            for part in qualname.split("."):
                target = getattr(target, part)
        except Exception:  # noqa: BLE001 - importing user modules can raise anything; then it is not importable
            continue
        if target is value:
            return module, qualname
    return None


def _is_kernel(value: Any) -> bool:
    if isinstance(value, helion.Kernel):
        return True
    try:
        return hasattr(value, "helion_kernel")
    except Exception:  # noqa: BLE001 - a hostile __getattr__
        return False


def _same(a: Any, b: Any) -> bool:
    return a is b or (is_constant(a) and type(a) is type(b) and a == b)


def classify_globals(fn: types.FunctionType) -> KernelGlobals:
    """The globals ``fn`` and the plain helper functions it calls read, sorted by kind.

    Raises :class:`~kernelbench.KernelbenchError` only when ``fn``'s own source cannot be read;
    globals that cannot be re-created are reported in ``unsupported`` (and ``decorated``), not raised.
    """
    try:
        root, _, _ = _parse(fn)
    except (OSError, TypeError, SyntaxError):
        raise KernelbenchError(
            f"cannot find `def {fn.__name__}` in the kernel's source; reading its globals needs the function's source"
        ) from None
    found = KernelGlobals()
    bound: dict[str, Any] = {fn.__name__: fn}  # name -> the value it was classified as
    done_builtins: set[str] = set()

    def walk(func: types.FunctionType, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        namespace = func.__globals__
        for name in free_names(node):
            if name not in namespace:
                if name in done_builtins or name in found.unresolved:
                    continue
                if name in vars(builtins):
                    done_builtins.add(name)
                    found.builtins.append(name)
                else:
                    found.unresolved.append(name)  # a NameError when it runs; not ours to report
                continue
            value = namespace[name]
            if name in bound:
                if not _same(bound[name], value) and name != fn.__name__:
                    found.unsupported.append(Unsupported(
                        name, type(value).__name__, "the kernel and its helpers' modules bind it to different values"))
                continue
            bound[name] = found.bound[name] = value
            _classify(name, value, func)

    def _classify(name: str, value: Any, reader: types.FunctionType) -> None:
        if isinstance(value, types.ModuleType):
            found.modules[name] = value.__name__
        elif isinstance(value, torch.dtype):
            found.dtypes[name] = str(value).removeprefix("torch.")
        elif is_constant(value):
            found.constants[name] = list(value) if type(value) is list else value
        elif _is_kernel(value):
            found.kernels.append(name)
        elif (
            isinstance(value, types.FunctionType)
            and value.__name__ == name
            and (value.__globals__ is reader.__globals__ or importable(value) is None)
        ):
            _helper(name, value)
        elif (path := importable(value)) is not None:
            found.importable[name] = path
        else:
            found.unsupported.append(Unsupported(name, type(value).__name__))

    def _helper(name: str, value: types.FunctionType) -> None:
        try:
            node, lines, start = _parse(value)
        except (OSError, TypeError, SyntaxError):
            found.unsupported.append(Unsupported(name, type(value).__name__, "its source cannot be read"))
            return
        if node.decorator_list or inspect.unwrap(value) is not value:
            found.decorated[name] = importable(value)
            return
        if value.__closure__:
            found.unsupported.append(Unsupported(name, type(value).__name__, "it is a closure over local variables"))
            return
        walk(value, node)  # its own globals first: helpers come after the helpers they call
        source = "\n".join(lines[node.lineno - 1 : node.end_lineno]) + "\n"
        found.helpers.append(Helper(name, source, value.__code__.co_filename, start + node.lineno - 1))

    walk(fn, root)
    return found
