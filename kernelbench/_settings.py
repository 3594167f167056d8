"""Settings in one dataclass: each field is typed, documents its environment variable and is parsed strictly.

Every value a field gets (its default, its environment variable, ``Settings(...)``, ``settings.x = v``
and ``settings.scope(x=v)``) goes through the one parser of the field's type, so ``"1"`` and ``True``
mean the same everywhere and a wrong value is one error naming the field, its variable and what is
accepted.

Layer rule: this module imports only ``kernelbench._errors`` (and the standard library).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from kernelbench._errors import KernelbenchError

__all__ = ["Settings", "settings"]

Device = Literal["auto", "cpu", "cuda"]
ExecutorName = Literal["local", "ray"]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_BOOLEAN = "a boolean (1/0, true/false, yes/no, on/off)"


@dataclasses.dataclass(frozen=True)
class _Parser:
    """One type's parser: ``convert`` returns the typed value or raises ``ValueError``; ``accepts``
    says what it takes, for the error message."""

    accepts: str
    convert: Callable[[Any], Any]


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueError


def _to_auto_bool(value: Any) -> bool | None:
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None
    return _to_bool(value)


def _to_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return int(value.strip())  # "1.5" raises ValueError
    raise ValueError


def _to_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError
    number = float(value.strip() if isinstance(value, str) else value)
    if math.isnan(number):
        raise ValueError
    return number


def _to_path(value: Any) -> Path:
    if isinstance(value, (str, os.PathLike)) and str(value).strip():
        return Path(value).expanduser()
    raise ValueError


def _choice(*choices: str) -> _Parser:
    def convert(value: Any) -> str:
        if isinstance(value, str) and value in choices:
            return value
        raise ValueError

    return _Parser(f"one of {', '.join(choices)}", convert)


_BOOL = _Parser(_BOOLEAN, _to_bool)
_AUTO_BOOL = _Parser(f"auto or {_BOOLEAN}", _to_auto_bool)
_INT = _Parser("an integer", _to_int)
_FLOAT = _Parser("a number", _to_float)
_PATH = _Parser("a path (str or Path)", _to_path)
_DEVICE = _choice(*typing.get_args(Device))
_EXECUTOR = _choice(*typing.get_args(ExecutorName))


def _setting(env: str, parser: _Parser, default: Any) -> Any:
    """A field read from ``env`` (unset or empty: ``default``), parsed by ``parser`` on every assignment."""
    return dataclasses.field(
        default_factory=lambda: _from_env(env),
        metadata={"env": env, "parser": parser, "default": default},
    )


def _parse(field: dataclasses.Field[Any], value: Any, *, from_env: bool = False) -> Any:
    parser: _Parser = field.metadata["parser"]
    try:
        return parser.convert(value)
    except (ValueError, TypeError):
        env = field.metadata["env"]
        where = f"{env} (settings.{field.name})" if from_env else f"settings.{field.name} ({env})"
        raise KernelbenchError(f"{where} must be {parser.accepts}; got {value!r}") from None


def _from_env(env: str) -> Any:
    field = next(f for f in dataclasses.fields(Settings) if f.metadata["env"] == env)
    raw = os.environ.get(env, "")
    if not raw.strip():
        return field.metadata["default"]
    return _parse(field, raw, from_env=True)


def _fields(names: list[str]) -> dict[str, dataclasses.Field[Any]]:
    """The fields called ``names``; any unknown name is one error listing the settings there are."""
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    unknown = [name for name in names if name not in fields]
    if unknown:
        raise KernelbenchError(
            f"unknown setting(s) {', '.join(map(repr, unknown))}; the settings are {', '.join(fields)}"
        )
    return {name: fields[name] for name in names}


@dataclasses.dataclass
class Settings:
    """kernelbench's settings. Read from the environment at import; change them with :meth:`scope`."""

    #: ``KERNELBENCH_DEVICE``: ``auto`` (a usable GPU if there is one, else CPU), ``cpu`` or ``cuda``.
    device: Device = _setting("KERNELBENCH_DEVICE", _DEVICE, "auto")
    #: ``KERNELBENCH_HOME``: where the run store lives (default ``~/.cache/kernelbench``).
    home: Path = _setting("KERNELBENCH_HOME", _PATH, "~/.cache/kernelbench")
    #: ``KERNELBENCH_CHECK_TRIALS``: default number of trials of ``Kernel.check``.
    check_trials: int = _setting("KERNELBENCH_CHECK_TRIALS", _INT, 3)
    #: ``KERNELBENCH_GPU_WARMUP_MS`` / ``KERNELBENCH_GPU_REP_MS``: ``do_bench`` warm-up and repeat time.
    gpu_warmup_ms: float = _setting("KERNELBENCH_GPU_WARMUP_MS", _FLOAT, 25.0)
    gpu_rep_ms: float = _setting("KERNELBENCH_GPU_REP_MS", _FLOAT, 100.0)
    #: ``KERNELBENCH_CPU_REPS``: timed runs per candidate in the interpreter (median taken).
    cpu_reps: int = _setting("KERNELBENCH_CPU_REPS", _INT, 3)

    #: ``KERNELBENCH_ISOLATE``: run sweep candidates in a worker process: ``auto`` (on a GPU yes, so a
    #: crashing candidate cannot poison the notebook's CUDA context; in the interpreter no, since a
    #: worker costs seconds to start and there is no GPU state to protect), ``1`` or ``0``.
    #: ``None`` is ``auto``; any boolean spelling (``true``/``false``, ``yes``/``no``, ``on``/``off``) works.
    isolate: bool | None = _setting("KERNELBENCH_ISOLATE", _AUTO_BOOL, None)
    #: ``KERNELBENCH_COMPILE_TIMEOUT``: seconds a candidate may spend compiling, Triton to a GPU
    #: binary included (isolated sweeps). Measured on an H200 (benchmarks/compile_survey.py): random
    #: configs compiled in < 1.6 s or > 26 s, and the slow ones (register spills) ran >= 11x slower
    #: than the best, so a compile past 20 s is cut to free its worker.
    compile_timeout_s: float = _setting("KERNELBENCH_COMPILE_TIMEOUT", _FLOAT, 20.0)
    #: ``KERNELBENCH_RUN_TIMEOUT``: seconds a candidate may spend running, checking or timing.
    run_timeout_s: float = _setting("KERNELBENCH_RUN_TIMEOUT", _FLOAT, 60.0)
    #: ``KERNELBENCH_COMPILE_WORKERS``: processes compiling candidates ahead of the one being timed
    #: (GPU only; -1 = half the CPU cores, at most 8).
    compile_workers: int = _setting("KERNELBENCH_COMPILE_WORKERS", _INT, -1)

    #: ``KERNELBENCH_KEEP_WORKERS``: keep a finished sweep's worker processes for the next sweep (of
    #: any kernel: they are set up again, not started again) (``1``), or end them (``0``).
    #: ``kernelbench.release_workers()`` ends kept ones.
    keep_workers: bool = _setting("KERNELBENCH_KEEP_WORKERS", _BOOL, True)
    #: ``KERNELBENCH_GPU_RESOURCES``: on a GPU, record each sweep candidate's registers, spills, shared
    #: memory and occupancy on the device without ``tune(target=...)`` (``1``), or only when a target is
    #: given (``0``, the default: each candidate is compiled once more, in the notebook's process, which
    #: ``benchmarks/screen_bench.py`` measures; turn it on where that is cheap enough).
    gpu_resources: bool = _setting("KERNELBENCH_GPU_RESOURCES", _BOOL, False)
    #: ``KERNELBENCH_EXECUTOR``: where sweeps evaluate candidates: ``local`` (this process or worker
    #: processes, see ``isolate``) or ``ray`` (Ray actors, one per GPU: ``pip install "kernelbench[ray]"``;
    #: a local Ray is started unless this process joined one; ``kernelbench.RayExecutor(address=...)``
    #: per call for a cluster).
    executor: ExecutorName = _setting("KERNELBENCH_EXECUTOR", _EXECUTOR, "local")

    def __setattr__(self, name: str, value: Any) -> None:
        """Every assignment is parsed like the environment: ``settings.isolate = "on"`` stores ``True``."""
        object.__setattr__(self, name, _parse(_fields([name])[name], value))

    @contextlib.contextmanager
    def scope(self, **changes: Any) -> Iterator[Settings]:
        """Temporarily change settings (for tests): ``with settings.scope(cpu_reps=1): ...``.

        Every change is checked before any is applied; the old values come back on exit, error or not.
        """
        fields = _fields(list(changes))
        parsed = {name: _parse(fields[name], value) for name, value in changes.items()}
        old = {name: getattr(self, name) for name in parsed}
        try:
            for name, value in parsed.items():
                setattr(self, name, value)
            yield self
        finally:
            for name, value in old.items():
                setattr(self, name, value)


settings = Settings()
