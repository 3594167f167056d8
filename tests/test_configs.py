"""Configs are validated against the kernel's config spec: from pin, compiled/code/export, %%kernel
--config, load_config and the run store. Real kernels in the interpreter, real SQLite."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import helion
import helion.language as hl
import pytest
import torch
from IPython.core.error import UsageError

import kernelbench
from kernelbench import ConfigError
from kernelbench.core.configs import validate_config
from kernelbench.core.space import ConfigSpace
from kernelbench.store.sqlite import default_store

from .conftest import run, unique
from .kernels import basic, tiles

FORGED = "z=__import__('os').system('touch /tmp/x') or 1, zz"
KNOBS = r"its knobs are .*block_sizes.*num_warps"


def x32() -> torch.Tensor:
    return torch.randn(32, 32, device=kernelbench.DEVICE)


def fresh() -> kernelbench.Kernel:
    """A kernel of its own (pins do not leak into other tests), never bound."""
    return kernelbench.Kernel(tiles.scale.helion_kernel)


# -- unknown knobs --------------------------------------------------------------------------------


def test_pin_after_bind_refuses_an_unknown_knob() -> None:
    k = fresh()
    k.bind(x32())
    with pytest.raises(ConfigError, match=rf"unknown knob 'evil' for scale; {KNOBS}"):
        k.pin({"evil": 1, "num_warps": 4})
    assert k.pinned is None


def test_a_pin_before_any_bind_is_checked_at_first_use(tmp_path: Path) -> None:
    k = fresh()
    k.pin({"evil": 1})  # no spec known yet
    x = x32()
    for use in (k, k.compiled, k.code, k.active_config, lambda a: k.export(tmp_path / "k.py", a), k.decorator):
        with pytest.raises(ConfigError, match=rf"unknown knob 'evil' for scale; {KNOBS}"):
            use(x)
    assert not (tmp_path / "k.py").exists()


def test_compiled_code_and_export_refuse_an_unknown_knob(tmp_path: Path) -> None:
    x = x32()
    k = fresh()
    for use in (k.compiled, k.code, k.decorator, lambda *a, **kw: k.export(tmp_path / "k.py", *a, **kw)):
        with pytest.raises(ConfigError, match=rf"unknown knob 'evil' for scale; {KNOBS}"):
            use(x, config={"evil": 1})
    with pytest.raises(ConfigError, match="not a knob name"):
        k.compiled(x, config={FORGED: 1})
    assert not (tmp_path / "k.py").exists()


def test_magic_config_with_args_is_checked_at_once(ip) -> None:
    name = unique("cfg")
    ip.user_ns["x_cfg"] = x32()
    body = f"""
def {name}(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(x.size()):
        out[tile] = x[tile] * 3
    return out
"""
    with pytest.raises(UsageError, match=rf"--config: unknown knob 'evil' for {name}; {KNOBS}") as info:
        run(ip, f"%%kernel --args x_cfg --config '{{\"evil\": 1}}'\n{body}")
    assert "\n" not in str(info.value)
    with pytest.raises(UsageError, match="--config: config knob 'num_warps' .* is '4'"):
        run(ip, f"%%kernel --args x_cfg --config '{{\"num_warps\": \"4\"}}'\n{body}")
    with pytest.raises(UsageError, match="--config: config key .* is not a knob name"):
        forged = json.dumps({'z=__import__("os").getcwd() or 1, zz': 1})
        run(ip, f"%%kernel --config '{forged}'\n{body}")
    # a valid partial config (Helion itself needs block_sizes)
    run(ip, f"%%kernel --args x_cfg -q --config '{{\"block_sizes\": [16, 16], \"num_warps\": 2}}'\n{body}")
    x = ip.user_ns["x_cfg"]
    torch.testing.assert_close(ip.user_ns[name](x), x * 3)


def test_load_config_refuses_what_is_not_a_config(tmp_path: Path) -> None:
    cases = {
        "forged.json": json.dumps({FORGED: 1}).encode(),
        "keyword.json": b'{"class": 1}',
        "deep.json": b'{"block_sizes": ' + b"[" * 20 + b"]" * 20 + b"}",
        "deeper.json": b'{"block_sizes": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "latin1.json": '{"num_warps": 4, "x": "\u00e9"}'.encode("latin-1"),
    }
    messages = {"forged.json": "not a knob name", "keyword.json": "not a knob name", "deep.json": "nests deeper",
                "deeper.json": "nests deeper", "latin1.json": "not UTF-8"}
    for filename, data in cases.items():
        (tmp_path / filename).write_bytes(data)
        with pytest.raises(ConfigError, match=messages[filename]):
            kernelbench.load_config(tmp_path / filename)
    path = kernelbench.save_config({"num_warps": 2}, tmp_path / "ok.json")
    assert kernelbench.load_config(path) == helion.Config(num_warps=2)


# -- values ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"num_warps": "4"}, r"'num_warps' of scale is '4'; it must be a power of two from 1 to 32"),
        ({"num_warps": True}, r"'num_warps' of scale is True; it must be a power of two"),
        ({"num_warps": 64}, r"'num_warps' of scale is 64; it must be a power of two from 1 to 32"),
        ({"num_warps": 3}, r"'num_warps' of scale is 3; it must be a power of two"),
        ({"num_stages": 2.0}, r"'num_stages' of scale is 2.0; it must be an int from 1 to"),
        ({"block_sizes": [16]}, r"'block_sizes' of scale is \[16\]; it must be a list of 2 items"),
        ({"block_sizes": 16}, r"'block_sizes' of scale is 16; it must be a list of 2 items"),
        ({"block_sizes": [16, 0]}, r"'block_sizes' .* item 1 is a positive int"),
        ({"block_sizes": [16, False]}, r"'block_sizes' .* item 1 is a positive int"),
        ({"pid_type": "evil"}, r"'pid_type' of scale is 'evil'; it must be one of 'flat'"),
        ({"loop_orders": [[0, 0]]}, r"'loop_orders' .* a permutation of \[0, 1\]"),
        ({"flatten_loops": [1]}, r"'flatten_loops' .* True or False"),
        ({"indexing": ["pointer"]}, r"'indexing' of scale is \['pointer'\]; it must be a list of 2"),
    ],
)
def test_values_of_the_wrong_type_length_or_range_are_refused(config: dict, message: str) -> None:
    k = fresh()
    x = x32()
    with pytest.raises(ConfigError, match=message):
        k.compiled(x, config=config)
    k.bind(x)
    with pytest.raises(ConfigError, match=message):
        k.pin(config)


def test_partial_and_full_configs_stay_valid() -> None:
    x = x32()
    k = fresh()
    k.pin({"block_sizes": [16, 16], "num_warps": 2})  # not bound yet: checked at the first call
    torch.testing.assert_close(k(x), x * 3)
    k.pin({"block_sizes": [16, 8], "indexing": "pointer"})  # Helion repeats a scalar for every load/store
    torch.testing.assert_close(k(x), x * 3)
    assert "_BLOCK_SIZE_1 = tl.constexpr(8)" in k.code(x)
    k.pin(None)
    spec = k.bind(x).config_spec
    space = ConfigSpace(k.bind(x), seed=0)
    for config in [spec.default_config(), space.default(), *(space.random() for _ in range(20)),
                   *space.neighbors(space.default())]:
        assert validate_config(config, spec, "scale") is config
    y = torch.randn(64, 48, device=kernelbench.DEVICE)  # a reduction kernel: reduction_loops may be None
    w = torch.randn(48, device=kernelbench.DEVICE)
    rms_spec = basic.rms_norm.bind(y, w).config_spec
    validate_config(helion.Config(reduction_loops=[None]), rms_spec)
    validate_config(helion.Config(reduction_loops=[16]), rms_spec)


# -- the run store --------------------------------------------------------------------------------


def _forge(config_json: str) -> Path:
    """A real tune's store, with a config row forged by hand to be the fastest."""
    x = x32()
    tiles.scale.tune(x, ref=lambda t: t * 3, budget=1, live=False)
    path = default_store().path
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE candidates SET config = ?, ms = 1e-9", (config_json,))
    conn.close()
    return path


@pytest.mark.parametrize(
    ("forged", "message"),
    [
        ({"evil": 1, "block_sizes": [32, 32]}, r"stored config of scale is skipped: unknown knob 'evil'"),
        ({"num_warps": "4"}, r"stored config of scale is skipped: config knob 'num_warps'"),
        ({"block_sizes": [8, 8, 8]}, r"stored config of scale is skipped: config knob 'block_sizes'"),
        ({FORGED: 1}, r"skipped a stored config that is not a config .*not a knob name"),
    ],
)
def test_a_forged_store_row_is_skipped_with_a_warning(forged: dict, message: str) -> None:
    path = _forge(json.dumps(forged))
    x = x32()
    k = fresh()
    with pytest.warns(RuntimeWarning, match=message) as warned:
        cfg, why = k.active_config(x)
    assert why == "default" and cfg == k.default_config(x)
    assert any(str(path) in str(w.message) for w in warned)
    torch.testing.assert_close(k(x), x * 3)


def test_a_valid_stored_row_is_still_the_best_known() -> None:
    x = x32()
    good = {**tiles.scale.default_config(x).config, "num_warps": 2}
    _forge(json.dumps(good))
    k = fresh()
    assert k.active_config(x) == (helion.Config(**good), "best known")
    torch.testing.assert_close(k(x), x * 3)


def test_a_stored_row_that_fits_but_does_not_compile_still_falls_back() -> None:
    """Knobs that each fit but not together (Helion refuses num_sm_multiplier without a persistent
    pid_type): the row passes validation, fails to compile, and is given up with Helion's reason."""
    x = x32()
    stale = {**tiles.scale.default_config(x).config, "pid_type": "flat", "num_sm_multiplier": 128}
    _forge(json.dumps(stale))
    k = fresh()
    assert k.active_config(x) == (helion.Config(**stale), "best known")
    with pytest.warns(RuntimeWarning, match="best known config from the run store does not compile"):
        torch.testing.assert_close(k(x), x * 3)
    assert k.active_config(x)[1] == "default"


def test_decorator_text_is_one_knob_per_line_and_parses_to_the_same_config() -> None:
    import ast

    from kernelbench.core.configs import decorator_text

    config = helion.Config(block_sizes=[32, 64], num_warps=4, indexing="pointer", loop_orders=[[1, 0]])
    text = decorator_text(config)
    lines = text.splitlines()
    assert lines[0] == "@helion.kernel(config=helion.Config(" and lines[-1] == "))"
    assert lines[1:-1] == ["    block_sizes=[32, 64],", "    indexing='pointer',", "    loop_orders=[[1, 0]],",
                           "    num_warps=4,"]
    decorated = ast.parse(text + "\ndef f():\n    pass").body[0]
    call = decorated.decorator_list[0].keywords[0].value  # type: ignore[attr-defined]
    assert {k.arg: ast.literal_eval(k.value) for k in call.keywords} == dict(config.config)
    assert decorator_text(helion.Config()) == "@helion.kernel(config=helion.Config())"


@helion.kernel(config=helion.Config(block_sizes=[4], indexing="block_ptr"))
def _rowsum_block_ptr(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty([x.size(0)], dtype=x.dtype, device=x.device)
    for tile_m in hl.tile(x.size(0)):
        out[tile_m] = x[tile_m, :].sum(-1)
    return out


def test_a_block_ptr_config_runs_where_triton_has_no_block_pointers() -> None:
    """Triton 3.8 removed block pointers (triton-lang/triton#9668): the space offers only ``pointer``,
    but Helion lowers ``indexing="block_ptr"`` as ``pointer``, so a config written for an older Triton
    (Helion's long_sum example pins one) must still validate and run."""
    from helion._compat import supports_block_ptr

    x = torch.randn(8, 32, device=kernelbench.DEVICE)
    pinned = kernelbench.kernel(_rowsum_block_ptr)
    torch.testing.assert_close(pinned(x), x.sum(-1), rtol=1e-5, atol=1e-5)
    spec = _rowsum_block_ptr.bind((x,)).config_spec
    for indexing in ("block_ptr", "pointer"):
        validate_config(helion.Config(indexing=indexing), spec)
    if not supports_block_ptr():
        with pytest.raises(ConfigError, match="'indexing' of this kernel is 'blockptr'"):
            validate_config(helion.Config(indexing="blockptr"), spec)
