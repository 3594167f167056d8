"""The static text the views share (kernelbench/ui/_text.py, ui/display.py, ui/live_chart.py): numbers
to significant figures, knob values whole, run endings in words, the Triton view's line numbers, and
the readable chart layout, on real configs, real Triton from a real kernel and real plotly figures."""

from __future__ import annotations

import ast

import helion
import plotly.graph_objects as go
import pytest
import torch

import kernelbench
from kernelbench.ui._text import ended_text, knob_diff, knob_value, knobs_text, sig
from kernelbench.ui.display import code_view_html, kernel_card_html, place, readable_origins, source_map
from kernelbench.ui.live_chart import integer_ticks, readable_layout

from .kernels import basic


@pytest.mark.parametrize(("value", "text"), [
    (0.000123456, "0.000123"), (1.23e-7, "1.23e-07"), (12.345, "12.3"), (0.0456, "0.0456"),
    (0.99999, "1.00"), (12345.6, "12346"), (3e9, "3.00e+09"), (0.0, "0"), (None, "—"),
])
def test_sig_keeps_three_significant_figures_and_never_shows_zero_for_a_small_number(value: float | None,
                                                                                      text: str) -> None:
    assert sig(value) == text


def test_knob_values_are_whole_python_literals_and_diffs_name_only_what_changed() -> None:
    default = {"block_sizes": [32, 32], "num_warps": 4, "range_flattens": [None], "indexing": "pointer"}
    config = {"block_sizes": [16, 64], "num_warps": 4, "range_flattens": [True], "indexing": "pointer"}
    assert knob_diff(config, default) == {"block_sizes": [16, 64], "range_flattens": [True]}
    text = knobs_text(config, default)
    assert text == "block_sizes=[16, 64], range_flattens=[True]"
    call = ast.parse(f"f({text})", mode="eval").body
    assert {k.arg: ast.literal_eval(k.value) for k in call.keywords} == knob_diff(config, default)  # type: ignore[attr-defined]
    assert knobs_text(default, default) == "the default config"
    assert knob_value((1, 2)) == "[1, 2]" and knob_value([[1, 0]]) == "[[1, 0]]" and knob_value(None) == "None"


def test_each_ending_has_its_own_words() -> None:
    endings = ["budget", "time_limit", "exhausted", "done", "stop", "interrupt", "error"]
    words = [ended_text(e) for e in endings]
    assert len(set(words)) == len(words)
    assert ended_text("done") == "finished" and all("stopped by" not in w for w in words)


def test_place_names_the_device_once() -> None:
    assert place("cpu", "Triton interpreter (CPU)") == "Triton interpreter (CPU)"
    assert place("cuda", "NVIDIA H200") == "cuda · NVIDIA H200"
    card = kernel_card_html("k", ["block_sizes"], None)
    assert kernelbench.device_name() in card
    if kernelbench.is_interpreter():
        assert "cpu · " not in card


def test_triton_view_says_line_n_of_the_cell_without_temporary_file_names() -> None:
    x = torch.randn(16, 16, device=kernelbench.DEVICE)
    code = basic.add.code(x, x)
    assert "# src[" in code  # Helion's own comments name the source file ...
    readable = readable_origins(code)
    assert "src[" not in readable and "# line " in readable  # ... the view names the line only
    assert len(readable.splitlines()) == len(code.splitlines())
    assert readable_origins("    # src[358979685.py:4-6]: for i in x:") == "    # lines 4-6: for i in x:"
    view = code_view_html(code)
    lines = {n for n in source_map(code) if n is not None}
    assert lines and all(f">line {n}<" in view for n in lines) and ">cell " not in view
    assert ".py:" not in view


def test_readable_layout_moves_the_long_tail_of_the_title_to_a_subtitle() -> None:
    fig = go.Figure(layout={"title": {"text": "k: latency per candidate — interpreter time — not GPU performance"}})
    readable_layout(fig)
    assert fig.layout.title.text == "k: latency per candidate"
    assert fig.layout.title.subtitle.text == "interpreter time — not GPU performance"
    assert fig.layout.margin.t >= 80


@pytest.mark.parametrize(("count", "step"), [(1, 1), (12, 1), (13, 2), (40, 5), (100, 10), (1000, 100)])
def test_candidate_axis_ticks_are_whole_numbers(count: int, step: int) -> None:
    fig = go.Figure()
    integer_ticks(fig, count)
    assert fig.layout.xaxis.dtick == step and fig.layout.xaxis.tickformat == "d" and fig.layout.xaxis.tick0 == 0


def test_decorator_in_the_final_line_is_one_knob_per_line() -> None:
    from kernelbench.ui.dashboard import Dashboard

    x = torch.randn(32, 32, device=kernelbench.DEVICE)
    k = kernelbench.Kernel(basic.add.helion_kernel)
    with kernelbench.settings.scope(cpu_reps=1):
        result = k.tune(x, x, budget=2, seed=0, live=False, store=False)
    final = Dashboard._final_html(result)
    decorator = result.decorator()
    assert decorator.count("\n") == len(result.best_config.config) + 1  # type: ignore[union-attr]
    assert "white-space:pre;" in final and "pre-wrap" not in final  # never wrapped mid-identifier
    assert isinstance(result.best_config, helion.Config)
