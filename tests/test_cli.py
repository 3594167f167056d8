"""The ``kernelbench`` console command (``kernelbench/cli.py``): as CI runs it (a subprocess of this
venv's python, ``python -m kernelbench``), and in-process through ``main`` for the slower commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kernelbench.cli import main

PROBLEMS = Path(__file__).parent / "problems"
KERNELS = PROBLEMS / "kernels"
ROOT = Path(__file__).parent.parent


def kb(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KERNELBENCH_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "kernelbench", *args], capture_output=True, text=True,
                          timeout=600, env=env, cwd=ROOT)


def test_check_exits_0_on_pass_and_1_on_fail(kernelbench_home: Path) -> None:
    ok = kb("check", f"{KERNELS / 'layer_norm.py'}::layer_norm", "--problem", str(PROBLEMS / "layer_norm.py"),
            "--sizes", "features=24", home=kernelbench_home)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("CheckReport(layer_norm: PASS, 3 trial(s); reference in float64)"), ok.stdout
    assert "float32[16, 24]" in ok.stdout
    bad = kb("check", f"{KERNELS / 'layer_norm.py'}::layer_norm_no_affine", "--problem",
             str(PROBLEMS / "layer_norm.py"), home=kernelbench_home)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "FAIL" in bad.stdout.splitlines()[0] and "first mismatches (trial 2" in bad.stdout


def test_errors_are_one_line_with_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["check", f"{KERNELS / 'layer_norm.py'}::layer_norm", "--problem", str(PROBLEMS / "layer_norm.py"),
                 "--sizes", "N=4"])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err == ("kernelbench: error: layer_norm.py has no size constant 'N'; its module-level constants "
                            "are: rows=16, features=32, cols=32\n")
    code = main(["check", str(tmp_path / "missing.py"), "--problem", str(PROBLEMS / "layer_norm.py")])
    assert code == 2 and "missing.py: no such file" in capsys.readouterr().err
    code = main(["score", str(tmp_path), "--problems", str(tmp_path / "nowhere")])
    assert code == 2 and "does not exist" in capsys.readouterr().err
    code = main(["score", str(KERNELS), "--problems", str(PROBLEMS), "--only", "scale_add,nope"])
    assert code == 2 and "has no problem nope; its problems are: cross_entropy, float32_inside" in capsys.readouterr().err


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("check", "tune", "bench", "history", "export", "score"):
        with pytest.raises(SystemExit) as exit_:
            main([command, "--help"])
        assert exit_.value.code == 0
        assert f"usage: kernelbench {command}" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["check", str(KERNELS / "layer_norm.py")])  # no --problem: argparse's usage error
    assert exit_.value.code == 2 and "--problem" in capsys.readouterr().err


def test_a_file_with_several_kernels_needs_a_name(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", str(KERNELS / "layer_norm.py"), "--problem", str(PROBLEMS / "layer_norm.py")])
    err = capsys.readouterr().err
    assert code == 2 and "defines 2 kernels (layer_norm, layer_norm_no_affine); name one as" in err
    code = main(["check", f"{KERNELS / 'layer_norm.py'}::nope", "--problem", str(PROBLEMS / "layer_norm.py")])
    assert code == 2 and "has no 'nope'; its kernels are: layer_norm, layer_norm_no_affine" in capsys.readouterr().err


def test_tune_writes_a_report_then_history_and_export_read_it(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    kernel, problem = f"{KERNELS / 'scale_add.py'}::scale_add", str(PROBLEMS / "scale_add.py")
    html = tmp_path / "report.html"
    assert main(["tune", kernel, "--problem", problem, "--budget", "2", "--out", str(html)]) == 0
    captured = capsys.readouterr()
    assert "@helion.kernel(config=" in captured.out and html.read_text().lstrip().startswith("<")
    assert "tuning scale_add" in captured.err, "the sweep's progress belongs on stderr"
    assert main(["history", "scale_add"]) == 0
    assert "scale_add" in capsys.readouterr().out
    exported = tmp_path / "scale_add_tuned.py"
    assert main(["export", kernel, "--problem", problem, "--out", str(exported)]) == 0
    assert "@helion.kernel(config=" in exported.read_text()


def test_bench_prints_the_kernel_beside_the_eager_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    csv = tmp_path / "bench.csv"
    code = main(["bench", f"{KERNELS / 'scale_add.py'}::scale_add", "--problem", str(PROBLEMS / "scale_add.py"),
                 "--over", "dim=16,32", "--no-compile", "--csv", str(csv)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "eager" in out and "torch.compile" not in out and csv.read_text().count("scale_add") == 2


def test_score_writes_fast_p_and_fails_ci_on_a_wrong_kernel(kernelbench_home: Path, tmp_path: Path) -> None:
    report = tmp_path / "score.json"
    out = kb("score", str(KERNELS), "--problems", str(PROBLEMS), "--no-compile", "--json", str(report),
             home=kernelbench_home)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "| fast_p | p=0 | p=1 | p=1.5 | p=2 |" in out.stdout and "5/5" in out.stderr
    data = json.loads(report.read_text())
    assert data["fast_p"]["eager"]["0"] == pytest.approx(0.8)  # 4 of 5 problems have a kernel, all correct
    # A wrong kernel: the table is still printed, and the exit code fails the CI job.
    kernels, problems = tmp_path / "kernels", tmp_path / "problems"
    kernels.mkdir()
    problems.mkdir()
    (problems / "scale_add.py").write_text((PROBLEMS / "scale_add.py").read_text())
    wrong = (KERNELS / "scale_add.py").read_text().replace("2.5 * x[tile]", "2.0 * x[tile]")
    (kernels / "scale_add.py").write_text(wrong)
    code = main(["score", str(kernels), "--problems", str(problems), "--no-compile", "--csv"])
    assert code == 1
