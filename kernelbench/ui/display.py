"""HTML for the notebook: the kernel card and the Triton code view mapped back to cell lines.

Plain strings only (no IPython import), so the engine stays importable on a bare GPU host.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from kernelbench.core.device import DEVICE, device_name, is_interpreter
from kernelbench.core.tracemap import origin_lines

if TYPE_CHECKING:
    import helion

__all__ = ["code_view_html", "kernel_card_html", "place", "readable_origins", "source_map"]

source_map = origin_lines  # for each Triton line, the cell line it came from
# Helion's origin comment names the file the source came from: for a cell, a temporary name
# (``<ipython-input-0-6086a53d46a0>``, ``358979685.py``) that means nothing to the reader.
_ORIGIN_SUB = re.compile(r"# src\[[^\]]*?:(?P<start>\d+)(?:-(?P<end>\d+))?\]:")

_CARD_STYLE = (
    "border:1px solid var(--jp-border-color1,#ccc);border-radius:6px;padding:6px 10px;"
    "font-family:var(--jp-ui-font-family,sans-serif);font-size:13px;display:inline-block"
)


def place(device: str, mode: str) -> str:
    """Where kernels run, naming the device once: ``Triton interpreter (CPU)`` (not ``cpu ·
    Triton interpreter (CPU)``), ``cuda · NVIDIA H200``."""
    return mode if device.lower() in mode.lower() else f"{device} · {mode}"


def kernel_card_html(name: str, knobs: list[str], pinned_config: helion.Config | None) -> str:
    """The compact card a ``%%kernel`` cell shows: name, where it runs, knobs once known."""
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
        f'<span style="color:{badge}">{html.escape(place(DEVICE, device_name()))}</span>'
        f"<div>knobs: {knob_text}</div>{pinned}</div>"
    )


def readable_origins(triton_code: str) -> str:
    """Helion's ``# src[<file>:4]:`` origin comments as ``# line 4:`` (``# lines 4-6:``): the
    cell's line numbers, without the temporary file name."""

    def sub(match: re.Match[str]) -> str:
        start, end = match.group("start"), match.group("end")
        return f"# lines {start}-{end}:" if end else f"# line {start}:"

    return _ORIGIN_SUB.sub(sub, triton_code)


def _highlight_lines(code: str) -> list[str]:
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return [html.escape(line) for line in code.splitlines()]
    formatter = HtmlFormatter(nowrap=True, noclasses=True, style="default")
    return [_compact_spans(highlight(line, PythonLexer(), formatter).rstrip("\n")) for line in code.splitlines()]


def _compact_spans(line: str) -> str:
    """Pygments' inline styles without their spaces, and its spans around bare whitespace (a faint
    colour on blanks) dropped: the same look, less text in a saved notebook."""
    line = _WHITESPACE_SPAN.sub(r"\1", line)
    return _STYLE_ATTR.sub(lambda m: 'style="' + m.group(1).replace("; ", ";").replace(": ", ":") + '"', line)


_WHITESPACE_SPAN = re.compile(r'<span style="[^"]*">(\s+)</span>')
_STYLE_ATTR = re.compile(r'style="([^"]*)"')


def code_view_html(triton_code: str, *, title: str = "") -> str:
    """Highlighted Triton, each line with the cell line it came from in a gutter (``line 4``).

    Each cell sets only its padding, alignment and colour (JupyterLab's table style sets padding and
    alignment on every cell); the font and ``white-space:pre`` are the table's, inherited."""
    rows = []
    for cell_line, text in zip(source_map(triton_code), _highlight_lines(readable_origins(triton_code))):
        if cell_line is None:
            gutter = '<td style="padding:0"></td>'
        else:
            gutter = (f'<td style="color:#888;padding:0 8px;text-align:right;user-select:none" '
                      f'title="from line {cell_line} of the cell">line {cell_line}</td>')
        rows.append(f'<tr>{gutter}<td style="padding:0;text-align:left">{text or " "}</td></tr>')
    head = f"<div style='margin-bottom:2px'><b>{html.escape(title)}</b></div>" if title else ""
    return (
        f'<div class="kb-code">{head}<table style="font-family:var(--jp-code-font-family,monospace);'
        f'font-size:12px;border-collapse:collapse;white-space:pre">{"".join(rows)}</table></div>'
    )
