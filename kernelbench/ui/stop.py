"""Letting a Stop button's click reach code that runs in the notebook's busy cell.

Widget clicks are messages to the kernel, and a kernel running a cell does not read them:

* ipykernel 7 has subshells, and JupyterLab >= 4.4 sends widget messages on one, where they are
  handled in the subshell's own thread while the main shell runs the cell. But ipykernel 7.4 sends a
  comm's messages back to the shell that last published on it (the busy main shell, until the cell
  ends), so the button's comm is told to keep the subshell the front end chose.
* Kernels before 7 queue the click on the main shell; ``jupyter_ui_poll`` processes pending widget
  messages when :meth:`StopChannel.process` is called (between candidates or sizes). ipykernel 7 has
  no ``do_one_iteration``, so it cannot be used there.

Elsewhere (a front end without subshells on ipykernel 7) interrupting the kernel ends the work and
keeps every result.
"""

from __future__ import annotations

import contextlib
from typing import Any

__all__ = ["StopChannel"]


class StopChannel:
    """Open while long work runs; call :meth:`process` between steps; close when done."""

    def __init__(self, button: Any) -> None:
        self.button = button
        self._stack: contextlib.ExitStack | None = None
        self._poll: Any = None

    def open(self) -> None:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        if kernel is None:
            return
        if getattr(kernel, "shell_channel_thread", None) is not None and self.button.comm is not None:
            self.button.comm._reply_subshell_for = lambda _data, sent_on: sent_on
        if hasattr(kernel, "do_one_iteration"):
            from jupyter_ui_poll import ui_events

            self._stack = contextlib.ExitStack()
            self._poll = self._stack.enter_context(ui_events())

    def process(self) -> None:
        if self._poll is not None:
            self._poll(20)

    def close(self) -> None:
        if self._stack is not None:
            self._stack.close()
        self._stack, self._poll = None, None
