"""The package's layers, read from its source: imports go one way, and the UI libraries stay in the UI.

``_errors``, ``_settings`` → ``core`` → ``tune`` → ``store`` → ``bench`` → ``io`` → ``ui`` → ``_kernel``
(the facade) → ``_magic`` → ``cli`` (the console command) → ``__main__``. Imports inside functions count (they are dependencies all the same).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import kernelbench

ROOT = Path(kernelbench.__file__).parent
# ``server`` (the Jupyter server extension of the Kernel runs panel) reads only the store: it sits
# right above it, and nothing imports it (test_the_server_extension_stands_alone).
LAYERS = ["_errors", "_settings", "core", "tune", "store", "server", "bench", "io", "ui", "_kernel", "_magic", "cli",
          "__main__"]
UI_ONLY = ("IPython", "ipywidgets", "anywidget", "jupyter_ui_poll")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, at module level?) for every import in the file; relative ones resolved."""
    tree = ast.parse(path.read_text(), str(path))
    package = _module(path) if path.name == "__init__.py" else _module(path).rsplit(".", 1)[0]
    # Run at import: the module's own statements and those in its top-level if/try blocks, except
    # `if TYPE_CHECKING:` (annotations only, never imported at run time).
    top_level = {id(node) for node in tree.body}
    top_level |= {id(n) for node in tree.body if isinstance(node, (ast.If, ast.Try))
                  and not (isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
                  for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top_level) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.append((base, id(node) in top_level))
            found += [(f"{base}.{a.name}", id(node) in top_level) for a in node.names]
    return found


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "kernelbench" or len(parts) == 1:
        return None
    return LAYERS.index(parts[1]) if parts[1] in LAYERS else None


SOURCES = sorted(ROOT.rglob("*.py"))
MODULES = {_module(p) for p in SOURCES}


def _graph() -> dict[str, set[str]]:
    return {_module(p): {m for m, _ in _imports(p) if m in MODULES and m != _module(p)} for p in SOURCES}


def test_every_module_is_in_a_layer() -> None:
    unplaced = [m for m in MODULES if m.count(".") >= 1 and _layer(m) is None and m != "kernelbench.demo"]
    assert not unplaced, f"modules outside the layers {LAYERS}: {unplaced}"


def test_imports_go_one_way() -> None:
    wrong = []
    for module, targets in _graph().items():
        mine = _layer(module)
        if mine is None:  # the package's face (__init__) and the demo sit above everything
            continue
        wrong += [f"{module} -> {t}" for t in targets if (_layer(t) or 0) > mine]
    assert not wrong, "a layer imports one above it:\n" + "\n".join(sorted(wrong))


def test_nothing_below_the_ui_imports_the_ui_the_facade_or_the_magic() -> None:
    upper = {"kernelbench.ui", "kernelbench._kernel", "kernelbench._magic", "kernelbench.cli"}
    wrong = [f"{m} -> {t}" for m, ts in _graph().items() if (_layer(m) or 99) < LAYERS.index("ui")
             for t in ts if any(t == u or t.startswith(u + ".") for u in upper)]
    assert not wrong, "\n".join(wrong)


def test_no_cycles() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_ui_libraries_only_in_the_ui_and_the_magic() -> None:
    wrong = []
    for path in SOURCES:
        module = _module(path)
        if _layer(module) in (LAYERS.index("ui"), LAYERS.index("_magic")):
            continue
        for target, top in _imports(path):
            root = target.split(".")[0]
            if root in UI_ONLY:
                wrong.append(f"{module} imports {target}")
            # plotly only lazily, and only its plain figures and their templates (result.figure() and
            # the like; plotly.io: the default template), never its widgets
            elif root == "plotly" and (top or not target.startswith(("plotly.graph_objects", "plotly.io"))):
                wrong.append(f"{module} imports {target}" + (" at module level" if top else ""))
    assert not wrong, "\n".join(wrong)


def test_the_server_extension_stands_alone() -> None:
    """kernelbench.server: the only module that imports jupyter_server or tornado; none imports it."""
    importers = [m for m, targets in _graph().items() if "kernelbench.server" in targets]
    assert not importers, f"{importers} import the server extension"
    wrong = [f"{_module(p)} imports {t}" for p in SOURCES if _module(p) != "kernelbench.server"
             for t, _ in _imports(p) if t.split(".")[0] in ("jupyter_server", "tornado")]
    assert not wrong, "\n".join(wrong)


def test_each_layer_states_its_rule() -> None:
    for name in ("core", "tune", "tune/worker", "store", "bench", "io", "ui"):
        doc = ast.get_docstring(ast.parse((ROOT / name / "__init__.py").read_text())) or ""
        assert "Layer rule" in doc or "loads ``core``" in doc, f"kernelbench/{name}/__init__.py states no layer rule"


def test_importing_the_package_loads_no_layer_above_core() -> None:
    code = ("import sys, kernelbench; "
            "print(sorted(m for m in sys.modules if m.startswith('kernelbench.') and not m.startswith('kernelbench.core')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip() == "['kernelbench._errors', 'kernelbench._settings']", out.stdout + out.stderr


@pytest.mark.slow
def test_a_worker_process_loads_no_store_bench_io_or_ui_module() -> None:
    from kernelbench.core.evaluate import Problem
    from kernelbench.tune.worker.pool import EvalWorker, _Pool, release_workers
    from kernelbench.tune.worker.recipe import recipe_for

    from .kernels import tiles

    # A fresh worker: a parked one may have rebuilt a KernelBench problem's reference, which loads
    # kernelbench.io.problem by name (as it runs the problem's file), not through the worker's imports.
    release_workers()
    x = torch.randn(16, 16, device=kernelbench.DEVICE)
    worker = EvalWorker(_Pool(recipe_for(tiles.scale), Problem("scale", (x,), [((x,), [x * 3])], [x])))
    try:
        proc = worker._ensure()
        assert proc.modules, "the worker did not say which modules it loaded"
        assert any(m.startswith("kernelbench.core") for m in proc.modules)
        above = [m for m in proc.modules if _layer(m) is not None and _layer(m) > LAYERS.index("tune")]
        assert not above, f"a worker loaded {above}"
    finally:
        worker.close()


def test_only_the_ray_executor_imports_ray() -> None:
    """Ray is an optional extra: one module imports it (and kernelbench works without it)."""
    wrong = [f"{_module(p)} imports {t}" for p in SOURCES for t, _ in _imports(p)
             if t.split(".")[0] == "ray" and _module(p) != "kernelbench.tune.ray.executor"]
    assert not wrong, "\n".join(wrong)
