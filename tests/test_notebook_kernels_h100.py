"""Every notebook's ``%%kernel`` kernels compile for an H100, offline: the GPU-only compile errors
the interpreter cannot see (a ``tl.dot`` shape the GPU rejects, an op with no GPU lowering, a
layout ptxas cannot place) fail here, on a machine with no GPU.

Each notebook's cells run in a real IPython shell as they would in JupyterLab (tuning, benching and
timing cells skipped: they prove nothing here and cost minutes); then each kernel its ``%%kernel``
cells defined is lowered to PTX and SASS for ``h100`` with the config it would run, on arguments of
the shapes, dtypes and strides it was last bound to.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
import torch

import kernelbench
from kernelbench import Kernel

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
#: Cells that time things (tune, bench, measure): nothing here needs what they compute.
_SKIPPED = (".tune(", "--tune", ".bench(", "measure_ms(", "do_bench", "%%timeit", "start_workers(")


def _code_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def _args_like(signature: tuple[Any, ...]) -> tuple[Any, ...]:
    """Arguments with the shapes, dtypes and strides of ``signature`` (zeros: valid as indices too)."""
    args: list[Any] = []
    for entry in signature:
        if isinstance(entry, tuple):
            shape, dtype, stride = entry
            t = torch.empty_strided(shape, stride, dtype=getattr(torch, dtype), device=kernelbench.DEVICE)
            args.append(t.zero_())
        else:
            args.append(ast.literal_eval(entry))
    return tuple(args)


def _bind_what_it_would_time(shell: Any, source: str) -> None:
    """Run a skipped cell's other statements (its helpers), and bind each kernel it tunes or benches
    to the arguments it would have got: ``k.tune(*args)``'s, ``k.bench(sizes, make_args)``'s first size."""
    ns = shell.user_ns
    tree = ast.parse(shell.transform_cell(source))
    for statement in tree.body:
        text = ast.unparse(statement)
        if not any(marker in text for marker in _SKIPPED):
            shell.run_cell(text)
            continue
        for call in [n for n in ast.walk(statement) if isinstance(n, ast.Call)]:
            func = call.func
            if not (isinstance(func, ast.Attribute) and func.attr in ("tune", "bench")
                    and isinstance(func.value, ast.Name) and isinstance(ns.get(func.value.id), Kernel)):
                continue
            given = [eval(compile(ast.Expression(a), "<cell>", "eval"), ns) for a in call.args]  # noqa: S307
            named = {k.arg: eval(compile(ast.Expression(k.value), "<cell>", "eval"), ns)  # noqa: S307
                     for k in call.keywords if k.arg in ("sizes", "make_args")}
            if func.attr == "tune":
                ns[func.value.id].bind(*given)
            else:
                sizes = given[0] if given else named["sizes"]
                make_args = given[1] if len(given) > 1 else named["make_args"]
                made = make_args(list(sizes)[0])
                ns[func.value.id].bind(*(made if isinstance(made, tuple) else (made,)))


@pytest.mark.skipif(kernelbench.DEVICE != "cpu", reason="on a GPU, nbval runs the notebooks' kernels for real")
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_kernels_compile_for_h100(shell: Any, notebook: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # cells that write files (exports, cases) write them here
    shell.user_ns["kernelbench"] = kernelbench
    before = {id(v) for v in shell.user_ns.values() if isinstance(v, Kernel)}
    defined: list[str] = []
    for source in _code_cells(notebook):
        if source.lstrip().startswith("%%kernel"):
            line, _, body = source.lstrip().partition("\n")
            options = line.removeprefix("%%kernel").replace("--tune", "").strip()
            shell.run_cell_magic("kernel", options + " -q", body)  # raises if the kernel cannot be defined
            defined.append(source)
        elif any(marker in source for marker in _SKIPPED):
            _bind_what_it_would_time(shell, source)
        else:
            shell.run_cell(source)  # a cell needing a skipped cell's result may fail: not this test's concern
    kernels = {id(v): v for v in shell.user_ns.values() if isinstance(v, Kernel) and id(v) not in before}
    assert defined and kernels, f"{notebook.name} defines no %%kernel kernel"
    compiled, unbound = [], []
    for kernel in kernels.values():
        if kernel.last_signature is None:
            unbound.append(kernel.name)
            continue
        args = _args_like(kernel.last_signature)
        sass = kernel.code(*args, stage="sass", target="h100")  # LoweringError names the cell line if it fails
        assert "_helion_" in sass and any(c is not None for c in sass.cell_lines), kernel.name
        compiled.append(kernel.name)
    assert compiled and not unbound, f"{notebook.name}: compiled {compiled}; never bound (no shapes known): {unbound}"
