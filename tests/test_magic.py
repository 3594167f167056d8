"""%%kernel in a real IPython shell, running real kernels in the Triton interpreter (or on a GPU)."""

from __future__ import annotations

import pytest
import torch
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

import kernelbench
from kernelbench import Kernel, KernelDefinitionError

from .conftest import run, unique

SOFTMAX = """
def {name}(x: torch.Tensor) -> torch.Tensor:
    n, _m = x.size()
    out = torch.empty_like(x)
    for tile_n in hl.tile(n):
        row = x[tile_n, :]
        e = torch.exp(row - torch.amax(row, dim=1, keepdim=True))
        out[tile_n, :] = e / torch.sum(e, dim=1, keepdim=True)
    return out
"""


def define(ip, name: str, body: str, line: str = "") -> Kernel:
    run(ip, f"%%kernel {line}\n{body.format(name=name).lstrip()}")
    return ip.user_ns[name]


def test_elementwise_cell_runs_and_checks(ip) -> None:
    name = unique("add")
    k = define(ip, name, """
def {name}(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        out[tile] = x[tile] + y[tile]
    return out
""")
    assert isinstance(k, Kernel)
    run(ip, f"x = torch.randn(48, 80, device=kernelbench.DEVICE); y = torch.randn(48, 80, device=kernelbench.DEVICE)\nz = {name}(x, y)")
    torch.testing.assert_close(ip.user_ns["z"], ip.user_ns["x"] + ip.user_ns["y"])
    report = run(ip, f"{name}.check(lambda a, b: a + b, x, y)")
    assert report and len(report.trials) == 3


def test_row_reduction_cell_and_code(ip) -> None:
    name = unique("softmax")
    k = define(ip, name, SOFTMAX)
    x = torch.randn(32, 64, device=kernelbench.DEVICE)
    torch.testing.assert_close(k(x), torch.softmax(x, -1))
    code = k.code(x)
    assert "@triton.jit" in code and "tl.store" in code
    report = k.check(lambda t: torch.softmax(t, -1), x)
    assert report.passed, repr(report)


def test_matmul_cell_with_addmm(ip) -> None:
    name = unique("matmul")
    k = define(ip, name, """
def {name}(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    m, k = x.size()
    _k, n = y.size()
    out = torch.empty([m, n], dtype=x.dtype, device=x.device)
    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = torch.addmm(acc, x[tile_m, tile_k], y[tile_k, tile_n])
        out[tile_m, tile_n] = acc.to(out.dtype)
    return out
""")
    x = torch.randn(64, 32, device=kernelbench.DEVICE)
    y = torch.randn(32, 48, device=kernelbench.DEVICE)
    assert k.check(torch.matmul, x, y, config={"block_sizes": [16, 16, 16]})


def test_hl_dot_matmul(ip) -> None:
    name = unique("dot")
    k = define(ip, name, """
def {name}(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    m, k = x.size()
    _k, n = y.size()
    out = torch.empty([m, n], dtype=x.dtype, device=x.device)
    for tile_m, tile_n in hl.tile([m, n]):
        acc = hl.zeros([tile_m, tile_n], dtype=torch.float32)
        for tile_k in hl.tile(k):
            acc = hl.dot(x[tile_m, tile_k], y[tile_k, tile_n], acc=acc)
        out[tile_m, tile_n] = acc.to(out.dtype)
    return out
""")
    x = torch.randn(32, 32, device=kernelbench.DEVICE)
    y = torch.randn(32, 32, device=kernelbench.DEVICE)
    assert k.check(torch.matmul, x, y, trials=2)


def test_kernel_reads_notebook_global_and_sees_its_current_value(ip) -> None:
    name = unique("scale")
    run(ip, "SCALE = 3.0")
    k = define(ip, name, """
def {name}(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        out[tile] = x[tile] * SCALE
    return out
""")
    x = torch.randn(16, 16, device=kernelbench.DEVICE)
    torch.testing.assert_close(k(x), x * 3.0)


def test_edited_cell_replaces_kernel(ip) -> None:
    name = unique("edit")
    body = """
def {name}(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        out[tile] = x[tile] + OFFSET
    return out
"""
    first = define(ip, name, body.replace("OFFSET", "1.0"))
    x = torch.randn(16, 16, device=kernelbench.DEVICE)
    torch.testing.assert_close(first(x), x + 1)
    second = define(ip, name, body.replace("OFFSET", "2.0"))
    assert ip.user_ns[name] is second and second is not first
    torch.testing.assert_close(second(x), x + 2)
    assert "2.0" in second.source


def test_cell_already_decorated_keeps_its_settings(ip) -> None:
    name = unique("decorated")
    k = define(ip, name, """
@helion.kernel(config=helion.Config(block_sizes=[8, 8]), static_shapes=True)
def {name}(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        out[tile] = x[tile] * 2
    return out
""")
    assert k.pinned is not None and list(k.pinned.config["block_sizes"]) == [8, 8]
    x = torch.randn(16, 16, device=kernelbench.DEVICE)
    torch.testing.assert_close(k(x), x * 2)
    assert k.active_config(x)[1] == "pinned"
    assert "_BLOCK_SIZE_0 = tl.constexpr(8)" in k.code(x)


def test_broken_kernel_error_names_cell_line(ip) -> None:
    name = unique("broken")
    k = define(ip, name, """
def {name}(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        out[tile] = x[tile] + not_defined_anywhere
    return out
""")
    with pytest.raises(KernelDefinitionError) as info:
        k(torch.randn(8, 8, device=kernelbench.DEVICE))
    error = info.value
    # Line 1 is %%kernel, line 2 the def: the bad line is the 5th line the user sees.
    assert error.cell_line == 5
    assert "not_defined_anywhere" in str(error) and "cell line 5" in str(error)
    assert "^" in str(error)
    assert len(str(error).splitlines()) <= 4
    # In the notebook the error renders as its message, not a traceback of compiler internals.
    assert error._render_traceback_()[1].lstrip().startswith("5 |")


def test_syntax_error_points_into_the_cell(ip) -> None:
    with pytest.raises(KernelDefinitionError) as info:
        run(ip, "%%kernel\ndef f(x):\n    for tile in hl.tile(x.size())\n        pass\n    return x\n")
    assert info.value.cell_line == 3
    assert "for tile in hl.tile(x.size())" in str(info.value)


def test_cell_with_no_function_or_two_kernels_is_a_clear_error(ip) -> None:
    with pytest.raises(KernelDefinitionError, match="defines no function"):
        run(ip, "%%kernel\nA = 1\n")
    with pytest.raises(KernelDefinitionError, match="2 candidate kernels"):
        run(ip, "%%kernel\ndef a(x):\n    return x\ndef b(x):\n    return x\n")


def test_helper_function_alongside_decorated_kernel(ip) -> None:
    name = unique("withhelper")
    k = define(ip, name, """
def helper_not_kernel(v):
    return v * 2

@helion.kernel()
def {name}(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        out[tile] = x[tile] + 1
    return out
""")
    assert k.name == name


def test_bad_magic_arguments_are_usage_errors(ip) -> None:
    with pytest.raises(UsageError, match="--show needs --args"):
        run(ip, "%%kernel --show\ndef f(x):\n    return x\n")
    with pytest.raises(UsageError, match="no variable 'nope'"):
        run(ip, "%%kernel --args nope\ndef f(x):\n    return x\n")
    with pytest.raises(UsageError, match="not valid JSON"):
        run(ip, "%%kernel --config '{oops'\ndef f(x):\n    return x\n")
    with pytest.raises(UsageError):
        run(ip, "%%kernel --no-such-option\ndef f(x):\n    return x\n")


def test_card_and_show_display_code_mapped_to_cell_lines(ip) -> None:
    name = unique("shown")
    run(ip, "xs = torch.randn(16, 32, device=kernelbench.DEVICE)")
    with capture_output() as captured:
        define(ip, name, SOFTMAX, line="--args xs --show")
    htmls = [o.data["text/html"] for o in captured.outputs if "text/html" in o.data]
    assert len(htmls) == 2
    card, code = htmls
    assert name in card and kernelbench.device_name() in card
    assert "block_sizes" in card  # knobs are known once --args is given
    assert "_helion_" in code and ">line 5<" in code  # `for tile_n in hl.tile(n):` is cell line 5
    assert "# line 5:" in code and "src[" not in code  # origin comments without the temporary file name


def test_quiet_shows_nothing(ip) -> None:
    with capture_output() as captured:
        define(ip, unique("quiet"), SOFTMAX, line="-q")
    assert not captured.outputs


def test_pinned_config_from_magic(ip) -> None:
    name = unique("pinned")
    k = define(ip, name, SOFTMAX, line="--config '{\"block_sizes\": [4]}'")
    x = torch.randn(16, 32, device=kernelbench.DEVICE)
    assert "_BLOCK_SIZE_0 = tl.constexpr(4)" in k.code(x)
    torch.testing.assert_close(k(x), torch.softmax(x, -1))


def test_help_is_the_docstring(ip) -> None:
    from kernelbench._magic import KernelMagics

    doc = KernelMagics.kernel.__doc__
    assert "Usage" in doc and "--config" in doc and "Examples" in doc


def test_a_cell_that_raises_after_the_def_defines_nothing_and_says_so_in_one_line(ip) -> None:
    name = unique("calls_itself")
    run(ip, f"{name} = 'what it was before'")
    with pytest.raises(KernelDefinitionError) as info:
        run(ip, f"""%%kernel -q
def {name}(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    for tile in hl.tile(out.size()):
        out[tile] = x[tile] * 2
    return out
{name}(torch.randn(8, 8, device=kernelbench.DEVICE))
""")
    message = str(info.value)
    assert len(message.splitlines()) == 1 and "cell line 7" in message and f"{name} was not (re)defined" in message
    assert ip.user_ns[name] == "what it was before"  # never the raw function
