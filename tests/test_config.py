"""Configuration: merging, overrides, and one test per kind of bad input."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from osteotrial.cohort.population import PopulationParams
from osteotrial.cohort.spec import Eligibility
from osteotrial.trial.config import config_hash, job_config, load_config, load_schema

CONFIG_DIR = "config"
PHASE = {"drug": "placebo", "dose_mg": 0, "interval_days": 30, "start_day": 0, "stop_day": 365}


def load(overrides: dict | None = None, trial: str = "frame"):
    return load_config(trial, overrides, config_dir=CONFIG_DIR)


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch, request):
    monkeypatch.chdir(request.config.rootpath)


def test_frame_defaults_follow_the_design():
    trial = load()
    assert trial.allocation == {"placebo_then_denosumab": 3591, "romosozumab_then_denosumab": 3589}
    assert trial.control_arm == "placebo_then_denosumab"
    assert trial.schedule.duration_days == pytest.approx(730.5)
    assert trial.raw["n_per_arm"] is None and trial.shards == [f"s00{i}-of-004" for i in range(4)]


def test_overrides_apply_like_snakemake_config():
    trial = load({"trial": "freedom", "n_per_arm": 2000, "seed": 7, "n_shards": 8}, "freedom")
    assert trial.allocation == {"denosumab": 2000, "placebo": 2000}
    assert (trial.seed, trial.n_shards, trial.schedule.imaging_months) == (7, 8, (12, 24, 36))


def test_jobs_track_only_the_scientific_config_and_take_execution_settings_apart():
    trial = load({"n_shards": 2, "schedule": {"chunk_size": 5}})
    assert "n_shards" not in trial.scientific and "chunk_size" not in trial.scientific["schedule"]
    job = job_config(trial.scientific, {"n_shards": 3, "schedule": {"chunk_size": 7}})
    assert (job.n_shards, job.schedule.chunk_size) == (3, 7)
    assert job.config_hash == trial.config_hash and job.shards[-1] == "s002-of-003"


def test_hash_ignores_execution_only_keys_but_not_the_seed():
    base = load().raw
    assert config_hash({**base, "n_shards": 1}) == config_hash(base)
    assert config_hash({**base, "seed": 1}) != config_hash(base)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"n_shard": 2}, ["unknown key(s) ['n_shard']", "allowed keys", "n_shards"]),
        ({"seed": "seven"}, ["seed='seven'", "expected integer"]),
        ({"n_per_arm": -5}, ["n_per_arm=-5", "out of range", "[1, 1000000]"]),
        ({"allocation": {"placebo_then_denosumab": 0}}, ["allocation.placebo_then_denosumab=0"]),
        ({"schedule": {"dt_days": 30}}, ["schedule.dt_days=30", "[0.05, 7]"]),
        ({"cohort": {"eligibility": {"tscore_sites_any": ["XX"]}}}, ["'XX'", "'LS', 'TH', 'FN'"]),
    ],
)
def test_schema_errors_name_field_value_and_allowed(overrides, expected):
    with pytest.raises(ValueError) as error:
        load(overrides)
    assert all(text in str(error.value) for text in expected), str(error.value)


def test_unknown_drug_lists_the_drugs():
    arms = {"placebo_then_denosumab": [{**PHASE, "drug": "aspirin"}]}
    with pytest.raises(
        ValueError,
        match=r"arms.placebo_then_denosumab\[0\].drug='aspirin'.*"
        r"\['placebo', 'denosumab', 'romosozumab'\]",
    ):
        load({"arms": arms})


def test_phase_that_stops_before_it_starts():
    arms = {"placebo_then_denosumab": [{**PHASE, "start_day": 100, "stop_day": 50}]}
    with pytest.raises(
        ValueError, match=r"placebo_then_denosumab\[0\].stop_day=50 must be greater"
    ):
        load({"arms": arms})


def test_phases_out_of_order():
    late, early = {**PHASE, "start_day": 400, "stop_day": 500}, {**PHASE, "stop_day": 100}
    with pytest.raises(ValueError, match=r"\[1\].start_day=0 is before the previous phase"):
        load({"arms": {"placebo_then_denosumab": [late, early]}})


def test_tscore_window_that_admits_no_one():
    eligibility = {"tscore_min": -2.0, "tscore_max": -3.0}
    with pytest.raises(ValueError, match=r"tscore_min=-2.0 must be below tscore_max=-3.0"):
        load({"cohort": {"eligibility": eligibility}})


def test_tscore_out_of_range():
    with pytest.raises(ValueError, match=r"cohort.eligibility.tscore_min=-9 is out of range"):
        load({"cohort": {"eligibility": {"tscore_min": -9}}})


def test_trial_without_file_lists_available_trials():
    with pytest.raises(ValueError, match=r"trial='nope' has no file.*'frame'.*'freedom'"):
        load(trial="nope")


def test_control_arm_must_be_an_arm():
    with pytest.raises(ValueError, match=r"control_arm='placebo' is not an arm; allowed"):
        load({"control_arm": "placebo"})


def test_allocation_keys_must_equal_arms():
    with pytest.raises(ValueError, match=r"allocation has keys .* must equal the arms"):
        load({"allocation": {"extra_arm": 10}})


def test_imaging_months_must_be_visits():
    with pytest.raises(ValueError, match=r"schedule.imaging_months=\[12, 13\]: \[13\] not among"):
        load({"schedule": {"imaging_months": [12, 13]}})


def test_schema_cohort_block_matches_cohort_spec():
    defs = load_schema(CONFIG_DIR)["$defs"]
    assert set(defs["eligibility"]["properties"]) == {f.name for f in fields(Eligibility)}
    population = {f.name for f in fields(PopulationParams)} | {"preset", "sex"}  # cohort.presets
    assert set(defs["population"]["properties"]) == population


def test_every_schema_object_forbids_unknown_keys():
    def objects(node):
        if isinstance(node, dict):
            if node.get("type") == "object" and node is not defs["model"]:
                yield node
            for child in node.values():
                yield from objects(child)

    schema = load_schema(CONFIG_DIR)
    defs = schema["$defs"]
    assert all("additionalProperties" in node for node in objects(schema)), json.dumps(schema)[:80]


def test_nested_command_line_values_are_read_as_yaml():
    """Snakemake gives nested --config values as strings; they become bools, numbers, lists."""
    from osteotrial.trial.config import parse_command_line_values

    given = {"power": {"enabled": "true", "n_per_arm": ["50", "100"], "alpha": "0.05"}}
    given |= {"trial": "frame", "counterfactual": {"tscore_band_site": "TH"}}
    assert parse_command_line_values(given) == {
        "power": {"enabled": True, "n_per_arm": [50, 100], "alpha": 0.05},
        "trial": "frame",
        "counterfactual": {"tscore_band_site": "TH"},
    }
    trial = load_config("frame", {"counterfactual": {"enabled": "true"}}, CONFIG_DIR)
    assert trial.counterfactual["enabled"] is True


def test_every_trial_field_of_the_schema_is_documented():
    """config/README.md has a row for every top-level key and every key of the analysis blocks."""
    readme = open("config/README.md", encoding="utf-8").read()
    schema = load_schema(CONFIG_DIR)
    fields = [
        key for key in schema["properties"] if key not in ("trial", "description", "citation")
    ]
    blocks = ("counterfactual", "power", "uncertainty", "schedule", "cohort")
    fields = [key for key in fields if key not in blocks]
    for block in ("counterfactual", "power", "uncertainty", "schedule"):
        fields += [f"{block}.{key}" for key in schema["$defs"][block]["properties"]]
    missing = [field for field in fields if f"`{field}`" not in readme]
    assert not missing, f"config/README.md does not document {missing}"
