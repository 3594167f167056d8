"""binder/: the files repo2docker reads parse, ``start`` switches Triton's interpreter on when there is
no GPU and opens in notebooks/, and the requirement set resolves (a pip dry run; it needs an index)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from packaging.requirements import Requirement

import kernelbench

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"


def requirement_lines() -> list[str]:
    lines = [line.split("#", 1)[0].strip() for line in (BINDER / "requirements.txt").read_text().splitlines()]
    return [line for line in lines if line]


def test_binder_files_parse() -> None:
    assert re.fullmatch(r"python-3\.\d+", (BINDER / "runtime.txt").read_text().strip())
    requirements, options = {}, []
    for line in requirement_lines():
        if line.startswith("--"):
            options.append(line.split())
        elif line == ".":
            requirements["kernelbench"] = None  # the project itself, from the repository's root
        else:
            requirement = Requirement(line)
            requirements[requirement.name] = requirement
    assert ["--extra-index-url", "https://download.pytorch.org/whl/cpu"] in options
    # A CPU build of torch, pinned: an unpinned torch would pull gigabytes of CUDA packages.
    assert str(requirements["torch"].specifier).endswith("+cpu")
    assert "kernelbench" in requirements
    for script in ("postBuild", "start"):
        path = BINDER / script
        assert os.access(path, os.X_OK), f"binder/{script} must be executable"
        assert path.read_text().startswith("#!/usr/bin/env bash\n")
        subprocess.run(["bash", "-n", str(path)], check=True)
    assert (BINDER / "start").read_text().rstrip().endswith('exec "$@"')


def test_start_switches_on_the_interpreter_without_a_gpu(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}  # importing kernelbench set it here
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # `python` has torch
    probe = "import json, os, sys; print(json.dumps([os.environ.get('TRITON_INTERPRET'), os.getcwd(), sys.argv[1:]]))"
    done = subprocess.run([str(BINDER / "start"), sys.executable, "-c", probe, "two words", "--flag"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True)
    interpret, cwd, argv = json.loads(done.stdout.strip().splitlines()[-1])
    assert interpret == (None if torch.cuda.is_available() else "1")
    assert Path(cwd) == ROOT / "notebooks"
    assert argv == ["two words", "--flag"]  # the server's command line goes through untouched


@pytest.mark.skipif(os.environ.get("KERNELBENCH_OFFLINE") == "1",
                    reason="KERNELBENCH_OFFLINE=1: no package index here (the GPU host); CI resolves it")
def test_requirement_set_resolves(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report",
         str(report), "--timeout", "15", "--retries", "1", "-r", str(BINDER / "requirements.txt")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    versions = {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in json.loads(report.read_text())["install"]}
    assert versions["torch"].endswith("+cpu"), versions["torch"]
    assert versions["kernelbench"] == kernelbench.__version__
    for needed in ("helion", "triton", "ipywidgets", "plotly", "anywidget", "jupyter-ui-poll"):
        assert needed in versions, sorted(versions)
