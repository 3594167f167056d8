from __future__ import annotations

import helion

from .._result import Candidate
from ._base import Strategy


class GridStrategy(Strategy):
    """Every combination of the choices listed in ``fixed`` (e.g. ``{"num_warps": [4, 8]}``)."""

    name = "grid"

    def __init__(self, space, start=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(space, start)
        self.queue = [*self.queue[:-1], *space.grid()]

    def propose(self, history: list[Candidate]) -> helion.Config | None:
        return self._from_queue()
