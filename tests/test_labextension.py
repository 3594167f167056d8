"""The "Kernel runs" panel: the prebuilt lab extension (``kernelbench/labextension``, built from
``extensions/kernel-runs``) and its server extension (``kernelbench/server.py``).

The REST payloads are read from a real run store written by real ``tune`` calls; the panel is driven
in a real JupyterLab on 127.0.0.1 in Debian's Chromium through Playwright: it lists the store's runs,
a click draws a run's chart, a sweep started in a notebook shows up as running and ends finished,
"Insert cell" puts a cell into the notebook that, run, pins the config. A REST request without the
token is refused. The panel's screenshot is ``docs/screenshots/runs-panel.png`` (the README's).
"""

from __future__ import annotations

import ast
import json
import os
import re
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

import kernelbench
from kernelbench.server import run_detail, runs_list
from kernelbench.store.sqlite import SQLiteStore

from ._lab import BROWSER_MARKS, chromium, jupyterlab, wait_idle
from .kernels import tiles

ROOT = Path(__file__).resolve().parents[1]
LABEXTENSION = ROOT / "kernelbench" / "labextension"
SCREENSHOT = ROOT / "docs" / "screenshots" / "runs-panel.png"
ARTIFACTS = ROOT / "test-artifacts"
#: The notebook's sweep: ended by its time limit, long enough for the panel to see it running (the
#: interpreter measures ~20 candidates a second of this kernel: a budget alone ended it before).
SWEEP_BUDGET, SWEEP_LIMIT_S = 1000, 12


def _x() -> torch.Tensor:
    return torch.randn(64, 64, device=kernelbench.DEVICE)


# --------------------------------------------------------------------------------------------------
# The payloads, from a real store


def test_runs_are_listed_newest_first_with_origin_throughput_and_state(kernelbench_home: Path) -> None:
    x = _x()
    tiles.scale.tune(x, ref=lambda x: x * 3, budget=3, live=False, seed=1)
    tiles.scale.tune(x, ref=lambda x: x * 3, budget=2, live=False, seed=2)
    store = SQLiteStore(kernelbench_home / "runs.sqlite", read_only=True)
    newest, oldest = runs_list(store)
    assert (newest["seed"], oldest["seed"]) == (2, 1) and newest["id"] > oldest["id"]
    assert newest["kernel"] == "scale" and newest["state"] == "finished" and newest["ended"] == "budget"
    assert newest["origin"] == os.path.abspath(sys.argv[0])  # this process: pytest
    assert newest["candidates"] == 2 and oldest["candidates"] == 3
    nbytes = 2 * x.numel() * x.element_size()  # bytes of all tensor inputs and outputs
    assert newest["gbps"] == pytest.approx(nbytes / (newest["best_ms"] / 1e3) / 1e9)
    assert runs_list(store, "nothing") == []

    detail = run_detail(store, oldest["id"])
    assert detail is not None and [c["index"] for c in detail["candidate_list"]] == [0, 1, 2]
    top = detail["top"]
    assert top and [t["ms"] for t in top] == sorted(t["ms"] for t in top)
    assert top[0]["decorator"].startswith("@helion.kernel(config=helion.Config(")
    # The pin cell: valid Python that calls scale.pin with exactly the stored knobs.
    call = ast.parse(top[0]["pin"]).body[-1].value
    assert ast.unparse(call.func) == "scale.pin" and ast.unparse(call.args[0].func) == "helion.Config"
    assert {k.arg: ast.literal_eval(k.value) for k in call.args[0].keywords} == top[0]["config"]
    assert run_detail(store, 999) is None


def test_a_run_without_an_end_is_running_while_its_process_lives(kernelbench_home: Path) -> None:
    path = kernelbench_home / "runs.sqlite"
    tiles.scale.tune(_x(), budget=1, live=False)
    store, conn = SQLiteStore(path, read_only=True), sqlite3.connect(path)
    with conn:  # as a sweep still measuring leaves it: no end yet, started by this (live) process
        conn.execute("UPDATE runs SET finished = NULL, stopped = NULL")
    assert runs_list(store)[0]["state"] == "running"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with conn:  # a kernel that died mid-sweep
        conn.execute("UPDATE runs SET pid = ?", (int(dead.stdout),))
    (run,) = runs_list(store)
    assert (run["state"], run["ended"]) == ("died", "process died")


def test_a_kernel_name_that_is_not_a_python_name_gets_no_pin_cell(kernelbench_home: Path) -> None:
    path = kernelbench_home / "runs.sqlite"
    tiles.scale.tune(_x(), budget=1, live=False)
    store, conn = SQLiteStore(path, read_only=True), sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE runs SET kernel = 'x); import os; (y'")
    detail = run_detail(store, 1)
    assert detail is not None and detail["top"][0]["pin"] is None and detail["top"][0]["decorator"]


# --------------------------------------------------------------------------------------------------
# The panel, in a real JupyterLab and browser

def browser(test: Any) -> Any:
    """The marks of a browser test: slow, and skipped (saying why) without Chromium, Playwright or
    the built extension."""
    for mark in _BROWSER_MARKS:
        test = mark(test)
    return test


_BROWSER_MARKS = [
    *BROWSER_MARKS,
    pytest.mark.skipif(not (LABEXTENSION / "package.json").exists(),
                       reason="the lab extension is not built: make extension (needs Node.js and npm)"),
]

NOTEBOOK_CELLS = [
    "%load_ext kernelbench\nimport json\nimport torch\nimport kernelbench\n"
    "x = torch.randn(64, 64, device=kernelbench.DEVICE)",
    "%%kernel -q\ndef double(x: torch.Tensor) -> torch.Tensor:\n    out = torch.empty_like(x)\n"
    "    for tile in hl.tile(x.size()):\n        out[tile] = x[tile] * 2\n    return out",
    f"result = double.tune(x, ref=lambda x: x * 2, budget={SWEEP_BUDGET}, time_limit={SWEEP_LIMIT_S}, live=False, "
    "seed=0)",
    "cfg, why = double.active_config(x)\nprint(why, json.dumps(cfg.config, sort_keys=True))",
]


@dataclass
class Lab:
    url: str
    token: str
    log: Path
    home: Path


def _notebook(cells: list[str]) -> str:
    return json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
                   "source": source} for i, source in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    })


@pytest.fixture
def lab(tmp_path: Path, kernelbench_home: Path) -> Iterator[Lab]:
    root = tmp_path / "root"
    root.mkdir()
    (root / "sweep.ipynb").write_text(_notebook(NOTEBOOK_CELLS))
    data = tmp_path / "jupyter-data"
    (data / "labextensions").mkdir(parents=True)
    # As `jupyter labextension develop` does: the package's prebuilt extension, whether or not the
    # installed package put it under share/jupyter/labextensions too (the user's data dir wins).
    (data / "labextensions" / "kernelbench").symlink_to(LABEXTENSION, target_is_directory=True)
    with jupyterlab(tmp_path, root, env={"KERNELBENCH_HOME": str(kernelbench_home)},
                    args=["--ServerApp.jpserver_extensions={'kernelbench.server': True}"]) as server:
        yield Lab(url=server.url, token=server.token, log=server.log, home=kernelbench_home)


def _get(lab: Lab, path: str, token: bool = True) -> Any:
    request = urllib.request.Request(f"{lab.url}/kernelbench/api/{path}")
    if token:
        request.add_header("Authorization", f"token {lab.token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _cell_output(page: Any, index: int) -> str:
    return page.evaluate("""(i) => {
        const cell = window.jupyterapp.shell.currentWidget.content.model.cells.get(i);
        const texts = [];
        for (let k = 0; k < cell.outputs.length; k++) {
            const out = cell.outputs.get(k).toJSON();
            texts.push(out.text ?? JSON.stringify(out.data ?? out.evalue ?? ''));
        }
        return texts.join('');
    }""", index)


@browser
def test_the_panel_lists_runs_follows_a_sweep_and_pins_a_config(lab: Lab, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    # Two finished runs of one kernel, from real sweeps, before the panel opens.
    x = _x()
    for seed in (1, 2):
        tiles.scale.tune(x, ref=lambda x: x * 3, budget=6, live=False, seed=seed)

    # The REST API: refused without the token, the store's runs with it.
    with pytest.raises(urllib.error.HTTPError) as refused:
        _get(lab, "runs", token=False)
    assert refused.value.code == 403
    with pytest.raises(urllib.error.HTTPError) as refused:
        _get(lab, "runs/1", token=False)
    assert refused.value.code == 403
    assert [r["id"] for r in _get(lab, "runs")] == [2, 1]

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        context, page = chromium(pw, tmp_path / "chromium-profile", width=1500, height=1300)
        try:
            page.goto(f"{lab.url}/lab/tree/sweep.ipynb?token={lab.token}")
            wait_idle(page)
            page.locator('.jp-SideBar li[data-id="kernelbench-runs"]').click()
            # A wide side bar, for the screenshot (LabShell's split panel: left, main, right).
            page.evaluate("() => window.jupyterapp.shell._hsplitPanel?.setRelativeSizes([0.6, 0.4, 0])")
            panel = page.locator("#kernelbench-runs")
            rows = panel.locator("tr.kb-run")
            expect(rows).to_have_count(2)
            expect(rows.nth(0).locator(".kb-kernel")).to_have_text("scale")
            expect(rows.nth(0).locator(".kb-ended")).to_have_text("budget")
            expect(rows.nth(0).locator(".kb-cands")).to_have_text(re.compile(r"\d+/6"))

            # A click draws the run's chart: a point per timed candidate, and its fastest configs.
            rows.nth(1).click()
            detail = panel.locator(".kb-detail")
            expect(detail.locator("h3")).to_have_text("Run 1: scale")
            timed = sum(c["ms"] is not None for c in _get(lab, "runs/1")["candidate_list"])
            expect(detail.locator("svg.kb-chart circle.kb-point")).to_have_count(timed)
            expect(detail.locator("tr.kb-config td.kb-json").first).to_have_attribute("title", re.compile("block_sizes"))

            # A sweep started in the notebook: listed as running, from this notebook; then finished.
            page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
            mine = rows.filter(has_text="double")
            expect(mine).to_have_count(1, timeout=120_000)
            expect(mine.locator(".kb-origin")).to_have_text("sweep.ipynb")
            expect(mine).to_have_attribute("data-state", "running", timeout=60_000)
            expect(mine.locator(".kb-ended")).to_have_text("running")
            mine.click()  # its chart follows the sweep while it runs
            expect(mine).to_have_attribute("data-state", "finished", timeout=240_000)
            expect(mine.locator(".kb-ended")).to_have_text("time_limit")
            expect(mine.locator(".kb-cands")).to_have_text(re.compile(r"[1-9]\d*/[1-9]\d*"))  # ok / measured
            run_id = int(mine.get_attribute("data-run-id") or 0)
            expect(detail.locator("svg.kb-chart circle.kb-point")).to_have_count(
                sum(c["ms"] is not None for c in _get(lab, f"runs/{run_id}")["candidate_list"]))
            expect(page.locator(".jp-CodeCell .jp-InputPrompt", has_text=re.compile(r"\[[ *]\]"))).to_have_count(
                0, timeout=120_000)
            assert _cell_output(page, 3).startswith("tuned ")

            # "Insert cell" under the tuning cell: a cell that pins the run's fastest config.
            best = _get(lab, f"runs/{run_id}")["top"][0]
            page.evaluate("() => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = 2; }")
            detail.locator("tr.kb-config").first.locator("button.kb-insert").click()
            sources = page.evaluate("""() => Array.from(window.jupyterapp.shell.currentWidget.content.model.cells)
                                          .map(c => c.sharedModel.getSource())""")
            assert len(sources) == len(NOTEBOOK_CELLS) + 1 and sources[3] == best["pin"], sources
            detail.locator("tr.kb-config").first.locator("button.kb-copy").click()
            expect(detail.locator("button.kb-copy").first).to_have_text("Copied")
            page.evaluate("""async () => {
                const app = window.jupyterapp, nb = app.shell.currentWidget.content;
                nb.activeCellIndex = 3;
                await app.commands.execute('notebook:run-cell-and-select-next');
                await app.commands.execute('notebook:run-cell-and-select-next');
            }""")
            expect(page.locator(".jp-CodeCell").nth(4).locator(".jp-OutputArea-output")).to_contain_text(
                "pinned", timeout=120_000)
            assert _cell_output(page, 4).strip() == "pinned " + json.dumps(best["config"], sort_keys=True)

            # Filtered by kernel; then two runs of one kernel, overlaid.
            panel.locator("select.kb-filter").select_option("scale")
            expect(rows).to_have_count(2)
            panel.locator("select.kb-filter").select_option("")
            expect(rows).to_have_count(3)
            scale_rows = rows.filter(has_text="scale")
            scale_rows.nth(0).locator("input[type=checkbox]").check()
            scale_rows.nth(1).locator("input[type=checkbox]").check()
            overlay = panel.locator(".kb-compare svg.kb-overlay")
            expect(overlay.locator("g.kb-series")).to_have_count(2)
            expect(panel.locator(".kb-compare h3")).to_have_text("scale: run 2 and run 1")
            scale_rows.nth(0).click()
            expect(detail.locator("h3")).to_have_text("Run 2: scale")
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            panel.screenshot(path=SCREENSHOT)
            assert "Traceback" not in lab.log.read_text()
        except Exception:
            page.screenshot(path=ARTIFACTS / "labextension-failure.png")
            print(lab.log.read_text()[-5000:])
            raise
        finally:
            context.close()
