"""The fracture hazard's pieces: remodeling space, waning imminent risk, hip-fracture mortality.

The remodeling space (model.remodeling) replaces an instantaneous CTX multiplier: it follows
activation with the lag of the formation period, closes when resorption is suppressed (with or
without formation) and reopens when an antiresorptive stops.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from conftest import ROOT

from osteotrial.calibration.hip_base import HipSource, hip_base_per_year
from osteotrial.calibration.objective import typical_patient
from osteotrial.cohort.population import (
    PopulationParams,
    covariates_from_draws,
    raw_candidate_draws,
)
from osteotrial.cohort.variability import iiv_multipliers
from osteotrial.engine.reference import reference_bone
from osteotrial.model import bone, exposure, fracture, remodeling
from osteotrial.model.records import pack_model
from osteotrial.trial.config import load_config
from osteotrial.units import DAYS_PER_MONTH, DAYS_PER_YEAR


@pytest.fixture(scope="module")
def records(params):
    return pack_model(params)


def space_rate(records, oba: float, oca: float, space: float, theta: float | None = None) -> float:
    """Return d(remodeling space)/dt of model.remodeling.cell_rhs for given cell pools, with
    the refill exponent theta of the records (or ``theta``)."""
    y = np.zeros(bone.N_BONE_STATES)  # the whole bone state: cell_rhs reads the drug slots too
    y[: remodeling.N_CELL_STATES] = 1.0
    y[remodeling.TOLERANCE] = 0.0
    y[remodeling.OBA], y[remodeling.OCA], y[remodeling.REMODELING_SPACE] = oba, oca, space
    dy = np.empty_like(y)
    r = records.remodeling[0].copy()
    if theta is not None:
        r.remodeling_space_refill_exponent = theta
    remodeling.cell_rhs(y, 1.0, 0.0, math.log(y[remodeling.OBA]), 0.0, 0.0, 0.0, r, dy)
    return dy[remodeling.REMODELING_SPACE]


@pytest.mark.parametrize("theta", [0.0, 0.5, 1.0, None])
@pytest.mark.parametrize(
    "oba,oca",
    [(1.0, 1.0), (0.5, 0.5), (0.5, 0.2), (2.5, 0.5), (3.0, 2.0), (1.0, 1.8)],
)
def test_remodeling_space_tends_to_activation_over_refilling(records, oba, oca, theta):
    """The space tends to c / b^theta: c at theta 0 (Heaney 1994: proportional to activation),
    c / b at theta 1 (the model before issue 24); None: the configured theta."""
    t = records.remodeling[0].remodeling_space_refill_exponent if theta is None else theta
    steady = oca / oba**t
    assert space_rate(records, oba, oca, steady, theta) == pytest.approx(0.0, abs=1e-12)
    assert space_rate(records, oba, oca, 1.0, theta) * (steady - 1.0) >= 0.0  # moves toward it


def test_equal_suppression_of_both_cells_closes_the_space_unless_theta_is_one(records):
    """Resorption and formation suppressed alike (c = b = 0.5): the space closes for every
    theta below 1 (the configured one included), and not at all under the old c / b."""
    for theta in (0.0, 0.5, None):
        assert space_rate(records, 0.5, 0.5, 1.0, theta) < 0.0
    assert space_rate(records, 0.5, 0.5, 1.0, 1.0) == 0.0
    assert records.remodeling[0].remodeling_space_refill_exponent < 1.0


def stopped_vs_never(params, theta: float | None):
    """Return months, the ratio of the vertebral hazards at equal BMD of a typical DEFEND woman
    on denosumab for two years then off over a never-treated one (the non-BMD part: the same
    T-score put into both), and the stopped woman's osteoclasts (LSODA, engine.reference)."""
    if theta is not None:
        remodeling_params = dataclasses.replace(
            params.remodeling, remodeling_space_refill_exponent=theta
        )
        params = dataclasses.replace(params, remodeling=remodeling_params)
    trial = load_config("denosumab_discontinuation", config_dir=ROOT / "config")
    patient = typical_patient("denosumab_discontinuation")
    months = np.arange(0.0, 49.0)
    days = np.rint(months * DAYS_PER_MONTH)
    cells = {
        arm: reference_bone(patient, trial.arms[arm], params, trial.schedule, days)[:, :, 0]
        for arm in ("denosumab", "placebo")
    }
    records = pack_model(params)
    vertebral, fp = records.fracture_types[fracture.VERTEBRAL], records.fracture[0]

    def hazard(arm: str) -> np.ndarray:
        space = cells[arm][remodeling.REMODELING_SPACE]
        return np.array(
            [
                fracture.fracture_hazard_per_year(vertebral, fp, 0.0, 70.0, -2.5, math.log(s), 0.0)
                for s in space
            ]
        )

    return months, hazard("denosumab") / hazard("placebo"), cells["denosumab"][remodeling.OCA]


def test_vertebral_hazard_after_stopping_denosumab_rises_above_never_treated(params):
    """The issue's shape: the non-BMD part of the vertebral hazard of a woman who stops
    denosumab after two years is lower than a never-treated woman's on treatment, then higher
    for months as resorption overshoots. With the space proportional to activation (theta 0)
    the rise follows the overshoot (log hazard ratio at least half of beta_v times the log of
    the peak osteoclast level); under the old c / b (theta 1) it was under a third of that,
    as osteoblasts follow osteoclasts up; the configured theta lies between."""
    beta = params.fracture.vertebral.remodeling_space_log_hr
    peaks = {}
    for theta in (0.0, None, 1.0):
        months, ratio, oca = stopped_vs_never(params, theta)
        on, off = (months > 3) & (months <= 24), months > 24
        assert np.all(ratio[on] < 0.9), theta
        assert (ratio[off] > 1.0).sum() >= 3, theta  # for a while: months, not a day
        peak_oca = oca[off].max()
        assert peak_oca > 1.1  # the resorption overshoot exists: the comparison can fail
        peaks[theta] = math.log(ratio[off].max()) / (beta * math.log(peak_oca))
    assert peaks[0.0] >= 0.5 > 0.3 >= peaks[1.0]
    assert peaks[0.0] > peaks[None] > peaks[1.0]


def test_smaller_remodeling_space_lowers_every_fracture_hazard(records):
    fp = records.fracture[0]
    for ft in records.fracture_types:
        base = fracture.fracture_hazard_per_year(ft, fp, 0.0, 70.0, -2.5, 0.0, 0.0)
        closed = fracture.fracture_hazard_per_year(ft, fp, 0.0, 70.0, -2.5, math.log(0.5), 0.0)
        assert 0.0 < closed < base
        assert closed / base == pytest.approx(0.5**ft.remodeling_space_log_hr)


def test_imminent_risk_wanes(records):
    fp = records.fracture[0]
    tau = fp.incident_risk_waning_years
    assert fracture.waning(-np.inf, tau) == 0.0  # no fracture yet
    assert fracture.waning(np.nan, tau) == 0.0
    assert fracture.waning(0.0, tau) == 1.0
    assert fracture.waning(tau * DAYS_PER_YEAR, tau) == pytest.approx(math.exp(-1.0))
    ft = records.fracture_types[0]
    fresh = fracture.fracture_hazard_per_year(ft, fp, 0.0, 70.0, -2.5, 0.0, 1.0)
    later = fracture.fracture_hazard_per_year(ft, fp, 0.0, 70.0, -2.5, 0.0, math.exp(-2.0))
    none = fracture.fracture_hazard_per_year(ft, fp, 0.0, 70.0, -2.5, 0.0, 0.0)
    assert fresh / none == pytest.approx(fp.rr_incident_fracture)
    assert none < later < fresh


def test_excess_death_after_a_hip_fracture_wanes(records):
    fp = records.fracture[0]
    base = fracture.death_hazard_per_year(fp, 75.0, 0.0)
    just_after = fracture.death_hazard_per_year(fp, 75.0, 1.0)
    two_years = fracture.death_hazard_per_year(
        fp, 75.0, fracture.waning(2 * DAYS_PER_YEAR, fp.hip_death_excess_waning_years)
    )
    assert just_after / base == pytest.approx(fp.rr_death_after_hip_fracture)
    assert base < two_years < 0.5 * (base + just_after)


def source_hip_hazards(params, seed: int, n: int = 400_000):
    """Return the baseline hip hazard per year of the source population's women aged 70-74,
    drawn as the screening draws them (covariates, fracture history, frailty) and scored by the
    engine's own static factors (model.fracture.static_log_risk) and hazard."""
    pop = PopulationParams()
    ids = np.arange(n)
    women = covariates_from_draws(raw_candidate_draws(seed, ids), pop)
    frailty = iiv_multipliers(seed, ids, pop)["mult_fracture_frailty"]
    band = (women["age_years"] >= 70.0) & (women["age_years"] < 75.0)
    records = pack_model(params)
    ft, fp = records.fracture_types[fracture.HIP], records.fracture[0]
    static = fracture.static_log_risk(
        ft,
        frailty,
        women["bmi_kg_m2"],
        women["prevalent_vertebral_fracture_count"] > 0,
        women["prior_nonvertebral_fracture"] | women["prior_hip_fracture"],
    )
    tscore = women[f"tscore_{params.fracture.hip.bmd_site.lower()}"]
    hazard = [
        fracture.fracture_hazard_per_year(
            ft, fp, static[i], women["age_years"][i], tscore[i], 0.0, 0.0
        )
        for i in np.flatnonzero(band)
    ]
    return np.asarray(hazard)


def test_source_population_average_hip_hazard_is_the_published_rate(params):
    """The hip base is normalized so that the mean over the source population's women of 70-74
    of every static multiplier is 1: their mean hazard is the Million Women Study rate, not
    the rate times the multipliers' mean (the double count of issue 24: the old base, 0.0036,
    gives x1.29). Fresh draws, as screening makes them, scored by the engine's functions."""
    hazards = source_hip_hazards(params, seed=7)
    rate = HipSource().rate_per_year()
    se = hazards.std() / np.sqrt(hazards.size) / rate
    assert se < 0.01
    assert hazards.mean() / rate == pytest.approx(1.0, abs=max(4 * se, 0.02))


def test_stored_hip_base_is_the_derivation(params):
    """config/model.yaml holds the derived hip base (calibration.hip_base), not a typed one."""
    assert hip_base_per_year(params.fracture) == pytest.approx(
        params.fracture.hip.base_per_year, rel=1e-5
    )


def test_hip_base_follows_the_source_population(params):
    """A frailer or lower-BMD source population means a lower base for the same rate: frailty
    enters through its log-normal mean sqrt(1 + CV^2) exactly, a lower hip T-score through the
    RR per SD (and the prior fractures it brings)."""
    base = hip_base_per_year(params.fracture, n=50_000)
    frail = PopulationParams(iiv_cv_fracture_frailty_frac=0.8)
    ratio = hip_base_per_year(params.fracture, frail, n=50_000) / base
    assert ratio == pytest.approx(np.sqrt((1 + 0.4**2) / (1 + 0.8**2)), rel=1e-9)
    low_bmd = PopulationParams(tscore_th_mean=-1.5)
    assert hip_base_per_year(params.fracture, low_bmd, n=50_000) < 0.5 * base


def vertebral_hazard(records, prevalent: float, count: float, days_since_new: float) -> float:
    """Return the vertebral hazard per year (model.fracture.hazards_per_year) of a woman with
    ``prevalent`` vertebral fractures at baseline and ``count`` now, her last new fracture
    ``days_since_new`` ago (inf: none), all else equal (static risk as the cohort computes it)."""
    static = np.zeros((fracture.N_FRACTURE_TYPES, 1))
    static[:, 0] = [
        fracture.static_log_risk(ft, np.ones(1), np.full(1, 25.0), np.array([prevalent >= 1]),
                                 np.zeros(1, bool))[0]
        for ft in records.fracture_types
    ]  # fmt: skip
    status = np.zeros(fracture.N_STATUS)
    fracture.reset_status(status, prevalent)
    status[fracture.VERTEBRAL_COUNT] = count
    status[fracture.FIRST_EVENT_DAY] = 1000.0 - days_since_new
    haz = np.zeros(fracture.N_HAZARDS)
    tscores = np.full(3, -2.5)
    fracture.hazards_per_year(
        records.fracture_types, records.fracture[0], static, 0, 70.0, tscores, 1.0, status,
        1000.0, np.zeros(exposure.N_CHANNELS), records.remodeling[0], haz,
    )  # fmt: skip
    return haz[fracture.VERTEBRAL]


def test_vertebral_hazard_cascades_with_the_number_of_fractures(records, params):
    """Ross 1991's gradient: one vertebral fracture multiplies the vertebral hazard by
    rr_prevalent_vertebral, two or more by rr_two_or_more_vertebral again; a new fracture in
    the trial counts like a prevalent one once the imminent risk has waned, and on top of it
    while it has not."""
    f = params.fracture
    none = vertebral_hazard(records, 0, 0, np.inf)
    one = vertebral_hazard(records, 1, 1, np.inf)
    two = vertebral_hazard(records, 2, 2, np.inf)
    three = vertebral_hazard(records, 3, 3, np.inf)
    assert one / none == pytest.approx(f.vertebral.rr_prevalent_vertebral)
    assert two / one == pytest.approx(f.rr_two_or_more_vertebral) and two / one > 1.5
    assert three == pytest.approx(two)  # Ross's top category: two or more
    long_ago = 1e6  # the imminent risk has waned entirely
    assert vertebral_hazard(records, 0, 1, long_ago) == pytest.approx(one)
    assert vertebral_hazard(records, 1, 2, long_ago) == pytest.approx(two)
    fresh = vertebral_hazard(records, 0, 1, 0.0)
    assert fresh / none == pytest.approx(
        f.vertebral.rr_prevalent_vertebral * f.rr_incident_fracture
    )


def test_a_new_vertebral_fracture_raises_the_count(records):
    """The event rule counts each new vertebral fracture in the status (not a hip one)."""
    status = np.zeros(fracture.N_STATUS)
    fracture.reset_status(status, 1.0)
    n_thr = np.array([3, 2, 2])
    thresholds = np.full((3, 3, 1), np.inf)
    thresholds[fracture.VERTEBRAL, :2, 0] = [0.5, 0.9]
    thresholds[fracture.HIP, 0, 0] = 0.2
    days = np.full((3, 3, 1), np.nan)

    class Out:
        pass

    out = Out()
    out.days, out.death_day = days, np.full(1, np.nan)
    haz = np.array([365.25, 365.25, 0.0, 0.0])  # one unit of cumulative hazard per day
    cum, prev = np.zeros(4), haz.copy()
    fracture.advance_events(0, 0.0, 1.0, haz, cum, prev, thresholds, n_thr, np.full(1, 9.0),
                            out, status)  # fmt: skip
    assert status[fracture.VERTEBRAL_COUNT] == 3.0  # 1 prevalent + 2 new
    assert status[fracture.PREVALENT_VERTEBRAL] == 1.0
    assert np.isfinite(out.days[fracture.HIP, 0, 0])
