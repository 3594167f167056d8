"""HTML for the notebook: the kernel card and the Triton code view mapped back to cell lines.

Plain strings only (no IPython import), so the engine stays importable on a bare GPU host.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from kernelbench.core.device import DEVICE, device_name, is_interpreter

if TYPE_CHECKING:
    import helion

__all__ = ["code_view_html", "kernel_card_html", "source_map"]

_ORIGIN = re.compile(r"^\s*# src\[(?P<file>[^\]]*?):(?P<start>\d+)(?:-(?P<end>\d+))?\]:")

_CARD_STYLE = (
    "border:1px solid var(--jp-border-color1,#ccc);border-radius:6px;padding:6px 10px;"
    "font-family:var(--jp-ui-font-family,sans-serif);font-size:13px;display:inline-block"
)


def kernel_card_html(name: str, knobs: list[str], pinned_config: helion.Config | None) -> str:
    """The compact card a ``%%kernel`` cell shows: name, device and mode, knobs once known."""
    mode = device_name()
    badge = "#9a6700" if is_interpreter() else "#1a7f37"
    knob_text = (
        ", ".join(f"<code>{html.escape(k)}</code>" for k in knobs)
        if knobs
        else "<i>known once arguments are given (--args, or the first call)</i>"
    )
    pinned = ""
    if pinned_config is not None:
        pinned = f"<div>pinned config: <code>{html.escape(str(dict(pinned_config.config)))}</code></div>"
    return (
        f'<div class="kb-card" style="{_CARD_STYLE}">'
        f"<b>⚡ {html.escape(name)}</b> "
        f'<span style="color:{badge}">{html.escape(DEVICE)} · {html.escape(mode)}</span>'
        f"<div>knobs: {knob_text}</div>{pinned}</div>"
    )


def source_map(triton_code: str) -> list[int | None]:
    """For each line of Helion's Triton output, the cell line it came from (from origin comments)."""
    mapping: list[int | None] = []
    current: int | None = None
    for line in triton_code.splitlines():
        match = _ORIGIN.match(line)
        if match:
            current = int(match.group("start"))
        elif line and not line[0].isspace():
            current = None  # a new top-level statement: no longer inside the commented region
        mapping.append(current)
    return mapping


def _highlight_lines(code: str) -> list[str]:
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return [html.escape(line) for line in code.splitlines()]
    formatter = HtmlFormatter(nowrap=True, noclasses=True, style="default")
    return [highlight(line, PythonLexer(), formatter).rstrip("\n") for line in code.splitlines()]


def code_view_html(triton_code: str, *, title: str = "") -> str:
    """Highlighted Triton, each line with the cell line it came from in a gutter."""
    rows = []
    for cell_line, text in zip(source_map(triton_code), _highlight_lines(triton_code)):
        gutter = f"cell {cell_line}" if cell_line is not None else ""
        rows.append(
            f'<tr><td style="color:#888;padding:0 8px;text-align:right;white-space:nowrap;'
            f'user-select:none" title="from cell line {cell_line}">{gutter}</td>'
            f'<td style="white-space:pre;padding:0;text-align:left">{text or " "}</td></tr>'
        )
    head = f"<div style='margin-bottom:2px'><b>{html.escape(title)}</b></div>" if title else ""
    return (
        f'<div class="kb-code">{head}<table style="font-family:var(--jp-code-font-family,monospace);'
        f'font-size:12px;border-collapse:collapse">{"".join(rows)}</table></div>'
    )
