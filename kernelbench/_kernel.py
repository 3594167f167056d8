"""``Kernel``: the facade. A Helion kernel made first-class for notebooks: call it, read its Triton,
check it, tune it, bench it, take it away.

Layer rule: this module may import every layer (``core``, ``tune``, ``store``, ``bench``, ``io``,
``ui``); nothing but ``kernelbench._magic`` and the package's ``__init__`` imports it. It holds no
engine logic: config state lives in a :class:`~kernelbench.store.book.ConfigBook`, sweeps and
benches are built here with the observers this facade picks, and everything else is delegated.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import logging
import warnings
from collections.abc import Callable, Hashable, Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import helion
import torch

from kernelbench._errors import CheckError, ConfigError, KernelbenchError
from kernelbench._settings import settings
from kernelbench.bench.bench import Bench, BenchReport
from kernelbench.core.check import CheckReport, check_kernel
from kernelbench.core.configs import (
    ConfigLike,
    Signature,
    decorator_text,
    parse_config,
    signature_of,
    validate_config,
)
from kernelbench.core.device import DEVICE, device_name, is_interpreter
from kernelbench.core.source import helion_error_to_definition_error, notebook_names_hidden
from kernelbench.core.tracemap import kernel_run_error
from kernelbench.io.problem import Problem, ProblemSizes
from kernelbench.store.book import ConfigBook
from kernelbench.store.sqlite import RunStore, StoreObserver, default_store, generation
from kernelbench.tune.evaluators import Executor, InProcess
from kernelbench.tune.events import Observer
from kernelbench.tune.result import SweepResult
from kernelbench.tune.sweep import Sweep
from kernelbench.ui import notebook
from kernelbench.ui.display import place

__all__ = ["Kernel", "kernel", "tune_many"]


@contextlib.contextmanager
def _quiet_helion() -> Iterator[None]:
    """Helion's tracing logs internal failures through torch's loggers before raising its own error."""
    loggers = [logging.getLogger(n) for n in ("torch._subclasses.fake_tensor", "helion")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


@contextlib.contextmanager
def _at_kernel_line(name: str) -> Iterator[None]:
    """An error raised inside the generated code becomes one line at the kernel's own source line."""
    try:
        yield
    except KernelbenchError:
        raise
    except Exception as error:
        located = kernel_run_error(error, name)
        if located is None:
            raise
        raise located from error


_Tensor = torch.Tensor


def _call_key(args: tuple[Any, ...]) -> tuple[Hashable, ...]:
    """What a compiled callable is cached by: at least as fine as Helion's own specialization key
    (an unhashable argument makes the lookup raise ``TypeError``). Written for speed: it runs on
    every call."""
    key: list[Hashable] = []
    tensors = 0
    for a in args:
        if type(a) is _Tensor or isinstance(a, _Tensor):
            key.append((a.shape, a.stride(), a.dtype, a.device))
            tensors += 1
        else:
            key.append((type(a), a))
    if tensors > 1:  # the same tensor passed twice compiles differently from two tensors
        ids = [id(a) for a in args if isinstance(a, _Tensor)]
        if len(set(ids)) != tensors:
            key.append(tuple(ids.index(i) for i in ids))
    return tuple(key)


def _helion_guard_passes(helion_kernel: helion.Kernel, bound: Any, args: tuple[Any, ...]) -> bool:
    """Helion's own fast-path guard (``_PreparedCall.matches``, Helion 1.5) says ``args`` still belong
    to ``bound``: its specialization extras (pointer and storage checks) hold. ``False`` when Helion
    armed it for other arguments, or when this Helion has no such guard (then every call resolves)."""
    try:
        prepared = helion_kernel._prepared_call
        return prepared is not None and prepared.bound is bound and prepared.matches(helion_kernel, args)
    except AttributeError:
        return False


def _executor(isolate: bool | None, executor: Executor | str | None = None) -> Executor:
    """``executor`` (an executor, ``"ray"`` or ``"local"``; default ``settings.executor``). Local: in
    worker processes on a GPU (a crash would poison the notebook's CUDA context), in this process in
    the interpreter (a worker costs seconds to start and there is no GPU state to protect);
    ``isolate`` or ``settings.isolate`` decide when given."""
    executor = settings.executor if executor is None else executor
    if not isinstance(executor, str):
        return executor
    if executor == "ray":
        from kernelbench.tune.ray import default_executor

        return default_executor()
    if executor != "local":
        raise KernelbenchError(f"executor={executor!r} is not an executor; use \"local\", \"ray\" or "
                               "kernelbench.RayExecutor(address=...)")
    if isolate is None:
        isolate = settings.isolate
    if isolate is None:
        isolate = not is_interpreter()
    if isolate:
        from kernelbench.tune.worker.pool import Isolated

        return Isolated()
    return InProcess()


class Kernel:
    """A Helion kernel in a notebook or script.

    Calling it runs the active config: the pinned one (``--config``, ``pin()``, or the decorator's
    single ``config=``), else the best this session (or the run store) knows for these argument
    shapes, else Helion's default config. Helion's own autotuner never runs behind your back.
    """

    def __init__(self, helion_kernel: helion.Kernel, *, name: str | None = None) -> None:
        if not isinstance(helion_kernel, helion.Kernel):
            helion_kernel = helion.kernel(helion_kernel)
        self.helion_kernel = helion_kernel
        self.fn: Callable[..., Any] = helion_kernel.fn
        self.name = name or self.fn.__name__
        try:
            self.source = inspect.getsource(self.fn)
        except (OSError, TypeError):
            self.source = ""
        self.source_hash = hashlib.sha256(self.source.encode()).hexdigest()[:16]
        self.book = ConfigBook(self, [parse_config(c) for c in helion_kernel.configs])
        self._knobs: list[str] | None = None
        self._spec: Any = None  # the config spec of the arguments last bound: what pin() checks against
        self._last_signature: Signature | None = None
        # The call path: our key (see _call_key) -> (compiled callable, book version, store generation,
        # home it was resolved under, and Helion's bound kernel when Helion's guard must also pass).
        # Any of the three numbers changing means resolve again.
        self._calls: dict[Hashable, tuple[Callable[..., Any], int, int, Path, Any]] = {}

    # ---------------------------------------------------------------------------------------------
    # Config state (kept in the book; these read it)

    @property
    def pinned(self) -> helion.Config | None:
        return self.book.pinned

    @property
    def seed_configs(self) -> list[helion.Config]:
        """Configs every sweep starts from (a decorator's several ``configs=``)."""
        return self.book.seeds

    @seed_configs.setter
    def seed_configs(self, configs: Sequence[ConfigLike]) -> None:
        self.book.seeds = [parse_config(c) for c in configs]

    @property
    def best(self) -> dict[Signature, helion.Config]:
        """The best correct config this session's sweeps found, per argument signature."""
        return self.book.best

    @property
    def slow_compiles(self) -> dict[Signature, list[tuple[helion.Config, float]]]:
        return self.book.slow_compiles

    @property
    def last_signature(self) -> Signature | None:
        """The signature of the arguments last bound (by a call, ``bind``, ``tune``...)."""
        return self._last_signature

    # ---------------------------------------------------------------------------------------------
    # Binding and configs

    def bind(self, *args: Any) -> Any:
        """Helion's ``BoundKernel`` for these arguments; Helion errors point at the source line."""
        if not args:
            raise KernelbenchError(f"{self.name} needs its arguments to be specialised: call bind(x, ...)")
        for i, a in enumerate(args):
            if isinstance(a, torch.Tensor) and a.device.type != DEVICE:
                raise KernelbenchError(
                    f"{self.name}: argument {i} is a tensor on {a.device}, but kernels run on {DEVICE} "
                    f"({device_name()}); move it there with .to(kernelbench.DEVICE)"
                )
        try:
            with _quiet_helion(), notebook_names_hidden(self.fn):
                bound = self.helion_kernel.bind(tuple(args))
        except helion.exc.Base as error:
            raise helion_error_to_definition_error(error, self.name) from None
        except TypeError as error:
            raise KernelbenchError(
                f"{self.name}({', '.join(inspect.signature(self.fn).parameters)}) was called with {len(args)} argument(s) "
                f"({', '.join(type(a).__name__ for a in args)}): {error}"
            ) from None
        if self._knobs is None:
            self._knobs = sorted(bound.config_spec.default_config().config)
        self._spec = bound.config_spec
        self._last_signature = signature_of(args)
        return bound

    def _validated(self, config: helion.Config, spec: Any) -> helion.Config:
        """``config`` if it fits ``spec`` (a bound kernel's config spec), else ``ConfigError`` naming the knob."""
        return validate_config(config, spec, self.name)

    def _spec_for(self, args: tuple[Any, ...]) -> Any:
        """The config spec for ``args``; with none, that of the arguments last bound (``None`` if never)."""
        return self.bind(*args).config_spec if args else self._spec

    def knobs(self, *args: Any) -> list[str]:
        """The names of the knobs Helion exposes for these arguments (last bound, if none given)."""
        if args:
            self.bind(*args)
        return list(self._knobs or [])

    def default_config(self, *args: Any) -> helion.Config:
        """Helion's default config for these arguments on this device (computed once per signature)."""
        return self.book.default(signature_of(args), lambda: self.bind(*args).config_spec.default_config())

    def pin(self, config: ConfigLike | None) -> None:
        """Make ``config`` the config every call uses (``None`` un-pins). It is checked against the
        knobs of the arguments last bound, if any; else on first use (then a misfit raises there)."""
        cfg = None if config is None else parse_config(config)
        if cfg is not None and self._spec is not None:
            self._validated(cfg, self._spec)
        self.book.pin(cfg)

    def active_config(self, *args: Any) -> tuple[helion.Config, str]:
        """The config a call with these arguments uses, and why: pinned, tuned (this session), best
        known (the run store's fastest correct config for this source, signature and device), or
        default (Helion's). A pinned or stored config is checked against these arguments' knobs: a
        pinned one that does not fit raises ``ConfigError``, a stored one is skipped with a warning."""
        cfg, why = self.book.active(signature_of(args), lambda: self.bind(*args).config_spec.default_config(),
                                    validate=lambda c: self._validated(c, self.bind(*args).config_spec))
        if why == "pinned" and args:
            self._validated(cfg, self.bind(*args).config_spec)
        return cfg, why

    def compiled(self, *args: Any, config: ConfigLike | None = None) -> Callable[..., Any]:
        """The compiled callable for ``config`` (default: the active config); Helion caches it.
        Calling it is Helion's own launch, with nothing of kernelbench in between."""
        bound = self.bind(*args)
        if config is not None:
            cfg, why = self._validated(parse_config(config), bound.config_spec), "given"
        else:
            cfg, why = self.active_config(*args)
        try:
            with _quiet_helion():
                return bound.compile_config(cfg, allow_print=False)
        except helion.exc.Base as error:
            if why == "best known":
                return self._forget_best_known(args, error)
            raise helion_error_to_definition_error(error, self.name) from None
        except (TypeError, KeyError, ValueError, AssertionError) as error:
            if why == "best known":
                return self._forget_best_known(args, error)
            if config is not None or self.pinned is not None:
                raise ConfigError(
                    f"config {dict(cfg.config)} does not fit {self.name} for these arguments "
                    f"({type(error).__name__}: {error}); its knobs are {self._knobs}"
                ) from None
            raise

    def _forget_best_known(self, args: tuple[Any, ...], error: BaseException) -> Callable[..., Any]:
        """A stored config that no longer compiles (another Helion version?) must not break a call."""
        warnings.warn(
            f"{self.name}: the best known config from the run store does not compile here "
            f"({type(error).__name__}: {error}); using Helion's default. Tune again to replace it.",
            RuntimeWarning,
            stacklevel=4,
        )
        self.book.forget_known(signature_of(args))
        return self.compiled(*args)

    def __call__(self, *args: Any) -> Any:
        # The fast path: one key over the arguments' metadata, one dict lookup, three compares, then
        # Helion's compiled callable. Binding, the active config and the run store run once per key,
        # and again only after a pin, a finished sweep or a better config in a run store.
        try:
            fn, version, gen, home, bound = self._calls[_call_key(args)]
        except (KeyError, TypeError):  # a new key, or an argument that cannot be keyed
            return self._resolve_and_call(args)
        if version != self.book.version or gen != generation() or home is not settings.home:
            return self._resolve_and_call(args)
        if bound is not None and not _helion_guard_passes(self.helion_kernel, bound, args):
            return self._resolve_and_call(args)
        try:
            return fn(*args)
        except Exception as error:  # a try costs nothing until it raises
            located = kernel_run_error(error, self.name)
            if located is None:
                raise
            raise located from error

    def _resolve_and_call(self, args: tuple[Any, ...]) -> Any:
        with _at_kernel_line(self.name):
            return self._resolve_and_call_inner(args)

    def _resolve_and_call_inner(self, args: tuple[Any, ...]) -> Any:
        bound = self.bind(*args)
        fn = self.compiled(*args)
        hk = self.helion_kernel
        try:
            key = _call_key(args)
            hash(key)
        except TypeError:  # an argument that cannot be keyed: resolved on every call
            return fn(*args)
        if not hk._has_specialization_extras:
            self._calls[key] = (fn, self.book.version, generation(), settings.home, None)
            return fn(*args)
        # On a GPU a compile can add guards beyond the metadata our key holds (pointer and storage
        # checks). Helion checks them with the guard of its own fast path, which it arms for the last
        # arguments it ran: give its bound kernel our config and let Helion run this call.
        bound.set_config(self.active_config(*args)[0])  # compiled already: Helion's cache answers
        self._calls[key] = (fn, self.book.version, generation(), settings.home, bound)
        return hk(*args)

    # ---------------------------------------------------------------------------------------------
    # Reading the generated code, and taking the kernel away

    def code(self, *args: Any, config: ConfigLike | None = None, stage: str = "triton",
             target: str | None = None) -> str:
        """The code Helion generates for these arguments and ``config`` (default: active), at ``stage``:
        ``triton`` (the source), or what Triton lowers it to for a GPU ``target`` (``"h100"``,
        ``"h200"``, ``"b200"``, ``"sm_90"``...; default: this machine's GPU, none in the
        interpreter): ``ttir``, ``ttgir``, ``llir``, ``ptx``, ``sass``. The result is a ``str`` whose
        ``cell_lines`` give, per line, the cell line it came from (see ``kernelbench.core.lowering``)."""
        from kernelbench.core.lowering import stage_code

        return stage_code(self._triton_code(args, config), args, stage, target, name=self.name)

    def resources(self, *args: Any, config: ConfigLike | None = None, target: str | None = None) -> dict[str, Any]:
        """What the kernel uses on a GPU ``target`` (default: this machine's GPU; needed in the
        interpreter): registers per thread, spill stores/loads (bytes), shared and local memory, and
        occupancy (blocks and warps per SM, what limits them, whether it can launch at all)."""
        from kernelbench.core.lowering import kernel_resources

        return kernel_resources(self._triton_code(args, config), args, target, name=self.name)

    def _triton_code(self, args: tuple[Any, ...], config: ConfigLike | None) -> str:
        bound = self.bind(*args)
        if config is not None:
            cfg = self._validated(parse_config(config), bound.config_spec)
        else:
            cfg = self.active_config(*args)[0]
        try:
            with _quiet_helion():
                return bound.to_triton_code(cfg)
        except helion.exc.Base as error:
            raise helion_error_to_definition_error(error, self.name) from None

    def _config_to_take(self, what: str, args: tuple[Any, ...],
                        config: ConfigLike | None) -> tuple[helion.Config, str, Signature | None]:
        """The config to export, why, and the signature it is for: the config given, else the active
        config for ``args``; with no arguments, the pinned config, else the best this session tuned
        for the last arguments the kernel was bound to. A given or pinned config is checked against the
        knobs of ``args`` (with none, of the arguments last bound, if any)."""
        signature = signature_of(args) if args else self._last_signature
        if config is not None:
            cfg = parse_config(config)
            spec = self._spec_for(args)
            return (self._validated(cfg, spec) if spec is not None else cfg), "given", signature
        if args:
            return (*self.active_config(*args), signature)
        if self.pinned is not None:
            spec = self._spec_for(args)
            return (self._validated(self.pinned, spec) if spec is not None else self.pinned), "pinned", signature
        tuned = self.book.tuned_for(signature)
        if tuned is not None:
            return tuned, "tuned", signature
        call = f"{self.name}.{what}(path, " if what == "export" else f"{self.name}.{what}("
        raise KernelbenchError(
            f"{what} does not know which config of {self.name} to write: pass one ({call}config=...)) "
            f"or the arguments it was tuned for ({call}x, ...))"
        )

    def decorator(self, *args: Any, config: ConfigLike | None = None) -> str:
        """``@helion.kernel(config=...)`` text to paste into a ``.py`` file (config as for :meth:`export`)."""
        return decorator_text(self._config_to_take("decorator", args, config)[0])

    def export(self, path: str | Path, *args: Any, config: ConfigLike | None = None) -> Path:
        """Write a standalone ``.py`` module: this kernel under ``@helion.kernel(config=...)``.

        The config is ``config``, else the active one for ``args`` (pinned, tuned, best known,
        default), else with no arguments the pinned or last tuned one. The module imports torch and
        helion, plus the modules, constants and helper functions the kernel uses; not kernelbench.
        """
        from kernelbench.io.export import export_module

        cfg, why, signature = self._config_to_take("export", args, config)
        return export_module(self, path, cfg, why, signature)

    def save_case(
        self,
        path: str | Path,
        *args: Any,
        ref: Callable[..., Any],
        seed: int = 0,
        rtol: float | None = None,
        atol: float | None = None,
    ) -> Path:
        """Write one ``.safetensors`` correctness case: ``args``, ``ref(*args)`` (in float64 where it
        can), and in its header the kernel's name and source hash, tolerances and ``seed`` (record
        the seed the inputs were drawn with). Replay it with ``check(case=path)``, here or elsewhere.
        """
        from kernelbench.io.case import save_case

        return save_case(self, path, args, ref=ref, seed=seed, rtol=rtol, atol=atol)

    # ---------------------------------------------------------------------------------------------
    # Correctness

    def check(
        self,
        ref: Callable[..., Any] | Problem | None = None,
        *args: Any,
        trials: int | None = None,
        rtol: float | None = None,
        atol: float | None = None,
        config: ConfigLike | None = None,
        inputs: Callable[[int], Sequence[Any]] | None = None,
        seed: int = 0,
        case: str | Path | None = None,
    ) -> CheckReport:
        """Compare this kernel with ``ref`` (a torch function of the same arguments).

        Trial 1 uses ``args`` (or ``inputs(seed)``); later trials draw fresh random floating-point
        inputs shaped like them (or call ``inputs(seed + trial)``). Outputs are poisoned with NaN
        before each run; the reference runs in float64 where it can. See ``kernelbench.core.check``
        for the default tolerances.

        ``case=path`` replays a ``.safetensors`` case from :meth:`save_case` instead: its inputs, its
        stored reference outputs and its tolerances (``rtol``/``atol`` given here win). The file is
        validated first and never unpickled.

        ``check(problem)`` checks against a :class:`~kernelbench.io.problem.Problem`
        (``kernelbench.problem(path)``): its arguments, its Model as the reference, and for later
        trials its own ``get_inputs()`` with fresh parameters (``problem.make_args``).
        """
        if isinstance(ref, Problem):
            if args or inputs is not None or case is not None:
                raise CheckError(f"check({ref.name}) takes its arguments from the problem; drop the arguments, "
                                 "inputs= and case=")
            args, inputs, seed, ref = ref.args, ref.make_args, ref.seed, ref.ref
        if case is not None:
            if ref is not None or args or inputs is not None or trials is not None:
                raise CheckError("check(case=path) takes its inputs and reference from the file; drop ref, "
                                 "the arguments, inputs= and trials=")
            from kernelbench.io.case import replay

            return replay(self, case, config=parse_config(config) if config is not None else None,
                          rtol=rtol, atol=atol)
        if ref is None:
            raise CheckError(f"check needs a reference: {self.name}.check(torch_fn, *args), or case=path")
        trials = settings.check_trials if trials is None else trials
        if trials < 1:
            raise CheckError(f"trials must be at least 1, got {trials}")
        if not args and inputs is None:
            raise CheckError("check needs the kernel's arguments, or inputs=fn(seed) returning them")
        with _at_kernel_line(self.name):
            return check_kernel(self, ref, args, trials=trials,
                                config=parse_config(config) if config is not None else None,
                                inputs=inputs, seed=seed, rtol=rtol, atol=atol)

    # ---------------------------------------------------------------------------------------------
    # Tuning

    def tune(
        self,
        *args: Any,
        ref: Callable[..., Any] | None = None,
        budget: int | None = None,
        time_limit: float | None = None,
        strategy: str = "auto",
        fixed: dict[str, Any] | None = None,
        seed: int | None = None,
        live: bool | None = None,
        bytes: int | None = None,  # noqa: A002 - the public keyword is `bytes=`
        flops: float | None = None,
        observers: Sequence[Observer] = (),
        rtol: float | None = None,
        atol: float | None = None,
        store: RunStore | bool | None = None,
        isolate: bool | None = None,
        executor: Executor | str | None = None,
        target: str | None = None,
        screen: bool | str = False,
    ) -> SweepResult:
        """Search Helion's config space; check and time every candidate; return a ``SweepResult``.

        ``budget`` candidates or ``time_limit`` seconds (default: 32 candidates). ``fixed`` pins
        knobs (``{"num_warps": 4}``) or restricts them to choices (``{"num_warps": [4, 8]}``).
        With no ``ref``, candidates are checked against Helion's default config. ``live``: a
        dashboard in a notebook, a text line elsewhere (``None`` picks). Afterwards, calls with
        arguments of this signature use the best correct config.

        Every candidate is written to the run store as it finishes (``store``: ``None`` the default
        store in ``$KERNELBENCH_HOME``, ``False`` none, or a ``RunStore``), and the sweep starts from
        the best configs the store knows for this source, signature and device.

        ``isolate``: run candidates in a worker process with compile and run time limits, so a
        hanging or crashing candidate is a result (``timeout``, ``runtime_error``) and the notebook
        survives. Default (``None``): on a GPU yes, in the interpreter no (see ``Settings.isolate``).

        ``executor``: where candidates are evaluated: ``"local"`` (as ``isolate`` says), ``"ray"`` (Ray
        actors, one per GPU) or an executor such as ``kernelbench.RayExecutor(address="auto")``;
        default ``settings.executor``.

        ``tune(problem)`` tunes on a :class:`~kernelbench.io.problem.Problem`'s arguments, checked
        against its Model.

        ``target``: a GPU (``"h100"``, ``"sm_90"``...) each candidate's registers, spills, shared memory
        and occupancy are recorded for (``result.df``, the run store, the dashboard's axes); on a GPU
        the device when screening or with ``settings.gpu_resources``. ``screen=True`` rejects, before timing, the
        candidates that cannot launch on it (shared memory or registers over its limits), and
        ``screen="spills"`` also those that spill: status ``screened``, with the reason.
        """
        if args and isinstance(args[0], Problem):
            if len(args) > 1 or ref is not None:
                raise CheckError(f"tune({args[0].name}) takes its arguments and reference from the problem; "
                                 "drop the other arguments and ref=")
            args, ref = args[0].args, args[0].ref
        shown, attach = notebook.sweep_observer(live)
        return self._sweep(args, ref=ref, budget=budget, time_limit=time_limit, strategy=strategy, fixed=fixed,
                           seed=seed, bytes=bytes, flops=flops, observers=[*observers, shown], rtol=rtol,
                           atol=atol, store=store, isolate=isolate, attach=attach, executor=executor,
                           gpu_target=target, screen=screen)

    def _sweep(
        self,
        args: tuple[Any, ...],
        *,
        observers: Sequence[Observer],
        store: RunStore | bool | None = None,
        isolate: bool | None = None,
        executor: Executor | str | None = None,
        fixed: dict[str, Any] | None = None,
        attach: Callable[[Sweep], None] | None = None,
        **options: Any,
    ) -> SweepResult:
        """Build and run one sweep: the book says where to start and what to avoid, the run store
        records it, and the book takes its result."""
        run_store = default_store() if store is None or store is True else store or None
        signature = signature_of(args)
        sweep = Sweep(
            self, args, fixed=fixed, signature=signature,
            start=self.book.start_configs(run_store, signature, fixed,
                                          validate=lambda c: self._validated(c, self.bind(*args).config_spec)),
            avoid=self.book.avoid(run_store, signature),
            observers=[*([StoreObserver(run_store)] if run_store is not None else []), *observers],
            executor=_executor(isolate, executor), **options,
        )
        self._last_signature = signature
        if attach is not None:
            attach(sweep)
        result = sweep.run()
        self.book.record(result)
        return result

    def bench(
        self,
        sizes: Sequence[Any] | Problem,
        make_args: Callable[[Any], Any] | None = None,
        baselines: dict[str, Callable[..., Any] | str] | None = None,
        tune: str | bool = False,
        ref: Callable[..., Any] | None = None,
        budget: int | None = None,
        live: bool | None = None,
        bytes: int | Callable[[Any], float] | None = None,  # noqa: A002 - the public keyword is `bytes=`
        flops: float | Callable[[Any], float] | None = None,
        observers: Sequence[Observer] = (),
        rtol: float | None = None,
        atol: float | None = None,
        over: dict[str, Sequence[int | float]] | None = None,
    ) -> BenchReport:
        """Latency against problem size, beside baselines and under the device's ceilings.

        ``make_args(size)`` gives the arguments at each size. ``baselines``: name -> callable, or
        ``"compile"`` for ``torch.compile`` of the reference (``ref=``, else the first callable
        baseline). Every size is checked against the float64 reference before it is timed; a wrong
        one is marked, never timed. ``tune``: ``"per-size"``, ``"once"`` (at the largest size) or
        ``False`` (the active config). ``bytes``/``flops``: numbers or functions of the size. Returns a
        ``BenchReport`` (``.df``, ``.figure(y="gbps"|"ms"|"tflops")``). See ``kernelbench.bench``.

        ``bench(problem)`` benches a :class:`~kernelbench.io.problem.Problem` against its eager Model
        and ``torch.compile`` of it (``baselines=`` given: the eager Model and those); ``over={"N": [1024,
        2048]}`` loads it again at each value of one size constant (default: the problem as loaded).
        """
        if isinstance(sizes, Problem):
            if make_args is not None or ref is not None:
                raise CheckError(f"bench({sizes.name}) takes its arguments and reference from the problem; "
                                 "drop make_args and ref=")
            family = ProblemSizes(sizes, over)
            sizes, make_args, ref = family.values, family.make_args, family.ref
            extra = {"torch.compile": family.compiled} if baselines is None else baselines
            baselines = {"eager": family.eager, **extra}
        elif make_args is None or over is not None:
            raise CheckError("bench(sizes, make_args) needs make_args(size) returning the arguments; over= is for "
                             "bench(problem)")
        shown, attach = notebook.bench_observer(live)
        bench: Bench | None = None

        def tuner(args: tuple[Any, ...], watchers: Sequence[Observer]) -> SweepResult:
            # The bench shows tuning progress itself: the sweep gets no dashboard or text line.
            assert bench is not None
            return self._sweep(args, ref=bench.ref, budget=budget, observers=watchers, rtol=rtol, atol=atol)

        bench = Bench(self, sizes, make_args, baselines=baselines, tune=tune, ref=ref, budget=budget, bytes=bytes,
                      flops=flops, observers=[*observers, shown], rtol=rtol, atol=atol, tuner=tuner)
        attach(bench)
        return bench.run()

    # ---------------------------------------------------------------------------------------------
    # Display

    def _repr_html_(self) -> str:
        from kernelbench.ui.display import kernel_card_html

        return kernel_card_html(self.name, self.knobs(), self.pinned)

    def __repr__(self) -> str:
        knobs = f", knobs={self._knobs}" if self._knobs else ""
        pinned = f", pinned={dict(self.pinned.config)}" if self.pinned else ""
        return f"<kernelbench.Kernel {self.name} on {place(DEVICE, device_name())}{knobs}{pinned}>"


@overload
def kernel(fn: Callable[..., Any], /) -> Kernel: ...
@overload
def kernel(*, config: ConfigLike | None = None, **helion_settings: Any) -> Callable[[Callable[..., Any]], Kernel]: ...
def kernel(
    fn: Callable[..., Any] | None = None, /, *, config: ConfigLike | None = None, **helion_settings: Any
) -> Kernel | Callable[[Callable[..., Any]], Kernel]:
    """Decorator for ``.py`` files: ``@kernelbench.kernel`` gives the same ``Kernel`` as ``%%kernel``.

    ``config=`` pins a config; other keywords are Helion settings (``static_shapes=...``).
    """

    def wrap(f: Callable[..., Any]) -> Kernel:
        hk = f if isinstance(f, helion.Kernel) else helion.kernel(f, **helion_settings)
        k = Kernel(hk)
        if config is not None:
            k.pin(config)
        return k

    return wrap(fn) if fn is not None else wrap


def tune_many(
    kernel: Kernel,
    arg_sets: Sequence[Any],
    *,
    live: bool | None = None,
    executor: Executor | str | None = None,
    isolate: bool | None = None,
    observers: Sequence[Observer] = (),
    **options: Any,
) -> list[SweepResult]:
    """Tune ``kernel`` on each argument set (``[(x1,), (x2,), ...]``; a lone tensor is a set of one):
    one sweep each, all into the run store, with one dashboard (a row per shape: progress, best so
    far) and one Stop for all. With a Ray executor (``executor="ray"``, ``settings.executor``) the
    sweeps run side by side on the cluster's actors; with a local one, one after another. Other
    keywords are :meth:`Kernel.tune`'s (``ref``, ``budget``, ``time_limit``...). Returns the
    ``SweepResult`` of each set, in order."""
    from kernelbench.tune.many import ManyRun
    from kernelbench.ui.many_dashboard import many_observer

    chosen = _executor(isolate, executor)
    sets = [tuple(a) if isinstance(a, (tuple, list)) else (a,) for a in arg_sets]
    shown, attach = many_observer(live)

    def one(args: tuple[Any, ...], watchers: Sequence[Observer], attach_sweep: Callable[[Sweep], None],
            on: Executor) -> SweepResult:
        return kernel._sweep(args, observers=watchers, attach=attach_sweep, executor=on, **options)

    run = ManyRun(kernel.name, sets, one, executor=chosen, observers=[*observers, shown])
    attach(run)
    return run.run()
