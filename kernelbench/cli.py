"""``kernelbench``, the console command: a thin adapter from a shell (or CI) to the Python API.

    kernelbench check FILE.py::KERNEL --problem P.py [--sizes N=4096,M=1024]
    kernelbench tune FILE.py::KERNEL --problem P.py --time-limit 60 [--strategy S] [--out report.html]
    kernelbench bench FILE.py::KERNEL --problem P.py [--over N=1024,2048] [--csv PATH]
    kernelbench history [KERNEL | RUN_ID]
    kernelbench export FILE.py::KERNEL --problem P.py --out KERNEL_tuned.py
    kernelbench score KERNELS_DIR --problems PROBLEMS_DIR [--time-limit S] [--json PATH]

``FILE.py::KERNEL`` names a kernel in a ``.py`` file (``@kernelbench.kernel``, ``@helion.kernel`` or a
plain function of Helion's language); ``FILE.py`` alone takes the file's only kernel. Loading a kernel
or problem file runs its code. Results go to stdout, progress to stderr.

Exit codes: 0 success; 1 the kernel is wrong (a check that fails, a sweep or bench with no correct
result, a score with a wrong kernel); 2 the command cannot run (bad arguments, a missing file, a file
that is not a kernel or problem): one line on stderr, ``kernelbench: error: ...``; 130 interrupted.

Layer rule: the top of the stack beside ``_magic``; it imports the facade and the layers below, and
nothing in the package imports it (``__main__`` runs it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import helion

from kernelbench._errors import KernelbenchError
from kernelbench._kernel import Kernel
from kernelbench.core.configs import parse_config
from kernelbench.core.device import is_interpreter
from kernelbench.io.problem import Problem, ProblemError, load_module, parse_sizes, problem, score
from kernelbench.tune.worker.pool import release_workers, start_workers

__all__ = ["main"]

EXIT_OK, EXIT_WRONG, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


class CliError(KernelbenchError):
    """The command cannot run as given; the message says what to change."""


# --------------------------------------------------------------------------------------------------
# Loading what the command names


def _candidates(module: Any) -> dict[str, Any]:
    """The module's own kernels: ``Kernel`` and ``helion.Kernel`` objects defined at its top level."""
    return {n: v for n, v in vars(module).items() if isinstance(v, (Kernel, helion.Kernel)) and not n.startswith("_")}


def _as_kernel(value: Any, name: str) -> Kernel:
    if isinstance(value, Kernel):
        return value
    if isinstance(value, helion.Kernel):
        return Kernel(value, name=name)
    if callable(value):
        return Kernel(helion.kernel(value), name=name)
    raise CliError(f"{name} is a {type(value).__name__}, not a kernel; name a @kernelbench.kernel or @helion.kernel function")


def load_kernel(path: Path, name: str | None = None, *, prefer: str | None = None) -> Kernel:
    """The kernel ``name`` of the file at ``path`` (with no name: its only kernel, else the one called
    ``prefer``). Runs the file's code."""
    if path.suffix != ".py":
        raise CliError(f"{path} is not a .py file; name a kernel as FILE.py::KERNEL")
    module = load_module(path, what="kernel file")
    if name is not None:
        if not hasattr(module, name):
            found = ", ".join(_candidates(module)) or "none"
            raise CliError(f"{path} has no {name!r}; its kernels are: {found}")
        return _as_kernel(getattr(module, name), name)
    found = _candidates(module)
    if prefer is not None and prefer in found:
        return _as_kernel(found[prefer], prefer)
    if len(found) != 1:
        listed = ", ".join(found) or "none"
        raise CliError(f"{path} defines {len(found)} kernels ({listed}); name one as {path}::KERNEL")
    (only, value), = found.items()
    return _as_kernel(value, only)


def _kernel_spec(spec: str) -> Kernel:
    file, sep, name = spec.partition("::")
    return load_kernel(Path(file), name if sep else None)


def _problem(args: argparse.Namespace) -> Problem | None:
    if args.problem is None:
        if getattr(args, "sizes", None):
            raise CliError("--sizes needs --problem P.py")
        return None
    return problem(args.problem, seed=args.seed, **(parse_sizes(args.sizes) if args.sizes else {}))


def _need_problem(args: argparse.Namespace) -> Problem:
    p = _problem(args)
    if p is None:
        raise CliError(f"{args.command} needs --problem P.py (a KernelBench problem file)")
    return p


def _config(text: str | None) -> Any:
    return None if text is None else parse_config(text)


# --------------------------------------------------------------------------------------------------
# Commands


def _check(args: argparse.Namespace, out: TextIO) -> int:
    kernel, p = _kernel_spec(args.kernel), _need_problem(args)
    report = kernel.check(p, trials=args.trials, config=_config(args.config))
    print(repr(report), file=out)
    return EXIT_OK if report else EXIT_WRONG


def _tune(args: argparse.Namespace, out: TextIO) -> int:
    kernel, p = _kernel_spec(args.kernel), _need_problem(args)
    with contextlib.redirect_stdout(sys.stderr):  # the sweep's progress lines are progress: stderr
        result = kernel.tune(p, budget=args.budget, time_limit=args.time_limit, strategy=args.strategy,
                             seed=args.seed, live=False)
    print(result.summary(), file=out)
    if args.out:
        print(f"report: {result.to_html(args.out)}", file=out)
    if result.best is None:
        return EXIT_WRONG
    print(json.dumps(dict(result.best_config.config)), file=out)
    print(result.decorator(), file=out)
    return EXIT_OK


def _over(text: str | None) -> dict[str, list[int | float]] | None:
    if text is None:
        return None
    name, eq, values = text.partition("=")
    name = name.strip()
    if not eq or not name.isidentifier():
        raise CliError(f"--over {text!r} is not NAME=V1,V2,...; write e.g. --over N=1024,2048,4096")
    parsed = [parse_sizes(f"{name}={v}")[name] for v in values.split(",") if v.strip()]
    if not parsed:
        raise CliError(f"--over {text!r} gives no values")
    return {name: parsed}


def _bench(args: argparse.Namespace, out: TextIO) -> int:
    kernel, p = _kernel_spec(args.kernel), _need_problem(args)
    with contextlib.redirect_stdout(sys.stderr):
        report = kernel.bench(p, over=_over(args.over), tune="per-size" if args.tune else False,
                              budget=args.budget, live=False, baselines={} if args.no_compile else None)
    df = report.df
    print(df.to_string(), file=out)
    if args.csv:
        df.to_csv(args.csv)
        print(f"csv: {args.csv}", file=out)
    rows = df[df["impl"] == kernel.name] if "impl" in df.columns else df
    return EXIT_OK if len(rows) and bool(rows["correct"].all()) else EXIT_WRONG


def _history(args: argparse.Namespace, out: TextIO) -> int:
    from kernelbench.store.history import history

    what: str | int | None = args.kernel
    if isinstance(what, str) and what.isdigit():
        what = int(what)
    df = history(what)
    print(df.to_string() if len(df) else "no runs recorded" + (f" for {args.kernel}" if args.kernel else ""), file=out)
    return EXIT_OK


def _export(args: argparse.Namespace, out: TextIO) -> int:
    kernel, p = _kernel_spec(args.kernel), _problem(args)
    path = kernel.export(args.out, *(p.args if p is not None else ()), config=_config(args.config))
    print(path, file=out)
    return EXIT_OK


class _Bar:
    """The score's progress bar on stderr: redrawn in place on a terminal, a line per step elsewhere."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()

    def __call__(self, done: int, total: int, name: str, phase: str) -> None:
        width = 24
        filled = width * done // max(1, total)
        text = f"[{'#' * filled}{'-' * (width - filled)}] {done}/{total} {name} {phase}".rstrip()
        if self.tty:
            print(f"\r\x1b[2K{text}", end="\n" if phase == "done" else "", file=self.stream, flush=True)
        else:
            print(text, file=self.stream, flush=True)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _score(args: argparse.Namespace, out: TextIO) -> int:
    def load(path: Path, stem: str) -> Kernel:
        return load_kernel(path, prefer=stem)

    bar = _Bar(sys.stderr)
    only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    workers = bool(args.time_limit) and not is_interpreter()
    if workers:
        start_workers()  # the sweeps' GPU workers start while the first problem loads and is checked
    try:
        with contextlib.redirect_stdout(sys.stderr):
            report = score(args.kernels, args.problems, load, time_limit=args.time_limit,
                           compile=not args.no_compile, sizes=parse_sizes(args.sizes) if args.sizes else None,
                           only=only, on_progress=bar)
    finally:
        if workers:
            release_workers()
    print(report.to_csv() if args.csv else report.to_markdown(), file=out)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(_json_safe(report.to_json()), indent=1))
        print(f"json: {args.json}", file=sys.stderr)
    return EXIT_OK if report.passed else EXIT_WRONG


# --------------------------------------------------------------------------------------------------
# The parser


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kernelbench",
        description="Check, tune, bench and score Helion kernels against KernelBench problems. Loading a kernel or "
                    "problem file runs its code.",
        epilog="exit codes: 0 ok, 1 a kernel is wrong, 2 the command cannot run, 130 interrupted",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def with_kernel(name: str, help: str, problem_required: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.add_argument("kernel", metavar="FILE.py[::KERNEL]", help="the kernel: a function in a .py file")
        sub.add_argument("--problem", "-p", required=problem_required, metavar="P.py",
                         help="a KernelBench problem file (Model, get_inputs, get_init_inputs)")
        sub.add_argument("--sizes", metavar="N=4096,M=...", help="override the problem's size constants")
        sub.add_argument("--seed", type=int, default=0, help="seed of the Model's init and get_inputs() (default 0)")
        return sub

    sub = with_kernel("check", "check a kernel against a problem's Model; exit 1 on FAIL")
    sub.add_argument("--trials", type=int, default=None, help="trials (default: settings.check_trials)")
    sub.add_argument("--config", metavar="JSON", help="check this config instead of the active one")
    sub.set_defaults(run=_check)

    sub = with_kernel("tune", "tune a kernel on a problem; print the best config")
    sub.add_argument("--time-limit", type=float, default=None, metavar="S", help="stop after S seconds")
    sub.add_argument("--budget", type=int, default=None, metavar="N", help="stop after N candidates")
    sub.add_argument("--strategy", default="auto", help="random, pattern, grid, helion or auto (default)")
    sub.add_argument("--out", metavar="report.html", help="write the sweep's standalone HTML report")
    sub.set_defaults(run=_tune)

    sub = with_kernel("bench", "time a kernel against the eager Model and torch.compile, size by size")
    sub.add_argument("--over", metavar="N=V1,V2,...", help="load the problem at each value of one size constant")
    sub.add_argument("--tune", action="store_true", help="tune at each size first")
    sub.add_argument("--budget", type=int, default=None, metavar="N", help="candidates per tuning sweep")
    sub.add_argument("--no-compile", action="store_true", help="skip the torch.compile baseline")
    sub.add_argument("--csv", metavar="PATH", help="write the table as CSV")
    sub.set_defaults(run=_bench)

    sub = commands.add_parser("history", help="the run store's tuning runs", description="the run store's tuning runs "
                              "($KERNELBENCH_HOME/runs.sqlite): all, one kernel's, or one run's candidates")
    sub.add_argument("kernel", nargs="?", metavar="KERNEL|RUN_ID", help="a kernel name, or a run id for its candidates")
    sub.set_defaults(run=_history)

    sub = with_kernel("export", "write a standalone .py module of the kernel under its config", problem_required=False)
    sub.add_argument("--out", required=True, metavar="PATH.py", help="where to write the module")
    sub.add_argument("--config", metavar="JSON", help="the config to write (default: the active one for the problem)")
    sub.set_defaults(run=_export)

    sub = commands.add_parser(
        "score", help="score a folder of kernels on a folder of problems (KernelBench's fast_p)",
        description="For every problem P.py with a kernel file of the same name: check, tune (with --time-limit), "
                    "check again, and time against the eager Model and torch.compile. Prints a markdown table "
                    "(or CSV) and fast_p for p = 0, 1, 1.5, 2; exit 1 if any kernel is wrong.")
    sub.add_argument("kernels", metavar="KERNELS_DIR", help="folder of kernel files, one per problem (same stem)")
    sub.add_argument("--problems", required=True, metavar="PROBLEMS_DIR", help="folder of KernelBench problem files")
    sub.add_argument("--time-limit", type=float, default=None, metavar="S", help="tune each kernel for S seconds")
    sub.add_argument("--sizes", metavar="N=4096,...", help="override these size constants in every problem that has them")
    sub.add_argument("--only", metavar="STEM,...", help="score only these problems (file stems)")
    sub.add_argument("--no-compile", action="store_true", help="skip the torch.compile baseline")
    sub.add_argument("--csv", action="store_true", help="print CSV instead of markdown")
    sub.add_argument("--json", metavar="PATH", help="also write the rows and fast_p as JSON")
    sub.set_defaults(run=_score)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (see the module docstring)."""
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args, sys.stdout))
    except KeyboardInterrupt:
        print("kernelbench: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (KernelbenchError, OSError) as error:
        text = str(error).strip().splitlines()
        print(f"kernelbench: error: {text[0] if text else type(error).__name__}", file=sys.stderr)
        return EXIT_ERROR


_ = ProblemError  # a ProblemError is a KernelbenchError: one line on stderr, exit 2
