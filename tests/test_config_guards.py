"""Guards against silent nonsense in the configuration (issue 14, item 1): non-finite numbers,
exponent notation, duplicate keys, phases and marker days outside the trial, no imaging."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from osteotrial import yaml_strict
from osteotrial.trial.config import load_config, merge_config, parse_command_line_values

PHASE = {"drug": "denosumab", "dose_mg": 60, "interval_days": 182.625}


def load(overrides: dict | None = None, trial: str = "frame"):
    return load_config(trial, overrides, config_dir="config")


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch, request):
    monkeypatch.chdir(request.config.rootpath)


@pytest.mark.parametrize("value", [".nan", "-.inf", float("nan"), float("inf")])
def test_non_finite_overrides_name_their_field(value):
    overrides = {"model": {"bmd": {"ls": {"turnover_um_per_year": value}}}}
    with pytest.raises(
        ValueError, match=r"model\.bmd\.ls\.turnover_um_per_year=(nan|inf|-inf)"
    ) as error:
        load(parse_command_line_values(overrides))
    assert "finite" in str(error.value)


def test_exponent_notation_is_a_number_in_files_and_overrides():
    assert yaml_strict.loads("a: 1e-3\nb: 3e0\nc: [2E+1]") == {"a": 0.001, "b": 3.0, "c": [20.0]}
    assert parse_command_line_values({"seed": "7", "x": {"y": "1e-3"}}) == {
        "seed": 7,
        "x": {"y": 0.001},
    }
    overrides = {"model": {"bmd": {"ls": {"turnover_um_per_year": "3e1"}}}}  # as snakemake
    trial = load(parse_command_line_values(overrides))
    assert trial.raw["model"]["bmd"]["ls"]["turnover_um_per_year"] == 30.0
    assert yaml_strict.loads("a: 1e3x") == {"a": "1e3x"}  # not a number: stays text


def test_duplicate_keys_are_an_error_naming_key_and_lines(tmp_path):
    trial_file = tmp_path / "dup.yaml"
    trial_file.write_text(Path("config/trials/frame.yaml").read_text() + "seed: 99\n")
    with pytest.raises(ValueError, match=r"duplicate key 'seed' at line \d+ \(first at line 6\)"):
        merge_config(str(trial_file))
    with pytest.raises(ValueError, match="duplicate key 'a'"):
        parse_command_line_values({"model": "{a: 1, a: 2}"})


def same_values(a, b) -> bool:
    """Equal values of the same types, keys in the same order (nan equal to nan)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_values(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_values(x, y) for x, y in zip(a, b, strict=True))
    return a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("loader", ["StrictLoader", "safe"])
def test_the_c_parser_reads_every_configuration_file_as_the_python_parser(loader):
    """libyaml's parser (``StrictLoader``, ``safe_load_fast``) gives the values of PyYAML's
    pure-Python one on every file of config/ and tests/data, and the same strict rules."""
    import yaml

    fast, slow = {
        "StrictLoader": (yaml_strict.StrictLoader, yaml_strict.PyStrictLoader),
        "safe": (yaml.CSafeLoader, yaml.SafeLoader),
    }[loader]
    assert fast is not slow  # this PyYAML has libyaml (the wheels do)
    files = sorted(Path("config").rglob("*.yaml")) + sorted(Path("tests/data").glob("*.yaml"))
    assert len(files) >= 20
    for path in files:
        text = path.read_text()
        assert same_values(yaml.load(text, Loader=fast), yaml.load(text, Loader=slow)), path
    duplicate = "a: 1\nb: {c: 2, c: 3}\n"
    for strict in (yaml_strict.StrictLoader, yaml_strict.PyStrictLoader):
        with pytest.raises(ValueError, match=r"duplicate key 'c' at line 2 \(first at line 2\)"):
            yaml.load(duplicate, Loader=strict)


def test_a_phase_that_starts_after_the_trial_is_an_error():
    arms = {
        "placebo_then_denosumab": [{**PHASE, "start_day": 800, "stop_day": 900}],
        "romosozumab_then_denosumab": [{**PHASE, "start_day": 0, "stop_day": 730.5}],
    }
    with pytest.raises(ValueError, match=r"arms\.placebo_then_denosumab\[0\]\.start_day=800"):
        load({"arms": arms})


def test_marker_days_after_the_trial_are_an_error():
    with pytest.raises(ValueError, match=r"schedule\.marker_days=.*\[800\] are after the end"):
        load({"schedule": {"marker_days": [3, 14, 800]}})


def test_no_imaging_visit_is_rejected_with_its_reason():
    with pytest.raises(ValueError, match=r"imaging_months=\[\].*spine radiographs"):
        load({"schedule": {"imaging_months": []}})


def test_finite_configurations_still_load():
    assert math.isfinite(load().raw["model"]["bmd"]["ls"]["turnover_um_per_year"])


def test_a_step_too_large_for_a_drug_phase_is_refused_before_any_job():
    with pytest.raises(ValueError, match=r"dt_days=1.5 is too large for arm 'placebo_then_den"):
        load({"schedule": {"dt_days": 1.5}})
    placebo_only = {
        "placebo_then_denosumab": [{**PHASE, "drug": "placebo", "dose_mg": 0, "start_day": 0,
                                    "stop_day": 730.5}],
        "romosozumab_then_denosumab": [{**PHASE, "drug": "placebo", "dose_mg": 0,
                                        "start_day": 0, "stop_day": 730.5}],
    }  # fmt: skip
    assert load({"arms": placebo_only, "schedule": {"dt_days": 3}}).schedule.dt_days == 3
