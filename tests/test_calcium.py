"""Calcium homeostasis (model/calcium.py), hypocalcemia events and the dialysis trial (issue 27).

Shape tests of the issue's Done: no drug -> calcium flat (an exact steady state, dialysis
included); normal kidneys keep calcium within range after a denosumab dose; dialysis patients
fall far further and later recover; supplements lessen the fall. The calcium slot is a
passenger: the bone does not change with any calcium value. The frames follow the safety
contract; config errors name the field. LSODA parity of the calcium records; GPU parity is in
tests/engines/cudasim_parity.py (every arm of every trial file, calcium records included).
The solve against bisection, across PTH's kink, and the untreated steady state (issue 28).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest

from osteotrial.analyses.calcium_frames import (
    EVENTS,
    calcium_course,
    calcium_frames,
    course_from_simulation,
    frames_from_simulation,
    grade_thresholds,
    share_with_event,
)
from osteotrial.cohort.sampling import CohortSpec, sample_cohort
from osteotrial.engine.reference import reference_events
from osteotrial.engine.simulate import simulate_arm
from osteotrial.model import calcium
from osteotrial.model.params import load_model_params
from osteotrial.trial.config import load_config
from osteotrial.trial.exposures import ExposurePhase
from osteotrial.trial.schedules import ArmSpec, Schedule

N = 60
SCHEDULE = Schedule(1.0, 120.0, (1.0, 2.0, 3.0, 4.0), (3.0, 7.0, 14.0, 28.0, 56.0, 84.0), ())
DOSE = (
    {"drug": "denosumab", "dose_mg": 60, "interval_days": 182.625, "start_day": 0, "stop_day": 120},
)
NO_DRUG = (
    {"drug": "placebo", "dose_mg": 0, "interval_days": 182.625, "start_day": 0, "stop_day": 120},
)
SUPPLEMENT = ExposurePhase("calcium_vitamin_d", 0.0, calcium_mg_per_day=1000.0,
                           vitamin_d_iu_per_day=800.0)  # fmt: skip


@pytest.fixture(scope="module")
def params():
    return load_model_params()


@pytest.fixture(scope="module")
def cohorts():
    """Women of the dialysis trial file (on dialysis) and of the older adults' file (not)."""
    out = {}
    for trial in ("dialysis_denosumab", "denosumab_older_adults"):
        design = load_config(trial, config_dir="config")
        spec = CohortSpec.from_dict(design.cohort_spec)
        out[trial] = sample_cohort(spec, dict.fromkeys(design.arms, N), design.seed)
    return out


def _run(cohort, phases, params, exposures=()):
    arm = ArmSpec.from_dict("arm", list(phases), tuple(exposures))
    return simulate_arm(cohort, arm, params, SCHEDULE)


def _replete(cohort, deficient=False):
    """Return the cohort with every patient vitamin D deficient, or none."""
    return dataclasses.replace(
        cohort, vitamin_d_deficient=np.full(cohort.patient_id.shape[0], deficient)
    )


@pytest.fixture(scope="module")
def runs(cohorts, params):
    dialysis, normal = cohorts["dialysis_denosumab"], _replete(cohorts["denosumab_older_adults"])
    return {
        "dialysis": _run(dialysis, DOSE, params),
        "dialysis_no_drug": _run(dialysis, NO_DRUG, params),
        "dialysis_supplemented": _run(dialysis, DOSE, params, (SUPPLEMENT,)),
        "normal": _run(normal, DOSE, params),
        "normal_no_drug": _run(normal, NO_DRUG, params),
    }


def test_cohorts_are_on_dialysis_or_not(cohorts):
    assert cohorts["dialysis_denosumab"].dialysis.mean() > 0.99
    assert not cohorts["denosumab_older_adults"].dialysis.any()


def test_no_drug_keeps_calcium_flat(runs, params):
    for name in ("dialysis_no_drug", "normal_no_drug"):
        ca = runs[name].calcium
        serum = ca["serum_calcium_mmol_l"]
        np.testing.assert_allclose(
            serum, np.broadcast_to(serum[0], serum.shape), rtol=1e-9, err_msg=name
        )
        np.testing.assert_allclose(ca["calcium_nadir_mmol_l"][-1], serum[0], rtol=1e-9)
    dialysis = runs["dialysis_no_drug"].calcium["serum_calcium_mmol_l"][0]
    assert abs(dialysis.mean() - params.calcium.dialysis_serum_calcium_mmol_l) < 0.06


def test_normal_kidneys_keep_calcium_within_range_after_denosumab(runs):
    nadir = runs["normal"].calcium["calcium_nadir_mmol_l"][-1]
    start = runs["normal"].calcium["serum_calcium_mmol_l"][0]
    assert np.median(start - nadir) < 0.2  # a small dip
    assert np.mean(nadir < 1.875) < 0.02  # severe hypocalcemia is rare


def test_vitamin_d_deficiency_deepens_the_fall_with_the_same_kidneys(cohorts, runs, params):
    """The same patients, each deficient: calcitriol synthesis x the fitted fraction, so the
    fall after denosumab is deeper for every one (none shallower), the untreated steady state
    stays exact, and the bone is unchanged (calcium is a passenger)."""
    deficient = _replete(cohorts["denosumab_older_adults"], True)
    dosed, untreated = _run(deficient, DOSE, params), _run(deficient, NO_DRUG, params)
    nadir = dosed.calcium["calcium_nadir_mmol_l"][-1]
    replete = runs["normal"].calcium["calcium_nadir_mmol_l"][-1]
    assert params.calcium.deficient_calcitriol_synthesis_frac < 1.0
    assert np.all(nadir <= replete + 1e-12) and np.mean(replete - nadir) > 0.05
    serum = untreated.calcium["serum_calcium_mmol_l"]
    np.testing.assert_allclose(serum, np.broadcast_to(serum[0], serum.shape), rtol=1e-9)
    np.testing.assert_array_equal(dosed.bmd_ls_g_cm2, runs["normal"].bmd_ls_g_cm2)


def test_dialysis_falls_far_further_and_later_recovers(runs):
    normal, dialysis = runs["normal"].calcium, runs["dialysis"].calcium
    fall = lambda ca: ca["serum_calcium_mmol_l"][0] - ca["calcium_nadir_mmol_l"][-1]  # noqa: E731
    assert np.median(fall(dialysis)) > 2.0 * np.median(fall(normal))
    serum = dialysis["serum_calcium_mmol_l"]
    assert np.mean(serum[-1] - dialysis["calcium_nadir_mmol_l"][-1]) > 0.5 * np.mean(fall(dialysis))
    assert share_with_event(runs["dialysis"], "hypocalcemia_grade_2", 84.0) > 0.1


def test_supplements_lessen_the_fall(runs):
    plain = runs["dialysis"].calcium["calcium_nadir_mmol_l"][-1]
    helped = runs["dialysis_supplemented"].calcium["calcium_nadir_mmol_l"][-1]
    assert np.all(helped >= plain) and np.mean(helped - plain) > 0.02


def test_calcium_is_a_passenger_of_the_bone(cohorts, params):
    """Other calcium values change calcium, never the bone (existing trials unchanged)."""
    other = dataclasses.replace(
        params,
        calcium=dataclasses.replace(
            params.calcium, dialysis_exchange_l_per_day=3.0, resorption_share_frac=0.5
        ),
    )
    cohort = cohorts["dialysis_denosumab"]
    a, b = _run(cohort, DOSE, params), _run(cohort, DOSE, other)
    for field in ("bmd_ls_g_cm2", "bmd_th_g_cm2", "p1np_rel", "ctx_rel"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.calcium["calcium_nadir_mmol_l"], b.calcium["calcium_nadir_mmol_l"])


def test_lsoda_reference_gives_the_same_calcium(cohorts, params):
    """The loop's calcium tracking on LSODA states (the reference) agrees with the engine's."""
    cohort = cohorts["dialysis_denosumab"].select(np.arange(3))
    arm = ArmSpec.from_dict("arm", list(DOSE), ())
    short = dataclasses.replace(SCHEDULE, duration_days=60.0, visit_months=(1.0, 2.0))
    ref = reference_events(cohort, arm, params, short).calcium
    engine = simulate_arm(cohort, arm, params, short).calcium
    for name in ("serum_calcium_mmol_l", "calcium_nadir_mmol_l"):
        # 0.02 mmol/L: days 3-7, where the osteoclasts crash after the dose, are where the
        # 1-day RK4 step and LSODA differ most (the cells; a dialysis patient's calcium moves
        # with the bone flux over the exchange, about 1 / 7 mmol/L per mmol/day)
        np.testing.assert_allclose(engine[name], ref[name], rtol=0, atol=0.02, err_msg=name)
    assert np.ptp(ref["serum_calcium_mmol_l"]) > 0.05  # the dose moved calcium
    day = "hypocalcemia_grade_1_day"
    np.testing.assert_allclose(engine[day], ref[day], atol=1.0)  # same step


def test_frames_follow_the_safety_contract(runs, params):
    patients, events = calcium_frames([runs["dialysis"], runs["normal"]])
    assert patients.schema["patient_id"] == pl.Int64 and patients.schema["died"] == pl.Boolean
    assert set(events.columns) == {"patient_id", "arm", "day", "event"}
    assert set(events["event"].unique()) <= set(EVENTS)
    joined = events.join(patients, on=["patient_id", "arm"])
    assert (joined["day"] <= joined["end_day"]).all()
    # a deeper grade never comes before a lighter one
    first = events.pivot(on="event", index=["patient_id", "arm"], values="day")
    if {"hypocalcemia_grade_1", "hypocalcemia_grade_2"} <= set(first.columns):
        both = first.drop_nulls(["hypocalcemia_grade_1", "hypocalcemia_grade_2"])
        assert (both["hypocalcemia_grade_1"] <= both["hypocalcemia_grade_2"]).all()
    assert list(grade_thresholds(params).values()) == [2.0, 1.875, 1.8]
    course = calcium_course([runs["dialysis"]])
    assert course.height == runs["dialysis"].record_days.size
    assert (course["p5"] <= course["p50"]).all() and (course["p50"] <= course["p95"]).all()


def test_frames_from_the_simulation_table_equal_those_of_the_results(runs):
    from osteotrial import io

    result = runs["dialysis"]
    sim = pl.from_arrow(io.simulation_table(result))
    patients, events = frames_from_simulation(sim)
    want_p, want_e = calcium_frames([result])
    assert patients.sort("patient_id").equals(want_p.sort("patient_id"))
    key = ["patient_id", "event"]
    assert events.sort(key).select(want_e.columns).equals(want_e.sort(key))
    assert events.height > 0
    course, want = course_from_simulation(sim), calcium_course([result])
    assert course.columns == want.columns and course["n"].to_list() == want["n"].to_list()
    numbers = [c for c in want.columns if c not in ("arm", "day", "n")]
    np.testing.assert_allclose(course.select(numbers).to_numpy(), want.select(numbers).to_numpy())


def test_config_errors_name_the_field(params):
    with pytest.raises(ValueError, match="calcium_mg_per_day is for kind calcium_vitamin_d"):
        ExposurePhase("glucocorticoid", 0.0, prednisone_mg_per_day=5, calcium_mg_per_day=500)
    with pytest.raises(ValueError, match="needs calcium_mg_per_day or vitamin_d_iu_per_day"):
        ExposurePhase("calcium_vitamin_d", 0.0)
    with pytest.raises(ValueError, match="grade_<k>_below_mmol_l"):
        dataclasses.replace(params.calcium, grade_2_below_mmol_l=2.1)
    with pytest.raises(ValueError, match="model.calcium.resorption_share_frac"):
        dataclasses.replace(params.calcium, resorption_share_frac=1.5)


def test_a_trial_file_supplement_is_read_and_checked():
    entry = {"kind": "calcium_vitamin_d", "arms": "all", "start": "day 0"}
    with_dose = load_config(
        "dialysis_denosumab", {"exposures": [{**entry, "calcium_mg_per_day": 500}]}, "config"
    )
    (phase,) = with_dose.arms["denosumab"].exposures
    assert phase.calcium_mg_per_day == 500.0 and phase.vitamin_d_iu_per_day == 0.0
    with pytest.raises(ValueError, match="needs calcium_mg_per_day or vitamin_d_iu_per_day"):
        load_config("dialysis_denosumab", {"exposures": [entry]}, "config")


def test_every_calcium_value_reaches_the_kernels(params):
    """Each field of the calcium block is in the remodeling record (prefixed ca_), by value."""
    from osteotrial.model import records

    packed = records.pack_model(params).remodeling[0]
    for field in dataclasses.fields(params.calcium):
        assert packed[f"ca_{field.name}"] == getattr(params.calcium, field.name), field.name


def _balance(x, oca, oba, supplement, w, r):
    """The quasi-steady calcium balance (mmol/day) at x, written out from the module's
    docstring (gut + bone + PTH's surface release - kidney - dialysis - loss)."""
    d = w[calcium.CALCITRIOL]
    gut = r.ca_gut_absorption_frac * d**r.ca_gut_calcitriol_exponent
    gut *= r.ca_diet_calcium_mmol_per_day + supplement
    pth = min(x**-r.ca_pth_calcium_exponent, r.ca_pth_max_rel)
    synthesis_rel = d / w[calcium.SYNTHESIS]
    kidney = w[calcium.URINE0] * x * pth**-r.ca_reabsorption_pth_exponent
    kidney *= synthesis_rel**-r.ca_reabsorption_calcitriol_exponent
    bone = w[calcium.BONE_FLUX] * (oca - oba) + w[calcium.SURFACE] * (pth - 1.0)
    dialysis = w[calcium.DIALYSIS_L] * w[calcium.C0] * (x - 1.0)
    return gut - w[calcium.LOSS] + bone - kidney - dialysis


def _bisect(oca, oba, supplement, w, r):
    lo, hi = calcium.X_MIN, calcium.X_MAX
    while hi - lo > 1e-15:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _balance(mid, oca, oba, supplement, w, r) > 0.0 else (lo, mid)
    return 0.5 * (lo + hi)


def test_the_calcium_solve_agrees_with_bisection_to_rounding(params):
    """The solve (closed form where PTH is at its maximum, safeguarded Newton in log x above)
    finds the balance's root to 1e-13 from any last calcium, across the kink at P_max
    included: a plain safeguarded Newton in x once cycled there for 60 iterations (a dialysis
    patient whose calcium rose from 0.91 to 1.5 of baseline: 0.17 off)."""
    from osteotrial.model import records

    r = records.pack_model(params).remodeling[0]
    rng = np.random.default_rng(28)
    w = np.empty(calcium.N_WORK)
    capped = 0
    for _ in range(400):
        on = float(rng.random() < 0.5)
        calcium.patient_constants(rng.uniform(10, 110), on, rng.normal(), 0.0, 1.0, 1.0, r, w)
        w[calcium.CALCITRIOL] = w[calcium.SYNTHESIS] * rng.uniform(0.2, 5.0)
        w[calcium.LOG_X] = rng.uniform(np.log(calcium.X_MIN), np.log(calcium.X_MAX))
        oca, oba = rng.uniform(0.05, 3.0, 2)
        supplement = rng.choice([0.0, 25.0])
        x = np.exp(calcium.solve_log_x(oca, oba, supplement, w, r))
        ref = _bisect(oca, oba, supplement, w, r)
        capped += ref < w[calcium.X_CAP]
        assert abs(x / ref - 1.0) < 1e-13, (x, ref)
    assert 20 < capped < 380  # both sides of the kink


def test_the_untreated_steady_state_needs_no_solve(params):
    """At the untreated steady state step() keeps the row exactly (calcium at baseline,
    calcitriol at S); the solve there gives the same calcium to rounding."""
    from osteotrial.model import exposure, records

    r = records.pack_model(params).remodeling[0]
    levels = np.zeros(exposure.N_CHANNELS)
    for on in (0.0, 1.0):
        w = np.empty(calcium.N_WORK)
        calcium.patient_constants(45.0, on, 0.7, 0.0, 1.3, 1.0, r, w)
        start = w.copy()
        assert abs(calcium.solve_log_x(0.8, 0.8, 0.0, w, r)) < 1e-14
        for t in range(3):
            calcium.step(0.8, 0.8, levels, exposure.CALCIUM_MG, float(t), 1.0, r, w)
        assert w[calcium.MINERAL] == 0.8  # the uptake signal starts at the first step's formation
        start[calcium.MINERAL] = 0.8
        np.testing.assert_array_equal(w, start)
        calcium.step(0.7, 0.8, levels, exposure.CALCIUM_MG, 3.0, 1.0, r, w)  # a drug: it moves
        assert w[calcium.PREV] < start[calcium.PREV]
        # PTH drives calcitriol up, except on dialysis (the extrarenal rest)
        assert (w[calcium.CALCITRIOL] > start[calcium.CALCITRIOL]) == (on == 0.0)


def test_bone_uptake_follows_formation_through_the_mineralization_lag(params):
    """Osteoid mineralizes weeks after it is laid down: when formation doubles at once (as on
    romosozumab, resorption halved) the uptake signal m rises towards it over the lag, so the
    calcium dip is shallower and later than with uptake following formation at once (lag 0:
    m equals formation exactly)."""
    import dataclasses

    from osteotrial.model import exposure, records

    levels = np.zeros(exposure.N_CHANNELS)

    def course(lag_days: float) -> tuple[np.ndarray, np.ndarray]:
        calcium_params = dataclasses.replace(params.calcium, mineralization_lag_days=lag_days)
        r = records.pack_model(dataclasses.replace(params, calcium=calcium_params)).remodeling[0]
        w = np.empty(calcium.N_WORK)
        calcium.patient_constants(75.0, 0.0, 0.0, 0.0, 1.0, 1.0, r, w)
        calcium.step(1.0, 1.0, levels, exposure.CALCIUM_MG, 0.0, 1.0, r, w)
        ca, m = [], []
        for t in range(1, 60):
            calcium.step(0.5, 2.0, levels, exposure.CALCIUM_MG, float(t), 1.0, r, w)
            ca.append(w[calcium.PREV])
            m.append(w[calcium.MINERAL])
        return np.array(ca), np.array(m)

    now, m_now = course(0.0)
    lagged, m_lagged = course(21.0)
    assert np.all(m_now == 2.0)
    # first order: m - 2 = (1 - 2) exp(-t / 21) at the end of each step
    expected = 2.0 - np.exp(-np.arange(1, 60) / 21.0)
    np.testing.assert_allclose(m_lagged, expected, rtol=1e-12)
    assert lagged.min() > now.min() + 0.02  # a shallower dip ...
    assert np.argmin(lagged) > np.argmin(now) + 5  # ... and a later one


def test_the_workflow_calibration_rows_read_the_safety_table_of_their_trial_file():
    """P11 and P12 on a workflow run's calibration page: the share by the end of follow-up
    from ``safety_events`` of the trial file that emulates the row; other trials get none; a
    table with another follow-up or without the event gives a missed row."""
    from osteotrial.calibration.calcium import ROWS, workflow_rows

    _, trial, arm, event, days = ROWS[1]
    events = pl.DataFrame(
        {"arm": [arm], "event": [event], "month": [round(days / 30.4375, 2)], "share": [0.0025],
         "share_ci_low": [0.0019], "share_ci_high": [0.0032]}
    )  # fmt: skip
    (got,) = workflow_rows(trial, {"safety_events": events})
    assert got["emulated"] == 0.0025 and got["within"] and got["ci_low"] == 0.0019
    far = events.with_columns(share=pl.lit(0.0035))
    assert not workflow_rows(trial, {"safety_events": far})[0]["within"]
    other = events.with_columns(month=pl.lit(12.0))
    assert np.isnan(workflow_rows(trial, {"safety_events": other})[0]["emulated"])
    assert workflow_rows("frame", {"safety_events": events}) == []
    assert not workflow_rows(ROWS[0][1], {})[0]["within"]
