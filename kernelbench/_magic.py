"""The ``%%kernel`` cell magic: a thin adapter from a notebook cell to :class:`kernelbench.Kernel`.

Layer rule: the top of the stack; it imports the facade and the layers below, and nothing imports it
but ``kernelbench.load_ipython_extension``.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import HTML, display

from kernelbench._errors import ConfigError, KernelbenchError
from kernelbench._kernel import Kernel
from kernelbench.core.check import CheckReport
from kernelbench.core.configs import parse_config
from kernelbench.core.source import define
from kernelbench.io.problem import Problem, ProblemError, parse_sizes
from kernelbench.io.problem import problem as problem_from
from kernelbench.tune.result import SweepResult

__all__ = ["KernelMagics", "load_ipython_extension"]


@magics_class
class KernelMagics(Magics):
    @magic_arguments()
    @argument("--args", "-a", default=None, metavar="NAME[,NAME]",
              help="notebook variables to specialise the kernel on (needed by --show and --tune)")
    @argument("--show", nargs="?", const=True, default=None, metavar="STAGE",
              help="display the generated Triton for --args; or a stage beside the cell: triton, ttir, ttgir, "
                   "llir, ptx, sass (with --target on CPU)")
    @argument("--target", default=None, metavar="GPU",
              help="GPU target for --show STAGE and --tune's resources: h100, h200, b200, sm_90, ...")
    @argument("--config", "-c", default=None, metavar="JSON", help="pin a config, as Helion's JSON")
    @argument("--tune", action="store_true", help="run a live tuning sweep on --args")
    @argument("--ref", default=None, metavar="NAME", help="reference function to check candidates against")
    @argument("--budget", type=int, default=None, metavar="N", help="number of candidates to try")
    @argument("--time-limit", type=float, default=None, metavar="S", help="stop the sweep after S seconds")
    @argument("--strategy", default="auto", help="search strategy (random, pattern, grid, helion, auto)")
    @argument("--problem", "-p", default=None, metavar="PATH",
              help="a KernelBench problem file: check the kernel against its Model (runs the file's code)")
    @argument("--sizes", default=None, metavar="N=4096,M=...", help="override the problem's size constants")
    @argument("-q", "--quiet", action="store_true", help="show nothing on success")
    @cell_magic
    def kernel(self, line: str, cell: str) -> SweepResult | CheckReport | None:
        """Define a Helion kernel from this cell; the notebook gets a ``kernelbench.Kernel``.

        Usage::

            %%kernel [--args x,y] [--show] [--config JSON] [-q]
            %%kernel --tune --args x --ref ref_fn [--budget N] [--time-limit S] [--strategy S]
            %%kernel --problem PATH [--sizes N=4096,M=1024] [--tune ...]

        The cell is plain Python using Helion's language. ``torch``, ``helion`` and ``hl``
        (``helion.language``) are there without imports, and so are the notebook's globals. The
        magic adds ``@helion.kernel()`` for you; a function already decorated with
        ``@helion.kernel(...)`` keeps its settings.

        One kernel per cell: the cell's single function, or, if it defines several, the one
        decorated with ``@helion.kernel`` (the others are helpers).

        Options:
          --args NAMES    notebook variables to specialise on (knobs, --show, --tune)
          --show          display the Triton Helion generates, each line marked with its cell line
          --show STAGE    the cell beside a stage of its GPU code (triton, ttir, ttgir, llir, ptx,
                          sass); hover or click a cell line to highlight what it became
          --target GPU    the GPU to lower for (h100, h200, b200, sm_90...): needed on CPU; with
                          --tune, each candidate's registers, spills and occupancy there
          --config JSON   pin a config, e.g. '{"block_sizes": [64], "num_warps": 4}'
          --tune          tune on --args, checking against --ref (default: Helion's default config);
                          the cell's value is the SweepResult (``result = _`` in the next cell)
          --budget N / --time-limit S / --strategy S   as in ``Kernel.tune``
          --problem PATH  a KernelBench problem file (``Model``, ``get_inputs``, ``get_init_inputs``):
                          the cell's value is the kernel's CheckReport against it (with --tune, the
                          SweepResult of tuning on it). Loading the problem runs its code.
          --sizes N=V,... replace the problem's module-level size constants
          -q              quiet: no card

        Examples::

            %%kernel --args x --show
            def softmax(x: torch.Tensor) -> torch.Tensor:
                out = torch.empty_like(x)
                for tile_n in hl.tile(x.size(0)):
                    row = x[tile_n, :]
                    e = torch.exp(row - torch.amax(row, dim=1, keepdim=True))
                    out[tile_n, :] = e / torch.sum(e, dim=1, keepdim=True)
                return out
        """
        opts = parse_argstring(self.kernel, line)
        shell = self.shell
        assert shell is not None
        config = None
        if opts.config is not None:
            try:
                config = parse_config(opts.config.strip("'\""))
            except ConfigError as error:
                raise UsageError(f"--config: {error}") from None
        args = self._resolve_args(opts.args)
        problem = self._load_problem(opts.problem, opts.sizes, args is not None or opts.ref is not None)
        if problem is not None:
            args = problem.args
        if (opts.show or opts.tune) and args is None:
            raise UsageError(f"--{'show' if opts.show else 'tune'} needs --args NAME[,NAME] naming notebook variables")
        ref = None
        if opts.ref is not None:
            ref = shell.user_ns.get(opts.ref)
            if not callable(ref):
                raise UsageError(f"--ref {opts.ref}: no callable of that name in the notebook")
        if opts.budget is not None and opts.budget < 1:
            raise UsageError(f"--budget must be at least 1, got {opts.budget}")

        filename = shell.compile.cache("\n" + cell)  # line 1 is the %%kernel line
        helion_kernel, name = define(cell, shell.user_ns, filename=filename, first_line=2, cache=_noop_cache)
        kernel = Kernel(helion_kernel, name=name)
        if config is not None:
            if args is not None:
                kernel.bind(*args)  # pin() checks --config against these arguments' knobs
            try:
                kernel.pin(config)
            except ConfigError as error:
                raise UsageError(f"--config: {error}") from None
        shell.user_ns[name] = kernel
        if args is not None:
            kernel.bind(*args)
        if not opts.quiet:
            display(HTML(kernel._repr_html_()))
        if opts.show is not None and (opts.show is not True or opts.target is not None):  # a stage, or a target
            self._show_stage(kernel, args, "triton" if opts.show is True else opts.show, opts.target, cell)
        elif opts.show:
            from kernelbench.ui.display import code_view_html

            cfg, why = kernel.active_config(*args)
            display(HTML(code_view_html(kernel.code(*args), title=f"Triton for {name} ({why} config)")))
        if opts.tune:
            # A cell magic's return value is the cell's value: IPython displays it and keeps it in `_`.
            if problem is not None:
                return kernel.tune(problem, budget=opts.budget, time_limit=opts.time_limit, strategy=opts.strategy,
                                   target=opts.target)
            return kernel.tune(*args, ref=ref, budget=opts.budget, time_limit=opts.time_limit, strategy=opts.strategy,
                               target=opts.target)
        if problem is not None:
            return kernel.check(problem)
        return None

    @staticmethod
    def _show_stage(kernel: Kernel, args: tuple[Any, ...], stage: str, target: str | None, cell: str) -> None:
        """The cell beside ``stage`` of its code for ``target``, lines linked (``kernelbench.ui.code_view``)."""
        from kernelbench.core.lowering import STAGES
        from kernelbench.ui.code_view import side_by_side_html

        if stage not in STAGES:
            raise UsageError(f"--show {stage}: unknown stage; use one of {', '.join(STAGES)}")
        code = kernel.code(*args, stage=stage, target=target)
        _cfg, why = kernel.active_config(*args)
        where = f" for {code.target}" if getattr(code, "target", None) else ""  # type: ignore[attr-defined]
        cell_lines = [(i + 2, text) for i, text in enumerate(cell.splitlines())]  # line 1 is the %%kernel line
        display(HTML(side_by_side_html(cell_lines, code, code.cell_lines,  # type: ignore[attr-defined]
                                       title=f"{stage.upper()} of {kernel.name}{where} ({why} config)", stage=stage)))

    def _load_problem(self, path: str | None, sizes: str | None, has_args: bool) -> Problem | None:
        if path is None:
            if sizes is not None:
                raise UsageError("--sizes needs --problem PATH")
            return None
        if has_args:
            raise UsageError("--problem gives the arguments and the reference; drop --args and --ref")
        try:
            return problem_from(path.strip("'\""), **(parse_sizes(sizes.strip("'\"")) if sizes else {}))
        except ProblemError as error:
            raise UsageError(f"--problem: {error}") from None

    def _resolve_args(self, names: str | None) -> tuple[Any, ...] | None:
        if names is None:
            return None
        assert self.shell is not None
        values = []
        for name in (n.strip() for n in names.split(",")):
            if name not in self.shell.user_ns:
                raise UsageError(f"--args: no variable {name!r} in the notebook; define it in an earlier cell")
            values.append(self.shell.user_ns[name])
        return tuple(values)


def _noop_cache(source: str, filename: str) -> None:
    """IPython's ``compile.cache`` already put the cell into ``linecache``."""


def load_ipython_extension(ipython: Any) -> None:
    import helion
    import helion.language as hl
    import torch

    for name, value in (("torch", torch), ("helion", helion), ("hl", hl)):
        ipython.user_ns.setdefault(name, value)
    ipython.register_magics(KernelMagics)


_ = KernelbenchError  # errors render through KernelbenchError._render_traceback_
