"""One globals classifier (kernelbench.core.globals) for export and worker recipes: the same answer from both."""

from __future__ import annotations

import json
import linecache
import math
import types
from typing import Any

import helion
import helion.language as hl
import pytest
import torch

from kernelbench._errors import KernelbenchError, SweepError
from kernelbench.core.globals import Unsupported, classify_globals, constant_source, is_constant
from kernelbench.io.export import _definitions
from kernelbench.tune.worker.recipe import Recipe, materialise, recipe_for

from .kernels import globals_cases as cases

_HEADER = {"torch", "helion", "hl"}

#: Functions whose globals both an exported module and a worker can re-create.
SUPPORTED = [
    cases.uses_np_alias,
    cases.uses_dtype,
    cases.uses_tuple_and_list,
    cases.uses_sqrt,
    cases.uses_dotted_importable,
    cases.uses_nested,
    cases.shadows,
    cases.add_offset.fn,
]


def _target(fn: types.FunctionType) -> Any:
    """What recipe_for reads of a kernel."""
    return types.SimpleNamespace(fn=fn, name=fn.__name__, helion_kernel=helion.kernel(fn))


def _exported_namespace(fn: types.FunctionType) -> dict[str, Any]:
    """The globals export writes for ``fn``, executed under the exported module's header."""
    imports, defs = _definitions(fn, fn.__name__)
    text = "\n".join(["import torch", "import helion", "import helion.language as hl", *imports, *defs])
    namespace: dict[str, Any] = {}
    exec(compile(text, "<exported>", "exec"), namespace)  # noqa: S102 - our own generated source
    del namespace["__builtins__"]
    return namespace


def _worker_recipe(fn: types.FunctionType) -> Recipe:
    """The recipe as a worker receives it: through JSON."""
    return Recipe(**json.loads(json.dumps(recipe_for(_target(fn)).to_json())))


def _materialise(recipe: Recipe) -> Any:
    """materialise as a worker runs it, checking it leaves the line cache of the real files alone."""
    files = {recipe.filename, *(h[2] for h in recipe.helpers)}
    before = {f: linecache.getlines(f) for f in files}
    kernel = materialise(recipe)
    assert {f: linecache.getlines(f) for f in files} == before
    return kernel


def _recipe_names(recipe: Recipe) -> set[str]:
    return {*recipe.imports, *recipe.objects, *recipe.values, *recipe.dtypes, *(h[0] for h in recipe.helpers)}


def test_module_alias_and_constant() -> None:
    found = classify_globals(cases.uses_np_alias)
    assert found.modules == {"np": "numpy"} and found.constants == {"SCALE": 2.0}
    assert found.names == ["np", "SCALE"]
    assert _exported_namespace(cases.uses_np_alias)["np"] is __import__("numpy")


def test_dtype_global() -> None:
    found = classify_globals(cases.uses_dtype)
    assert found.dtypes == {"DT": "float16"} and found.modules == {"torch": "torch"}
    assert _exported_namespace(cases.uses_dtype)["DT"] is torch.float16  # export now writes dtypes
    assert _worker_recipe(cases.uses_dtype).dtypes == {"DT": "float16"}


def test_tuple_list_and_non_finite_constants() -> None:
    found = classify_globals(cases.uses_tuple_and_list)
    assert found.constants.keys() == {"SIZES", "NAMES", "NOT_A_NUMBER"}
    assert found.builtins == ["len"]
    exported = _exported_namespace(cases.uses_tuple_and_list)
    assert exported["SIZES"] == (16, 32) and exported["NAMES"] == ["a", "b"] and math.isnan(exported["NOT_A_NUMBER"])


def test_constant_source_is_exact_types_only() -> None:
    for value in [None, True, 3, -2.5, "it's", (1,), (), [1.0, "x", None], float("inf"), float("-inf")]:
        assert eval(constant_source(value)) == value  # noqa: S307 - our own generated source
    assert constant_source(float("nan")) == 'float("nan")'
    assert not is_constant(cases.RED) and not is_constant((1, (2, 3))) and not is_constant(torch.tensor(1))
    with pytest.raises(TypeError):
        constant_source(cases.RED)
    assert classify_globals(cases.uses_int_enum).unsupported == [Unsupported("RED", "Colour")]


def test_importable_objects() -> None:
    assert classify_globals(cases.uses_sqrt).importable == {"sqrt": ("math", "sqrt")}
    imports, _ = _definitions(cases.uses_sqrt, "uses_sqrt")
    assert imports == ["from math import sqrt"]
    found = classify_globals(cases.uses_dotted_importable)
    assert found.importable["ENCODE"] == ("json.encoder", "JSONEncoder.encode")
    imports, defs = _definitions(cases.uses_dotted_importable, "k")
    assert "import json.encoder" in imports and "ENCODE = json.encoder.JSONEncoder.encode" in defs[0]
    assert _exported_namespace(cases.uses_dotted_importable)["ENCODE"] is cases.ENCODE


def test_nested_helpers_are_followed_in_dependency_order() -> None:
    found = classify_globals(cases.uses_nested)
    assert [h.name for h in found.helpers] == ["_inner", "_outer"]  # callees first
    assert found.constants == {"OFFSET": 3}  # read by _inner, two calls down
    inner = found.helpers[0]
    assert inner.source == "def _inner(v):\n    return v + OFFSET\n"
    assert inner.filename == cases.__file__
    assert inner.lineno == cases._inner.__code__.co_firstlineno
    # Export and a worker both re-create the helpers, with the helper's own globals.
    exported = _exported_namespace(cases.uses_nested)
    assert exported["_outer"](4) == 14
    worker = _materialise(_worker_recipe(cases.uses_nested)).fn
    assert worker(4) == 14
    helper_source = _worker_recipe(cases.uses_nested).helpers[0][1]
    assert helper_source.splitlines()[inner.lineno - 1] == "def _inner(v):"  # line numbers kept


def test_a_local_shadowing_a_global_is_not_a_global_and_builtins_are_skipped() -> None:
    found = classify_globals(cases.shadows)
    assert found.names == [] and "n" not in found.constants
    assert found.builtins == ["range", "len", "max"]
    assert _recipe_names(_worker_recipe(cases.shadows)) == set()


def test_unsupported_objects_are_reported_and_each_caller_raises_its_own_error() -> None:
    found = classify_globals(cases.uses_lock)
    assert found.unsupported == [Unsupported("LOCK", type(cases.LOCK).__name__)]
    with pytest.raises(KernelbenchError, match=r"uses the global 'LOCK' \(lock\).*constant, a plain function, or an argument"):
        _definitions(cases.uses_lock, "uses_lock")
    with pytest.raises(SweepError, match=r"reads the global 'LOCK' \(lock\).*isolate=False"):
        recipe_for(_target(cases.uses_lock))
    assert classify_globals(cases.uses_closure).unsupported[0].detail.startswith("it is a closure")
    with pytest.raises(SweepError, match="closure_helper"):
        recipe_for(_target(cases.uses_closure))


def test_decorated_helpers_are_not_plain_helpers() -> None:
    found = classify_globals(cases.uses_decorated)
    assert found.helpers == [] and found.decorated == {"_decorated": ("tests.kernels.globals_cases", "_decorated")}
    with pytest.raises(KernelbenchError, match="calls _decorated, which is decorated"):
        _definitions(cases.uses_decorated, "uses_decorated")
    # A worker imports the decorated object by name when it can (decorator kept).
    assert recipe_for(_target(cases.uses_decorated)).objects == {"_decorated": ["tests.kernels.globals_cases", "_decorated"]}


def test_other_kernels_are_skipped() -> None:
    found = classify_globals(cases.calls_kernel)
    assert found.kernels == ["add_offset"] and found.names == []
    assert _recipe_names(recipe_for(_target(cases.calls_kernel))) == set()


def test_a_real_helion_kernel() -> None:
    fn = cases.add_offset.fn
    found = classify_globals(fn)
    assert found.modules == {"torch": "torch", "hl": "helion.language"}
    assert found.constants == {"OFFSET": 3} and [h.name for h in found.helpers] == ["_inner", "_outer"]
    kernel = _materialise(_worker_recipe(fn))
    assert isinstance(kernel, helion.Kernel)
    assert kernel.fn.__globals__["hl"] is hl and kernel.fn.__globals__["OFFSET"] == 3


@pytest.mark.parametrize("fn", SUPPORTED, ids=lambda f: f.__name__)
def test_export_and_recipe_agree_on_the_names(fn: types.FunctionType) -> None:
    found = classify_globals(fn)
    expected = set(found.names) - _HEADER
    # `import json.encoder` (for ENCODE = json.encoder.JSONEncoder.encode) also binds `json`.
    packages = {module.split(".")[0] for module, qualname in found.importable.values() if "." in qualname}
    assert set(_exported_namespace(fn)) - _HEADER - packages == expected
    assert _recipe_names(_worker_recipe(fn)) - _HEADER == expected


def test_materialise_keeps_real_files_and_lays_cell_sources_over_each_other() -> None:
    import inspect

    # In this process: the test module's own file stays what inspect reads (other functions included).
    _materialise(_worker_recipe(cases.uses_nested))
    assert "def uses_lock" in inspect.getsource(cases.uses_lock)
    # A cell (no file): the helper's and the kernel's lines both land under the cell's name.
    cell = "<kernelbench-test-cell 1>"
    helper = "def _twice(v):\n    return v * 2\n"
    kernel = "\n\n\ndef cell_kernel(x: torch.Tensor) -> torch.Tensor:\n    out = torch.empty_like(x)\n" \
             "    for tile in hl.tile(x.size()):\n        out[tile] = _twice(x[tile])\n    return out\n"
    recipe = Recipe(name="shown name", source=kernel, filename=cell, imports={}, objects={}, values={}, dtypes={},
                    helpers=[("_twice", helper, cell)], settings={}, function="cell_kernel")
    made = materialise(recipe)
    lines = linecache.getlines(cell)
    assert lines[0] == "def _twice(v):\n" and lines[3].startswith("def cell_kernel")
    assert made.fn.__name__ == "cell_kernel" and inspect.getsource(made.fn).startswith("def cell_kernel")
