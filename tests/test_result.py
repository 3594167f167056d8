"""SweepResult as people read and keep it: the summary's figures and the HTML report."""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch

import kernelbench
from kernelbench import SweepError
from kernelbench.tune.records import Candidate
from kernelbench.tune.result import SweepResult

from .kernels import tiles

DEV = kernelbench.DEVICE


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> SweepResult:
    with kernelbench.settings.scope(cpu_reps=1, home=tmp_path_factory.mktemp("result_home")):
        x = torch.randn(64, 64, device=DEV)
        # A listed grid: the candidates are known, and [4, 4] (256 tiles) is the slow one in the interpreter.
        return tiles.scale.tune(x, ref=lambda t: t * 3, flops=1, fixed={"block_sizes": [[64, 64], [32, 64], [4, 4]]},
                                live=False)


def test_summary_gives_significant_figures_not_rounded_zeros(result: SweepResult) -> None:
    text = result.summary()
    assert result.tflops() is not None and result.tflops() < 1e-6  # 1 flop in milliseconds
    assert not re.search(r"\b0\.0+ (TFLOP/s|GB/s|x)", text)
    assert not re.search(r"\b0\.0+x", text)
    tflops = re.search(r"([0-9.e+-]+) TFLOP/s", text)
    assert tflops and float(tflops.group(1)) == pytest.approx(result.tflops(), rel=5e-3)


def test_report_is_styled_sorted_and_says_where_it_ran(result: SweepResult, tmp_path: Any) -> None:
    page = result.to_html(tmp_path / "r.html").read_text()
    assert "<style>" in page and "sans-serif" in page and "max-width" in page
    assert page.count("plotly.js v") == 1 and 'src="https://cdn.plot.ly' not in page  # inlined, once
    assert result.info.timer in page and result.summary() not in page  # facts, not one long line
    # The decorator, one knob per line, escaped.
    first_knob = result.decorator().splitlines()[1].strip()
    assert first_knob.replace("'", "&#x27;") in page
    # Rows sorted by latency, the knob that varied as a column, and no compile time in the interpreter.
    table = page.split("Candidates, fastest first", 1)[1].split("</table>", 1)[0]
    ms = [float(m) for m in re.findall(r"</span></td><td>([0-9.e+-]+)</td>", table)]
    assert len(ms) == 3 and ms == sorted(ms)
    assert "<th>block_sizes</th>" in table and "<th>num_warps</th>" not in table
    assert ("compile s" in table) is (not kernelbench.is_interpreter())
    env = page.split("Environment", 1)[1]
    assert f"torch {torch.__version__}" in env and "helion" in env and result.info.mode in env


def test_report_with_plotlyjs_from_the_cdn_is_small(result: SweepResult, tmp_path: Any) -> None:
    inline = result.to_html(tmp_path / "inline.html")
    cdn = result.to_html(tmp_path / "cdn.html", plotlyjs="cdn")
    assert 'src="https://cdn.plot.ly' in cdn.read_text()
    assert cdn.stat().st_size < 100_000 < 1_000_000 < inline.stat().st_size
    with pytest.raises(SweepError, match="plotlyjs must be one of 'inline', 'cdn'"):
        result.to_html(tmp_path / "x.html", plotlyjs="none")


@pytest.mark.skipif(not kernelbench.is_interpreter(), reason="the slow cut is the interpreter's")
def test_report_lists_slow_candidates_with_why(result: SweepResult, tmp_path: Any) -> None:
    page = result.to_html(tmp_path / "r.html", plotlyjs="cdn").read_text()
    assert "st-slow'>slow</span>" in page and "Notes" in page and "best so far" in page


def test_report_of_a_sweep_with_no_correct_candidate(result: SweepResult, tmp_path: Any) -> None:
    wrong = [Candidate(0, c.config, "wrong", ms=1.0, error="output 0: 50% mismatched") for c in result.candidates[:1]]
    failed = SweepResult(result.info, wrong, "budget", 1.0)
    page = failed.to_html(tmp_path / "w.html", plotlyjs="cdn").read_text()
    assert "no candidate of scale was correct" in page and "50% mismatched" in page
