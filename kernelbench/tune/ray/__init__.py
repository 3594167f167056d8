"""Sweeps on a Ray cluster: one actor per GPU (a CPU each on a CPU-only cluster) evaluates candidates
with the same pipeline as a local worker process (:class:`kernelbench.tune.worker.entry.WorkerState`).

* ``actor``: the actor's body, a plain class (it imports no Ray): a sweep's recipe and inputs once,
  then one config at a time, and a probe that says which phase it is in;
* ``executor``: the driver's side: the actor pool shared by every sweep of a :class:`RayExecutor`
  (and by concurrent sweeps of ``kernelbench.tune_many``), dispatch as actors free up, results in
  completion order, time limits, dead and hung actors replaced.

Layer rule: like the rest of ``tune``, it imports ``_errors``, ``_settings``, ``core`` and ``tune``
only; an actor process loads ``core``, ``tune.worker`` and ``tune.ray.actor`` (and
``kernelbench.io.problem``, by name, where it computes a KernelBench problem's references itself). Ray itself is an
optional extra (``pip install "kernelbench[ray]"``): only ``kernelbench.tune.ray.executor`` imports it,
and this package's names import it when used, never ``import kernelbench``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kernelbench.tune.ray.executor import RayExecutor

__all__ = ["RayExecutor", "default_executor"]


def __getattr__(name: str) -> Any:
    if name == "RayExecutor":
        from kernelbench.tune.ray.executor import RayExecutor

        return RayExecutor
    raise AttributeError(f"module 'kernelbench.tune.ray' has no attribute {name!r}")


def default_executor() -> RayExecutor:
    """The executor ``executor="ray"`` (or ``settings.executor = "ray"``) means: one per process, so its
    actors stay up from one sweep to the next."""
    from kernelbench.tune.ray.executor import shared_executor

    return shared_executor()
