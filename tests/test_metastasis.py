"""Tumour in bone (model/metastasis.py), the cancer cohort and the SRE frames (issue 26).

Shape tests of the issue: untreated tumour burden grows and SREs accumulate; denosumab and
zoledronic acid both delay the first SRE; higher creatinine clearance gives zoledronic acid its
full dose; uNTX falls within the first week at 120 mg. Plus: no tumour leaves every tumour slot
at 0 (the osteoporosis model unchanged: tests/test_engines.py's parity over every trial file),
the fixed-step engine agrees with LSODA with a tumour, and the frames keep the SRE contract.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest
from model_fixtures import arm

from osteotrial.analyses.sre_frames import crossing_days, sre_frames, untx_frame
from osteotrial.calibration import metastasis as stage
from osteotrial.cohort.population import PopulationParams
from osteotrial.engine.reference import reference_bone
from osteotrial.engine.simulate import simulate_arm
from osteotrial.model import bisphosphonate, metastasis
from osteotrial.trial.config import load_config
from osteotrial.trial.schedules import Schedule

DAYS = 720
ARMS = {
    name: dataclasses.replace(arm((drug, dose, 28, 0, DAYS)), name=name)
    for name, drug, dose in (
        ("untreated", "placebo", 0),
        ("denosumab", "denosumab", 120),
        ("zoledronic_acid", "zoledronic_acid", 4),
    )
}
SCHEDULE = Schedule(
    dt_days=1.0,
    duration_days=DAYS,
    visit_months=tuple(range(1, 24)),
    marker_days=(7, 14),
    imaging_months=(12,),
)


@pytest.fixture(scope="module")
def breast():
    """The breast trial's configuration and a small cohort of it (30 per arm)."""
    cfg = load_config(stage.TRIAL)
    return cfg, stage.trial_cohort(cfg, 30)


@pytest.fixture(scope="module")
def runs(breast):
    """The breast cohort (both arms' patients) under no drug, denosumab and zoledronic acid."""
    cfg, cohort = breast
    return {name: simulate_arm(cohort, a, cfg.params, SCHEDULE) for name, a in ARMS.items()}


def test_untreated_burden_grows_and_sres_accumulate(runs):
    m = runs["untreated"].metastasis
    assert np.all(np.diff(m["tumour_burden"], axis=0) > 0)  # every patient, every month
    assert np.median(m["tumour_burden"][-1] / m["tumour_burden"][0]) > 2.0
    for name in (*metastasis.SRE_TYPES, "cancer_death"):
        assert np.all(np.diff(m[name], axis=0) >= 0) and np.all(m[name][-1] > 0)


def test_antiresorptives_slow_but_do_not_eradicate(runs):
    start = runs["untreated"].metastasis["tumour_burden"][0]
    end = {k: np.median(r.metastasis["tumour_burden"][-1] / start) for k, r in runs.items()}
    assert end["denosumab"] < end["zoledronic_acid"] < end["untreated"]
    assert end["denosumab"] > 1.0  # still grows (Araujo 2014's caution)


def test_both_drugs_delay_the_first_sre(runs):
    free = {
        k: np.exp(-sum(r.metastasis[t] for t in metastasis.SRE_TYPES)).mean(axis=1)
        for k, r in runs.items()
    }
    for drug in ("denosumab", "zoledronic_acid"):
        assert np.all(free[drug][1:] > free["untreated"][1:])
    # drawn events: the first SRE later (or never) for most patients on either drug
    patients, events = sre_frames(list(runs.values()), seed=5, end_days=float(DAYS))
    first = events.group_by("arm").agg(pl.col("day").min().alias("d"), pl.len().alias("n"))
    n = dict(zip(first["arm"], first["n"], strict=True))
    assert n["denosumab"] < n["untreated"] and n["zoledronic_acid"] < n["untreated"]


def test_untx_falls_within_the_first_week_at_120_mg(runs):
    untx = untx_frame([runs["denosumab"]]).filter(pl.col("day") == 7.0)
    assert untx["untx_pct_change"].median() < -60.0


def test_higher_creatinine_clearance_gives_zoledronic_acid_its_full_dose(breast):
    """The label's table: 4 mg above 60 mL/min, 3.3 mg at 40-49; the bone state receives the
    dose given (surface + buried + urine of zoledronic acid after the first infusion)."""
    cfg, cohort = breast
    one = cohort.select(np.arange(1))
    short = dataclasses.replace(
        SCHEDULE, duration_days=14.0, visit_months=(), marker_days=(7,), imaging_months=()
    )
    given = {}
    for crcl in (45.0, 90.0):
        patient = dataclasses.replace(one, creatinine_clearance_ml_min=np.array([crcl]))
        y = reference_bone(patient, ARMS["zoledronic_acid"], cfg.params, short, np.array([7.0]))
        rows = [bisphosphonate.row(bisphosphonate.ZOLEDRONIC_ACID, k) for k in range(3)]
        given[crcl] = float(y[rows, 0, 0].sum())
    assert given[90.0] == pytest.approx(4.0) and given[45.0] == pytest.approx(3.3)


def test_no_tumour_leaves_the_slots_at_zero(breast):
    cfg, cohort = breast
    none = dataclasses.replace(cohort.select(np.arange(3)), tumour_burden0_rel=np.zeros(3))
    m = simulate_arm(none, ARMS["untreated"], cfg.params, SCHEDULE).metastasis
    assert all(np.all(v == 0.0) for v in m.values())


def test_a_prior_skeletal_event_multiplies_every_sre_hazard_and_nothing_else(breast):
    cfg, cohort = breast
    rr = cfg.params.metastasis.sre_prior_event_hazard_ratio
    assert rr > 1.0
    few = cohort.select(np.arange(4))
    runs = {
        prior: simulate_arm(
            dataclasses.replace(few, prior_skeletal_event=np.full(4, prior)),
            ARMS["zoledronic_acid"],
            cfg.params,
            SCHEDULE,
            record_pk=False,
        ).metastasis
        for prior in (False, True)
    }
    for name in metastasis.SRE_TYPES:
        assert runs[False][name][-1].min() > 0.0
        np.testing.assert_allclose(runs[True][name], rr * runs[False][name], rtol=1e-12)
    for name in ("tumour_burden", "cancer_death"):
        np.testing.assert_array_equal(runs[True][name], runs[False][name])


def test_the_prior_skeletal_event_share_follows_the_preset():
    # Stopeck 2010's baseline table (R): about 37 % had a skeletal-related event before entry
    cfg = load_config(stage.TRIAL)
    cohort = stage.trial_cohort(cfg, 1000)
    assert cohort.prior_skeletal_event.dtype == bool
    assert cohort.prior_skeletal_event.mean() == pytest.approx(0.37, abs=0.03)
    frame = stage.trial_cohort(load_config("freedom"), 50)
    assert not frame.prior_skeletal_event.any()


def test_fixed_step_agrees_with_lsoda_with_a_tumour(breast):
    cfg, cohort = breast
    two = cohort.select(np.arange(2))
    short = dataclasses.replace(
        SCHEDULE, duration_days=180.0, visit_months=(3, 6), imaging_months=(6,)
    )
    got = simulate_arm(two, ARMS["denosumab"], cfg.params, short, record_pk=False)
    days = got.record_days
    ref = reference_bone(two, ARMS["denosumab"], cfg.params, short, days, rtol=1e-7)
    burden = ref[metastasis.LYTIC] + ref[metastasis.BLASTIC]
    np.testing.assert_allclose(got.metastasis["tumour_burden"], burden, rtol=2e-3)
    fracture = ref[metastasis.SRE_ROW]
    # within 1 %: the daily step meets the steep fall of resorption in denosumab's first week
    np.testing.assert_allclose(got.metastasis["pathologic_fracture"], fracture, rtol=1e-2)


def test_crossing_days_inverts_a_linear_cumulative_hazard():
    days = np.array([0.0, 10.0, 20.0])
    cum = np.array([[0.0, 0.0], [1.0, 0.5], [2.0, 1.0]])  # rates 0.1 and 0.05 per day
    thresholds = np.array([[0.5, 0.5], [1.5, 1.5]])
    got = crossing_days(days, cum, thresholds)
    np.testing.assert_allclose(got[0], [5.0, 10.0])
    assert got[1, 0] == pytest.approx(15.0) and np.isnan(got[1, 1])


def test_frames_keep_the_sre_contract(runs):
    patients, events = sre_frames(list(runs.values()), seed=5, end_days=float(DAYS))
    assert patients.schema == pl.Schema(
        {"patient_id": pl.Int64, "arm": pl.String, "end_day": pl.Float64, "died": pl.Boolean}
    )
    assert events.schema == pl.Schema(
        {"patient_id": pl.Int64, "arm": pl.String, "day": pl.Float64, "type": pl.String}
    )
    joined = events.join(patients, on=["patient_id", "arm"])
    assert joined.height == events.height
    assert (joined["day"] <= joined["end_day"]).all()
    assert set(events["type"].unique()) <= set(metastasis.SRE_TYPES)
    assert patients["died"].any() and (patients["end_day"] <= DAYS).all()


def test_tumour_population_fields_are_checked():
    with pytest.raises(ValueError, match="lesion_lytic_frac"):
        PopulationParams(lesion_lytic_frac=1.5)
    with pytest.raises(ValueError, match="cancer_death_per_year"):
        PopulationParams(cancer_death_per_year=-0.1)


def test_loading_doses_on_days_8_and_15_raise_the_first_month(breast):
    """120 mg every 4 weeks with the optional loading doses (label days 8 and 15: days 7 and 14
    after the first dose) as a second phase of the arm: the same PK, higher exposure early."""
    cfg, cohort = breast
    few = cohort.select(np.arange(4))
    plain = ARMS["denosumab"]
    loading = dataclasses.replace(
        arm(("denosumab", 120, 28, 0, DAYS), ("denosumab", 120, 7, 7, 15)), name="loading"
    )
    short = dataclasses.replace(
        SCHEDULE, duration_days=112.0, visit_months=(1, 2, 3), imaging_months=(3,)
    )
    conc = {
        k: simulate_arm(few, a, cfg.params, short).denosumab_ng_ml
        for k, a in (("plain", plain), ("loading", loading))
    }
    assert np.all(conc["loading"][28] > 1.5 * conc["plain"][28])  # trough before dose 2
    assert np.all(conc["loading"][5] == conc["plain"][5])  # identical before day 7
