from __future__ import annotations

import helion

from kernelbench.core.space import config_key
from kernelbench.tune.records import Candidate
from kernelbench.tune.strategies._base import Strategy


class PatternStrategy(Strategy):
    """Local search: a few random probes, then every one-knob step around the best so far.

    When no neighbour of the best improves on it, the radius grows once, then each knob is tried
    at every value (a line search through the best: far values such as a whole-row reduction
    against a 1024-wide loop are not a few steps apart), then it restarts from a fresh random
    config so a long sweep keeps exploring.
    """

    name = "pattern"
    random_probes = 4

    def __init__(self, space, start=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(space, start)
        self.probes_left = self.random_probes
        self.centre: str | None = None
        self.radius = 1
        self.neighbours: list[helion.Config] = []

    def propose(self, history: list[Candidate]) -> helion.Config | None:
        config = self._from_queue()
        if config is not None:
            return config
        if self.probes_left > 0:
            self.probes_left -= 1
            config = self._random()
            if config is not None:
                return config
        ok = [c for c in history if c.status == "ok" and c.ms is not None]
        if ok:
            best = min(ok, key=lambda c: c.ms)  # type: ignore[arg-type, return-value]
            key = config_key(best.config)
            if key != self.centre:
                self.centre, self.radius = key, 1
                self.neighbours = self.space.neighbors(best.config, self.radius)
            while True:
                while self.neighbours:
                    config = self.neighbours.pop(0)
                    if self._fresh(config):
                        return config
                if self.radius >= 3:
                    break
                self.radius += 1
                if self.radius == 2:
                    self.neighbours = self.space.neighbors(best.config, 2)
                else:
                    self.neighbours = self.space.lines(best.config)
        return self._random()

    def _random(self) -> helion.Config | None:
        for _ in range(200):
            config = self.space.random()
            if self._fresh(config):
                self.centre = None  # a restart: the next best re-centres the search
                return config
        return None
