"""Safetensors test cases: round trips, cases for another kernel, and files that must be refused
(pickles that would run code, forged headers) without executing anything."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import kernelbench
from kernelbench import CaseError, CheckError
from kernelbench.io.case import load_case

from .kernels import basic, tiles
from .kernels import exportable as kernels

DEV = kernelbench.DEVICE


@pytest.fixture(autouse=True)
def one_timed_run() -> Any:
    with kernelbench.settings.scope(cpu_reps=1):
        yield


def x32(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(32, 32, device=DEV, dtype=dtype)


def scale_case(path: Path, x: torch.Tensor | None = None) -> Path:
    return tiles.scale.save_case(path, x if x is not None else x32(), ref=lambda t: t * 3)


# --------------------------------------------------------------------------------------------------
# Round trips


def test_case_round_trip_passes(tmp_path: Path) -> None:
    x = x32().t()  # not contiguous: the case keeps the strides the kernel is specialised on
    path = tiles.scale.save_case(tmp_path / "scale.safetensors", x, ref=lambda t: t * 3, seed=7, rtol=1e-3)
    report = tiles.scale.check(case=path)
    assert report.passed and len(report.trials) == 1
    trial = report.trials[0]
    assert trial.inputs == "case scale.safetensors" and trial.reference_precision == "float64"
    assert trial.outputs[0].rtol == 1e-3 and trial.outputs[0].atol == 5e-3  # stored rtol, default atol

    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
        assert sorted(f.keys()) == ["arg_0", "ref_0"]
        assert f.get_tensor("ref_0").dtype == torch.float64
    assert meta["format"] == "kernelbench-case" and meta["format_version"] == "1"
    case = json.loads(meta["case"])
    assert case["kernel"] == "scale" and case["source_hash"] == tiles.scale.source_hash
    assert case["seed"] == 7 and case["rtol"] == 1e-3 and case["atol"] is None
    assert [a["kind"] for a in case["args"]] == ["tensor"]

    loaded = load_case(path)
    assert loaded.args[0].stride() == x.stride() and torch.equal(loaded.args[0], x)
    torch.testing.assert_close(loaded.refs[0], x.double() * 3)


def test_case_with_a_scalar_argument(tmp_path: Path) -> None:
    x = x32()
    path = kernels.scale_by.save_case(tmp_path / "scale_by.safetensors", x, 2.5, ref=lambda t, k: t * k)
    with safe_open(str(path), "pt") as f:
        assert sorted(f.keys()) == ["arg_0", "ref_0"]  # the number is metadata, not a tensor
        args = json.loads(f.metadata()["case"])["args"]
    assert args[1] == {"name": "k", "kind": "value", "value": 2.5}
    assert kernels.scale_by.check(case=path)


def test_a_wrong_kernel_fails_a_case(tmp_path: Path) -> None:
    path = scale_case(tmp_path / "scale.safetensors", torch.randn(64, device=DEV))
    report = tiles.always_wrong.check(case=path)  # computes x * 2 where the case wants x * 3
    assert not report.passed and report.trials[0].outputs[0].mismatch_fraction > 0.9


def test_check_case_takes_its_inputs_from_the_file(tmp_path: Path) -> None:
    path = scale_case(tmp_path / "scale.safetensors")
    with pytest.raises(CheckError, match="takes its inputs and reference from the file"):
        tiles.scale.check(lambda t: t * 3, case=path)
    with pytest.raises(CheckError, match="check needs a reference"):
        tiles.scale.check()


def test_save_case_refuses_values_it_cannot_store(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match=r"argument 1 \(k\) is a dtype; a case holds tensors and JSON values"):
        kernels.scale_by.save_case(tmp_path / "c.safetensors", x32(), torch.float32, ref=lambda t, k: t)


# --------------------------------------------------------------------------------------------------
# A case for another kernel or shape says which argument differs


def test_case_with_another_number_of_arguments(tmp_path: Path) -> None:
    path = scale_case(tmp_path / "scale.safetensors")
    with pytest.raises(CaseError, match=r"add takes 2 argument\(s\) \(x, y\) but the case scale.safetensors has 1 "
                                        r"\(x; saved for scale, not add\)"):
        basic.add.check(case=path)


def test_case_with_a_value_where_a_tensor_goes(tmp_path: Path) -> None:
    path = kernels.scale_by.save_case(tmp_path / "scale_by.safetensors", x32(), 2.5, ref=lambda t, k: t * k)
    with pytest.raises(CaseError, match=r"argument 1 \(y\): add takes a tensor but the case .* has 2.5"):
        basic.add.check(case=path)


def test_case_with_another_shape_names_the_argument(tmp_path: Path) -> None:
    x, w = x32(), torch.randn(32, device=DEV)
    path = basic.rms_norm.save_case(tmp_path / "rms.safetensors", x, w, ref=lambda a, b: a * b)
    basic.add(x, x)
    with pytest.raises(CaseError, match=r"(?s)add cannot run on the case rms.safetensors \(saved for rms_norm, "
                                        r"not add.*argument 1 \(y, the case's w\): the case has float32\[32\] stride \(1,\); "
                                        r"add was last called with float32\[32, 32\]"):
        basic.add.check(case=path)


def test_case_with_other_outputs(tmp_path: Path) -> None:
    path = basic.split.save_case(tmp_path / "split.safetensors", x32(), ref=lambda t: (t * 2, t - 1))
    assert basic.split.check(case=path)
    with pytest.raises(CaseError, match=r"scale returned 1 output\(s\) but the reference returned 2.*split.safetensors"):
        tiles.scale.check(case=path)


# --------------------------------------------------------------------------------------------------
# Files that must be refused, without running anything


class _WritesAFile:
    """Unpickling this calls ``open(path, "w")``: the file appears if anyone unpickles it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str, str]]:
        return (open, (str(self.path), "w"))


def _payload_is_live(tmp_path: Path, protocol: int) -> None:
    """The payload really does write a file when unpickled (so the tests below can fail)."""
    probe = tmp_path / f"probe_{protocol}"
    pickle.loads(pickle.dumps(_WritesAFile(probe), protocol=protocol)).close()
    assert probe.exists()


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_a_pickle_is_refused_and_never_runs(tmp_path: Path, protocol: int) -> None:
    _payload_is_live(tmp_path, protocol)
    marker = tmp_path / "pwned"
    path = tmp_path / "case.safetensors"
    path.write_bytes(pickle.dumps(_WritesAFile(marker), protocol=protocol))
    with pytest.raises(CaseError, match="is not a case kernelbench will open"):
        tiles.scale.check(case=path)
    assert not marker.exists()


def test_a_torch_save_file_is_refused_and_never_runs(tmp_path: Path) -> None:
    _payload_is_live(tmp_path, 2)
    marker = tmp_path / "pwned"
    path = tmp_path / "case.safetensors"
    torch.save({"arg_0": torch.ones(3), "evil": _WritesAFile(marker)}, path)
    with pytest.raises(CaseError, match=r"zip archive \(what torch.save writes, pickles inside\).*never unpickles"):
        tiles.scale.check(case=path)
    assert not marker.exists()


def _parts(path: Path) -> tuple[dict[str, Any], bytes]:
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def _write(path: Path, header: dict[str, Any] | bytes, data: bytes, length: int | None = None) -> Path:
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes((len(text) if length is None else length).to_bytes(8, "little") + text + data)
    return path


def _forge(tmp_path: Path, change: Callable[[dict[str, Any], dict[str, Any]], None]) -> Path:
    """A real case (float64 input, so input and reference are the same size) with its header edited."""
    good = tiles.scale.save_case(tmp_path / "good.safetensors", x32(torch.float64), ref=lambda t: t * 3)
    header, data = _parts(good)
    case = json.loads(header["__metadata__"]["case"])
    change(header, case)
    header["__metadata__"]["case"] = json.dumps(case)
    return _write(tmp_path / "forged.safetensors", header, data)


def _offsets(header: dict[str, Any], key: str, begin: int, end: int) -> None:
    header[key]["data_offsets"] = [begin, end]


FORGERIES: dict[str, tuple[Callable[[dict[str, Any], dict[str, Any]], None], str]] = {
    "offsets out of range": (lambda h, c: _offsets(h, "arg_0", 0, 1 << 40), r"data_offsets .* outside the \d+ bytes"),
    "negative offset": (lambda h, c: _offsets(h, "arg_0", -8, 8184), "outside"),
    "size that does not add up": (lambda h, c: h["arg_0"].update(shape=[64, 64]), "span 8192 bytes"),
    "overlapping tensors": (lambda h, c: h["ref_0"].update(data_offsets=h["arg_0"]["data_offsets"]), "overlap"),
    "unknown dtype": (lambda h, c: h["arg_0"].update(dtype="PYOBJ"), "dtype 'PYOBJ'"),
    "metadata lies about a shape": (lambda h, c: c["args"][0].update(shape=[16, 64]),
                                    r"argument 0 \(x\): the metadata says shape \[16, 64\] but tensor 'arg_0' is \[32, 32\]"),
    "metadata names a missing tensor": (lambda h, c: c["outputs"][0].update(tensor="ref_9"), "'ref_9', which is not in the file"),
    "no kernelbench metadata": (lambda h, c: h["__metadata__"].update(format="pt"), "without kernelbench case metadata"),
    "metadata missing a field": (lambda h, c: c.pop("kernel"), "lacks one of"),
    "a newer format": (lambda h, c: h["__metadata__"].update(format_version="99"), "upgrade kernelbench"),
    "an absurd stride": (lambda h, c: c["args"][0].update(stride=[1 << 40, 1]), "would need"),
}


@pytest.mark.parametrize("name", list(FORGERIES))
def test_forged_headers_are_refused(tmp_path: Path, name: str) -> None:
    change, message = FORGERIES[name]
    with pytest.raises(CaseError, match=message):
        tiles.scale.check(case=_forge(tmp_path, change))


def test_broken_files_are_refused(tmp_path: Path) -> None:
    good = scale_case(tmp_path / "good.safetensors")
    header, data = _parts(good)
    cases = {
        "header length beyond the file": (_write(tmp_path / "a", header, data, length=10**9), "only .* follow"),
        "header not JSON": (_write(tmp_path / "b", b"{not json at all", data), "not valid JSON"),
        "header not an object": (_write(tmp_path / "c", b"[1, 2, 3]", b""), "not a JSON object"),
        "too short": (tmp_path / "d", "too short"),
        "no metadata": (_write(tmp_path / "e", {k: v for k, v in header.items() if k != "__metadata__"}, data),
                        "no __metadata__"),
        "missing": (tmp_path / "nothing.safetensors", "no case file at"),
    }
    (tmp_path / "d").write_bytes(b"\x01\x02")
    for path, message in cases.values():
        with pytest.raises(CaseError, match=message):
            tiles.scale.check(case=path)


def test_plain_safetensors_and_extra_tensors_are_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain.safetensors"
    save_file({"x": torch.ones(4)}, str(plain))
    with pytest.raises(CaseError, match="no __metadata__"):
        tiles.scale.check(case=plain)
    good = scale_case(tmp_path / "good.safetensors")
    with safe_open(str(good), "pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta = f.metadata()
    save_file({**tensors, "smuggled": torch.zeros(2)}, str(tmp_path / "extra.safetensors"), metadata=meta)
    with pytest.raises(CaseError, match=r"tensors its metadata does not mention: \['smuggled'\]"):
        tiles.scale.check(case=tmp_path / "extra.safetensors")
