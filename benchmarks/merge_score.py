"""Merge the JSON of ``kernelbench score --only ... --json PART.json`` runs into one table.

A GPU call is limited to 10 minutes, so a score with 60 s of tuning per problem runs in parts
(``--only``); this joins them: the rows of every part (a problem scored twice keeps its last part's
row), ``fast_p`` over all of them, the markdown table and the merged JSON.

    python3 benchmarks/merge_score.py part1.json part2.json --json score.json > score.md
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from kernelbench.io.problem import ScoreReport, ScoreRow

_FIELDS = {f.name for f in dataclasses.fields(ScoreRow)}


def merge(parts: list[dict[str, Any]]) -> ScoreReport:
    """One report of the rows of ``parts`` (in order; a later part's row for a problem wins)."""
    if not parts:
        raise SystemExit("merge_score: give at least one PART.json")
    devices = {p["device"] for p in parts}
    limits = {p["time_limit"] for p in parts}
    if len(devices) > 1 or len(limits) > 1:
        raise SystemExit(f"merge_score: the parts differ in device {sorted(devices)} or time limit {sorted(limits)}; "
                         "merge parts of one setting only")
    rows: dict[str, ScoreRow] = {}
    for part in parts:
        for row in part["rows"]:
            rows[row["problem"]] = ScoreRow(**{k: v for k, v in row.items() if k in _FIELDS})
    return ScoreReport(sorted(rows.values(), key=lambda r: r.problem), parts[0]["device"], parts[0]["timer"],
                       parts[0]["time_limit"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="+", type=Path, metavar="PART.json")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the merged rows and fast_p")
    args = parser.parse_args(argv)
    parts = [json.loads(p.read_text()) for p in args.parts]
    report = merge(parts)
    print(report.to_markdown())
    if args.json:
        merged = report.to_json()
        merged["date"], merged["versions"] = parts[-1]["date"], parts[-1]["versions"]  # when and with what it ran
        merged["parts"] = [str(p) for p in args.parts]
        args.json.write_text(json.dumps(merged, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
