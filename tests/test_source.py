"""kernelbench.core.source: the namespace a %%kernel cell's kernel compiles against, in a real IPython shell."""

from __future__ import annotations

import pytest
import torch

import kernelbench
from kernelbench import KernelDefinitionError
from kernelbench.core.source import is_ipython_name, is_ipython_namespace, notebook_names_hidden

from .conftest import run, unique


def test_ipython_history_names() -> None:
    for name in ("_", "__", "___", "_3", "_i", "_ii", "_iii", "_i12", "_ih", "_oh", "_dh", "In", "Out",
                 "exit", "quit", "get_ipython"):
        assert is_ipython_name(name), name
    for name in ("_m", "_k", "x_1", "_tile", "acc", "i3", "_i_", "Inner"):
        assert not is_ipython_name(name), name


def test_only_an_ipython_user_namespace_is_recognised(ip) -> None:
    assert is_ipython_namespace(ip.user_ns)
    assert not is_ipython_namespace({"In": [], "_ih": []})  # two lists: not IPython's
    assert not is_ipython_namespace(vars(torch))


def test_kernel_assigning_underscore_and_a_notebook_name_on_the_device(ip) -> None:
    """Helion's segment_reduction does `out_vals, _ = hl.associative_scan(...)`: in a notebook `_` is
    IPython's last output, and a notebook `acc` is as common; neither is the kernel's host variable."""
    name = unique("underscore")
    run(ip, "41 + 1")  # IPython now holds `_` (and `_N`)
    run(ip, "acc = 'a notebook variable'")
    assert ip.user_ns["_"] == 42
    run(ip, f"""%%kernel -q
def {name}(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        acc, _ = x[tile] * 2.0, x[tile]
        out[tile] = acc + _
    return out
""")
    run(ip, f"x = torch.randn(8, 16, device=kernelbench.DEVICE)\ny = {name}(x)")
    torch.testing.assert_close(ip.user_ns["y"], ip.user_ns["x"] * 3)
    assert ip.user_ns[name].check(lambda t: t * 3, ip.user_ns["x"])
    assert ip.user_ns["_"] == 42 and ip.user_ns["acc"] == "a notebook variable"  # put back
    assert ip.user_ns["In"] is ip.user_ns["_ih"]


def test_a_kernel_reading_ipython_output_history_does_not_see_it(ip) -> None:
    name = unique("reads_out")
    run(ip, "7")
    run(ip, f"""%%kernel -q
def {name}(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        out[tile] = x[tile] * _
    return out
""")
    with pytest.raises(KernelDefinitionError, match="_"):
        run(ip, f"{name}(torch.randn(4, 4, device=kernelbench.DEVICE))")
    assert ip.user_ns["_"] == 7


def test_the_kernel_still_sees_notebook_globals_and_their_later_values(ip) -> None:
    name = unique("later")
    run(ip, "FACTOR = 2.0")
    run(ip, f"""%%kernel -q
def {name}(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        out[tile] = bump(x[tile]) * FACTOR
    return out
""")
    run(ip, "def bump(t):\n    return t + 1.0")  # a helper defined after the kernel
    x = torch.randn(4, 8, device=kernelbench.DEVICE)
    k = ip.user_ns[name]
    torch.testing.assert_close(k(x), (x + 1) * 2)
    run(ip, "FACTOR = 5.0")  # redefined in a later cell: the next compile reads it
    x2 = torch.randn(6, 8, device=kernelbench.DEVICE)
    torch.testing.assert_close(k(x2), (x2 + 1) * 5)


def test_a_module_namespace_is_left_alone() -> None:
    namespace = {"__name__": "plain", "acc": 1, "_": 2}
    exec("def f(x):\n    acc = _ = x\n    return acc", namespace)  # noqa: S102
    with notebook_names_hidden(namespace["f"]):
        assert namespace["acc"] == 1 and namespace["_"] == 2
    assert kernelbench.DEVICE in ("cpu", "cuda")
