"""Safety (issue 27, part safe): the exposure slots (model/safety.py), the hazards drawn from
them (analyses/safety_frames.py) and the safety tables (analyses/safety.py).

Shape tests of the issue: the ONJ exposure grows faster at 120 mg every 4 weeks than at 60 mg
every 6 months (through the state), the ONJ hazard grows with exposure and with dental
procedures; the AFF memory grows with duration and recedes after stopping; romosozumab raises
the MACE hazard by its hazard ratio. Tables on synthetic frames match hand counts and the
published exact Poisson limits.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest
from model_fixtures import arm

from osteotrial.analyses import safety_frames as sf
from osteotrial.analyses.safety import events_table, incidence_table, poisson_rate_ci
from osteotrial.engine.simulate import simulate_arm
from osteotrial.trial.schedules import Schedule

DAYS = 730.5
SCHEDULE = Schedule(1.0, DAYS, tuple(range(1, 25)), (), (12,))
REGIMENS = {
    "placebo": ("placebo", 0, 30, 0, 365.25),
    "denosumab_60mg_q6m": ("denosumab", 60, 182.625, 0, 365.25),
    "denosumab_120mg_q4w": ("denosumab", 120, 28, 0, 365.25),
    "alendronate_weekly": ("alendronate", 70, 7, 0, 365.25),
}


@pytest.fixture(scope="module")
def runs(small_frame_cohort, params):
    """Two years, a year of treatment then none, under each regimen (small cohort)."""
    cohort = small_frame_cohort
    out = {}
    for name, phase in REGIMENS.items():
        spec = dataclasses.replace(arm(phase), name=name)
        out[name] = simulate_arm(cohort, spec, params, SCHEDULE)
    return out


def test_untreated_patients_accrue_no_exposure(runs):
    for values in runs["placebo"].safety.values():
        assert np.all(values == 0.0)


def test_deep_suppression_exposure_is_higher_at_120mg_q4w(runs):
    e60 = runs["denosumab_60mg_q6m"].safety["deep_suppression_years"]
    e120 = runs["denosumab_120mg_q4w"].safety["deep_suppression_years"]
    year = 12
    assert np.all(e120[year] > e60[year]) and np.median(e60[year]) > 0.5
    assert np.median(e120[year] / e60[year]) > 1.5
    assert np.all(np.diff(e60, axis=0) >= 0.0)  # cumulative


def test_duration_memory_grows_on_treatment_and_recedes_after_stopping(runs, params):
    d = runs["denosumab_60mg_q6m"].safety["antiresorptive_duration_years"]
    assert np.median(d[12]) == pytest.approx(1.0, abs=0.05)  # a year on treatment: a year
    assert np.all(d[12] <= 1.0 + 1e-9)  # never more than the time on treatment
    peak = d.max(axis=0)
    assert np.median(d[-1] / peak) < 0.85  # recedes after stopping (the rebound: c above 1)
    assert np.mean(d[-1] < peak) > 0.9  # all but the slowest to recover
    grid = np.arange(0.0, DAYS, 7.0)
    rate = np.diff(
        sf.aff_hazard(runs["denosumab_60mg_q6m"].record_days, d, grid, params.safety), axis=0
    )
    assert np.median(rate[-1] / rate.max(axis=0)) < 0.75  # the AFF hazard falls after stopping


def _covariates(n: int, age: float, prior: float = 0.2) -> sf.PatientCovariates:
    """Covariates of patients 0..n-1 at one age: every fifth with prior disease (``prior``
    0.2), propensities spread around 1."""
    ids = np.arange(n, dtype=np.int64)
    return sf.PatientCovariates(
        ids, np.full(n, age), ids % round(1 / prior) == 0, np.linspace(0.1, 1.9, n)
    )


@pytest.mark.parametrize("name", ["denosumab_60mg_q6m", "alendronate_weekly"])
def test_aff_hazard_rises_with_duration_and_recedes_after_stopping(runs, params, name):
    """The issue's shape for both antiresorptives: the AFF hazard rises with the time on
    drug and, a year after the last dose's interval has run out, is about 30 % of its peak
    (Schilcher 2011: -70 % per year since the last use), although after alendronate the
    drug on bone keeps resorption low (the suppression memory alone does not fall)."""
    p, result = params.safety, runs[name]
    spec = dataclasses.replace(arm(REGIMENS[name]), name=name)
    grid = np.arange(0.0, DAYS + 1.0, 7.0)
    d = result.safety["antiresorptive_duration_years"]
    use = sf.use_duration(spec, grid, p)
    rate = np.diff(sf.aff_hazard(result.record_days, d, grid, p, use), axis=0)
    week = {months: round(months * 30.4375 / 7.0) for months in (3, 11, 23)}
    assert np.median(rate[week[11]] / rate[week[3]]) > 5.0  # (11 / 3)^1.89 = 11.7 on drug
    assert np.all(rate[-1] < rate.max(axis=0))
    assert np.median(rate[-1] / rate.max(axis=0)) == pytest.approx(0.30, abs=0.08)
    assert use[-1] == pytest.approx(use.max() * np.exp(-p.aff_offset_per_year), rel=0.05)
    slot_only = np.diff(sf.aff_hazard(result.record_days, d, grid, p), axis=0)
    if name == "alendronate_weekly":  # the drug on bone: suppression outlasts the dosing
        assert np.median(slot_only[-1] / slot_only.max(axis=0)) > 0.9


def test_no_duration_of_use_without_an_antiresorptive(params):
    grid = np.arange(0.0, DAYS + 1.0, 7.0)
    for phase in (("placebo", 0, 30, 0, 365.25), ("romosozumab", 210, 30.4375, 0, 365.25)):
        assert np.all(sf.use_duration(arm(phase), grid, params.safety) == 0.0)


def _result(integral, days):
    """Return a minimal ArmResult carrying given safety exposure courses (n_t, n)."""
    from conftest import synthetic_result

    n = integral.shape[1]
    zeros = np.zeros_like(integral)
    base = synthetic_result("a", list(range(n)))
    return dataclasses.replace(
        base,
        record_days=days,
        safety={"deep_suppression_years": zeros, "deep_suppression_integral": integral,
                "antiresorptive_duration_years": zeros},
    )  # fmt: skip


def test_onj_hazard_grows_with_exposure_and_with_a_dental_procedure(params):
    p = params.safety
    days = np.array([0.0, 365.25, 730.5])
    integral = np.array([[0.0, 0.0], [0.5, 2.0], [2.0, 8.0]])  # exposure rate 1 vs 4 per year
    grid = np.array([0.0, 365.25, 730.5])
    none = np.full((1, 2), np.inf)
    h = sf.onj_hazard(days, integral, none, grid, p)
    assert np.allclose(h, p.onj_per_year_per_exposure_year * integral)  # h0 I without procedure
    proc = np.array([[365.25, 365.25]])
    with_proc = sf.onj_hazard(days, integral, proc, grid, p)
    window = p.onj_procedure_window_days / 365.25
    extra = (p.onj_procedure_rr - 1) * p.onj_per_year_per_exposure_year
    # I is linear in the second year: the window adds slope x window x (rr - 1) h0
    assert np.allclose(with_proc[-1] - h[-1], extra * np.array([1.5, 6.0]) * window)


def test_romosozumab_raises_mace_by_its_hazard_ratio(params):
    p = params.safety
    grid = np.arange(0.0, 366.0, 7.0)
    romo = dataclasses.replace(arm(("romosozumab", 210, 30.4375, 0, 365.25)), name="romo")
    exposed = sf.romosozumab_exposed(romo, grid)
    assert exposed[:-1].min() > 0.99  # monthly doses: exposed throughout the year
    age = p.mace_reference_age_years + np.array([0.0, 10.0])
    prior = np.array([False, True])
    control = sf.mace_hazard(age, prior, np.zeros_like(exposed), grid, p)
    treated = sf.mace_hazard(age, prior, exposed, grid, p)
    ratio = treated[-2] / control[-2]
    assert np.allclose(ratio, p.mace_romosozumab_hr, rtol=1e-6)
    assert control[-1, 1] / control[-1, 0] == pytest.approx(
        np.exp(10 * p.mace_log_hr_per_year_of_age) * p.mace_prior_cardiovascular_rr
    )


def test_frames_keep_the_contract_and_common_random_numbers(params):
    days = np.array([0.0, 365.25, 730.5])
    integral = np.tile(np.array([[0.0], [50.0], [200.0]]), (1, 200))  # huge: events happen
    a = _result(integral, days)
    spec = dataclasses.replace(arm(("denosumab", 60, 182.625, 0, 730.5)), name="a")
    cov = _covariates(200, age=70.0)
    pats, evs = sf.safety_frames([a], {"a": spec}, cov, params.safety, 7, 730.5)
    assert pats.height == 200 and set(evs["event"].unique()) >= {"osteonecrosis_of_the_jaw"}
    assert evs["day"].max() <= 730.5 and evs.schema["patient_id"] == pl.Int64
    again = sf.safety_frames([a], {"a": spec}, cov, params.safety, 7, 730.5)[1]
    assert again.equals(evs)
    # issue 28: patients in groups (the workflow's memory bound) draw the same frames
    whole = sf.ArmExposures(a.arm, a.patient_id, a.record_days, a.safety, a.death_day,
                            a.dropout_day)  # fmt: skip
    groups = whole.split(7)
    assert len(groups) == 29 and groups[-1].n_patients == 4
    g_pats, g_evs = sf.safety_frames(groups, {"a": spec}, cov, params.safety, 7, 730.5)
    assert g_pats.equals(pats)
    assert g_evs.sort("patient_id", "day", "event").equals(evs.sort("patient_id", "day", "event"))


def _frames():
    """Two arms of 10: control 2 events in 2 patients, treated 5 events in 4 patients (one
    after the end of follow-up, not counted), one death."""
    pats = pl.DataFrame(
        {
            "patient_id": np.arange(20, dtype=np.int64),
            "arm": ["control"] * 10 + ["treated"] * 10,
            "end_day": [365.25] * 20,
            "died": [False] * 19 + [True],
        }
    )
    rows = [(0, "control", 10.0), (1, "control", 100.0), (10, "treated", 5.0),
            (10, "treated", 50.0), (11, "treated", 60.0), (12, "treated", 70.0),
            (13, "treated", 80.0), (14, "treated", 400.0)]  # fmt: skip
    evs = pl.DataFrame(
        {
            "patient_id": np.array([r[0] for r in rows], dtype=np.int64),
            "arm": [r[1] for r in rows],
            "day": [r[2] for r in rows],
            "event": ["onj"] * len(rows),
        }
    )
    return pats, evs


def test_events_table_matches_hand_counts():
    pats, evs = _frames()
    table = events_table(pats, evs, "control", ["mace"]).filter(pl.col("event") == "onj")
    t = table.filter(pl.col("arm") == "treated").row(0, named=True)
    assert (t["n_with_event"], t["n_events"], t["n_patients"]) == (4, 5, 10)
    assert t["share"] == pytest.approx(0.4)
    assert t["patient_years"] == pytest.approx(10.0)
    assert t["per_100_patient_years"] == pytest.approx(50.0)
    assert t["risk_ratio"] == pytest.approx(2.0)  # 0.4 / 0.2
    assert t["cumulative_incidence"] == pytest.approx(0.4)  # no censoring before events
    mace = events_table(pats, evs, "control", ["mace"]).filter(pl.col("event") == "mace")
    assert mace["n_events"].to_list() == [0, 0]
    # a reference arm without events: the ratio is not estimable (nan; null in the file), never
    # infinite
    no_ref = events_table(pats, evs.filter(pl.col("arm") == "treated"), "control", [])
    treated = no_ref.filter((pl.col("arm") == "treated") & (pl.col("event") == "onj"))
    assert treated["n_with_event"].item() == 4 and treated["risk_ratio"].is_nan().item()


def test_exact_poisson_limits_match_published_values():
    low, high = poisson_rate_ci(np.array([0, 10]), np.array([1.0, 1.0]))
    assert low[0] == 0.0 and high[0] == pytest.approx(3.689, abs=1e-3)  # Garwood, k = 0
    assert (low[1], high[1]) == pytest.approx((4.795, 18.39), abs=2e-3)  # k = 10


def test_incidence_counts_death_as_a_competing_risk():
    pats = pl.DataFrame(
        {
            "patient_id": np.arange(4, dtype=np.int64),
            "arm": ["a"] * 4,
            "end_day": [365.25, 100.0, 365.25, 365.25],
            "died": [False, True, False, False],
        }
    )
    evs = pl.DataFrame(
        {"patient_id": np.array([0, 2], dtype=np.int64), "arm": ["a", "a"],
         "day": [50.0, 200.0], "event": ["aff", "aff"]}
    )  # fmt: skip
    inc = incidence_table(pats, evs)
    last = inc.filter(pl.col("month") == inc["month"].max())["cumulative_incidence"][0]
    assert last == pytest.approx(0.5)  # 2 of 4: the death is not censored (1 - KM would say 5/8)


def test_the_romosozumab_effect_is_drawn_with_its_stated_ci(params):
    """The uncertainty file's safety block (written by calibration.safety) draws the MACE
    hazard ratio log-normally with the 95 % CI of P14 (0.85-2.00): the parameter sets carry it
    into every drawn model (calibration.parameter_sets)."""
    import yaml
    from conftest import ROOT

    from osteotrial.calibration import parameter_sets, safety, uncertainty

    data = uncertainty.load_uncertainty()
    assert data["blocks"]["safety"] == safety.uncertainty_block(params.safety)  # file current
    model = yaml.safe_load((ROOT / "config" / "model.yaml").read_text())
    only = {"blocks": {"safety": data["blocks"]["safety"]}}
    hr = [
        parameter_sets.parameter_set(model, only, 1.0, 11, k).model["safety"]["mace_romosozumab_hr"]
        for k in range(400)
    ]
    low, high = params.safety.mace_romosozumab_hr_ci_low, params.safety.mace_romosozumab_hr_ci_high
    assert np.std(np.log(hr)) == pytest.approx(np.log(high / low) / 3.92, rel=0.1)
    assert np.quantile(hr, [0.025, 0.975]) == pytest.approx(
        params.safety.mace_romosozumab_hr * np.sqrt([low / high, high / low]), rel=0.1
    )


def _mace_result(n: int = 200):
    """A synthetic year under romosozumab: no bone exposure, no deaths, no dropout."""
    from conftest import synthetic_result

    days = np.arange(0.0, 366.0, 30.4375)
    days[-1] = 365.25
    zeros = np.zeros((days.size, n))
    result = synthetic_result("romo", list(range(n)))
    return dataclasses.replace(
        result,
        record_days=days,
        safety=dict.fromkeys(("deep_suppression_years", "deep_suppression_integral",
                              "antiresorptive_duration_years"), zeros),
        cumulative_hazard={"death": zeros},
    )  # fmt: skip


def test_the_drawn_effect_moves_the_expected_mace_share_and_its_prediction_interval(params):
    """Expected MACE shares of parameter sets at the CI's ends of the hazard ratio: the share
    follows the HR; the prediction interval (analyses.prediction) spans the sets' shares plus
    the binomial sampling at the trial's size."""
    from osteotrial.analyses.prediction import STATISTICS, _interval_rows
    from osteotrial.analyses.safety_expected import safety_rows

    result = _mace_result()
    romo = dataclasses.replace(arm(("romosozumab", 210, 30.4375, 0, 365.25)), name="romo")
    cov = _covariates(result.n_patients, age=params.safety.mace_reference_age_years)
    shares, sets = [], []
    for hr in (0.85, 1.30, 2.0):
        drawn = dataclasses.replace(params.safety, mace_romosozumab_hr=hr)
        p = dataclasses.replace(params, safety=drawn)
        rows = safety_rows({"romo": result}, {"romo": romo}, cov, p, 3)
        sets.append(pl.DataFrame(rows))
        shares.append(next(r["value"] for r in rows if r["endpoint"] == "mace"))
    assert shares[2] / shares[0] == pytest.approx(2.0 / 0.85, rel=0.05)  # rare: share ~ HR
    month = sets[0]["time"][0]
    nominal = {"safety_events": pl.DataFrame({
        "arm": ["romo"], "event": ["mace"], "month": [month], "n_patients": [2000],
        "share": [shares[1]], "share_ci_low": [0.0], "share_ci_high": [1.0]})}  # fmt: skip
    share = STATISTICS["safety_events"][0]
    pi = _interval_rows("safety_events", share, nominal, sets, 0.9)[0]
    assert pi["param_low"] < shares[1] < pi["param_high"]
    assert pi["pi_low"] < shares[0] * 1.01 and pi["pi_high"] > shares[2] * 0.99
