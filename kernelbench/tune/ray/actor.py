"""The body of a sweep actor: what runs in each Ray actor process. A plain class (no Ray import
here): :mod:`kernelbench.tune.ray.executor` makes it an actor.

An actor holds the set-up of the last few sweeps it served (kernel from its recipe, inputs, check
references), so concurrent sweeps of ``tune_many`` share actors without setting up again. Everything
it is sent is JSON and raw tensor buffers (numpy arrays in Ray's object store): nothing of the user's
is pickled. Check inputs drawn by ``fresh_inputs`` and references that can be rebuilt by name are
made here, as in a local worker (:class:`~kernelbench.tune.worker.entry.WorkerState`); a mismatch
with the notebook's bits is answered ``redraw`` and the driver sends them.
"""

from __future__ import annotations

import collections
import json
import os
import socket
import time
import warnings
from typing import Any

import numpy as np
import torch

import kernelbench.core.device as _device
from kernelbench.core.evaluate import Phase, short_error
from kernelbench.tune.worker.entry import RedrawMismatch, WorkerState, loaded_modules

__all__ = ["SweepActor", "from_payload", "to_payload"]

#: Sweeps an actor keeps set up (``tune_many`` interleaves this many shapes without setting up again).
KEEP_SWEEPS = 8


def to_payload(header: dict[str, Any], tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    """A sweep's set-up as plain data: the JSON header and each tensor's bytes (with dtype and shape)."""
    flat = {key: t.detach().contiguous().cpu() for key, t in tensors.items()}
    return {"header": json.dumps(header),
            "tensors": {key: [str(t.dtype).removeprefix("torch."), list(t.shape), t.reshape(-1).view(torch.uint8).numpy()]
                        for key, t in flat.items()}}


def from_payload(payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    tensors: dict[str, torch.Tensor] = {}
    for key, (dtype_name, shape, raw) in payload["tensors"].items():
        dtype = getattr(torch, dtype_name, None)
        if not isinstance(dtype, torch.dtype) or not isinstance(raw, np.ndarray):
            raise ValueError(f"tensor {key!r}: not a tensor buffer of a known dtype ({dtype_name!r})")
        with warnings.catch_warnings():  # the object store's buffers are read-only: they are only read
            warnings.simplefilter("ignore", UserWarning)
            tensors[key] = torch.from_numpy(raw).view(dtype).reshape(shape)
    return json.loads(payload["header"]), tensors


class SweepActor:
    """Sets sweeps up and evaluates their candidates, one at a time; :meth:`probe` answers meanwhile."""

    def __init__(self) -> None:
        self.states: collections.OrderedDict[str, WorkerState] = collections.OrderedDict()
        self.failed: dict[str, dict[str, Any]] = {}
        self._phase: tuple[str, float] = ("idle", time.perf_counter())

    def hello(self) -> dict[str, Any]:
        """Who this actor is: its pid (for tests), host, device and the kernelbench modules it loaded."""
        return {"pid": os.getpid(), "host": socket.gethostname(), "device": _device.DEVICE,
                "modules": loaded_modules()}

    def setup(self, key: str, payload: dict[str, Any]) -> dict[str, Any]:
        self._phase = ("setup", time.perf_counter())
        try:
            header, tensors = from_payload(payload)
            self.states[key] = WorkerState(header, tensors)
            self.failed.pop(key, None)
            while len(self.states) > KEEP_SWEEPS:
                self.states.popitem(last=False)
            return {"ready": True}
        except RedrawMismatch as error:
            self.failed[key] = {"missing": True, "redraw": True, "error": str(error)}
        except Exception as error:  # noqa: BLE001 - the driver turns this into a clear error
            self.failed[key] = {"missing": True, "error": short_error(error)}
        finally:
            self._phase = ("idle", time.perf_counter())
        return {"ready": False, **self.failed[key]}

    def evaluate(self, key: str, config: dict[str, Any]) -> dict[str, Any]:
        """One candidate's outcome (``Outcome.to_json()``), or ``{"missing": ...}`` if ``key`` is not set up."""
        state = self.states.get(key)
        if state is None:
            return self.failed.get(key, {"missing": True, "error": "this actor was not set up for the sweep"})
        self.states.move_to_end(key)

        def phase(name: Phase) -> None:
            self._phase = (name, time.perf_counter())

        try:
            return state.evaluate(config, on_phase=phase).to_json()
        finally:
            self._phase = ("idle", time.perf_counter())

    def forget(self, key: str) -> None:
        self.states.pop(key, None)
        self.failed.pop(key, None)

    def probe(self) -> tuple[str, float]:
        """The phase being run (``setup``, ``compile``, ``run`` or ``idle``) and for how many seconds."""
        name, since = self._phase
        return name, time.perf_counter() - since
