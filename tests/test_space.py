"""kernelbench.core.space: the decorator's autotune_config_overrides are part of the space every
strategy searches; ``fixed`` narrows it and may not contradict it. Real sweeps in the interpreter."""

from __future__ import annotations

import helion
import helion.language as hl
import pytest
import torch

import kernelbench
from kernelbench import SweepError
from kernelbench.core.space import ConfigSpace

DEV = kernelbench.DEVICE
OVERRIDES = {"num_warps": 2, "range_unroll_factors": [0, 2], "range_num_stages": [0, 1]}


@helion.kernel(autotune_config_overrides=OVERRIDES)
def _rowsum(x: torch.Tensor) -> torch.Tensor:
    m, n = x.size()
    out = torch.empty([m], dtype=x.dtype, device=x.device)
    for tile_m in hl.tile(m):
        acc = hl.zeros([tile_m], dtype=torch.float32)
        for tile_n in hl.tile(n):
            acc = acc + x[tile_m, tile_n].sum(-1)
        out[tile_m] = acc.to(out.dtype)
    return out


# Two configs are seeds (start points), not a pin; both break the author's overrides.
@helion.kernel(
    autotune_config_overrides=OVERRIDES,
    configs=[helion.Config(block_sizes=[8, 16], num_warps=4), helion.Config(block_sizes=[16, 8], num_warps=8)],
)
def _rowsum_seeded(x: torch.Tensor) -> torch.Tensor:
    m, n = x.size()
    out = torch.empty([m], dtype=x.dtype, device=x.device)
    for tile_m in hl.tile(m):
        acc = hl.zeros([tile_m], dtype=torch.float32)
        for tile_n in hl.tile(n):
            acc = acc + x[tile_m, tile_n].sum(-1)
        out[tile_m] = acc.to(out.dtype)
    return out


rowsum = kernelbench.Kernel(_rowsum)
rowsum_seeded = kernelbench.Kernel(_rowsum_seeded)


def _x() -> torch.Tensor:
    return torch.randn(16, 32, device=DEV)


def _honours(config: helion.Config) -> bool:
    return all(config.config[k] == v for k, v in OVERRIDES.items())


def test_the_space_holds_the_authors_overrides() -> None:
    space = ConfigSpace(rowsum.bind(_x()), None, seed=0)
    assert space.author == OVERRIDES
    assert _honours(space.default())
    assert all(_honours(space.random()) for _ in range(8))
    neighbours = space.neighbors(space.default()) + space.lines(space.default())
    assert neighbours and all(_honours(c) for c in neighbours)
    assert all(_honours(c) for c in ConfigSpace(rowsum.bind(_x()), {"block_sizes": [[8, 8], [16, 16]]}).grid())


@pytest.mark.parametrize("strategy", ["random", "pattern", "helion"])
def test_every_strategy_proposes_only_configs_inside_the_overrides(strategy: str) -> None:
    x = _x()
    result = rowsum.tune(x, ref=lambda t: t.sum(-1), budget=5, seed=1, strategy=strategy, live=False, store=False)
    assert len(result.candidates) >= 2
    assert all(_honours(c.config) for c in result.candidates), [dict(c.config.config) for c in result.candidates]
    assert result.best_config is not None and _honours(result.best_config)


def test_grid_and_fixed_narrow_the_authors_space() -> None:
    x = _x()
    result = rowsum.tune(x, ref=lambda t: t.sum(-1), fixed={"block_sizes": [[8, 8], [16, 16]], "num_warps": 2},
                         live=False, store=False)
    assert result.info.strategy == "grid" and len(result.candidates) == 2
    assert all(_honours(c.config) for c in result.candidates)
    # A list that holds the author's value narrows to it.
    result = rowsum.tune(x, ref=lambda t: t.sum(-1), budget=3, fixed={"num_warps": [2, 4]}, strategy="random",
                         live=False, store=False)
    assert {c.config.config["num_warps"] for c in result.candidates} == {2}


def test_start_points_are_measured_inside_the_space() -> None:
    result = rowsum_seeded.tune(_x(), ref=lambda t: t.sum(-1), budget=3, strategy="pattern", live=False,
                                store=False)
    firsts = [c.config.config["block_sizes"] for c in result.candidates[:2]]
    assert firsts == [[8, 16], [16, 8]]  # the seeds, first ...
    assert all(_honours(c.config) for c in result.candidates)  # ... with the author's knobs


def test_fixed_that_contradicts_the_overrides_is_one_clear_error() -> None:
    x = _x()
    with pytest.raises(SweepError) as info:
        rowsum.tune(x, fixed={"num_warps": 8}, live=False, store=False)
    message = str(info.value)
    assert "\n" not in message
    assert "'num_warps'" in message and "8" in message and "{'num_warps': 2}" in message
    assert "drop 'num_warps' from fixed" in message
    with pytest.raises(SweepError, match=r"range_unroll_factors.*\[\[0, 1\], \[0, 3\]\].*\[0, 2\]"):
        rowsum.tune(x, fixed={"range_unroll_factors": [[0, 1], [0, 3]]}, live=False, store=False)
    # Repeating the author's value (a tuple is the same list) is fine.
    space = ConfigSpace(rowsum.bind(x), {"range_unroll_factors": (0, 2), "num_warps": 2})
    assert space.pinned["range_unroll_factors"] == [0, 2]
