"""Leaving kernelbench: configs as Helion's own JSON, and kernels as standalone ``.py`` modules.

``save_config``/``load_config`` read and write exactly what ``helion.Config.save``/``load`` do, so a
file goes both ways. ``export_module`` writes the kernel's source under
``@helion.kernel(config=helion.Config(...))`` with the imports it needs, and nothing of kernelbench.
"""

from __future__ import annotations

import ast
import datetime
import json
import textwrap
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

import helion

from kernelbench._errors import ConfigError, KernelbenchError
from kernelbench.core.configs import ConfigLike, decorator_text, parse_config
from kernelbench.core.device import device_name
from kernelbench.io.files import NotRegularFile, open_regular

if TYPE_CHECKING:
    from kernelbench.core.target import KernelTarget

__all__ = ["export_module", "load_config", "save_config"]

#: Names the exported module always defines (its header imports).
_HEADER_NAMES = {"torch": "torch", "helion": "helion", "hl": "helion.language"}


def save_config(config: ConfigLike, path: str | Path) -> Path:
    """Write ``config`` as Helion's JSON (what ``helion.Config.save`` writes; ``load`` reads it back)."""
    path = Path(path)
    parse_config(config).save(path)
    return path


def load_config(path: str | Path) -> helion.Config:
    """Read a config saved by :func:`save_config` or ``helion.Config.save``.

    The file must be UTF-8 JSON: an object whose keys are knob names (identifiers), nested no deeper
    than a config nests. Whether its knobs fit a kernel is checked when a kernel uses it (``pin``,
    ``compiled(config=...)``...), against that kernel's config spec."""
    path = Path(path)
    try:
        with open_regular(path) as f:
            text = f.read().decode("utf-8")
    except NotRegularFile as error:
        raise ConfigError(f"{path} is not a config file: {error}; give the path of a .json file written by "
                          "kernelbench.save_config or helion.Config.save") from None
    except OSError as error:
        raise ConfigError(f"cannot read a config from {path} ({error.strerror}); give the path of a .json "
                          "file written by kernelbench.save_config or helion.Config.save") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path} is not UTF-8 text (byte {error.start}); a config file is Helion's JSON, "
                          "as kernelbench.save_config or helion.Config.save write it") from None
    try:
        return parse_config(text)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


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


def _definitions(fn: types.FunctionType, kernel_name: str) -> tuple[list[str], list[str]]:
    """Import lines and definitions (constants, dtypes, helper functions) the function's globals need.

    What the globals are comes from :func:`kernelbench.core.globals.classify_globals`, the same answer
    a worker's recipe is built from; the header names (torch, helion, hl) are checked by the caller.
    """
    from kernelbench.core.globals import classify_globals, constant_source

    found = classify_globals(fn)

    def refuse(name: str, type_name: str, detail: str = "") -> KernelbenchError:
        return KernelbenchError(
            f"{kernel_name} uses the global {name!r} ({type_name}{'; ' + detail if detail else ''}), which "
            "export cannot write into a standalone module; make it a constant, a plain function, or an argument"
        )

    if found.decorated:
        raise KernelbenchError(
            f"{kernel_name} calls {next(iter(found.decorated))}, which is decorated; export writes plain helper "
            "functions only: copy it into the exported file by hand"
        )
    if found.unsupported:
        problem = found.unsupported[0]
        raise refuse(problem.name, problem.type_name, problem.detail)
    if found.kernels:  # a standalone module holds one kernel
        name = found.kernels[0]
        raise refuse(name, type(found.bound[name]).__name__, "another kernel")
    names = set(found.names)
    imports: list[str] = []
    constants: list[str] = []
    for name, module in found.modules.items():
        if name not in _HEADER_NAMES:
            imports.append(f"import {module}" if module == name else f"import {module} as {name}")
    for name, value in found.constants.items():
        if name not in _HEADER_NAMES:
            constants.append(f"{name} = {constant_source(value)}")
    for name, dtype in found.dtypes.items():
        if name not in _HEADER_NAMES:
            constants.append(f"{name} = torch.{dtype}")
    for name, (module, qualname) in found.importable.items():
        if name in _HEADER_NAMES:
            continue
        if module == fn.__module__ or module.split(".")[0] == "kernelbench":
            # the file would import the kernel's own module (or kernelbench): not standalone
            raise refuse(name, type(found.bound[name]).__name__)
        first, _, rest = qualname.partition(".")
        top = module.split(".")[0]
        if not rest:
            imports.append(f"from {module} import {qualname}" + (f" as {name}" if name != qualname else ""))
        elif top in names and found.modules.get(top) != top:  # `import a.b` would rebind the global `a`
            imports.append(f"from {module} import {first} as {name}")
            constants.append(f"{name} = {name}.{rest}")
        else:
            imports.append(f"import {module}")
            constants.append(f"{name} = {module}.{qualname}")
    helpers = [helper.source.rstrip("\n") for helper in found.helpers if helper.name not in _HEADER_NAMES]
    imports = list(dict.fromkeys(imports))
    return imports, ["\n".join(constants), *helpers] if constants else helpers


def export_module(
    kernel: KernelTarget, path: str | Path, config: helion.Config, reason: str, signature: tuple[Any, ...] | None
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
    parts.append(f"{decorator_text(config)}\n{body}")
    text = "\n\n\n".join(part.rstrip("\n") for part in parts) + "\n"
    path = Path(path)
    compile(text, str(path), "exec")  # a module that does not even parse must not be written
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
