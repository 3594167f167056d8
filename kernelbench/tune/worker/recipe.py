"""Recipes: how a worker process re-creates the user's kernel from its source and the globals it reads
(modules by name, plain values, helper functions by source), and the sweep's reference where it can
be rebuilt by name (:func:`reference_recipe`). Nothing is pickled."""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import inspect
import json
import linecache
import os
import site
import sys
import sysconfig
import textwrap
import types
from collections.abc import Callable, Sequence
from typing import Any

import torch

from kernelbench._errors import SweepError
from kernelbench.core.globals import importable
from kernelbench.core.target import KernelTarget

__all__ = ["Recipe", "materialise", "rebuild_reference", "recipe_for", "reference_recipe"]

_SIMPLE = (int, float, bool, str, type(None))


@dataclasses.dataclass
class Recipe:
    name: str  # the kernel's display name (``Kernel(..., name=...)``), for messages
    source: str  # padded so that line numbers match the original file or cell
    filename: str
    imports: dict[str, str]  # global name -> module to import
    objects: dict[str, list[str]]  # global name -> [module, attribute] importable by name
    values: dict[str, Any]  # global name -> plain value
    dtypes: dict[str, str]  # global name -> torch dtype name
    helpers: list[tuple[str, str, str]]  # (name, padded source, filename) of helper functions
    settings: dict[str, Any]  # Helion settings that differ from the defaults
    function: str = ""  # the name its source defines (``kernel.fn.__name__``); "" for ``name``

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _def_source(fn: types.FunctionType) -> tuple[str, str]:
    """The function's source from its ``def`` line on, padded to keep line numbers, and its file."""
    lines, start = inspect.getsourcelines(fn)
    tree = ast.parse(textwrap.dedent("".join(lines)))
    node = tree.body[0]
    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    def_offset = node.lineno - 1  # ast puts a decorated function at its `def` line
    body = textwrap.dedent("".join(lines[def_offset:]))
    return "\n" * (start - 1 + def_offset) + body, fn.__code__.co_filename


def _helion_settings(helion_kernel: Any) -> dict[str, Any]:
    import helion

    defaults = helion.Settings()
    changed = {}
    for name, value in vars(helion_kernel.settings).items():
        if isinstance(value, _SIMPLE) and not name.startswith("_") and getattr(defaults, name, value) != value:
            changed[name] = value
    return changed


def recipe_for(kernel: KernelTarget) -> Recipe:
    """What a worker needs to re-create ``kernel`` (a :class:`kernelbench.Kernel`).

    The globals come from :func:`kernelbench.core.globals.classify_globals`, the same answer export
    writes a module from: helpers are followed recursively, so a helper's own globals travel too.
    """
    from kernelbench.core.globals import classify_globals

    fn = kernel.fn
    source, filename = _def_source(fn)
    found = classify_globals(fn)
    objects = {name: [module, qualname] for name, (module, qualname) in found.importable.items()}
    for name, path in found.decorated.items():
        if path is None:
            raise SweepError(
                f"{kernel.name} calls {name}, which is decorated; a worker re-creates plain helper functions "
                "only: make it a plain function, or tune with isolate=False"
            )
        objects[name] = list(path)  # the decorated object itself, imported by name
    if found.unsupported:
        problem = found.unsupported[0]
        detail = f"; {problem.detail}" if problem.detail else ""
        raise SweepError(
            f"{kernel.name} reads the global {problem.name!r} ({problem.type_name}{detail}), which cannot travel "
            "to a worker process; make it a number, string or dtype constant, or tune with isolate=False"
        )
    return Recipe(
        name=kernel.name,
        source=source,
        filename=filename,
        imports=dict(found.modules),
        objects=objects,
        values=dict(found.constants),
        dtypes=dict(found.dtypes),
        helpers=[(h.name, "\n" * (h.lineno - 1) + h.source, h.filename) for h in found.helpers],
        settings=_helion_settings(kernel.helion_kernel),
        function=fn.__name__,
    )


def _register_source(source: str, filename: str) -> str:
    """Make ``source`` (padded to its original line numbers) what ``inspect`` finds under ``filename``;
    return the filename to compile it under.

    A real file whose lines are the source's is left alone (a worker, or materialising in the notebook's
    own process, reads it as it is; the cache of the user's file is never overwritten). Otherwise —
    a notebook cell, or a file edited since — the source's lines are laid over what the cache holds
    for that name (several helpers from one cell each fill in their own lines). A real file that
    differs keeps its own cache: the source goes under a name of its own.
    """
    padded = source.splitlines(keepends=True)
    used = [(i, line) for i, line in enumerate(padded) if line.strip()]
    if os.path.isfile(filename):
        lines = linecache.getlines(filename)
        if all(i < len(lines) and lines[i].rstrip() == line.rstrip() for i, line in used):
            return filename
        filename = f"{filename} (as sent to the worker)"
    lines = list(linecache.cache[filename][2]) if filename in linecache.cache else []
    lines += ["\n"] * (len(padded) - len(lines))
    for i, line in used:
        lines[i] = line
    text = "".join(lines)
    linecache.cache[filename] = (len(text), None, lines, filename)  # mtime None: checkcache keeps it
    return filename


def materialise(recipe: Recipe) -> Any:
    """The Helion kernel a recipe describes, defined in a fresh module of this process."""
    import importlib

    import helion
    import helion.language as hl

    from kernelbench.core.source import register_namespace

    function = recipe.function or recipe.name
    namespace: dict[str, Any] = {"__name__": f"_kernelbench_worker_{function}", "torch": torch,
                                 "helion": helion, "hl": hl}
    for name, module in recipe.imports.items():
        namespace[name] = importlib.import_module(module)
    for name, (module, qualname) in recipe.objects.items():
        target: Any = importlib.import_module(module)
        for part in qualname.split("."):
            target = getattr(target, part)
        namespace[name] = target
    namespace.update(recipe.values)
    namespace.update({k: getattr(torch, v) for k, v in recipe.dtypes.items()})
    register_namespace(namespace)
    for _name, source, filename in [*recipe.helpers, (function, recipe.source, recipe.filename)]:
        filename = _register_source(source, filename)
        exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - the user's own kernel source
    fn = namespace[function]
    return helion.kernel(fn, **recipe.settings)




# --------------------------------------------------------------------------------------------------
# References by name: computed where they are used, never shipped as outputs or pickled
#
# A reference recipe is JSON: ``{"module", "qualname", "make", "args", "kwargs"}``. The worker imports
# ``module``, walks ``qualname`` to an object, and uses it as the reference (``make`` false: called
# with ``args``/``kwargs`` before the check inputs, as ``functools.partial`` does) or calls it with
# them to get the reference (``make`` true: a factory, e.g. ``kernelbench.io.problem.reference_of``).
# Values are JSON, with tuples as ``{"__tuple__": [...]}`` and dtypes as ``{"__dtype__": "float32"}``.


class _NotDescribable(Exception):
    pass


def _encode(value: Any) -> Any:
    if isinstance(value, _SIMPLE):
        return value
    if isinstance(value, torch.dtype):
        return {"__dtype__": str(value).removeprefix("torch.")}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) and not k.startswith("__") for k in value):
        return {k: _encode(v) for k, v in value.items()}
    raise _NotDescribable(type(value).__name__)


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_decode(v) for v in value["__tuple__"])
        if set(value) == {"__dtype__"}:
            dtype = getattr(torch, value["__dtype__"])
            assert isinstance(dtype, torch.dtype)
            return dtype
        return {k: _decode(v) for k, v in value.items()}
    return value


@functools.cache
def _install_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("purelib", "platlib", "stdlib", "platstdlib") if k in paths}
    roots.update(site.getsitepackages())
    return tuple(os.path.realpath(r) + os.sep for r in roots)


def _installed(module: str) -> bool:
    """``module`` belongs to Python itself or to an installed package (not a notebook's own file,
    which a worker on another machine may not have, and which importing would run again)."""
    top = module.partition(".")[0]
    if top in sys.builtin_module_names:
        return True
    file = getattr(sys.modules.get(top), "__file__", None)
    return bool(file) and os.path.realpath(file).startswith(_install_roots())


def _resolve(module: str, qualname: str) -> Any:
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def reference_recipe(ref: Callable[..., Any], args: Sequence[Any]) -> dict[str, Any] | None:
    """How a worker rebuilds the reference ``ref`` (as called on ``args``) by name, or None when it
    cannot (a lambda, a notebook function: its outputs are sent instead).

    * an object that describes its own method or call: ``type(obj).__kernelbench_reference__(obj,
      method, args)`` returns a recipe (a KernelBench problem's ``ref``: its file, seed and sizes);
    * a function of an installed module, found again there by its qualified name (``torch.softmax``,
      ``torch.nn.functional.gelu``), possibly in a ``functools.partial`` with JSON-able arguments.
    """
    owner, method = (ref.__self__, ref.__name__) if inspect.ismethod(ref) else (ref, "__call__")
    describe = getattr(type(owner), "__kernelbench_reference__", None)
    if describe is not None:
        recipe = describe(owner, method, args)
        if recipe is None:
            return None
        if json.loads(json.dumps(recipe)) != recipe:
            raise SweepError(f"{type(owner).__name__}.__kernelbench_reference__ returned a recipe that is not JSON")
        return recipe
    bound_args: list[Any] = []
    bound_kwargs: dict[str, Any] = {}
    if isinstance(ref, functools.partial):
        bound_args, bound_kwargs, ref = list(ref.args), dict(ref.keywords), ref.func
    found = importable(ref)
    if found is None or not _installed(found[0]):
        return None
    try:
        encoded_args, encoded_kwargs = [_encode(a) for a in bound_args], _encode(bound_kwargs)
    except _NotDescribable:
        return None
    return {"module": found[0], "qualname": found[1], "make": False, "args": encoded_args, "kwargs": encoded_kwargs}


def rebuild_reference(recipe: dict[str, Any]) -> Callable[..., Any]:
    """The reference a :func:`reference_recipe` describes, rebuilt in this process."""
    target = _resolve(recipe["module"], recipe["qualname"])
    args, kwargs = _decode(recipe["args"]), _decode(recipe["kwargs"])
    if recipe["make"]:
        return target(*args, **kwargs)
    return functools.partial(target, *args, **kwargs) if args or kwargs else target
