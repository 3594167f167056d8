"""Kernel objects from .py files: configs, code, the libdevice shim, errors."""

from __future__ import annotations

import pytest
import torch

import kernelbench
from kernelbench import ConfigError

from .kernels import basic


def test_decorator_gives_a_kernel_that_runs() -> None:
    x = torch.randn(33, 17, device=kernelbench.DEVICE)
    y = torch.randn(33, 17, device=kernelbench.DEVICE)
    assert isinstance(basic.add, kernelbench.Kernel)
    torch.testing.assert_close(basic.add(x, y), x + y)


def test_default_config_is_helions_and_pinned_wins() -> None:
    x = torch.randn(16, 16, device=kernelbench.DEVICE)
    cfg, why = basic.add.active_config(x, x)
    assert why == "default" and cfg == basic.add.default_config(x, x)
    cfg, why = basic.pinned_add.active_config(x, x)
    assert why == "pinned" and list(cfg.config["block_sizes"]) == [16, 16]


def test_libdevice_shim_rsqrt_and_tanh_in_interpreter() -> None:
    x = torch.randn(8, 64, device=kernelbench.DEVICE)
    w = torch.randn(64, device=kernelbench.DEVICE)
    ref = x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-6) * w
    torch.testing.assert_close(basic.rms_norm(x, w), ref, rtol=1e-5, atol=1e-5)
    assert basic.gelu_tanh.check(lambda t: torch.nn.functional.gelu(t, approximate="tanh"), x)
    assert "libdevice" in basic.gelu_tanh.code(x) or "tanh" in basic.gelu_tanh.code(x)


def test_code_for_explicit_config() -> None:
    x = torch.randn(16, 16, device=kernelbench.DEVICE)
    code = basic.add.code(x, x, config={"block_sizes": [4, 8]})
    assert "tl.constexpr(4)" in code and "tl.constexpr(8)" in code


def test_bad_config_is_a_clear_error() -> None:
    x = torch.randn(16, 16, device=kernelbench.DEVICE)
    with pytest.raises(ConfigError, match="not valid JSON"):
        basic.add.code(x, x, config="{nope")
    with pytest.raises(ConfigError, match="JSON object"):
        basic.add.pin("[1, 2]")


def test_decorator_text() -> None:
    x = torch.randn(16, 16, device=kernelbench.DEVICE)
    text = basic.pinned_add.decorator(x, x)
    assert text.startswith("@helion.kernel(config=helion.Config(") and "block_sizes=[16, 16]" in text


def test_device_constant_and_interpreter_label() -> None:
    assert kernelbench.DEVICE in ("cpu", "cuda")
    if kernelbench.DEVICE == "cpu":
        import os

        assert os.environ["TRITON_INTERPRET"] == "1"
        assert kernelbench.device_name() == "Triton interpreter (CPU)"


def test_importing_triton_first_on_cpu_is_a_clear_error() -> None:
    import subprocess
    import sys

    code = "import triton.language, kernelbench"
    env = {k: v for k, v in __import__("os").environ.items() if k != "TRITON_INTERPRET"}
    env["KERNELBENCH_DEVICE"] = "cpu"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode != 0
    assert "import kernelbench (or %load_ext kernelbench) before anything that imports triton" in proc.stderr


# --------------------------------------------------------------------------------------------------
# The call path: resolved once per argument key, again after a pin, a sweep or a better stored config


def _runs(k: kernelbench.Kernel, *args: torch.Tensor) -> object:
    """The compiled callable the next ``k(*args)`` runs without resolving anything."""
    from kernelbench._kernel import _call_key

    return k._calls[_call_key(args)][0]


def test_a_call_uses_the_active_config_and_follows_pin_and_sweep() -> None:
    from .kernels import tiles

    x = torch.randn(32, 32, device=kernelbench.DEVICE)
    k = kernelbench.Kernel(tiles.scale.helion_kernel)
    torch.testing.assert_close(k(x), x * 3)
    assert _runs(k, x) is k.compiled(x) and k.active_config(x)[1] == "default"
    other = {**k.default_config(x).config, "block_sizes": [8, 8]}
    k.pin(other)
    torch.testing.assert_close(k(x), x * 3)
    assert _runs(k, x) is k.compiled(x, config=other)
    k.pin(None)
    with kernelbench.settings.scope(cpu_reps=1):
        result = k.tune(x, ref=lambda t: t * 3, budget=2, seed=0, live=False, store=False)
    torch.testing.assert_close(k(x), x * 3)
    assert _runs(k, x) is k.compiled(x, config=result.best_config)
    y = torch.randn(16, 8, device=kernelbench.DEVICE)  # another signature: its own entry, its own config
    torch.testing.assert_close(k(y), y * 3)
    assert _runs(k, y) is k.compiled(y) and k.active_config(y)[1] == "default"


def test_a_call_learns_a_better_stored_config_and_reads_no_sqlite_once_resolved() -> None:
    from kernelbench.store.sqlite import default_store

    from .kernels import tiles

    x = torch.randn(32, 32, device=kernelbench.DEVICE)
    user = kernelbench.Kernel(tiles.scale.helion_kernel)
    user(x)
    assert user.active_config(x)[1] == "default"
    # Another kernel object of the same source (a re-run cell, another script) tunes into the store.
    with kernelbench.settings.scope(cpu_reps=1):
        result = kernelbench.Kernel(tiles.scale.helion_kernel).tune(x, ref=lambda t: t * 3, budget=2, seed=0,
                                                                     live=False)
    torch.testing.assert_close(user(x), x * 3)
    assert user.active_config(x)[1] == "best known"
    assert _runs(user, x) is user.compiled(x, config=result.best_config)
    statements: list[str] = []
    connection = default_store()._open(write=False)
    assert connection is not None
    connection.set_trace_callback(statements.append)
    try:
        for _ in range(20):
            user(x)
    finally:
        connection.set_trace_callback(None)
    assert statements == []  # resolved: the store is not asked again
