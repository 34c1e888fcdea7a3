"""Strata of a trial file (trial/strata.py): syntax and refusals, each patient's stratum drawn
reproducibly whatever the shards, each stratum on its own plan, the by_stratum table adding up
to the arm, and the glucocorticoid trial's shape: the initiating stratum gains less spine BMD
than the continuing one on the same drug (the early glucocorticoid loss)."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest
from conftest import ROOT, synthetic_cohort, synthetic_result

from osteotrial import io
from osteotrial.analyses import endpoints
from osteotrial.calibration.comparison import bmd_rows
from osteotrial.calibration.objective import pct, trial_cohort
from osteotrial.engine.simulate import simulate_arm, simulate_strata
from osteotrial.model.exposure import GC_MG
from osteotrial.trial.config import load_config, merge_config
from osteotrial.trial.schedules import Schedule
from osteotrial.trial.strata import Stratum, arm_for_stratum, assign

CONFIG = ROOT / "config"
GC = {"kind": "glucocorticoid", "prednisone_mg_per_day": 10, "arms": "all"}


def _with_strata(strata, **extra) -> dict:
    """Return the merged smoke trial with ``strata`` (and other top-level keys)."""
    merged = merge_config("glucocorticoid", config_dir=CONFIG)
    return {**merged, "strata": strata, **extra}


def _load(merged: dict):
    from osteotrial.trial.config import config_from_dict

    return config_from_dict(merged, CONFIG)


def test_the_glucocorticoid_trial_has_two_strata_with_their_own_exposures():
    trial = load_config("glucocorticoid", config_dir=CONFIG)
    names = [s.name for s in trial.strata]
    assert names == ["glucocorticoid_initiating", "glucocorticoid_continuing"]
    assert sum(s.share for s in trial.strata) == pytest.approx(1.0)
    starts = {s.name: s.exposures[0]["start_day"] for s in trial.strata}
    assert -3 * 30.5 < starts["glucocorticoid_initiating"] < 0.0  # < 3 months before
    assert starts["glucocorticoid_continuing"] < -365.0  # long on glucocorticoids
    arm = arm_for_stratum(trial.arms["risedronate"], trial.strata[0])
    assert arm.phases == trial.arms["risedronate"].phases and len(arm.exposures) == 1


@pytest.mark.parametrize(
    ("strata", "message"),
    [
        (
            [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.4}],
            "strata[*].share add up to 0.9; allowed: shares that sum to 1",
        ),
        ([{"name": "a", "share": 0.5}, {"name": "a", "share": 0.5}], "names ['a'] repeat"),
        (
            [{"name": "a", "share": 1.0, "exposures": [{**GC, "arms": ["nope"], "start_day": 0}]}],
            "strata[0] (a): exposures[0].arms names ['nope']",
        ),
        (
            [{"name": "a", "share": 1.0, "exposures": [{**GC, "start_day": 800}]}],
            "strata[0] (a): exposures[0].start_day=800 is at or after the end of the trial",
        ),
        (
            [{"name": "a", "share": 1.0, "exposures": [{**GC, "start": "month minus one"}]}],
            "strata[0].exposures[0].start",
        ),
        ([{"name": "a"}], "strata[0]: missing required key; 'share'"),  # the schema
        ([{"name": "a", "share": 1.5}], "strata[0].share=1.5 is out of range; allowed: (0, 1]"),
        ([{"name": "A b", "share": 1.0}], "strata[0].name='A b' is invalid"),
    ],
)
def test_strata_refusals_name_the_field(strata, message):
    with pytest.raises(ValueError, match="strata") as error:
        _load(_with_strata(strata))
    assert message in str(error.value)


def test_a_stratum_exposure_may_not_overlap_the_arms_own():
    strata = [{"name": "a", "share": 1.0, "exposures": [{**GC, "start_day": 0}]}]
    merged = _with_strata(strata, exposures=[{**GC, "start_day": -30}])
    with pytest.raises(ValueError, match=r"strata\[0\] \(a\): exposures: two glucocorticoid"):
        _load(merged)


def test_stratum_assignment_is_reproducible_over_shards_and_holds_the_shares():
    strata = (Stratum("x", 0.3), Stratum("y", 0.7))
    ids = np.arange(20_000)
    whole = assign(strata, 7, ids)
    shards = np.concatenate([assign(strata, 7, part) for part in np.array_split(ids[::-1], 3)])
    assert np.array_equal(shards, whole[::-1])
    assert abs(np.mean(whole == "x") - 0.3) < 0.015
    assert not np.array_equal(assign(strata, 8, ids), whole)  # the trial's seed keys it


def test_each_patient_runs_on_his_or_her_strata_plan_in_any_chunking(params):
    """A stratified run puts each patient back in cohort order with exactly the result of a
    run of that stratum's patients on the stratum's plan; the chunk size changes nothing."""
    trial = load_config("glucocorticoid", config_dir=CONFIG)
    cohort = trial_cohort("glucocorticoid", 24)
    arm = trial.arms["denosumab"]
    schedule = Schedule(1.0, 60.0, (1.0, 2.0), (), (), chunk_size=5)
    run = simulate_strata(cohort, arm, trial.strata, trial.seed, params, schedule, False)
    assert np.array_equal(run.patient_id, cohort.patient_id)
    labels = assign(trial.strata, trial.seed, cohort.candidate_id)
    assert set(labels) == {s.name for s in trial.strata}
    big = dataclasses.replace(schedule, chunk_size=1000)
    for stratum in trial.strata:
        mine = np.flatnonzero(labels == stratum.name)
        alone = simulate_arm(cohort.select(mine), arm_for_stratum(arm, stratum), params, big, False)
        assert np.array_equal(run.bmd_ls_g_cm2[:, mine], alone.bmd_ls_g_cm2)
    plain = simulate_arm(cohort, arm, params, big, False)
    assert not np.array_equal(run.bmd_ls_g_cm2, plain.bmd_ls_g_cm2)  # the strata act


def test_initiating_patients_gain_less_spine_bmd_than_continuing_ones(params):
    """Shape, no target number: the same patients on the same drug gain less at the spine by
    month 12 as glucocorticoid initiators (the early, fast loss) than long-term users (most of
    the effect adapted to), on denosumab and on risedronate."""
    trial = load_config("glucocorticoid", config_dir=CONFIG)
    cohort = trial_cohort("glucocorticoid", 40)
    schedule = Schedule(1.0, 12 * 30.4375, (12.0,), (), ())
    initiating, continuing = trial.strata
    for name in ("denosumab", "risedronate"):
        gain = {
            s.name: pct(
                simulate_arm(
                    cohort, arm_for_stratum(trial.arms[name], s), params, schedule, False
                ).bmd_g_cm2("LS")
            )[-1].mean()
            for s in (initiating, continuing)
        }
        assert gain[initiating.name] < gain[continuing.name] - 0.2, (name, gain)
    from osteotrial.engine.inputs import plan_of

    levels = {
        s.name: plan_of(arm_for_stratum(trial.arms["denosumab"], s), schedule, False).exposure
        for s in trial.strata
    }
    assert levels[initiating.name][0, GC_MG] > 2 * levels[continuing.name][0, GC_MG] > 0.0


def _write_stratified_trial(tmp_path) -> tuple[list, list, tuple]:
    """Write a synthetic cohort of 40 patients in arms a and b with two strata."""
    arms = ["a", "b"] * 20
    cohort = synthetic_cohort(arms)
    cohort_paths = [tmp_path / "cohort.parquet"]
    io.write_cohort_shards(cohort, cohort_paths, {})
    rise = 1.0 + np.linspace(0.0, 0.1, 40)
    bmd = np.array([np.ones(40), rise])
    paths = []
    for arm in ("a", "b"):
        ids = [i for i in range(40) if arms[i] == arm]
        result = synthetic_result(arm, ids, bmd_ls_g_cm2=bmd[:, ids])
        paths.append(tmp_path / f"{arm}.parquet")
        io.write_simulation(result, paths[-1], {})
    return cohort_paths, paths, (Stratum("x", 0.4), Stratum("y", 0.6))


def test_by_stratum_adds_up_to_the_arm_and_feeds_the_subgroup_rows(tmp_path):
    cohort_paths, paths, strata = _write_stratified_trial(tmp_path)
    tables = endpoints.compute_endpoint_tables(
        cohort_paths, paths, "b", [12], [12], strata=strata, seed=3
    )
    bmd = tables["bmd"].filter(pl.col("site") == "LS", pl.col("month") == 12.0)
    rows = tables["by_stratum"].filter(
        pl.col("kind") == "bmd_pct_change", pl.col("measure") == "LS", pl.col("month") == 12.0
    )
    assert set(rows["stratum"]) == {"x", "y"}
    for arm in ("a", "b"):
        mine = rows.filter(pl.col("arm") == arm)
        whole = bmd.filter(pl.col("arm") == arm).row(0, named=True)
        assert mine["n_patients"].sum() == whole["n_patients"]
        mean = (mine["value"] * mine["n_patients"]).sum() / mine["n_patients"].sum()
        assert mean == pytest.approx(whole["mean_pct_change"])
    io.write_endpoint_table("by_stratum", tables["by_stratum"], tmp_path / "s.parquet", {})
    y = rows.filter(pl.col("arm") == "a", pl.col("stratum") == "y").row(0, named=True)
    targets = {
        "bmd_pct_change": [
            {
                "arm": "a",
                "subgroup": "y",
                "site": "LS",
                "month": 12,
                "value": y["value"],
                "tol": 0.1,
            },
            {"arm": "a", "subgroup": "z", "site": "LS", "month": 12, "value": 1.0, "tol": 0.1},
        ]
    }
    got = bmd_rows(targets, tables["bmd"], tables["by_stratum"])
    assert got[0]["arm"] == "a (y)" and got[0]["within"] and got[0]["emulated"] == y["value"]
    assert got[1]["arm"] == "a (z)" and not got[1]["within"] and np.isnan(got[1]["emulated"])


def test_a_trial_without_strata_has_an_empty_by_stratum_table(tmp_path):
    cohort_paths, paths, _ = _write_stratified_trial(tmp_path)
    tables = endpoints.compute_endpoint_tables(cohort_paths, paths, "b", [12], [12])
    assert tables["by_stratum"].height == 0
    assert tables["by_stratum"].columns[:2] == ["arm", "stratum"]


def test_report_shows_each_stratum_and_nothing_without_strata(tmp_path):
    from osteotrial.report.build import html_table
    from osteotrial.report.by_stratum import by_stratum_display, by_stratum_html

    cohort_paths, paths, strata = _write_stratified_trial(tmp_path)
    tables = endpoints.compute_endpoint_tables(
        cohort_paths, paths, "b", [12], [12], strata=strata, seed=3
    )
    page = by_stratum_html(tables["by_stratum"], html_table)
    assert "<h3>Results by stratum</h3>" in page
    shown = by_stratum_display(tables["by_stratum"]).filter(pl.col("measure") == "BMD LS")
    assert shown.height == 4 and set(shown["stratum"]) == {"x", "y"}
    assert by_stratum_html(endpoints.endpoint_frame("by_stratum", []), html_table) == ""


def test_the_glucocorticoid_mechanism_inputs_hold_at_the_model_file(params):
    """The glucocorticoid block's ``remodeling_inputs`` are not rows of the trial's
    calibration table (``targets.NOT_ROWS``) but the exposure stage's marker targets: each
    within its scale at config/model.yaml's values (the dose adaptation of trial.exposures
    moves them by under 0.1 point)."""
    from osteotrial.calibration import exposure

    courses: dict[float, dict] = {}
    for target in exposure.exposure_targets():
        kind, *where = target.probe
        if kind == "bmd":
            continue
        dose, day = where
        courses.setdefault(dose, exposure.marker_course(params, dose))
        assert abs(target.residual(courses[dose][kind][day])) <= 1.0, target.source
    assert len(courses) >= 5
