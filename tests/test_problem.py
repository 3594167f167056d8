"""KernelBench problems as references (``kernelbench/io/problem.py``), through the API and the magic:
real problem files in KernelBench's format (``tests/problems``) and real kernels in the interpreter."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from IPython.core.error import UsageError

import kernelbench
from kernelbench import CheckError, Problem, ProblemError
from kernelbench.io.problem import load_module, parse_sizes, score, size_constants

from .conftest import run, unique

PROBLEMS = Path(__file__).parent / "problems"
KERNELS = PROBLEMS / "kernels"


def _kernel(stem: str, name: str | None = None) -> kernelbench.Kernel:
    return getattr(load_module(KERNELS / f"{stem}.py"), name or stem)


def test_a_problem_without_parameters_loads_seeded_on_the_device() -> None:
    before = torch.get_rng_state()
    p = kernelbench.problem(PROBLEMS / "scale_add.py")
    assert torch.equal(torch.get_rng_state(), before), "loading a problem changed the caller's random state"
    assert isinstance(p, Problem) and p.name == "scale_add" and p.params == {}
    assert p.sizes == {"batch_size": 8, "dim": 48}
    x, y = p.args
    assert x.shape == (8, 48) and x.device.type == kernelbench.DEVICE and not p.model.training
    torch.testing.assert_close(p.ref(x, y), 2.5 * x + y)
    again = kernelbench.problem(PROBLEMS / "scale_add.py")
    assert all(torch.equal(a, b) for a, b in zip(p.args, again.args)), "the same seed drew other inputs"
    assert all(torch.equal(a, b) for a, b in zip(p.make_args(0), p.args))
    assert not torch.equal(p.make_args(1)[0], x), "make_args(1) drew the seed-0 inputs again"
    assert not torch.equal(kernelbench.problem(PROBLEMS / "scale_add.py", seed=3).args[0], x)


def test_size_overrides_run_before_the_file_so_derived_constants_follow() -> None:
    p = kernelbench.problem(PROBLEMS / "layer_norm.py", features=24, rows=4)
    assert p.sizes == {"rows": 4, "features": 24, "cols": 24}
    assert p.args[0].shape == (4, 24)
    assert list(p.params) == ["ln.weight", "ln.bias"] and p.params["ln.weight"].shape == (24,)
    assert size_constants(PROBLEMS / "layer_norm.py") == {"rows": 16, "features": 32, "cols": 32}
    assert p.resized(rows=2).args[0].shape == (2, 24), "resized() dropped the earlier overrides"


def test_an_unknown_size_names_the_constants_there_are() -> None:
    with pytest.raises(ProblemError, match=r"no size constant 'N'; its module-level constants are: rows=16, "
                                           r"features=32, cols=32"):
        kernelbench.problem(PROBLEMS / "layer_norm.py", N=4)
    with pytest.raises(ProblemError, match="not a number"):
        kernelbench.problem(PROBLEMS / "layer_norm.py", rows="4")
    assert parse_sizes("N=4096, eps=1e-5") == {"N": 4096, "eps": 1e-5}
    with pytest.raises(ProblemError, match="not NAME=NUMBER"):
        parse_sizes("4096")


def test_files_that_are_not_problems_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ProblemError, match="not a KernelBench problem.*missing Model"):
        kernelbench.problem(PROBLEMS / "not_a_problem.py")
    with pytest.raises(ProblemError, match="no such file"):
        kernelbench.problem(tmp_path / "missing.py")
    broken = tmp_path / "broken.py"
    broken.write_text("import torch\n\nsize = 4\nraise ValueError('bad problem')\n")
    with pytest.raises(ProblemError, match=r"broken.py:4: running it raised ValueError: bad problem"):
        kernelbench.problem(broken)


def test_parameters_are_trailing_arguments_and_fresh_trials_redraw_them() -> None:
    p = kernelbench.problem(PROBLEMS / "layer_norm.py")
    x, w, b = p.args
    assert w is p.params["ln.weight"] and b is p.params["ln.bias"]
    report = _kernel("layer_norm").check(p)
    assert report.passed, repr(report)
    assert [t.reference_precision for t in report.trials] == ["float64"] * 3
    assert "reference in float64" in repr(report).splitlines()[0]
    # A kernel that ignores the parameters passes on the Model's own (ones and zeros) and fails on the
    # fresh ones the later trials draw: the reference uses the parameters it is given.
    wrong = _kernel("layer_norm", "layer_norm_no_affine").check(p)
    assert [t.passed for t in wrong.trials] == [True, False, False], repr(wrong)
    _, w2, b2 = p.make_args(1)
    torch.testing.assert_close(p.ref(x, w2, b2), torch.nn.functional.layer_norm(x, (32,), w2, b2))


def test_a_reference_that_cannot_run_in_float64_says_so_and_why() -> None:
    p = kernelbench.problem(PROBLEMS / "float32_inside.py")
    report = _kernel("float32_inside").check(p)
    assert report.passed, repr(report)
    assert {t.reference_precision for t in report.trials} == {"native"}
    text = report.reference_precision
    assert text.startswith("float32, not float64: in float64 it raised RuntimeError"), text
    assert text in repr(report) and "not float64" in report._repr_html_()
    x = p.args[0]
    casts = _kernel("float32_inside").check(lambda t: t.float(), x)
    assert casts.trials[0].reference_precision == "float64"
    assert casts.reference_precision == ("float64 inputs, but its outputs came back as float32: it computes in a "
                                         "narrower dtype inside"), casts.reference_precision
    plain = _kernel("float32_inside").check(lambda t: t.clone(), x)
    assert plain.reference_precision == "float64"


def test_integer_labels_keep_their_dtype_and_range() -> None:
    p = kernelbench.problem(PROBLEMS / "cross_entropy.py", batch_size=12)
    logits, labels = p.make_args(5)
    assert labels.dtype == torch.int64 and labels.shape == (12,) and 0 <= int(labels.min()) <= int(labels.max()) < 40
    report = _kernel("cross_entropy").check(p)
    assert report.passed and report.trials[0].reference_precision == "float64", repr(report)


def test_check_and_tune_take_the_arguments_from_the_problem() -> None:
    p = kernelbench.problem(PROBLEMS / "scale_add.py")
    k = _kernel("scale_add")
    with pytest.raises(CheckError, match="takes its arguments from the problem"):
        k.check(p, *p.args)
    with pytest.raises(CheckError, match="takes its arguments and reference from the problem"):
        k.tune(p, ref=p.ref)
    result = k.tune(p, budget=2, live=False, store=False)
    assert result.best is not None and result.info.kernel == "scale_add"
    assert not _kernel("scale_add", "scale_add_wrong").check(p)


def test_bench_of_a_problem_times_the_kernel_beside_the_eager_model_over_a_size() -> None:
    p = kernelbench.problem(PROBLEMS / "scale_add.py")
    report = _kernel("scale_add").bench(p, over={"dim": [16, 32]}, baselines={}, live=False)
    df = report.df
    assert set(df["impl"]) == {"scale_add", "eager"}, df
    assert sorted(df["size"].unique()) == [16, 32] and df["correct"].all(), df
    with pytest.raises(ProblemError, match="no size constant 'N'"):
        _kernel("scale_add").bench(p, over={"N": [16]}, baselines={}, live=False)


def test_score_gives_fast_p_over_every_problem(tmp_path: Path) -> None:
    def load(path: Path, stem: str) -> kernelbench.Kernel:
        return load_module(path).__dict__[stem]

    phases: list[str] = []
    report = score(KERNELS, PROBLEMS, load, compile=False, on_progress=lambda d, t, n, ph: phases.append(ph))
    by = {r.problem: r for r in report.rows}
    assert set(by) == {"cross_entropy", "float32_inside", "layer_norm", "not_a_problem", "scale_add"}
    assert by["not_a_problem"].status == "no kernel" and not by["not_a_problem"].correct
    assert all(by[n].correct and by[n].kernel_ms and by[n].eager_ms for n in by if n != "not_a_problem"), report
    assert report.fast_p(0) == pytest.approx(4 / 5) and report.passed
    assert "| fast_p | p=0 | p=1 | p=1.5 | p=2 |" in report.to_markdown()
    assert report.to_json()["fast_p"]["eager"]["0"] == pytest.approx(0.8)
    assert phases[-1] == "done" and "checking" in phases


# --------------------------------------------------------------------------------------------------
# The magic


LAYER_NORM = """
def {name}(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    m, _n = x.size()
    out = torch.empty_like(x)
    for tile_m in hl.tile(m):
        row = x[tile_m, :]
        mean = torch.mean(row, dim=-1, keepdim=True)
        centred = row - mean
        var = torch.mean(centred * centred, dim=-1, keepdim=True)
        out[tile_m, :] = centred * torch.rsqrt(var + 1e-5) * weight[None, :] + bias[None, :]
    return out
"""


def test_magic_checks_the_cell_against_a_problem(ip) -> None:
    name = unique("layer_norm")
    path = PROBLEMS / "layer_norm.py"
    report = run(ip, f"%%kernel -q --problem {path} --sizes features=24,rows=8\n{LAYER_NORM.format(name=name).lstrip()}")
    assert isinstance(report, kernelbench.CheckReport) and report.passed, repr(report)
    assert report.trials[0].outputs[0].shape == (8, 24)
    assert isinstance(ip.user_ns[name], kernelbench.Kernel)
    result = run(ip, f"%%kernel -q --problem {path} --tune --budget 1\n{LAYER_NORM.format(name=name).lstrip()}")
    assert isinstance(result, kernelbench.SweepResult) and result.best is not None
    assert result.candidates[0].status == "ok"


def test_magic_problem_errors_are_usage_errors(ip) -> None:
    body = LAYER_NORM.format(name=unique("layer_norm")).lstrip()
    path = PROBLEMS / "layer_norm.py"
    with pytest.raises(UsageError, match="--problem: layer_norm.py has no size constant 'N'"):
        run(ip, f"%%kernel -q --problem {path} --sizes N=4\n{body}")
    with pytest.raises(UsageError, match="--sizes needs --problem"):
        run(ip, f"%%kernel -q --sizes N=4\n{body}")
    ip.user_ns["x"] = torch.randn(4, 4, device=kernelbench.DEVICE)
    with pytest.raises(UsageError, match="drop --args and --ref"):
        run(ip, f"%%kernel -q --problem {path} --args x\n{body}")


def test_a_problem_s_reference_is_rebuilt_from_its_file_seed_and_sizes(tmp_path: Path) -> None:
    from kernelbench.io.problem import ProblemSizes, reference_of
    from kernelbench.tune.worker.recipe import rebuild_reference, reference_recipe

    p = kernelbench.problem(PROBLEMS / "layer_norm.py", seed=2, features=24, rows=4)
    recipe = reference_recipe(p.ref, p.args)
    assert recipe is not None and recipe["kwargs"]["sizes"] == {"features": 24, "rows": 4}
    assert recipe["kwargs"]["seed"] == 2 and recipe["kwargs"]["n_inputs"] == 1
    assert reference_recipe(p.forward, p.args) is None  # the eager Model with its own parameters: not a reference
    args = p.make_args(5)  # fresh parameters too: the rebuilt reference takes them as arguments
    torch.testing.assert_close(rebuild_reference(recipe)(*args), p.ref(*args), rtol=0, atol=0)
    # The bench's family of sizes describes the reference of the size its arguments are.
    family = ProblemSizes(p, {"rows": [4, 8]})
    eight = family.make_args(8)
    assert reference_recipe(family.ref, eight)["kwargs"]["sizes"] == {"features": 24, "rows": 8}
    # A file edited since the notebook loaded it is not rebuilt.
    edited = tmp_path / "layer_norm.py"
    edited.write_text((PROBLEMS / "layer_norm.py").read_text())
    q = kernelbench.problem(edited)
    edited.write_text(edited.read_text().replace("rows = 16", "rows = 17"))
    with pytest.raises(ProblemError, match="not the file the notebook loaded"):
        reference_of(**reference_recipe(q.ref, q.args)["kwargs"])
