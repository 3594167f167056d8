from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import helion

from kernelbench.core.space import config_key

if TYPE_CHECKING:
    from kernelbench.core.space import ConfigSpace
    from kernelbench.tune.records import Candidate


class Strategy:
    """Proposes configs. ``propose`` returns ``None`` when it has nothing new to try."""

    name: ClassVar[str] = "base"

    def __init__(self, space: ConfigSpace, start: list[helion.Config] | None = None) -> None:
        self.space = space
        self.seen: set[str] = set()
        # Always measure the starting points first: best known configs, then Helion's default.
        self.queue: list[helion.Config] = [*(start or []), space.default()]

    def _fresh(self, config: helion.Config) -> bool:
        key = config_key(config)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def _from_queue(self) -> helion.Config | None:
        while self.queue:
            config = self.queue.pop(0)
            if self._fresh(config):
                return config
        return None

    def propose(self, history: list[Candidate]) -> helion.Config | None:
        raise NotImplementedError
