from __future__ import annotations

from pathlib import Path

import pytest

from kernelbench._errors import KernelbenchError
from kernelbench._settings import Settings, settings

TRUE_SPELLINGS = ["1", "true", "True", "TRUE", "yes", "Yes", "on", "ON", " on "]
FALSE_SPELLINGS = ["0", "false", "False", "no", "NO", "off", "Off"]
ENV_VARS = [
    "KERNELBENCH_DEVICE", "KERNELBENCH_HOME", "KERNELBENCH_CHECK_TRIALS", "KERNELBENCH_GPU_WARMUP_MS",
    "KERNELBENCH_GPU_REP_MS", "KERNELBENCH_CPU_REPS", "KERNELBENCH_ISOLATE", "KERNELBENCH_COMPILE_TIMEOUT",
    "KERNELBENCH_RUN_TIMEOUT", "KERNELBENCH_COMPILE_WORKERS", "KERNELBENCH_KEEP_WORKERS",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)


def test_defaults() -> None:
    s = Settings()
    assert s.device == "auto"
    assert s.home == Path.home() / ".cache" / "kernelbench"
    assert (s.check_trials, s.cpu_reps, s.compile_workers) == (3, 3, -1)
    assert (s.gpu_warmup_ms, s.gpu_rep_ms, s.compile_timeout_s, s.run_timeout_s) == (25.0, 100.0, 20.0, 60.0)
    assert s.isolate is None
    assert s.keep_workers is True


@pytest.mark.parametrize("field,var", [("isolate", "KERNELBENCH_ISOLATE"), ("keep_workers", "KERNELBENCH_KEEP_WORKERS")])
@pytest.mark.parametrize("spelling,expected", [(t, True) for t in TRUE_SPELLINGS] + [(f, False) for f in FALSE_SPELLINGS])
def test_boolean_spellings_from_env(monkeypatch: pytest.MonkeyPatch, field: str, var: str, spelling: str,
                                    expected: bool) -> None:
    monkeypatch.setenv(var, spelling)
    assert getattr(Settings(), field) is expected


@pytest.mark.parametrize("field", ["isolate", "keep_workers"])
@pytest.mark.parametrize("value,expected", [(t, True) for t in [*TRUE_SPELLINGS, True, 1]]
                         + [(f, False) for f in [*FALSE_SPELLINGS, False, 0]])
def test_boolean_spellings_from_scope(field: str, value: object, expected: bool) -> None:
    before = getattr(settings, field)
    with settings.scope(**{field: value}):
        assert getattr(settings, field) is expected
    assert getattr(settings, field) is before


def test_scope_isolate_true_is_true() -> None:
    with settings.scope(isolate=True):
        assert settings.isolate is True
    with settings.scope(isolate=False):
        assert settings.isolate is False


@pytest.mark.parametrize("spelling", ["auto", "AUTO", "", " "])
def test_isolate_auto_from_env_is_none(monkeypatch: pytest.MonkeyPatch, spelling: str) -> None:
    monkeypatch.setenv("KERNELBENCH_ISOLATE", spelling)
    assert Settings().isolate is None


def test_isolate_auto_from_scope_is_none() -> None:
    with settings.scope(isolate=True), settings.scope(isolate="auto"):
        assert settings.isolate is None
    with settings.scope(isolate=None):
        assert settings.isolate is None


@pytest.mark.parametrize("var,value", [
    ("KERNELBENCH_ISOLATE", "maybe"), ("KERNELBENCH_KEEP_WORKERS", "2"), ("KERNELBENCH_KEEP_WORKERS", "auto"),
    ("KERNELBENCH_CPU_REPS", "1.5"), ("KERNELBENCH_CHECK_TRIALS", "three"), ("KERNELBENCH_RUN_TIMEOUT", "soon"),
    ("KERNELBENCH_DEVICE", "tpu"),
])
def test_bad_value_from_env(monkeypatch: pytest.MonkeyPatch, var: str, value: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(KernelbenchError) as info:
        Settings()
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{var} (settings.")
    assert repr(value) in message


def test_bad_isolate_message() -> None:
    with pytest.raises(KernelbenchError) as info, settings.scope(isolate="maybe"):
        pass
    assert str(info.value) == (
        "settings.isolate (KERNELBENCH_ISOLATE) must be auto or a boolean (1/0, true/false, yes/no, on/off); "
        "got 'maybe'"
    )


@pytest.mark.parametrize("field,var,value", [
    ("isolate", "KERNELBENCH_ISOLATE", "maybe"), ("isolate", "KERNELBENCH_ISOLATE", 2),
    ("keep_workers", "KERNELBENCH_KEEP_WORKERS", None), ("keep_workers", "KERNELBENCH_KEEP_WORKERS", "auto"),
    ("cpu_reps", "KERNELBENCH_CPU_REPS", "1.5"), ("cpu_reps", "KERNELBENCH_CPU_REPS", True),
    ("cpu_reps", "KERNELBENCH_CPU_REPS", 1.0), ("compile_workers", "KERNELBENCH_COMPILE_WORKERS", False),
    ("run_timeout_s", "KERNELBENCH_RUN_TIMEOUT", "soon"), ("run_timeout_s", "KERNELBENCH_RUN_TIMEOUT", True),
    ("device", "KERNELBENCH_DEVICE", "gpu"), ("home", "KERNELBENCH_HOME", 3), ("home", "KERNELBENCH_HOME", ""),
])
def test_bad_value_from_scope(field: str, var: str, value: object) -> None:
    before = getattr(settings, field)
    with pytest.raises(KernelbenchError) as info, settings.scope(**{field: value}):
        pass
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"settings.{field} ({var}) must be ")
    assert message.endswith(f"got {value!r}")
    assert getattr(settings, field) == before


def test_scope_checks_every_change_before_applying_any() -> None:
    with pytest.raises(KernelbenchError, match="settings.cpu_reps"), settings.scope(check_trials=7, cpu_reps="x"):
        pass
    assert settings.check_trials != 7


def test_direct_assignment_is_parsed() -> None:
    s = Settings()
    s.isolate = "on"
    assert s.isolate is True
    s.cpu_reps = "5"
    assert s.cpu_reps == 5
    with pytest.raises(KernelbenchError, match=r"settings\.keep_workers \(KERNELBENCH_KEEP_WORKERS\)"):
        s.keep_workers = "sometimes"
    assert s.keep_workers is True
    with pytest.raises(KernelbenchError, match="unknown setting"):
        s.cpu_rep = 1  # a typo is an error, not a new attribute


def test_unknown_setting_lists_valid_names() -> None:
    with pytest.raises(KernelbenchError) as info, settings.scope(cpu_rep=1, isolated=True):
        pass
    message = str(info.value)
    assert "'cpu_rep'" in message and "'isolated'" in message
    assert "cpu_reps" in message and "isolate" in message and "keep_workers" in message
    assert "\n" not in message


def test_ints_from_env_and_scope(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERNELBENCH_COMPILE_WORKERS", " 4 ")
    monkeypatch.setenv("KERNELBENCH_CPU_REPS", "7")
    s = Settings()
    assert (s.compile_workers, s.cpu_reps) == (4, 7)
    with settings.scope(cpu_reps="2"):
        assert settings.cpu_reps == 2 and type(settings.cpu_reps) is int


def test_floats_accept_ints_and_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERNELBENCH_RUN_TIMEOUT", "1.5")
    assert Settings().run_timeout_s == 1.5
    with settings.scope(run_timeout_s=2, compile_timeout_s="0.25"):
        assert settings.run_timeout_s == 2.0 and type(settings.run_timeout_s) is float
        assert settings.compile_timeout_s == 0.25


def test_scope_restores_when_body_raises() -> None:
    before = (settings.cpu_reps, settings.isolate, settings.keep_workers)
    with pytest.raises(RuntimeError), settings.scope(cpu_reps=11, isolate="yes", keep_workers="off"):
        assert (settings.cpu_reps, settings.isolate, settings.keep_workers) == (11, True, False)
        raise RuntimeError("body failed")
    assert (settings.cpu_reps, settings.isolate, settings.keep_workers) == before


def test_home_accepts_str_and_yields_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with settings.scope(home=str(tmp_path)):
        assert settings.home == tmp_path and isinstance(settings.home, Path)
    monkeypatch.setenv("KERNELBENCH_HOME", str(tmp_path / "store"))
    assert Settings().home == tmp_path / "store"


def test_device_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERNELBENCH_DEVICE", "cpu")
    assert Settings().device == "cpu"
    with settings.scope(device="auto"):
        assert settings.device == "auto"
