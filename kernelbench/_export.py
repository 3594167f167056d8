"""Leaving kernelbench: configs as Helion's own JSON, and kernels as standalone ``.py`` modules.

``save_config``/``load_config`` read and write exactly what ``helion.Config.save``/``load`` do, so a
file goes both ways. ``export_module`` writes the kernel's source under
``@helion.kernel(config=helion.Config(...))`` with the imports it needs, and nothing of kernelbench.
"""

from __future__ import annotations

import ast
import builtins
import datetime
import inspect
import json
import textwrap
import types
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import helion

from ._device import device_name
from ._errors import ConfigError, KernelbenchError

if TYPE_CHECKING:
    from ._kernel import ConfigLike, Kernel

__all__ = ["config_for_export", "export_module", "load_config", "save_config"]

#: Names the exported module always defines (its header imports).
_HEADER_NAMES = {"torch": "torch", "helion": "helion", "hl": "helion.language"}
_CONSTANT_TYPES = (bool, int, float, str, type(None))


def save_config(config: ConfigLike, path: str | Path) -> Path:
    """Write ``config`` as Helion's JSON (what ``helion.Config.save`` writes; ``load`` reads it back)."""
    from ._kernel import parse_config

    path = Path(path)
    parse_config(config).save(path)
    return path


def load_config(path: str | Path) -> helion.Config:
    """Read a config saved by :func:`save_config` or ``helion.Config.save``."""
    from ._kernel import parse_config

    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"cannot read a config from {path} ({error.strerror}); give the path of a .json "
                          "file written by kernelbench.save_config or helion.Config.save") from None
    try:
        return parse_config(text)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


# --------------------------------------------------------------------------------------------------
# Which config


def config_for_export(
    kernel: Kernel, config: ConfigLike | None, args: Sequence[Any]
) -> tuple[helion.Config, str, tuple[Any, ...] | None]:
    """The config to export, why, and the argument signature it is for.

    The config given, else the active config for ``args``; with no arguments, the pinned config,
    else the best this session tuned for the last arguments the kernel was called with.
    """
    from ._kernel import parse_config, signature_of

    signature = signature_of(args) if args else kernel._last_signature
    if config is not None:
        return parse_config(config), "given", signature
    if args:
        return (*kernel.active_config(*args), signature)
    if kernel.pinned is not None:
        return kernel.pinned, "pinned", signature
    if signature is not None and signature in kernel.best:
        return kernel.best[signature], "tuned", signature
    raise KernelbenchError(
        f"export does not know which config of {kernel.name} to write: pass one "
        f"({kernel.name}.export(path, config)) or the arguments it was tuned for "
        f"({kernel.name}.export(path, None, x, ...))"
    )


# --------------------------------------------------------------------------------------------------
# The module


def _function_node(source: str, name: str) -> tuple[list[str], ast.FunctionDef]:
    lines = textwrap.dedent(source).splitlines()
    tree = ast.parse("\n".join(lines))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return lines, node
    raise KernelbenchError(f"cannot find `def {name}` in the kernel's source; export needs the function's source")


def strip_decorators(source: str, name: str) -> str:
    """The function's source from its ``def`` line on (decorators dropped), dedented."""
    lines, node = _function_node(source, name)
    end = node.end_lineno or len(lines)
    return "\n".join(lines[node.lineno - 1 : end]) + "\n"


def _free_names(node: ast.FunctionDef) -> list[str]:
    """Names the function reads that it does not define itself (globals or builtins), in order."""
    parts: list[ast.AST] = [node.args, *node.body, *([node.returns] if node.returns else [])]  # not decorators
    nodes = [n for part in parts for n in ast.walk(part)]
    local = {n.arg for n in nodes if isinstance(n, ast.arg)}
    local |= {n.id for n in nodes if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    local |= {n.name for n in nodes if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    seen: dict[str, None] = {}
    for n in nodes:
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in local:
            seen.setdefault(n.id, None)
    return list(seen)


def _definitions(fn: types.FunctionType, kernel_name: str) -> tuple[list[str], list[str]]:
    """Import lines and definitions (constants, helper functions) the function's globals need."""
    imports: list[str] = []
    constants: list[str] = []
    helpers: list[str] = []
    done: set[str] = set(_HEADER_NAMES)
    todo: list[tuple[types.FunctionType, ast.FunctionDef]] = [(fn, _function_node(inspect.getsource(fn), fn.__name__)[1])]
    while todo:
        func, node = todo.pop()
        for name in _free_names(node):
            if name in done or name not in func.__globals__:
                continue  # builtins, and locals of nested scopes
            done.add(name)
            value = func.__globals__[name]
            if isinstance(value, types.ModuleType):
                module = value.__name__
                imports.append(f"import {module}" if module == name else f"import {module} as {name}")
            elif isinstance(value, _CONSTANT_TYPES):
                constants.append(f"{name} = {value!r}")
            elif isinstance(value, types.FunctionType) and value.__name__ == name:
                helper_source = inspect.getsource(value)
                helper_lines, helper_node = _function_node(helper_source, name)
                if helper_node.decorator_list:
                    raise KernelbenchError(
                        f"{kernel_name} calls {name}, which is decorated; export writes plain helper "
                        "functions only: copy it into the exported file by hand"
                    )
                helpers.append("\n".join(helper_lines[helper_node.lineno - 1 : helper_node.end_lineno]))
                todo.append((value, helper_node))
            elif name in vars(builtins):
                continue
            else:
                raise KernelbenchError(
                    f"{kernel_name} uses the global {name!r} ({type(value).__name__}), which export cannot "
                    "write into a standalone module; make it a constant, a plain function, or an argument"
                )
    return imports, ["\n".join(constants), *helpers] if constants else helpers


def export_module(
    kernel: Kernel, path: str | Path, config: helion.Config, reason: str, signature: tuple[Any, ...] | None
) -> Path:
    """Write ``kernel`` with ``config`` as a standalone module at ``path``; return the path."""
    if not kernel.source:
        raise KernelbenchError(f"{kernel.name} has no source kernelbench can read, so it cannot be exported")
    fn = kernel.fn
    assert isinstance(fn, types.FunctionType)
    for name, module in _HEADER_NAMES.items():
        value = fn.__globals__.get(name)
        if value is not None and not (isinstance(value, types.ModuleType) and value.__name__ == module):
            raise KernelbenchError(
                f"{kernel.name}'s module binds {name!r} to {value!r}, but the exported file imports {module} "
                f"as {name}; rename that global"
            )
    imports, defs = _definitions(fn, kernel.name)
    body = strip_decorators(kernel.source, fn.__name__)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    doc = (
        f'"""{fn.__name__}: a Helion kernel exported by kernelbench on {when}.\n\n'
        f"Config: {reason}, for arguments {json.dumps(list(signature)) if signature else '(not known)'} on "
        f"{device_name()}.\nSource hash {kernel.source_hash}. Needs torch, triton and helion only.\n"
        '"""\n'
    )
    parts = [doc, "\n".join(["import torch", "import helion", "import helion.language as hl", *imports])]
    if defs:
        parts.append("\n\n".join(defs))
    parts.append(f"@helion.kernel(config={config!r})\n{body}")
    text = "\n\n\n".join(part.rstrip("\n") for part in parts) + "\n"
    path = Path(path)
    compile(text, str(path), "exec")  # a module that does not even parse must not be written
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
