"""Settings in one dataclass: each field documents its environment variable and is parsed strictly."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

from ._errors import KernelbenchError

__all__ = ["Settings", "settings"]


def _env_int(var: str, default: int) -> int:
    value = os.environ.get(var)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise KernelbenchError(f"{var} must be an integer, got {value!r}") from None


def _env_float(var: str, default: float) -> float:
    value = os.environ.get(var)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise KernelbenchError(f"{var} must be a number, got {value!r}") from None


def _env_choice(var: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(var, "") or default
    if value not in choices:
        raise KernelbenchError(f"{var} must be one of {', '.join(choices)}; got {value!r}")
    return value


@dataclasses.dataclass
class Settings:
    """kernelbench's settings. Read from the environment at import; change them with :meth:`scope`."""

    #: ``KERNELBENCH_DEVICE``: ``auto`` (a usable GPU if there is one, else CPU), ``cpu`` or ``cuda``.
    device: str = dataclasses.field(
        default_factory=lambda: _env_choice("KERNELBENCH_DEVICE", "auto", ("auto", "cpu", "cuda"))
    )
    #: ``KERNELBENCH_HOME``: where the run store lives (default ``~/.cache/kernelbench``).
    home: Path = dataclasses.field(
        default_factory=lambda: Path(
            os.environ.get("KERNELBENCH_HOME") or Path.home() / ".cache" / "kernelbench"
        )
    )
    #: ``KERNELBENCH_CHECK_TRIALS``: default number of trials of ``Kernel.check``.
    check_trials: int = dataclasses.field(
        default_factory=lambda: _env_int("KERNELBENCH_CHECK_TRIALS", 3)
    )
    #: ``KERNELBENCH_GPU_WARMUP_MS`` / ``KERNELBENCH_GPU_REP_MS``: ``do_bench`` warm-up and repeat time.
    gpu_warmup_ms: float = dataclasses.field(
        default_factory=lambda: _env_float("KERNELBENCH_GPU_WARMUP_MS", 25.0)
    )
    gpu_rep_ms: float = dataclasses.field(
        default_factory=lambda: _env_float("KERNELBENCH_GPU_REP_MS", 100.0)
    )
    #: ``KERNELBENCH_CPU_REPS``: timed runs per candidate in the interpreter (median taken).
    cpu_reps: int = dataclasses.field(default_factory=lambda: _env_int("KERNELBENCH_CPU_REPS", 3))

    #: ``KERNELBENCH_ISOLATE``: run sweep candidates in a worker process: ``auto`` (on a GPU yes, so a
    #: crashing candidate cannot poison the notebook's CUDA context; in the interpreter no, since a
    #: worker costs seconds to start and there is no GPU state to protect), ``1`` or ``0``.
    isolate: str = dataclasses.field(
        default_factory=lambda: _env_choice("KERNELBENCH_ISOLATE", "auto", ("auto", "1", "0"))
    )
    #: ``KERNELBENCH_COMPILE_TIMEOUT``: seconds a candidate may spend compiling, Triton to a GPU
    #: binary included (isolated sweeps). Measured on an H200 (benchmarks/compile_survey.py): random
    #: configs compiled in < 1.6 s or > 26 s, and the slow ones (register spills) ran >= 11x slower
    #: than the best, so a compile past 20 s is cut to free its worker.
    compile_timeout_s: float = dataclasses.field(
        default_factory=lambda: _env_float("KERNELBENCH_COMPILE_TIMEOUT", 20.0)
    )
    #: ``KERNELBENCH_RUN_TIMEOUT``: seconds a candidate may spend running, checking or timing.
    run_timeout_s: float = dataclasses.field(default_factory=lambda: _env_float("KERNELBENCH_RUN_TIMEOUT", 60.0))
    #: ``KERNELBENCH_COMPILE_WORKERS``: processes compiling candidates ahead of the one being timed
    #: (GPU only; -1 = half the CPU cores, at most 8).
    compile_workers: int = dataclasses.field(
        default_factory=lambda: _env_int("KERNELBENCH_COMPILE_WORKERS", -1)
    )

    #: ``KERNELBENCH_KEEP_WORKERS``: keep a finished sweep's worker processes for the next sweep (of
    #: any kernel: they are set up again, not started again) (``1``), or end them (``0``).
    #: ``kernelbench.release_workers()`` ends kept ones.
    keep_workers: bool = dataclasses.field(
        default_factory=lambda: _env_choice("KERNELBENCH_KEEP_WORKERS", "1", ("0", "1")) == "1"
    )

    @contextlib.contextmanager
    def scope(self, **changes: object) -> Iterator[Settings]:
        """Temporarily change settings (for tests): ``with settings.scope(cpu_reps=1): ...``."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise KernelbenchError(f"unknown setting(s) {sorted(unknown)}")
        old = {name: getattr(self, name) for name in changes}
        for name, value in changes.items():
            setattr(self, name, value)
        try:
            yield self
        finally:
            for name, value in old.items():
                setattr(self, name, value)


settings = Settings()
