"""benchmarks/merge_score.py: parts of a score run (``--only``) joined into one table and fast_p."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.merge_score import main, merge
from kernelbench.io.problem import ScoreReport, ScoreRow


def _part(rows: list[ScoreRow], limit: float = 60.0) -> dict:
    return json.loads(json.dumps(ScoreReport(rows, "NVIDIA H200", "do_bench median", limit).to_json()))


def test_parts_join_and_fast_p_is_over_all_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fast = ScoreRow("relu", "relu", "ok", correct=True, kernel_ms=1.0, eager_ms=3.0, compile_ms=1.5)
    slow = ScoreRow("gelu", "gelu", "ok", correct=True, kernel_ms=2.0, eager_ms=1.0, compile_ms=1.0)
    wrong = ScoreRow("softmax", "softmax", "wrong", error="trial 1: 50% mismatched")
    retried = ScoreRow("softmax", "softmax", "ok", correct=True, kernel_ms=1.0, eager_ms=1.2, compile_ms=1.0)
    report = merge([_part([fast, wrong]), _part([slow]), _part([retried])])
    assert [r.problem for r in report.rows] == ["gelu", "relu", "softmax"]
    assert report.fast_p(0) == 1.0 and report.fast_p(1) == pytest.approx(2 / 3) and report.fast_p(2) == pytest.approx(1 / 3)

    paths = []
    for k, part in enumerate([_part([fast, wrong]), _part([slow])]):
        paths.append(tmp_path / f"p{k}.json")
        paths[-1].write_text(json.dumps(part))
    assert main([*map(str, paths), "--json", str(tmp_path / "all.json")]) == 0
    merged = json.loads((tmp_path / "all.json").read_text())
    assert [r["problem"] for r in merged["rows"]] == ["gelu", "relu", "softmax"]
    assert merged["fast_p"]["eager"]["1"] == pytest.approx(1 / 3)
    assert "| relu | relu | ok |" in capsys.readouterr().out


def test_parts_of_different_settings_are_refused() -> None:
    with pytest.raises(SystemExit, match="differ in device .* or time limit"):
        merge([_part([], 60.0), _part([], 15.0)])
