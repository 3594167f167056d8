"""The config space of one kernel for one set of arguments: Helion's ``ConfigSpec``, our rules.

The space is the one the kernel's author declared: the decorator's
``@helion.kernel(autotune_config_overrides={...})`` pins knobs for every sweep (as they do for
Helion's own autotuner). ``fixed`` narrows it further: it pins knobs (``{"num_warps": 4}``) or
restricts them to a list of choices (``{"num_warps": [4, 8]}``); a ``fixed`` that contradicts an
override of the author's is an error. Helion draws its random values from the global ``random`` module; we
run it on our own seeded state so a seed makes a sweep reproducible without touching the user's.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import random
from collections.abc import Iterator, Mapping
from typing import Any

import helion

from kernelbench._errors import SweepError

__all__ = ["ConfigSpace", "config_key"]


def config_key(config: helion.Config) -> str:
    """A canonical text for a config, to tell configs apart."""
    return json.dumps(dict(config.config), sort_keys=True, default=str)


def _plain(value: Any) -> Any:
    """Tuples as lists, as Helion's configs hold them, so that equal values compare equal."""
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


class ConfigSpace:
    """Helion's config space for a bound kernel, with ``fixed`` knobs applied."""

    def __init__(self, bound: Any, fixed: Mapping[str, Any] | None = None, seed: int | None = None) -> None:
        self.bound = bound
        self.spec = bound.config_spec
        self.default_helion = self.spec.default_config()
        self.knobs: list[str] = sorted(self.default_helion.config)
        fixed = dict(fixed or {})
        unknown = sorted(set(fixed) - set(self.knobs))
        if unknown:
            raise SweepError(
                f"fixed names unknown knob(s) {unknown}; this kernel's knobs for these arguments are "
                f"{self.knobs}"
            )
        self.pinned = {k: v for k, v in fixed.items() if not self._is_choice_list(k, v)}
        self.choices = {k: list(v) for k, v in fixed.items() if self._is_choice_list(k, v)}
        for name, values in self.choices.items():
            if not values:
                raise SweepError(f"fixed[{name!r}] is an empty list; give at least one value")
        for name, value in self.pinned.items():
            self._check_type(name, value)
        for name, values in self.choices.items():
            for value in values:
                self._check_type(name, value)
        #: The decorator's ``autotune_config_overrides`` for knobs these arguments have.
        self.author = self._author_overrides(bound)
        self._apply_author()
        try:
            self.generator = self.spec.create_config_generation(overrides=self.pinned or None)
        except Exception as error:  # noqa: BLE001 - Helion validates overrides with many error types
            raise SweepError(f"fixed={self.pinned} does not fit this kernel: {error}") from None
        self._rng_state = random.Random(seed).getstate()
        self._default = self._validated(self._restricted(self.default_helion, first_choice=True), "default")

    def _author_overrides(self, bound: Any) -> dict[str, Any]:
        overrides = bound.settings.autotune_config_overrides
        if not isinstance(overrides, Mapping):  # CuTe's structural configs: not ours to read
            return {}
        return {k: _plain(v) for k, v in overrides.items() if k in self.knobs}

    def _apply_author(self) -> None:
        """The author's overrides become pins; ``fixed`` may repeat them, never contradict them."""
        for name, value in self.author.items():
            if name in self.pinned and _plain(self.pinned[name]) != value:
                given = self.pinned[name]
            elif name in self.choices and value not in [_plain(v) for v in self.choices[name]]:
                given = self.choices[name]
            else:
                self.choices.pop(name, None)
                self.pinned[name] = value
                continue
            raise SweepError(
                f"fixed[{name!r}] = {given!r} contradicts the kernel's own "
                f"@helion.kernel(autotune_config_overrides={{{name!r}: {value!r}}}); drop {name!r} from "
                "fixed (the sweep keeps the author's value), or change the decorator's override"
            )

    def _check_type(self, name: str, value: Any) -> None:
        """A knob's value must look like Helion's default for it (type, and length for lists)."""
        default = self.default_helion.config[name]
        if isinstance(default, list):
            ok = isinstance(value, (list, tuple)) and len(value) == len(default)
            want = f"a list of {len(default)} like the default {default}"
        elif isinstance(default, bool) or default is None:
            ok = isinstance(value, type(default)) or default is None
            want = f"like the default {default!r}"
        else:
            ok = isinstance(value, type(default)) and not isinstance(value, bool)
            want = f"a {type(default).__name__} like the default {default!r}"
        if not ok:
            raise SweepError(f"fixed[{name!r}] = {value!r} does not fit: it must be {want}")

    def _is_choice_list(self, name: str, value: Any) -> bool:
        """A list restricts a scalar knob; a list of lists restricts a list-valued knob."""
        default = self.default_helion.config.get(name)
        if not isinstance(value, (list, tuple)):
            return False
        if isinstance(default, list):
            return bool(value) and all(isinstance(v, (list, tuple)) for v in value)
        return True

    # ------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _random_state(self) -> Iterator[None]:
        outer = random.getstate()
        random.setstate(self._rng_state)
        try:
            yield
        finally:
            self._rng_state = random.getstate()
            random.setstate(outer)

    def rng_choice(self, values: list[Any]) -> Any:
        with self._random_state():
            return random.choice(values)

    def _restricted(self, config: helion.Config, first_choice: bool = False) -> helion.Config:
        data = dict(config.config)
        data.update(self.pinned)
        for name, values in self.choices.items():
            if data.get(name) not in values:
                data[name] = values[0] if first_choice else self.rng_choice(values)
        return helion.Config(**data)

    def _validated(self, config: helion.Config, what: str) -> helion.Config:
        try:
            self.bound._normalize_config(config)
        except Exception as error:  # noqa: BLE001
            raise SweepError(f"the {what} config {dict(config.config)} is not valid here: {error}") from None
        return config

    def restrict(self, config: helion.Config) -> helion.Config:
        """``config`` with the pinned knobs set and each listed knob inside its list (a start point
        from the run store or the decorator's ``configs=`` is measured inside the space)."""
        return self._restricted(config, first_choice=True)

    def default(self) -> helion.Config:
        """Helion's default config with ``fixed`` applied."""
        return self._default

    def random(self) -> helion.Config:
        with self._random_state():
            config = self.generator.random_config()
        return self._restricted(config)

    def neighbors(self, config: helion.Config, radius: int = 1) -> list[helion.Config]:
        """Configs one step away in one knob (Helion's pattern-search neighbourhood)."""
        return self._one_knob_changes(config, lambda fragment, value: fragment.pattern_neighbors(value, radius))

    def lines(self, config: helion.Config, limit: int = 16) -> list[helion.Config]:
        """Every other value of each knob, one knob at a time (a line search through ``config``).

        Reaches what small steps cannot: ``reduction_loops`` from ``None`` (the whole row) to 1024
        is five halvings away, and the configs between can be slower than both ends. Knobs with
        more than ``limit`` values (permutations, wide integer ranges) are left to the steps.
        """

        def values(fragment: Any, current: Any) -> list[Any]:
            return [v for v in fragment.search_values(limit) or [] if v != current]

        return self._one_knob_changes(config, values)

    def _one_knob_changes(self, config: helion.Config, values_of: Any) -> list[helion.Config]:
        try:
            flat = self.generator.flatten(config)
        except Exception:  # noqa: BLE001 - a config from elsewhere may not flatten: no neighbours
            return []
        frozen = self.generator.overridden_flat_indices
        out: list[helion.Config] = []
        for i, fragment in enumerate(self.generator.flat_spec):
            if i in frozen:
                continue
            try:
                values = values_of(fragment, flat[i])
            except (TypeError, ValueError, AttributeError):
                continue
            for value in values:
                candidate = list(flat)
                candidate[i] = value
                try:
                    config_n = self.generator.unflatten(candidate)
                except Exception:  # noqa: BLE001 - Helion's InvalidConfig and friends
                    continue
                restricted = self._restricted(config_n, first_choice=True)
                if all(restricted.config.get(k) == config_n.config.get(k) for k in self.choices):
                    out.append(restricted)
        with self._random_state():
            random.shuffle(out)
        return out

    def grid(self) -> list[helion.Config]:
        """Every combination of the listed choices in ``fixed``, other knobs at their default."""
        if not self.choices:
            return [self.default()]
        names = sorted(self.choices)
        configs = []
        for combo in itertools.product(*(self.choices[n] for n in names)):
            data = dict(self.default().config)
            data.update(dict(zip(names, combo)))
            configs.append(helion.Config(**data))
        return configs

    def size(self) -> int | None:
        """Roughly how many configs the space holds (None if unbounded or unknown)."""
        total = 1
        frozen = self.generator.overridden_flat_indices
        for i, fragment in enumerate(self.generator.flat_spec):
            if i in frozen:
                continue
            try:
                card = fragment.cardinality()
            except Exception:  # noqa: BLE001
                card = None
            if card is None:
                return None
            total *= max(1, card)
        return total if total < 10**18 else None

    def describe(self) -> str:
        size = self.size()
        return f"{len(self.knobs)} knobs, ~{size:.3g} configs" if size else f"{len(self.knobs)} knobs"
