"""What the model was calibrated on (trial.scope) and the warnings of a run outside it."""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
import yaml
from click.testing import CliRunner

import osteotrial
from osteotrial import io
from osteotrial.calibration.targets import NOT_EMULATED, read_targets
from osteotrial.cli import main
from osteotrial.cohort.table import read_baseline_table, table_has_sex
from osteotrial.report.scope_banner import add_banner
from osteotrial.trial.config import available_trials, load_config
from osteotrial.trial.scope import KNOWN_BIASES, calibrated_scope, calibrated_trials
from osteotrial.trial.scope_check import (
    SCOPE_KEY,
    OutsideCalibrationWarning,
    check_cohort,
    check_exposures,
    check_scope,
    read_scope_metadata,
    scope_metadata,
)

ROOT = Path(__file__).resolve().parents[1]
# Scenario trials that lie outside the calibrated scope by design (docs/scenarios.md).
SCENARIO_WARNINGS = {
    # men up to 95: the calibrated bone-metastasis population (breast) spans 18-90
    "bone_metastases_prostate": ["cohort.eligibility.age_years_max"],
    "delayed_denosumab": ["arms.denosumab_every_8_months.denosumab.interval_days"],
    "frame_extension": ["schedule.duration_months"],
    # the safety trial files (issue 27): fitted on their safety rows only (calibration.safety),
    # their BMD and fractures are outside the efficacy scope and say so
    "arch": ["arms.alendronate.alendronate", "schedule.duration_months"],
    "denosumab_10_years": ["arms.denosumab.denosumab", "schedule.duration_months"],
}


def _phase(drug: str, dose: float, every: str, months: int, start: int = 0) -> dict:
    return {"drug": drug, "dose_mg": dose, "every": every, "start": f"month {start}",
            "for": f"{months} months"}  # fmt: skip


def test_calibrated_trials_are_the_emulated_target_blocks():
    trials = calibrated_trials()
    blocks = read_targets()["trials"]
    assert set(trials) == {
        "frame",
        "freedom",
        "freedom_extension",
        "denosumab_discontinuation",
        "denosumab_dose_ranging",
        "freedom_qct",
        "men_denosumab",
        "men_romosozumab",
        "alendronate",
        "androgen_deprivation",
        "aromatase_inhibitor",
        "glucocorticoid",
        "bone_metastases_breast",
    }
    assert all(b in blocks and b not in NOT_EMULATED for b in trials.values())
    assert set(calibrated_scope().not_covered) == set(NOT_EMULATED)


def test_scope_states_doses_intervals_and_follow_up_of_each_drug():
    scope = calibrated_scope()
    deno, romo = scope.drugs["denosumab"], scope.drugs["romosozumab"]
    assert deno.dose_mg == (14.0, 60.0) and deno.interval_days == (84.0, 182.625)
    assert deno.treatment_months == 60.0 and deno.follow_up_months == 60.0
    assert romo.dose_mg == (210.0, 210.0) and romo.interval_days == (30.4375, 30.4375)
    assert romo.treatment_months == 12.0 and romo.follow_up_months == 24.0
    # the glucocorticoid trial admits adults from 18
    assert scope.sex == "female, male" and scope.age_years == (18.0, 90.0)
    # BRIDGE's floor; the exposure trials admit normal BMD (up to T-score 2)
    assert scope.tscore == (-4.5, 2.0)
    men = {p.trial: p for p in scope.populations if p.sex == "male"}
    assert set(men) == {"men_denosumab", "men_romosozumab", "androgen_deprivation"}
    assert men["men_denosumab"].age_years == (30.0, 85.0) and "men" in scope.population


def test_scope_is_derived_from_the_trial_files(tmp_path):
    config_dir = tmp_path / "config"
    shutil.copytree(ROOT / "config", config_dir)
    path = config_dir / "trials" / "freedom_extension.yaml"
    text = path.read_text().replace("1826.25", "2191.5")  # 5 -> 6 years of denosumab
    text = text.replace("duration_months: 60", "duration_months: 72")
    path.write_text(text.replace("age_years_max: 90", "age_years_max: 95"))
    scope = calibrated_scope(config_dir)
    assert scope.drugs["denosumab"].treatment_months == 72.0
    assert scope.follow_up_months == 72.0 and scope.age_years == (18.0, 95.0)  # glucocorticoid


@pytest.mark.parametrize("trial", sorted(set(available_trials()) - set(SCENARIO_WARNINGS)))
def test_shipped_trials_give_no_warning(trial):
    assert check_scope(load_config(trial)) == []


@pytest.mark.parametrize("trial", sorted(SCENARIO_WARNINGS))
def test_scenarios_outside_the_scope_say_why(trial):
    assert [w.field for w in check_scope(load_config(trial))] == SCENARIO_WARNINGS[trial]


ROMO_ARM = "romosozumab_then_denosumab"
OUTSIDE = {
    "dose": ("freedom", {"arms": {"denosumab": [_phase("denosumab", 120, "6 months", 36)]}},
             "arms.denosumab[0].dose_mg", 120.0),
    "interval": ("freedom", {"arms": {"denosumab": [_phase("denosumab", 60, "4 weeks", 36)]}},
                 "arms.denosumab.denosumab.interval_days", 28.0),
    "daily romosozumab": ("frame", {"arms": {ROMO_ARM: [_phase("romosozumab", 210, "1 day", 3)]}},
                          f"arms.{ROMO_ARM}.romosozumab.interval_days", 1.0),
    "time on drug": ("frame", {"arms": {ROMO_ARM: [_phase("romosozumab", 210, "1 month", 18)]}},
                     f"arms.{ROMO_ARM}.romosozumab", 18.0),
    "age max": ("freedom", {"cohort": {"eligibility": {"age_years_max": 100}}},
                "cohort.eligibility.age_years_max", 100.0),
    # no "age min" case: the glucocorticoid trial's adults from 18 are the schema's floor
    "T-score min": ("freedom", {"cohort": {"eligibility": {"tscore_min": -5.0}}},
                    "cohort.eligibility.tscore_min", -5.0),
    "T-score max": ("freedom", {"cohort": {"eligibility": {"tscore_max": 3.0}}},
                    "cohort.eligibility.tscore_max", 3.0),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(OUTSIDE))
def test_each_departure_warns_with_field_value_and_range(case):
    trial, overrides, field, value = OUTSIDE[case]
    found = check_scope(load_config(trial, overrides))
    assert [(w.field, w.value) for w in found] == [(field, value)]
    assert len(found[0].calibrated) == 2 and found[0].message


def test_follow_up_beyond_the_longest_calibrated_one_warns():
    overrides = {"schedule": {"duration_months": 72, "visit_months": [12, 72],
                              "imaging_months": [12]}}  # fmt: skip
    found = check_scope(load_config("freedom", overrides))
    assert [(w.field, w.value, w.calibrated) for w in found] == [
        ("schedule.duration_months", 72.0, [0.0, 60.0])
    ]


def test_patients_outside_every_calibrated_population_are_counted():
    # age 95 fits no population; age 70 with LS -2.0 fits DEFEND's (hip T-scores 0: none)
    ages, spine, hip = np.array([95.0, 70.0]), np.array([-2.0, -2.0]), np.zeros(2)
    cohort = SimpleNamespace(
        n_patients=2, age_years=ages, tscore_ls=spine, tscore_th=hip, tscore_fn=hip
    )
    found = check_cohort(cohort, calibrated_scope())
    assert [(w.field, w.value) for w in found] == [("cohort", "1 of 2 patients")]


def test_sex_column_is_read_and_unknown_values_refused(tmp_path):
    women = tmp_path / "women.csv"
    pl.DataFrame({"age_years": [70.0, 71.0], "sex": ["F", " female "]}).write_csv(women)
    assert table_has_sex(women) and read_baseline_table(women).sex.tolist() == ["female"] * 2
    mixed = tmp_path / "mixed.csv"
    frame = {"age_years": [70.0, 71.0, 72.0], "sex": ["F", "M", "man"], "bmd_fn_g_cm2": [0.6] * 3}
    pl.DataFrame(frame).write_csv(mixed)
    table = read_baseline_table(mixed)
    assert table.sex.tolist() == ["female", "male", "male"]
    # FN 0.6 g/cm2: T -2.15 on the women's reference (0.858/0.120), -2.44 on the men's
    assert table.values["tscore_fn"] == pytest.approx([-2.15, -2.4380, -2.4380], abs=1e-4)
    bad = tmp_path / "bad.csv"
    pl.DataFrame({"age_years": [70.0, 71.0, 72.0], "sex": ["F", "M", "x"]}).write_csv(bad)
    with pytest.raises(ValueError, match=r"\[3\] \(values \['x'\]\); allowed: F/M"):
        read_baseline_table(bad)


def test_a_mens_cohort_table_runs_and_men_are_now_calibrated(tmp_path):
    table = tmp_path / "men.csv"
    frame = pl.read_csv(ROOT / "config" / "cohorts" / "example_registry.csv")
    frame.with_columns(sex=pl.lit("M")).write_csv(table)
    config = load_config("example_registry", {"cohort": {"table": str(table)}})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = osteotrial.simulate("denosumab 60 mg once for 1 month", 4, seed=1, trial=config)
    assert out["patient_id"].n_unique() == 4 and out["bmd_th_pct_change"].is_finite().all()
    assert set(out["sex"].to_list()) == {"male"}
    text = " ".join(str(w.message) for w in caught if w.category is OutsideCalibrationWarning)
    assert "no calibrated population has them" not in text
    assert "men_denosumab" not in NOT_EMULATED and "men_romosozumab" not in NOT_EMULATED


def test_table_without_sex_column_is_taken_as_women_and_says_so(tmp_path):
    table = tmp_path / "registry.csv"
    frame = pl.read_csv(ROOT / "config" / "cohorts" / "example_registry.csv")
    frame.drop("sex").write_csv(table)
    assert not table_has_sex(table)
    found = check_scope(load_config("example_registry", {"cohort": {"table": str(table)}}))
    assert [(w.field, w.value, w.calibrated) for w in found] == [
        ("cohort.table.sex", "not given", "female")
    ]


def test_api_warns_once_for_the_regimen_outside():
    regimens = {"ok": "denosumab 60 mg once for 1 month",
                "daily": "romosozumab 210 mg daily for 1 month"}  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        osteotrial.simulate(regimens, n_patients=2, seed=1)
    scope = [w for w in caught if issubclass(w.category, OutsideCalibrationWarning)]
    assert len(scope) == 1
    assert re.search(r"romosozumab every 1 day in arm 'daily'", str(scope[0].message))
    assert "'ok'" not in str(scope[0].message)


def test_cli_scope_prints_the_statement():
    done = CliRunner().invoke(main, ["scope"])
    assert done.exit_code == 0, done.output
    assert yaml.safe_load(done.output) == calibrated_scope().to_dict()


def test_warnings_reach_table_metadata_and_the_report_banner(tmp_path):
    found = check_scope(load_config("delayed_denosumab"))
    table = tmp_path / "bmd.parquet"
    io.write_parquet(pa.table({"x": [1.0]}), table, scope_metadata(found))
    assert read_scope_metadata(io.read_metadata(table)) == [w.to_dict() for w in found]
    page = tmp_path / "p.html"
    page.write_text("<html><body><h2>t</h2></body></html>")
    add_banner([page, tmp_path / "f.png"], table)
    text = page.read_text()
    assert text.index("class='scope'") < text.index("<h2>") and "243.5 days" in text
    assert all(bias.text.replace("'", "&#x27;") in text for bias in KNOWN_BIASES)
    io.write_parquet(pa.table({"x": [1.0]}), table, scope_metadata([]))
    page.write_text("<html><body></body></html>")
    add_banner([page], table)
    assert "Within what the model was calibrated on" in page.read_text()
    assert SCOPE_KEY == "scope_warnings"


def test_readme_states_coverage_and_each_known_bias():
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    scope = calibrated_scope()
    deno, romo = scope.drugs["denosumab"], scope.drugs["romosozumab"]
    assert "postmenopausal women" in readme
    assert f"aged {scope.age_years[0]:g}-{scope.age_years[1]:g}" in readme
    assert f"denosumab {deno.dose_mg[0]:g}-{deno.dose_mg[1]:g} mg" in readme
    assert f"{deno.interval_days[0]:g}-{deno.interval_days[1]:g} days apart" in readme
    assert f"romosozumab {romo.dose_mg[1]:g} mg monthly for {romo.treatment_months:g}" in readme
    for bias in KNOWN_BIASES:
        assert bias.text in readme, bias.text
    adt, ai, gc = (scope.exposures[k] for k in ("androgen_deprivation", "aromatase_inhibitor",
                                                "glucocorticoid"))  # fmt: skip
    assert adt.sex == ("male",) and ai.sex == ("female",)
    assert f"androgen deprivation in men for up to {adt.months:g} months" in readme
    assert f"aromatase inhibitor in women for up to {ai.months:g} months" in readme
    low, high = gc.prednisone_mg_per_day
    assert gc.sex == ("female", "male")  # the glucocorticoid trial's strata count
    assert f"glucocorticoids at {low:g}-{high:g} mg/day for up to {gc.months:g} months" in readme


def test_a_mixed_cohort_table_runs_through_the_workflow_jobs(tmp_path):
    """The workflow's glue at smoke size: sample the table's cohort, write and read its
    shards, simulate one arm's shard; men are calibrated now, so no sex warning."""
    from osteotrial.cohort.sampling import CohortSpec, sample_cohort
    from osteotrial.trial.jobs import simulate_shard
    from osteotrial.trial.scope_check import run_scope_metadata

    table = tmp_path / "mixed.csv"
    frame = pl.read_csv(ROOT / "config" / "cohorts" / "example_registry.csv")
    sex = ["M" if i % 2 else "F" for i in range(frame.height)]
    frame.with_columns(sex=pl.Series(sex)).write_csv(table)
    trial = load_config("example_registry", {"cohort": {"table": str(table)}})
    spec = CohortSpec.from_dict(trial.cohort_spec)
    cohort = sample_cohort(spec, {"placebo": 4, "romosozumab": 4}, trial.seed)
    assert set(cohort.sex) == {"female", "male"}
    paths = [tmp_path / "c0.parquet", tmp_path / "c1.parquet"]
    io.write_cohort_shards(cohort, paths, trial.provenance())
    shard = io.read_cohort(paths[:1])
    out = tmp_path / "sim.parquet"
    simulate_shard(trial, shard, "romosozumab", trial.params, "power", out, "0")
    simulated = io.read_frame(out)
    assert simulated["patient_id"].n_unique() == shard.n_patients
    assert simulated["bmd_th_g_cm2"].is_finite().all()
    warned = read_scope_metadata(run_scope_metadata(trial, paths))
    assert not any(w["field"] == "cohort.sex" for w in warned)  # men and women: calibrated


def test_sex_outside_every_calibrated_population_still_warns():
    """With only women's populations (the scope before issue 25) men are counted and named."""
    import dataclasses
    from types import SimpleNamespace

    from osteotrial.trial.scope_check import check_cohort_sex

    scope = calibrated_scope()
    women_only = dataclasses.replace(
        scope, populations=tuple(p for p in scope.populations if p.sex == "female")
    )
    cohort = SimpleNamespace(sex=np.array(["female", "male", "male"]), n_patients=3)
    (warning,) = check_cohort_sex(cohort, women_only)
    assert warning.field == "cohort.sex" and "2 of 3 patients are male" in warning.message
    assert check_cohort_sex(cohort, scope) == []


def _with(kind: str, months: int | None = None, mg: float | None = None) -> dict:
    """Return trial-file overrides giving every arm an exposure from month 0."""
    entry = {"kind": kind, "arms": "all", "start": "month 0"}
    if months is not None:
        entry["for"] = f"{months} months"
    if mg is not None:
        entry["prednisone_mg_per_day"] = mg
    return {"exposures": [entry]}


def test_scope_states_each_calibrated_exposure_from_its_trials():
    exposures = calibrated_scope().exposures
    adt, ai, gc = (exposures[k] for k in ("androgen_deprivation", "aromatase_inhibitor",
                                          "glucocorticoid"))  # fmt: skip
    # HALT's men were on androgen deprivation from 6 years before its 36 months
    assert adt.sex == ("male",) and adt.months == 108.0 and adt.prednisone_mg_per_day is None
    assert ai.sex == ("female",) and ai.months == 24.0
    doses = read_targets()["trials"]["glucocorticoid"]["remodeling_inputs"][0]["dose_mg_per_day"]
    low, high = gc.prednisone_mg_per_day
    assert low <= min(doses) and high >= max(doses) and gc.months >= 14 / 30.4375
    assert "menopause" not in exposures  # a trial's menopause is its population, no exposure
    assert set(calibrated_scope().to_dict()["exposures"]) == set(exposures)


EXPOSURE_OUTSIDE = {
    "ADT in women": ("freedom", _with("androgen_deprivation", 12),
                     "exposures.androgen_deprivation.sex", "female", ["male"]),
    "AI in men": ("men_denosumab", _with("aromatase_inhibitor", 12),
                  "exposures.aromatase_inhibitor.sex", "male", ["female"]),
    "uncalibrated kind": ("freedom", _with("menopause", 12), "exposures.menopause", "menopause",
                          ["androgen_deprivation", "aromatase_inhibitor", "glucocorticoid"]),
    "AI longer": ("freedom", _with("aromatase_inhibitor"),
                  "arms.denosumab.exposures.aromatase_inhibitor", 36.0, [0.0, 24.0]),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(EXPOSURE_OUTSIDE))
def test_an_exposure_outside_the_calibrated_ones_warns(case):
    trial, overrides, field, value, calibrated = EXPOSURE_OUTSIDE[case]
    found = check_scope(load_config(trial, overrides))
    assert (field, value, calibrated) in [(w.field, w.value, w.calibrated) for w in found]
    assert all(w.field.startswith(("exposures.", "arms.")) for w in found)


def test_prednisone_far_above_the_calibrated_doses_names_dose_and_range():
    overrides = _with("glucocorticoid", mg=200.0)
    overrides["exposures"][0]["start"] = "month -48"  # 48 + 36 months: beyond the 60 calibrated
    found = check_scope(load_config("freedom", overrides))
    doses = {w.field: w for w in found if w.field.endswith("prednisone_mg_per_day")}
    assert sorted(doses) == [f"arms.{arm}.exposures[0].prednisone_mg_per_day"
                             for arm in ("denosumab", "placebo")]  # fmt: skip
    w = doses["arms.placebo.exposures[0].prednisone_mg_per_day"]
    assert w.value == 200.0 and w.calibrated[1] < 200.0 and "mg/day" in w.message
    # 84 months of glucocorticoids: longer than anything calibrated
    assert any(w.field == "arms.placebo.exposures.glucocorticoid" for w in found)


def test_a_calibrated_exposure_gives_no_warning():
    # an aromatase inhibitor for a year in FREEDOM's women: sex, kind and time calibrated
    assert check_scope(load_config("freedom", _with("aromatase_inhibitor", 12))) == []
    # androgen deprivation in ADAMO's men for two years
    assert check_scope(load_config("men_denosumab", _with("androgen_deprivation", 12))) == []


def test_the_sampled_cohorts_sexes_decide_an_exposures_sex_warning():
    config = load_config("freedom", _with("aromatase_inhibitor", 12))
    scope = calibrated_scope()
    mixed = SimpleNamespace(sex=np.array(["female", "male", "female"]), n_patients=3)
    women = SimpleNamespace(sex=np.array(["female", "female"]), n_patients=2)
    assert [w.field for w in check_exposures(config, scope, mixed)] == [
        "exposures.aromatase_inhibitor.sex"
    ]
    assert check_exposures(config, scope, women) == []


def test_120_mg_every_4_weeks_warns_in_osteoporosis_not_in_bone_metastases():
    """The bone-metastasis indication has its own regimens (issue 26): denosumab 120 mg every 4
    weeks is calibrated there (bone_metastases_breast), not in an osteoporosis cohort."""
    monthly = {"denosumab": [_phase("denosumab", 120, "4 weeks", 24)]}
    found = check_scope(load_config("freedom", {"arms": monthly}))
    assert ("arms.denosumab[0].dose_mg", 120.0) in [(w.field, w.value) for w in found]
    assert check_scope(load_config("bone_metastases_breast")) == []
    scope = calibrated_scope()
    assert scope.for_run(True).drugs["denosumab"].dose_mg == (120.0, 120.0)
    assert scope.drugs["denosumab"].dose_mg[1] < 120.0
