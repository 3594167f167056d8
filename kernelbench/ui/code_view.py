"""The cell beside one stage of its GPU code (Triton, TTIR, TTGIR, LLVM IR, PTX, SASS): hovering a
cell line highlights the stage's lines that came from it, clicking one keeps it highlighted.

Plain HTML and CSS (``:has()`` selectors over hidden radio buttons, one rule per cell line): no
script, so it works the same live, in a saved notebook, in VS Code and in an HTML export.

Layer rule: ``ui`` may import every layer below it; nothing here imports IPython.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Sequence

__all__ = ["side_by_side_html"]

_ids = itertools.count()

_PANE = ("font-family:var(--jp-code-font-family,monospace);font-size:12px;border-collapse:collapse;"
         "white-space:pre")
_BOX = ("max-height:480px;overflow:auto;border:1px solid var(--jp-border-color2,#ddd);border-radius:4px;"
        "flex:1 1 0;min-width:0")


def side_by_side_html(cell_lines: Sequence[tuple[int, str]], stage_text: str, stage_cell_lines: Sequence[int | None],
                      *, title: str = "", stage: str = "") -> str:
    """``cell_lines`` ((cell line number, text) pairs) on the left, ``stage_text`` on the right, each
    stage line tagged with the cell line it came from (``stage_cell_lines``, ``None``: none)."""
    view = f"kbcv{next(_ids)}"
    mapped = sorted({c for c in stage_cell_lines if c is not None})
    counts = {c: sum(1 for s in stage_cell_lines if s == c) for c in mapped}
    rules = [f".{view} .kb-l:hover, .{view} label.kb-l:hover {{background:#fff3bf}}"]
    for c in mapped:
        rules.append(f".{view}:has(.kb-c{c}:hover) .kb-s{c}, .{view}:has(#{view}-r{c}:checked) .kb-s{c}, "
                     f".{view}:has(#{view}-r{c}:checked) .kb-c{c} {{background:#ffd8a8}}")
    radios = "".join(f'<input type="radio" name="{view}" id="{view}-r{c}" style="display:none">' for c in mapped)
    left = []
    for number, text in cell_lines:
        n = counts.get(number, 0)
        tip = f"{n} {stage} line(s) from cell line {number}" if n else f"no {stage} line from cell line {number}"
        label = (f'<label for="{view}-r{number}" class="kb-l kb-c{number}" title="{tip}" '
                 f'style="display:block;cursor:pointer">' if n else f'<label class="kb-l" title="{tip}" '
                 'style="display:block;color:#888">')
        left.append(f'<tr><td style="color:#888;padding:0 6px;text-align:right;user-select:none">{number}</td>'
                    f"<td>{label}{html.escape(text) or ' '}</label></td></tr>")
    right = []
    for i, (text, cell) in enumerate(zip(stage_text.splitlines(), stage_cell_lines)):
        tag = f" kb-s{cell}" if cell is not None else ""
        gutter = f"cell {cell}" if cell is not None else ""
        right.append(f'<tr class="kb-l{tag}"><td style="color:#888;padding:0 6px;text-align:right;user-select:none">'
                     f'{i + 1}</td><td style="color:#888;padding:0 6px;user-select:none">{gutter}</td>'
                     f"<td>{html.escape(text) or ' '}</td></tr>")
    head = f"<div style='margin-bottom:2px'><b>{html.escape(title)}</b></div>" if title else ""
    return (
        f'<div class="kb-code-view {view}">{head}<style>{"".join(rules)}</style>{radios}'
        f'<div style="display:flex;gap:8px;align-items:flex-start">'
        f'<div style="{_BOX}"><table style="{_PANE}">{"".join(left)}</table></div>'
        f'<div style="{_BOX};flex-grow:2"><table style="{_PANE}">{"".join(right)}</table></div>'
        f"</div></div>"
    )
