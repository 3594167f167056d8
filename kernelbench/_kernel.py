"""``Kernel``: a Helion kernel made first-class for notebooks (run, read its Triton, check, tune)."""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import helion
import torch

from ._check import (
    CheckReport,
    TrialCheck,
    check_structure,
    compare,
    flatten_outputs,
    fresh_inputs,
    native_reference,
    poisoned,
    reference,
)
from ._device import DEVICE, device_name
from ._errors import CheckError, ConfigError, KernelbenchError
from ._settings import settings
from ._source import helion_error_to_definition_error
from ._store import RunStore, StoreObserver, default_store, known_configs, known_slow_compiles

if TYPE_CHECKING:
    from ._bench import BenchReport

__all__ = ["Kernel", "kernel", "parse_config", "signature_of"]

ConfigLike = helion.Config | dict[str, Any] | str


def parse_config(config: ConfigLike) -> helion.Config:
    """A ``helion.Config`` from a Config, a dict of knobs, or Helion's JSON text."""
    if isinstance(config, helion.Config):
        return config
    if isinstance(config, str):
        try:
            data = json.loads(config)
        except json.JSONDecodeError as error:
            raise ConfigError(
                f"config is not valid JSON ({error.msg} at column {error.colno}); write it as e.g. "
                '\'{"block_sizes": [32], "num_warps": 4}\''
            ) from None
        config = data
    if not isinstance(config, dict):
        raise ConfigError(f"a config must be a JSON object of knobs, got {type(config).__name__}")
    return helion.Config(**config)


def signature_of(args: Sequence[Any]) -> tuple[Any, ...]:
    """What a tuned config is keyed by: shapes, dtypes and strides of tensors; other values as is."""
    sig: list[Any] = []
    for a in args:
        if isinstance(a, torch.Tensor):
            sig.append((tuple(a.shape), str(a.dtype).removeprefix("torch."), tuple(a.stride())))
        else:
            sig.append(repr(a))
    return tuple(sig)


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
        configs = list(helion_kernel.configs)
        self.pinned: helion.Config | None = parse_config(configs[0]) if len(configs) == 1 else None
        self.seed_configs: list[helion.Config] = [parse_config(c) for c in configs] if len(configs) > 1 else []
        self.best: dict[tuple[Any, ...], helion.Config] = {}
        # Per signature: configs whose compile ran past the limit in this session, with how long it ran.
        self.slow_compiles: dict[tuple[Any, ...], list[tuple[helion.Config, float]]] = {}
        self._knobs: list[str] | None = None
        self._last_signature: tuple[Any, ...] | None = None
        # The run store's best configs per signature, with the store they came from (cheap calls).
        self._known: dict[tuple[Any, ...], tuple[RunStore, list[helion.Config]]] = {}
        try:
            self.source = inspect.getsource(self.fn)
        except (OSError, TypeError):
            self.source = ""
        self.source_hash = hashlib.sha256(self.source.encode()).hexdigest()[:16]

    # ---------------------------------------------------------------------------------------------
    # Binding and configs

    def bind(self, *args: Any) -> Any:
        """Helion's ``BoundKernel`` for these arguments; Helion errors point at the source line."""
        if not args:
            raise KernelbenchError(f"{self.name} needs its arguments to be specialised: call bind(x, ...)")
        try:
            with _quiet_helion():
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
        self._last_signature = signature_of(args)
        return bound

    def knobs(self, *args: Any) -> list[str]:
        """The names of the knobs Helion exposes for these arguments (last bound, if none given)."""
        if args:
            self.bind(*args)
        return list(self._knobs or [])

    def default_config(self, *args: Any) -> helion.Config:
        """Helion's default config for these arguments on this device."""
        return self.bind(*args).config_spec.default_config()

    def pin(self, config: ConfigLike | None) -> None:
        """Make ``config`` the config every call uses (``None`` un-pins)."""
        self.pinned = None if config is None else parse_config(config)

    def active_config(self, *args: Any) -> tuple[helion.Config, str]:
        """The config a call with these arguments uses, and why: pinned, tuned (this session), best
        known (the run store's fastest correct config for this source, signature and device), or
        default (Helion's)."""
        if self.pinned is not None:
            return self.pinned, "pinned"
        signature = signature_of(args)
        best = self.best.get(signature)
        if best is not None:
            return best, "tuned"
        known = self._best_known(signature)
        if known:
            return known[0], "best known"
        return self.default_config(*args), "default"

    def _best_known(self, signature: tuple[Any, ...]) -> list[helion.Config]:
        """The default run store's best configs for this signature, looked up once per store."""
        store = default_store()
        cached = self._known.get(signature)
        if cached is not None and cached[0] is store:
            return cached[1]
        configs = known_configs(store, self, signature)
        self._known[signature] = (store, configs)
        return configs

    def compiled(self, *args: Any, config: ConfigLike | None = None) -> Callable[..., Any]:
        """The compiled callable for ``config`` (default: the active config); Helion caches it."""
        bound = self.bind(*args)
        cfg, why = (parse_config(config), "given") if config is not None else self.active_config(*args)
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
            stacklevel=3,
        )
        self._known[signature_of(args)] = (default_store(), [])
        return self.compiled(*args)

    def __call__(self, *args: Any) -> Any:
        return self.compiled(*args)(*args)

    # ---------------------------------------------------------------------------------------------
    # Reading the generated code

    def code(self, *args: Any, config: ConfigLike | None = None) -> str:
        """The Triton source Helion generates for these arguments and ``config`` (default: active)."""
        bound = self.bind(*args)
        cfg = parse_config(config) if config is not None else self.active_config(*args)[0]
        try:
            with _quiet_helion():
                return bound.to_triton_code(cfg)
        except helion.exc.Base as error:
            raise helion_error_to_definition_error(error, self.name) from None

    def decorator(self, config: ConfigLike | None = None, *args: Any) -> str:
        """``@helion.kernel(config=...)`` text to paste into a ``.py`` file."""
        cfg = parse_config(config) if config is not None else self.active_config(*args)[0]
        return f"@helion.kernel(config={cfg!r})"

    def export(self, path: str | Path, config: ConfigLike | None = None, *args: Any) -> Path:
        """Write a standalone ``.py`` module: this kernel under ``@helion.kernel(config=...)``.

        The config is ``config``, else the active one for ``args`` (pinned, tuned, best known,
        default), else with no arguments the pinned or last tuned one. The module imports torch and
        helion, plus the modules, constants and helper functions the kernel uses; not kernelbench.
        """
        from ._export import config_for_export, export_module

        cfg, why, signature = config_for_export(self, config, args)
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
        from ._case import save_case

        return save_case(self, path, args, ref=ref, seed=seed, rtol=rtol, atol=atol)

    # ---------------------------------------------------------------------------------------------
    # Correctness

    def check(
        self,
        ref: Callable[..., Any] | None = None,
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
        before each run; the reference runs in float64 where it can. See ``kernelbench._check`` for
        the default tolerances.

        ``case=path`` replays a ``.safetensors`` case from :meth:`save_case` instead: its inputs, its
        stored reference outputs and its tolerances (``rtol``/``atol`` given here win). The file is
        validated first and never unpickled.
        """
        if case is not None:
            if ref is not None or args or inputs is not None or trials is not None:
                raise CheckError("check(case=path) takes its inputs and reference from the file; drop ref, "
                                 "the arguments, inputs= and trials=")
            from ._case import replay

            return replay(self, case, config=parse_config(config) if config is not None else None,
                          rtol=rtol, atol=atol)
        if ref is None:
            raise CheckError(f"check needs a reference: {self.name}.check(torch_fn, *args), or case=path")
        trials = settings.check_trials if trials is None else trials
        if trials < 1:
            raise CheckError(f"trials must be at least 1, got {trials}")
        if not args and inputs is None:
            raise CheckError("check needs the kernel's arguments, or inputs=fn(seed) returning them")
        results: list[TrialCheck] = []
        cfg = parse_config(config) if config is not None else None
        for trial in range(1, trials + 1):
            if inputs is not None:
                trial_args, origin = tuple(inputs(seed + trial - 1)), f"inputs(seed={seed + trial - 1})"
            elif trial == 1:
                trial_args, origin = tuple(args), "given"
            else:
                trial_args, origin = fresh_inputs(args, seed + trial - 1), f"random(seed={seed + trial - 1})"
            if cfg is None:
                cfg = self.active_config(*trial_args)[0]
            results.append(self._trial(ref, trial_args, cfg, trial, origin, rtol, atol))
        return CheckReport(kernel=self.name, config=dict(cfg.config) if cfg else {}, trials=results)

    def _trial(
        self,
        ref: Callable[..., Any],
        args: tuple[Any, ...],
        config: helion.Config,
        trial: int,
        origin: str,
        rtol: float | None,
        atol: float | None,
    ) -> TrialCheck:
        fn = self.compiled(*args, config=config)
        with torch.no_grad(), poisoned():
            outs = flatten_outputs(fn(*args), self.name)
        refs, precision = reference(ref, args)
        # Shapes and dtypes are checked against the reference run as the user wrote it.
        check_structure(outs, refs if precision == "native" else native_reference(ref, args), self.name)
        return TrialCheck(
            trial=trial,
            inputs=origin,
            reference_precision=precision,
            outputs=[compare(o, r, index=i, rtol=rtol, atol=atol) for i, (o, r) in enumerate(zip(outs, refs))],
        )

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
        observers: Sequence[Callable[[Any], None]] = (),
        rtol: float | None = None,
        atol: float | None = None,
        store: RunStore | bool | None = None,
        isolate: bool | None = None,
    ) -> Any:
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
        """
        from ._sweep import Sweep

        run_store = default_store() if store is None or store is True else store or None
        watchers: list[Callable[[Any], None]] = [StoreObserver(run_store)] if run_store is not None else []
        watchers += observers
        dashboard = None
        if live is None:
            live = _in_notebook()
        if live:
            from ._dashboard import Dashboard

            dashboard = Dashboard()
            watchers.append(dashboard)
        else:
            from ._progress import TextProgress

            watchers.append(TextProgress())
        start = [self.pinned] if self.pinned is not None else []
        start += self.seed_configs
        avoid: list[helion.Config] = []
        if run_store is not None:  # warm start, within the fixed knobs
            start += [c for c in known_configs(run_store, self, signature_of(args))
                      if all(c.config.get(k) == v or (isinstance(v, list) and c.config.get(k) in v)
                             for k, v in (fixed or {}).items())]
            avoid = known_slow_compiles(run_store, self, signature_of(args))
        sweep = Sweep(self, args, ref=ref, budget=budget, time_limit=time_limit, strategy=strategy, fixed=fixed,
                      seed=seed, observers=watchers, bytes=bytes, flops=flops, start=start, rtol=rtol, atol=atol,
                      isolate=isolate, avoid=avoid)
        if dashboard is not None:
            dashboard.attach(sweep)
        return sweep.run()

    def bench(
        self,
        sizes: Sequence[Any],
        make_args: Callable[[Any], Any],
        baselines: dict[str, Callable[..., Any] | str] | None = None,
        tune: str | bool = False,
        ref: Callable[..., Any] | None = None,
        budget: int | None = None,
        live: bool | None = None,
        bytes: int | Callable[[Any], float] | None = None,  # noqa: A002 - the public keyword is `bytes=`
        flops: float | Callable[[Any], float] | None = None,
        observers: Sequence[Callable[[Any], None]] = (),
        rtol: float | None = None,
        atol: float | None = None,
    ) -> BenchReport:
        """Latency against problem size, beside baselines and under the device's ceilings.

        ``make_args(size)`` gives the arguments at each size. ``baselines``: name -> callable, or
        ``"compile"`` for ``torch.compile`` of the reference (``ref=``, else the first callable
        baseline). Every size is checked against the float64 reference before it is timed; a wrong
        one is marked, never timed. ``tune``: ``"per-size"``, ``"once"`` (at the largest size) or
        ``False`` (the active config). ``bytes``/``flops``: numbers or functions of the size. Returns a
        ``BenchReport`` (``.df``, ``.figure(y="gbps"|"ms"|"tflops")``). See ``kernelbench._bench``.
        """
        from ._bench import run_bench

        return run_bench(self, sizes, make_args, baselines=baselines, tune=tune, ref=ref, budget=budget, live=live,
                         bytes=bytes, flops=flops, observers=observers, rtol=rtol, atol=atol)

    # ---------------------------------------------------------------------------------------------
    # Display

    def _card_html(self) -> str:
        from ._display import kernel_card_html

        return kernel_card_html(self)

    def _repr_html_(self) -> str:
        return self._card_html()

    def __repr__(self) -> str:
        knobs = f", knobs={self._knobs}" if self._knobs else ""
        pinned = f", pinned={dict(self.pinned.config)}" if self.pinned else ""
        return f"<kernelbench.Kernel {self.name} on {DEVICE} ({device_name()}){knobs}{pinned}>"


def _in_notebook() -> bool:
    """True inside a Jupyter kernel with ipywidgets available (the dashboard can render)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    try:
        import ipywidgets  # noqa: F401
        import plotly  # noqa: F401
    except ImportError:
        return False
    return True


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
