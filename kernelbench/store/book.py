"""The config book: everything one kernel knows of its configs, and which one a call uses.

A kernel's configs come from four places, in this order of precedence: the **pinned** config
(``pin()``, ``--config``, a decorator's single ``config=``), the best a sweep found **this session**
for the arguments' signature, the best the **run store** knows for the kernel's source, signature
and device, and Helion's **default** config. The book keeps all of them (and the configs whose compile
ran past the limit, which sweeps skip) in one place, so that neither the facade nor a sweep reaches
into the other's state.

:attr:`ConfigBook.version` changes whenever the active config of some signature may have changed
(a pin, a finished sweep, a config given up as broken); :func:`kernelbench.store.sqlite.generation`
changes when a run store may know a better one. A call path that caches its compiled callable
compares the two numbers instead of asking again.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import helion

from kernelbench._errors import ConfigError, StoreError
from kernelbench._settings import settings
from kernelbench.core.configs import Signature
from kernelbench.core.device import device_name
from kernelbench.core.target import KernelTarget
from kernelbench.store.sqlite import RunStore, default_store, generation
from kernelbench.tune.result import SweepResult

__all__ = ["ConfigBook", "known_configs", "known_slow_compiles"]

_WARNED: set[str] = set()

#: Checks a config against the kernel's config spec: returns it, or raises ``ConfigError``.
Validator = Callable[[helion.Config], helion.Config]


def known_configs(store: RunStore, target: KernelTarget, signature: Sequence[Any], limit: int = 3,
                  validate: Validator | None = None) -> list[helion.Config]:
    """The store's best configs for ``target`` on this signature and device; ``[]`` if it cannot say.

    A missing store is simply empty, and a broken one is skipped with one warning, never an error:
    this runs on the first call of a kernel for each signature. ``validate`` checks each stored config
    against the kernel's config spec; a row that fails (forged, or from another Helion) is skipped with
    a warning naming the store and the knob.
    """
    if not target.source:
        return []  # no source, no source hash worth keying by
    try:
        configs = store.best_configs(target.name, target.source_hash, signature, device_name(), limit=limit)
    except StoreError as error:
        if repr(store) not in _WARNED:
            _WARNED.add(repr(store))
            warnings.warn(f"{error}. Best known configs are skipped.", RuntimeWarning, stacklevel=3)
        return []
    if validate is None:
        return configs
    valid = []
    for config in configs:
        try:
            valid.append(validate(config))
        except ConfigError as error:
            warnings.warn(f"{store!r}: a stored config of {target.name} is skipped: {error}", RuntimeWarning,
                          stacklevel=3)
    return valid


def known_slow_compiles(store: RunStore, target: KernelTarget, signature: Sequence[Any]) -> list[helion.Config]:
    """Configs of ``target`` on this signature and device whose compile ran past a limit at least as
    long as today's ``settings.compile_timeout_s``: a sweep skips them (raise the limit to retry them)."""
    if not target.source:
        return []
    try:
        return store.slow_compiles(target.name, target.source_hash, signature, device_name(),
                                   settings.compile_timeout_s)
    except StoreError:
        return []  # known_configs has warned about this store already


def _within(config: helion.Config, fixed: Mapping[str, Any]) -> bool:
    """The config keeps to ``fixed`` (a knob's value, or its allowed choices)."""
    return all(config.config.get(k) == v or (isinstance(v, list) and config.config.get(k) in v)
               for k, v in fixed.items())


class ConfigBook:
    """The configs one kernel knows; :meth:`active` says which one a call with a signature uses."""

    def __init__(self, target: KernelTarget, configs: Sequence[helion.Config] = ()) -> None:
        self.target = target
        #: A decorator's single config is pinned; several are where sweeps start.
        self.pinned: helion.Config | None = configs[0] if len(configs) == 1 else None
        self.seeds: list[helion.Config] = list(configs) if len(configs) > 1 else []
        #: The best correct config a sweep of this session found, per signature.
        self.best: dict[Signature, helion.Config] = {}
        #: Per signature: configs whose compile ran past the limit this session, with how long it ran.
        self.slow_compiles: dict[Signature, list[tuple[helion.Config, float]]] = {}
        self.version = 0
        # Per signature: the store asked, its generation then, and what it answered.
        self._known: dict[Signature, tuple[RunStore, int, list[helion.Config]]] = {}
        self._defaults: dict[Signature, helion.Config] = {}

    def _changed(self) -> None:
        self.version += 1

    # -- what a call uses ---------------------------------------------------------------------------

    def pin(self, config: helion.Config | None) -> None:
        """Make ``config`` the one every call uses (``None`` un-pins)."""
        self.pinned = config
        self._changed()

    def default(self, signature: Signature, compute: Callable[[], helion.Config]) -> helion.Config:
        """Helion's default config for ``signature``, computed once (it costs ~1 ms each time)."""
        found = self._defaults.get(signature)
        if found is None:
            found = self._defaults[signature] = compute()
        return found

    def known(self, signature: Signature, validate: Validator | None = None) -> list[helion.Config]:
        """The default run store's best configs for ``signature`` (those ``validate`` lets through),
        looked up again only when the store (or what this process has recorded into a store) changed."""
        store = default_store()
        cached = self._known.get(signature)
        if cached is not None and cached[0] is store and cached[1] == generation():
            return cached[2]
        configs = known_configs(store, self.target, signature, validate=validate)
        self._known[signature] = (store, generation(), configs)
        return configs

    def forget_known(self, signature: Signature) -> None:
        """The store's best config does not compile here (another Helion?): stop using it."""
        self._known[signature] = (default_store(), generation(), [])
        self._changed()

    def active(self, signature: Signature, default: Callable[[], helion.Config],
               validate: Validator | None = None) -> tuple[helion.Config, str]:
        """The config a call with ``signature`` uses, and why: ``pinned``, ``tuned`` (this session),
        ``best known`` (the run store's fastest correct config for this source, signature and device,
        among those ``validate`` lets through) or ``default`` (Helion's; ``default()`` computes it the
        first time)."""
        if self.pinned is not None:
            return self.pinned, "pinned"
        best = self.best.get(signature)
        if best is not None:
            return best, "tuned"
        known = self.known(signature, validate)
        if known:
            return known[0], "best known"
        return self.default(signature, default), "default"

    # -- what a sweep starts from, avoids and leaves ----------------------------------------------

    def start_configs(self, store: RunStore | None, signature: Signature, fixed: Mapping[str, Any] | None,
                      validate: Validator | None = None) -> list[helion.Config]:
        """Where a sweep starts: the pinned config, the seeds, and the store's best (within ``fixed``,
        and let through by ``validate``)."""
        start = [self.pinned] if self.pinned is not None else []
        start += self.seeds
        if store is not None:
            start += [c for c in known_configs(store, self.target, signature, validate=validate)
                      if _within(c, fixed or {})]
        return start

    def avoid(self, store: RunStore | None, signature: Signature) -> list[helion.Config]:
        """Configs whose compile already ran past a limit at least as long as today's (this session's,
        and the store's): a sweep skips them."""
        again = [c for c, ran_s in self.slow_compiles.get(signature, []) if ran_s >= settings.compile_timeout_s]
        if store is not None:
            again += known_slow_compiles(store, self.target, signature)
        return again

    def record(self, result: SweepResult) -> None:
        """Take what a finished sweep found: its best config and its compiles that ran past the limit."""
        signature = tuple(result.info.signature)
        self.slow_compiles.setdefault(signature, []).extend(
            (c.config, c.compile_s) for c in result.candidates if c.compile_timed_out)
        if result.best_config is not None:
            self.best[signature] = result.best_config
        self._changed()

    def tuned_for(self, signature: Signature | None) -> helion.Config | None:
        """The best config this session tuned for ``signature``, if any."""
        return self.best.get(signature) if signature is not None else None
