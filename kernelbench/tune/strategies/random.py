from __future__ import annotations

import helion

from kernelbench.tune.records import Candidate
from kernelbench.tune.strategies._base import Strategy


class RandomStrategy(Strategy):
    """Uniform samples from Helion's config space (after the starting points)."""

    name = "random"
    attempts = 200

    def propose(self, history: list[Candidate]) -> helion.Config | None:
        config = self._from_queue()
        if config is not None:
            return config
        for _ in range(self.attempts):
            config = self.space.random()
            if self._fresh(config):
                return config
        return None
