"""KernelBench problems as references: ``kernelbench.problem(path, **sizes) -> Problem``.

A KernelBench problem file defines a torch ``class Model(nn.Module)``, ``get_inputs()`` (the forward
arguments) and ``get_init_inputs()`` (the constructor arguments), usually sized by module-level
constants (``batch_size = 16``, ``dim = 16384``). :func:`problem` loads one:

* **Loading a problem runs its code** (it is a Python module): load only files you trust.
* Size constants given as keywords replace the module's own assignments *before* it runs, so
  constants derived from them (``N = 2 * M``) follow; a name that is not a numeric module-level
  constant is a :class:`ProblemError` listing the constants there are.
* ``Model(*get_init_inputs())`` is built on the device, in eval mode, under ``seed`` (the caller's
  random state is left as it was); inputs are ``get_inputs()`` under the same seed.
* A Model with parameters takes them as **trailing kernel arguments**, in ``named_parameters()``
  order: ``layer_norm(x, weight, bias)``. :attr:`Problem.ref` runs the Model through
  ``torch.func.functional_call`` with the parameters it is given, so a check's fresh trials (which
  draw fresh parameters as well as fresh inputs) stay consistent, and the reference runs in float64
  with everything else (floating buffers follow the inputs' dtype).
* A sweep in worker processes or on Ray actors does not send :attr:`Problem.ref`'s outputs: the
  worker loads the same file (checked by its hash) with the same seed and sizes and computes them on
  its device (:func:`reference_of`; :meth:`Problem.__kernelbench_reference__` describes it), and is
  sent them only if its bits differ from the notebook's.

This public ``Problem`` is a *problem to solve*. It is not :class:`kernelbench.core.evaluate.Problem`,
the engine's prepared set of inputs and reference outputs that candidates are checked and timed on.

Layer rule: part of ``io``; imports ``_errors``, ``core`` and the io layer only.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import hashlib
import importlib.util
import itertools
import sys
import time
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from kernelbench._errors import KernelbenchError
from kernelbench.core.check import fresh_inputs
from kernelbench.core.device import DEVICE
from kernelbench.io.files import NotRegularFile, open_regular

__all__ = [
    "FAST_P", "Problem", "ProblemError", "ProblemSizes", "ScoreReport", "ScoreRow", "load_module", "parse_sizes",
    "problem", "reference_of", "score", "size_constants",
]

_counter = itertools.count()


class ProblemError(KernelbenchError):
    """A KernelBench problem file cannot be loaded or used as asked (no Model, unknown size constant)."""


# --------------------------------------------------------------------------------------------------
# Reading the file


def _read(path: Path, what: str) -> str:
    try:
        with open_regular(path) as f:
            return f.read().decode()
    except FileNotFoundError:
        raise ProblemError(f"{what} {path}: no such file; give the path of a .py file") from None
    except IsADirectoryError:
        raise ProblemError(f"{what} {path} is a folder; give the path of a .py file") from None
    except NotRegularFile as error:
        raise ProblemError(f"{what} {path}: {error}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ProblemError(f"{what} {path} cannot be read ({error}); give a readable .py file") from None


def _numeric(node: ast.expr, known: Mapping[str, int | float]) -> int | float | None:
    """The value of an arithmetic expression of number literals and earlier constants, else None."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name):
        return known.get(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _numeric(node.operand, known)
        return None if value is None else (-value if isinstance(node.op, ast.USub) else value)
    if isinstance(node, ast.BinOp):
        left, right = _numeric(node.left, known), _numeric(node.right, known)
        if left is None or right is None:
            return None
        ops: dict[type, Callable[[Any, Any], Any]] = {
            ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
            ast.FloorDiv: lambda a, b: a // b, ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b,
            ast.Mod: lambda a, b: a % b,
        }
        op = ops.get(type(node.op))
        try:
            return None if op is None else op(left, right)
        except (ZeroDivisionError, OverflowError):
            return None
    return None


def _constant_assignments(tree: ast.Module) -> dict[str, ast.Assign | ast.AnnAssign]:
    """Module-level ``NAME = <number expression>`` statements (the last one of each name)."""
    found: dict[str, ast.Assign | ast.AnnAssign] = {}
    known: dict[str, int | float] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name, value = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            name, value = node.target.id, node.value
        else:
            continue
        number = _numeric(value, known)
        if number is None:
            known.pop(name, None)
            found.pop(name, None)
        else:
            known[name] = number
            found[name] = node
    return found


def size_constants(path: str | Path) -> dict[str, int | float]:
    """The numeric module-level constants of a problem file and their values, read without running it."""
    path = Path(path)
    tree = _parse(_read(path, "problem"), path)
    known: dict[str, int | float] = {}
    for name, node in _constant_assignments(tree).items():
        value = _numeric(node.value, known) if node.value is not None else None
        if value is not None:
            known[name] = value
    return known


def _parse(source: str, path: Path) -> ast.Module:
    try:
        return ast.parse(source, str(path))
    except SyntaxError as error:
        raise ProblemError(f"{path}:{error.lineno}: syntax error: {error.msg}") from None


def parse_sizes(text: str) -> dict[str, int | float]:
    """``"N=4096,M=1024"`` -> ``{"N": 4096, "M": 1024}`` (ints where they are ints, else floats)."""
    sizes: dict[str, int | float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, eq, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name.isidentifier():
            raise ProblemError(f"sizes {text!r}: {part!r} is not NAME=NUMBER; write e.g. N=4096,M=1024")
        try:
            sizes[name] = int(value)
        except ValueError:
            try:
                sizes[name] = float(value)
            except ValueError:
                raise ProblemError(f"sizes {text!r}: {name}={value!r} is not a number") from None
    return sizes


def load_module(path: str | Path, *, what: str = "file", replace: Mapping[str, int | float] | None = None,
                tree: ast.Module | None = None) -> types.ModuleType:
    """Run ``path`` as a fresh module (registered in ``sys.modules`` under a unique name, so that
    ``inspect`` and worker recipes find its source) and return it. ``replace`` swaps the values of
    module-level constant assignments before it runs. Runs the file's code."""
    path = Path(path).resolve()
    if tree is None:
        tree = _parse(_read(path, what), path)
    if replace:
        assignments = _constant_assignments(tree)
        for name, value in replace.items():
            node = assignments[name]
            node.value = ast.copy_location(ast.Constant(value), node.value)
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:8]
    name = f"kernelbench_file_{''.join(c if c.isalnum() else '_' for c in path.stem)}_{digest}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    code = compile(tree, str(path), "exec")
    try:
        exec(code, module.__dict__)
    except KernelbenchError:
        sys.modules.pop(name, None)
        raise
    except Exception as error:
        sys.modules.pop(name, None)
        line = _error_line(error, str(path))
        raise ProblemError(f"{path}{line}: running it raised {type(error).__name__}: {_first_line(error)}") from None
    return module


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else ""


def _error_line(error: BaseException, filename: str) -> str:
    tb = error.__traceback__
    line = ""
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = f":{tb.tb_lineno}"
        tb = tb.tb_next
    return line


# --------------------------------------------------------------------------------------------------
# The problem


@contextlib.contextmanager
def _seeded(seed: int, device: str) -> Iterator[None]:
    """``seed`` for everything drawn inside; the caller's random state is restored afterwards."""
    devices = [torch.cuda.current_device()] if device == "cuda" and torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices), torch.device(device):
        torch.manual_seed(seed)
        yield


def _on(value: Any, device: str) -> Any:
    return value.to(device) if isinstance(value, torch.Tensor) else value


def _draw_inputs(module: types.ModuleType, seed: int, device: str, path: Path) -> list[Any]:
    with _seeded(seed, device):
        try:
            inputs = module.get_inputs()
        except Exception as error:
            raise ProblemError(f"{path}: get_inputs() raised {type(error).__name__}: {_first_line(error)}") from None
    if not isinstance(inputs, (list, tuple)):
        raise ProblemError(f"{path}: get_inputs() returned {type(inputs).__name__}; it must return a list of "
                           "the forward's arguments")
    return [_on(v, device) for v in inputs]


@dataclasses.dataclass(eq=False)
class Problem:
    """A KernelBench problem loaded by :func:`kernelbench.problem`: a reference and its arguments.

    ``args`` are the kernel's arguments: ``get_inputs()`` then the Model's parameters (``params``, in
    ``named_parameters()`` order). ``ref(*args)`` is the Model's forward with those parameters;
    ``make_args(seed)`` draws a new argument set: the problem's own ``get_inputs()`` under ``seed``,
    and, for any seed but the problem's own, fresh parameters of the same shape and spread.
    ``k.check(p)``, ``k.tune(p)`` and ``k.bench(p)`` take it directly.
    """

    path: Path
    name: str
    seed: int
    device: str
    #: Every numeric module-level constant, after the overrides (what the problem is sized by).
    sizes: dict[str, int | float]
    #: The overrides this problem was loaded with.
    overrides: dict[str, int | float]
    model: torch.nn.Module
    params: dict[str, torch.Tensor]
    module: types.ModuleType
    n_inputs: int
    args: tuple[Any, ...]
    #: The file's text as loaded, hashed: a reference rebuilt from the file elsewhere checks it.
    source_sha256: str = ""

    @property
    def inputs(self) -> tuple[Any, ...]:
        """The forward's arguments (``args`` without the parameters)."""
        return self.args[: self.n_inputs]

    def make_args(self, seed: int) -> tuple[Any, ...]:
        """A full argument set drawn with ``seed``: ``get_inputs()`` then the parameters."""
        inputs = _draw_inputs(self.module, seed, self.device, self.path)
        if len(inputs) != self.n_inputs:
            raise ProblemError(f"{self.path}: get_inputs() returned {len(inputs)} values with seed {seed} but "
                               f"{self.n_inputs} before; it must return the same arguments every time")
        params = tuple(self.params.values())
        if seed != self.seed and params:
            params = fresh_inputs(params, seed)
        return (*inputs, *params)

    def _split(self, args: Sequence[Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if len(args) != self.n_inputs + len(self.params):
            names = [f"input{i}" for i in range(self.n_inputs)] + list(self.params)
            raise ProblemError(f"{self.name}'s reference takes {len(names)} arguments ({', '.join(names)}): "
                               f"get_inputs() then the Model's parameters; it was given {len(args)}")
        return tuple(args[: self.n_inputs]), dict(zip(self.params, args[self.n_inputs:]))

    def ref(self, *args: Any) -> Any:
        """The Model's forward on ``args`` (inputs, then parameters), with the parameters given."""
        inputs, params = self._split(args)
        if not params and not any(True for _ in self.model.buffers()):
            return self.model(*inputs)
        floats = [a.dtype for a in args if isinstance(a, torch.Tensor) and a.dtype.is_floating_point]
        buffers = {name: (b.to(floats[0]) if floats and b.dtype.is_floating_point else b)
                   for name, b in self.model.named_buffers()}
        return torch.func.functional_call(self.model, {**params, **buffers}, inputs)

    def __kernelbench_reference__(self, method: str, args: Sequence[Any]) -> dict[str, Any] | None:
        """How a worker process or a Ray actor rebuilds ``self.<method>`` to compute references where
        they are used (``kernelbench.tune.worker.recipe.reference_recipe``): the file, its seed and
        sizes. Only :meth:`ref` is described."""
        if method != "ref":
            return None
        return {"module": __name__, "qualname": "reference_of", "make": True, "args": [],
                "kwargs": {"path": str(self.path.resolve()), "seed": self.seed, "sizes": dict(self.overrides),
                           "n_inputs": self.n_inputs, "source_sha256": self.source_sha256}}

    def forward(self, *args: Any) -> Any:
        """The eager Model itself on the inputs of ``args`` (its own parameters): what KernelBench times."""
        return self.model(*self._split(args)[0])

    def resized(self, **sizes: int | float) -> Problem:
        """The same problem loaded again with these size constants (on top of this one's overrides)."""
        return problem(self.path, seed=self.seed, device=self.device, **{**self.overrides, **sizes})

    def describe(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.sizes.items())
        params = f"; parameters {', '.join(self.params)}" if self.params else ""
        return f"{self.name} ({shown}){params}"

    def __repr__(self) -> str:
        shapes = ", ".join(f"{tuple(a.shape)} {str(a.dtype).removeprefix('torch.')}" if isinstance(a, torch.Tensor)
                           else repr(a) for a in self.args)
        return f"<kernelbench.Problem {self.describe()} on {self.device}: args {shapes}>"


def problem(path: str | Path, *, seed: int = 0, device: str | None = None, **sizes: int | float) -> Problem:
    """Load a KernelBench-format problem file (see the module docstring). **This runs the file's code.**

    ``sizes`` replace module-level numeric constants (``N=4096``) before the file runs; ``seed`` seeds
    the Model's initialisation and ``get_inputs()``; ``device`` defaults to ``kernelbench.DEVICE``.
    """
    return _load(Path(path), seed, device or DEVICE, sizes, n_inputs=None)


def _load(path: Path, seed: int, device: str, sizes: Mapping[str, int | float], n_inputs: int | None) -> Problem:
    """:func:`problem`; given ``n_inputs``, ``get_inputs()`` is not called (the problem's ``args`` are
    empty): a reference rebuilt elsewhere needs the Model only, and a big input is not drawn twice."""
    source = _read(path, "problem")
    tree = _parse(source, path)
    constants = size_constants(path) if sizes else {}
    for name, value in sizes.items():
        if name not in constants:
            listed = ", ".join(f"{k}={v}" for k, v in constants.items()) or "none"
            raise ProblemError(f"{path.name} has no size constant {name!r}; its module-level constants are: {listed}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ProblemError(f"size {name}={value!r} is not a number")
    module = load_module(path, what="problem", replace=sizes, tree=tree)
    missing = [n for n in ("Model", "get_inputs") if not hasattr(module, n)]
    if missing or not (isinstance(module.Model, type) and issubclass(module.Model, torch.nn.Module)):
        raise ProblemError(f"{path} is not a KernelBench problem: it must define class Model(nn.Module), "
                           "get_inputs() and get_init_inputs()" + (f" (missing {', '.join(missing)})" if missing else ""))
    init = getattr(module, "get_init_inputs", list)
    with _seeded(seed, device):
        try:
            model = module.Model(*[_on(v, device) for v in init()])
        except Exception as error:
            raise ProblemError(f"{path}: Model(*get_init_inputs()) raised {type(error).__name__}: "
                               f"{_first_line(error)}") from None
    model = model.to(device).eval()
    params = {name: p.detach() for name, p in model.named_parameters()}
    inputs = _draw_inputs(module, seed, device, path) if n_inputs is None else []
    values = {n: getattr(module, n) for n in _constant_assignments(tree)}
    numeric = {n: v for n, v in values.items() if type(v) in (int, float)}
    return Problem(path=path, name=path.stem, seed=seed, device=device, sizes=numeric, overrides=dict(sizes),
                   model=model, params=params, module=module,
                   n_inputs=len(inputs) if n_inputs is None else n_inputs,
                   args=(*inputs, *params.values()) if n_inputs is None else (),
                   source_sha256=hashlib.sha256(source.encode()).hexdigest())


def reference_of(path: str, seed: int, sizes: dict[str, int | float], n_inputs: int,
                 source_sha256: str) -> Callable[..., Any]:
    """The :attr:`Problem.ref` of the problem ``path`` loaded with ``seed`` and ``sizes``, rebuilt on
    this process's device (a worker process or a Ray actor computes its check references with it
    instead of receiving them: :meth:`Problem.__kernelbench_reference__`). The Model is built under
    ``seed`` as :func:`problem` builds it; no inputs are drawn. A file whose text is not the one the
    notebook loaded (``source_sha256``) is an error: its Model may be another."""
    loaded = _load(Path(path), seed, DEVICE, sizes, n_inputs=n_inputs)
    if loaded.source_sha256 != source_sha256:
        raise ProblemError(f"{path} is not the file the notebook loaded (it was edited since, or this machine "
                           "has another)")
    return loaded.ref


def _shape_key(args: Sequence[Any]) -> tuple[Any, ...]:
    """Shapes only: the reference is also called on the same arguments upcast to float64."""
    return tuple(tuple(a.shape) if isinstance(a, torch.Tensor) else type(a) for a in args)


class ProblemSizes:
    """One problem at several values of one size constant, for a bench: ``make_args(value)``, and a
    reference, an eager Model and a ``torch.compile``'d Model that each pick the problem their
    arguments belong to (by the arguments' shapes; the reference runs them in float64 too)."""

    def __init__(self, base: Problem, over: Mapping[str, Sequence[int | float]] | None = None) -> None:
        if over is None:
            if not base.sizes:
                raise ProblemError(f"{base.name} has no size constants to bench over; bench it as loaded with "
                                   "bench(problem) only after giving it one")
            self.name = next(iter(base.sizes))
            self.values: list[int | float] = [base.sizes[self.name]]
        else:
            if len(over) != 1:
                raise ProblemError(f"over= takes one size constant and its values, e.g. over={{'N': [1024, 2048]}}; "
                                   f"got {len(over)}")
            (self.name, values), = over.items()
            if self.name not in base.sizes:
                listed = ", ".join(base.sizes) or "none"
                raise ProblemError(f"{base.name} has no size constant {self.name!r}; its constants are: {listed}")
            self.values = list(values)
        self.base = base
        self._problems: dict[int | float, Problem] = {}
        self._by_shape: dict[tuple[Any, ...], Problem] = {}
        self._compiled: dict[int, Callable[..., Any]] = {}

    def problem_at(self, value: int | float) -> Problem:
        if value not in self._problems:
            p = self.base if self.base.sizes.get(self.name) == value else self.base.resized(**{self.name: value})
            self._problems[value] = p
            self._by_shape[_shape_key(p.args)] = p
        return self._problems[value]

    def make_args(self, value: int | float) -> tuple[Any, ...]:
        return self.problem_at(value).args

    def _owner(self, args: Sequence[Any]) -> Problem:
        found = self._by_shape.get(_shape_key(args))
        if found is None:
            raise ProblemError(f"no size of {self.base.name} has arguments shaped {list(_shape_key(args))}")
        return found

    def ref(self, *args: Any) -> Any:
        return self._owner(args).ref(*args)

    def __kernelbench_reference__(self, method: str, args: Sequence[Any]) -> dict[str, Any] | None:
        """:meth:`ref` on ``args`` is the reference of the problem at their size (described by it)."""
        found = self._by_shape.get(_shape_key(args))
        return found.__kernelbench_reference__(method, args) if found is not None and method == "ref" else None

    def eager(self, *args: Any) -> Any:
        return self._owner(args).forward(*args)

    def compiled(self, *args: Any) -> Any:
        p = self._owner(args)
        if id(p) not in self._compiled:
            self._compiled[id(p)] = torch.compile(p.model)
        return self._compiled[id(p)](*p._split(args)[0])


# --------------------------------------------------------------------------------------------------
# Scoring kernels on a set of problems (KernelBench's fast_p)

#: The speedup thresholds KernelBench reports fast_p at (fast_0 is the fraction correct).
FAST_P = (0.0, 1.0, 1.5, 2.0)


@dataclasses.dataclass
class ScoreRow:
    """One problem of a score: was its kernel correct, and how fast against eager and torch.compile."""

    problem: str
    kernel: str | None
    status: str  # "ok", "wrong", "error", "no kernel"
    correct: bool = False
    kernel_ms: float | None = None
    eager_ms: float | None = None
    compile_ms: float | None = None
    tuned: int = 0  # candidates the sweep measured (0: not tuned)
    tune_s: float = 0.0
    config: dict[str, Any] | None = None
    reference: str = ""  # the precision the reference ran in
    error: str = ""

    @property
    def speedup(self) -> float | None:
        """Eager Model time over kernel time (KernelBench's speedup)."""
        return self.eager_ms / self.kernel_ms if self.correct and self.eager_ms and self.kernel_ms else None

    @property
    def speedup_compile(self) -> float | None:
        return self.compile_ms / self.kernel_ms if self.correct and self.compile_ms and self.kernel_ms else None

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "speedup": self.speedup, "speedup_compile": self.speedup_compile}


def _fmt(value: float | None, spec: str = ".4g", suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


@dataclasses.dataclass
class ScoreReport:
    """:func:`score`'s result: a row per problem and KernelBench's ``fast_p`` over all of them."""

    rows: list[ScoreRow]
    device: str
    timer: str
    time_limit: float | None

    def fast_p(self, p: float, baseline: str = "eager") -> float:
        """Fraction of all problems whose kernel is correct and more than ``p`` times faster than the
        ``baseline`` (``"eager"`` or ``"compile"``); ``p = 0``: the fraction correct."""
        if not self.rows:
            return 0.0
        hits = 0
        for r in self.rows:
            s = r.speedup if baseline == "eager" else r.speedup_compile
            hits += r.correct and (p == 0 or (s is not None and s > p))
        return hits / len(self.rows)

    @property
    def passed(self) -> bool:
        """Every problem that has a kernel has a correct one."""
        return all(r.correct for r in self.rows if r.status != "no kernel")

    _COLUMNS = ("problem", "kernel", "status", "kernel_ms", "eager_ms", "compile_ms", "speedup", "speedup_compile",
                "tuned", "reference", "error")

    def _cells(self, r: ScoreRow) -> list[str]:
        return [r.problem, r.kernel or "-", r.status, _fmt(r.kernel_ms), _fmt(r.eager_ms), _fmt(r.compile_ms),
                _fmt(r.speedup, ".3g", "x"), _fmt(r.speedup_compile, ".3g", "x"), str(r.tuned), r.reference,
                r.error.replace("|", "/").splitlines()[0][:120] if r.error else ""]

    def to_markdown(self) -> str:
        lines = [f"Score on {self.device}: {len(self.rows)} problems; times are {self.timer}"
                 + (f"; tuned {self.time_limit:g} s each" if self.time_limit else "; not tuned"), "",
                 "| " + " | ".join(self._COLUMNS) + " |", "|" + "---|" * len(self._COLUMNS)]
        lines += ["| " + " | ".join(self._cells(r)) + " |" for r in self.rows]
        lines += ["", "| fast_p | " + " | ".join(f"p={p:g}" for p in FAST_P) + " |", "|---|" + "---|" * len(FAST_P)]
        for baseline, label in (("eager", "vs eager"), ("compile", "vs torch.compile")):
            lines.append(f"| {label} | " + " | ".join(f"{self.fast_p(p, baseline):.2f}" for p in FAST_P) + " |")
        return "\n".join(lines)

    def to_csv(self) -> str:
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(self._COLUMNS)
        for r in self.rows:  # numbers as numbers, none as an empty cell
            data = r.to_json()
            writer.writerow(["" if data[c] is None else data[c] for c in self._COLUMNS])
        return buffer.getvalue()

    def to_json(self) -> dict[str, Any]:
        import datetime
        import importlib.metadata

        versions = {}
        for name in ("torch", "triton", "helion"):
            try:
                versions[name] = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:  # a source tree on sys.path: no metadata
                versions[name] = "unknown"
        return {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "versions": versions,
            "device": self.device, "timer": self.timer, "time_limit": self.time_limit,
            "rows": [r.to_json() for r in self.rows],
            "fast_p": {baseline: {f"{p:g}": self.fast_p(p, baseline) for p in FAST_P} for baseline in ("eager", "compile")},
        }

    def __repr__(self) -> str:
        return self.to_markdown()


def _failure_text(report: Any) -> str:
    """The first failing trial of a check report, in one line."""
    for t in report.trials:
        for o in t.outputs:
            if not o.passed:
                return (f"trial {t.trial} [{t.inputs}] output {o.index}: {o.mismatch_fraction:.1%} mismatched, max abs "
                        f"{o.max_abs_err:.3g}" + (f", {o.unwritten} unwritten" if o.unwritten else ""))
        if t.bad_writes:
            return f"trial {t.trial}: {t.write_note()}"
    return "no trial ran"


def _time_eager(p: Problem) -> float:
    from kernelbench.core.timing import time_ms

    def run(*args: Any) -> Any:
        with torch.no_grad():
            return p.forward(*args)

    return time_ms(run, p.args)


def _time_compiled(p: Problem) -> float:
    from kernelbench.core.timing import time_ms

    compiled = torch.compile(p.model)

    def run(*args: Any) -> Any:
        with torch.no_grad():
            return compiled(*args[: p.n_inputs])

    run(*p.args)  # compile outside the timer
    return time_ms(run, p.args)


def score(
    kernels: str | Path,
    problems: str | Path,
    load_kernel: Callable[[Path, str], Any],
    *,
    time_limit: float | None = None,
    compile: bool = True,
    sizes: Mapping[str, int | float] | None = None,
    only: Sequence[str] | None = None,
    on_progress: Callable[[int, int, str, str], None] | None = None,
) -> ScoreReport:
    """For every problem file in ``problems`` with a kernel file of the same stem in ``kernels``:
    check the kernel against it, tune it for ``time_limit`` seconds if given (then check again), and
    time it, the eager Model and (``compile``) ``torch.compile`` of the Model. A problem without a
    kernel counts as not correct in ``fast_p``. **Runs every problem and kernel file's code.**

    ``load_kernel(path, stem)`` returns the kernel of a file (the facade's ``Kernel``); ``sizes``
    override the size constants each problem has; ``only``: these problem stems alone;
    ``on_progress(done, total, problem, phase)``.
    """
    from kernelbench.core.device import device_name
    from kernelbench.core.evaluate import short_error
    from kernelbench.core.timing import time_ms, timer_label

    kernels, problems = Path(kernels), Path(problems)
    for folder, what in ((kernels, "kernels"), (problems, "problems")):
        if not folder.is_dir():
            raise ProblemError(f"{what} folder {folder} does not exist; give a folder of .py files")
    files = sorted(f for f in problems.glob("*.py") if not f.name.startswith("_"))
    if only is not None:
        unknown = sorted(set(only) - {f.stem for f in files})
        if unknown:
            raise ProblemError(f"{problems} has no problem {', '.join(unknown)}; its problems are: "
                               f"{', '.join(f.stem for f in files)}")
        files = [f for f in files if f.stem in only]
    if not files:
        raise ProblemError(f"{problems} holds no problem files (*.py)")
    rows: list[ScoreRow] = []
    for i, path in enumerate(files):
        def progress(phase: str, i: int = i, path: Path = path) -> None:
            if on_progress is not None:
                on_progress(i, len(files), path.stem, phase)

        kernel_path = kernels / path.name
        if not kernel_path.is_file():
            rows.append(ScoreRow(path.stem, None, "no kernel", error=f"no {kernel_path}"))
            continue
        row = ScoreRow(path.stem, None, "error")
        rows.append(row)
        try:
            progress("loading")
            own = size_constants(path)
            p = problem(path, **{k: v for k, v in (sizes or {}).items() if k in own})
            k = load_kernel(kernel_path, path.stem)
            row.kernel = k.name
            progress("checking")
            report = k.check(p)
            row.reference = report.reference_precision
            if report and time_limit:
                progress("tuning")
                start = time.perf_counter()
                result = k.tune(p, time_limit=time_limit, live=False)
                row.tune_s = time.perf_counter() - start
                row.tuned = len(result.candidates)
                progress("checking the tuned config")
                report = k.check(p)
            row.correct = bool(report)
            row.status = "ok" if row.correct else "wrong"
            row.config = dict(k.active_config(*p.args)[0].config)
            if not row.correct:
                row.error = _failure_text(report)
                continue
            progress("timing")
            fn = k.compiled(*p.args)
            with torch.no_grad():
                row.kernel_ms = time_ms(fn, p.args)
            row.eager_ms = _time_eager(p)
            if compile:
                progress("timing torch.compile")
                try:
                    row.compile_ms = _time_compiled(p)
                except Exception as error:  # noqa: BLE001 - a Model torch.compile cannot compile is a row note
                    row.error = f"torch.compile: {short_error(error)}"
        except KernelbenchError as error:
            row.error = str(error).splitlines()[0]
        except Exception as error:  # noqa: BLE001 - one problem's failure is its row, not the end of the score
            row.error = short_error(error)
        finally:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    if on_progress is not None:
        on_progress(len(files), len(files), "", "done")
    return ScoreReport(rows, device_name(), timer_label(), time_limit)
