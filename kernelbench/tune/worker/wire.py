"""The wire format between a sweep and its worker processes: a JSON header naming the tensors (dtype,
shape), then one raw buffer per tensor. Nothing is pickled; tensors are sent from and received into
tensor memory without copies."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

import torch

from kernelbench._errors import SweepError

__all__ = ["digest", "pack_args", "recv", "send", "unpack_args"]

_SIMPLE = (int, float, bool, str, type(None))


def send(conn: Connection, header: dict[str, Any], tensors: dict[str, torch.Tensor] | None = None) -> None:
    flat = {key: value.detach().contiguous().cpu() for key, value in (tensors or {}).items()}
    layout = [[key, str(t.dtype).removeprefix("torch."), list(t.shape)] for key, t in flat.items()]
    conn.send_bytes(json.dumps({**header, "_tensors": layout}).encode())
    for t in flat.values():
        conn.send_bytes(t.reshape(-1).view(torch.uint8).numpy())  # the tensor's memory, not a copy


def recv(conn: Connection) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    header = json.loads(conn.recv_bytes().decode())
    tensors: dict[str, torch.Tensor] = {}
    for key, dtype_name, shape in header.pop("_tensors", []):
        dtype = getattr(torch, dtype_name, None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"unknown tensor dtype {dtype_name!r} in a worker message")
        out = torch.empty(shape, dtype=dtype)
        raw = out.reshape(-1).view(torch.uint8)
        if raw.numel():
            got = conn.recv_bytes_into(raw.numpy())
        else:
            got = len(conn.recv_bytes())
        if got != raw.numel():
            raise ValueError(f"tensor {key!r}: expected {raw.numel()} bytes, got {got}")
        tensors[key] = out
    return header, tensors


def pack_args(prefix: str, args: Sequence[Any]) -> tuple[list[Any], dict[str, torch.Tensor]]:
    """Tensor arguments as named tensors plus their layout; other arguments as JSON values."""
    specs: list[Any] = []
    tensors: dict[str, torch.Tensor] = {}
    for i, a in enumerate(args):
        if isinstance(a, torch.Tensor):
            key = f"{prefix}{i}"
            tensors[key] = a
            specs.append({"tensor": key, "shape": list(a.shape), "stride": list(a.stride()),
                          "dtype": str(a.dtype).removeprefix("torch.")})
        elif isinstance(a, _SIMPLE):
            specs.append({"value": a})
        else:
            raise SweepError(
                f"argument {i} is a {type(a).__name__}, which cannot travel to a worker process; "
                "pass tensors and plain numbers, or tune with isolate=False"
            )
    return specs, tensors


def unpack_args(specs: list[Any], tensors: dict[str, torch.Tensor], device: str, fake: bool = False) -> tuple[Any, ...]:
    out: list[Any] = []
    for spec in specs:
        if "tensor" in spec:
            dtype = getattr(torch, spec["dtype"])
            shape, stride = spec["shape"], spec["stride"]
            # An expanded (stride-0) argument, as fp8_matmul's `scale.expand(m, n)`, arrives expanded:
            # its base is filled and expanded the same way (copy_ into overlapping memory raises).
            expanded = [s == 0 and d > 1 for d, s in zip(shape, stride)]
            base_shape = [1 if e else d for d, e in zip(shape, expanded)]
            t = torch.empty_strided(base_shape, stride, dtype=dtype, device=device)
            if not fake:  # compile-only workers need the layout, not the data
                t.copy_(tensors[spec["tensor"]][tuple(slice(0, 1) if e else slice(None) for e in expanded)])
            out.append(t.expand(shape) if any(expanded) else t)
        else:
            out.append(spec["value"])
    return tuple(out)




#: Tensors over this many bytes are hashed in chunks, side by side in threads (hashlib lets go of the
#: interpreter lock while it hashes): a 4096 x 16384 float64 reference (512 MB) in 0.29 s instead of
#: 0.57 s with one blake2b on a 2-core machine, and faster with more cores.
_CHUNK = 1 << 25
_hashers: concurrent.futures.ThreadPoolExecutor | None = None


def _hash_bytes(raw: memoryview) -> bytes:
    global _hashers
    if len(raw) <= _CHUNK:
        return hashlib.sha256(raw).digest()
    if _hashers is None:
        _hashers = concurrent.futures.ThreadPoolExecutor(min(8, os.cpu_count() or 1), "kernelbench-digest")
    return b"".join(_hashers.map(lambda i: hashlib.sha256(raw[i:i + _CHUNK]).digest(), range(0, len(raw), _CHUNK)))


def digest(args: Sequence[Any]) -> str:
    """A fingerprint of arguments' exact bits (tensors: dtype, shape, strides and bytes; other values:
    their JSON): equal digests mean a worker redrew exactly the inputs the notebook drew (or computed
    exactly its reference outputs)."""
    h = hashlib.blake2b(digest_size=16)
    for a in args:
        if isinstance(a, torch.Tensor):
            h.update(json.dumps([str(a.dtype), list(a.shape), list(a.stride())]).encode())
            # hashed in place, not copied (a tensor on the GPU is copied to the host once)
            h.update(_hash_bytes(memoryview(a.detach().contiguous().cpu().reshape(-1).view(torch.uint8).numpy())))
        else:
            h.update(json.dumps(a).encode())
    return h.hexdigest()
