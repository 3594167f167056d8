from __future__ import annotations

from collections.abc import Callable
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
        # Always measure the starting points first: best known configs, then Helion's default; each
        # inside the space (the decorator's overrides and ``fixed`` apply to them too).
        self.queue: list[helion.Config] = [*(space.restrict(c) for c in start or []), space.default()]
        #: Which configs the strategy may propose of its own (the queue is always tried); the sweep
        #: narrows this in the interpreter (``kernelbench.tune.sweep.TileLimit``).
        self.admit: Callable[[helion.Config], bool] | None = None

    def _fresh(self, config: helion.Config, queued: bool = False) -> bool:
        """Not proposed before (and, unless ``queued``, admitted); marks it seen either way."""
        key = config_key(config)
        if key in self.seen:
            return False
        self.seen.add(key)
        return queued or self.admit is None or self.admit(config)

    def _from_queue(self) -> helion.Config | None:
        while self.queue:
            config = self.queue.pop(0)
            if self._fresh(config, queued=True):
                return config
        return None

    def propose(self, history: list[Candidate]) -> helion.Config | None:
        raise NotImplementedError
