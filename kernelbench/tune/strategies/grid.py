from __future__ import annotations

import helion

from kernelbench.tune.records import Candidate
from kernelbench.tune.strategies._base import Strategy


class GridStrategy(Strategy):
    """Every combination of the choices listed in ``fixed`` (e.g. ``{"num_warps": [4, 8]}``), and
    nothing else: no warm start from the store or the pinned config, so a grid's table is its grid."""

    name = "grid"

    def __init__(self, space, start=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(space, start)
        self.queue = space.grid()

    def propose(self, history: list[Candidate]) -> helion.Config | None:
        return self._from_queue()
