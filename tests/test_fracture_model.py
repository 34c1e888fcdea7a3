"""The fracture hazard's pieces: remodeling space, waning imminent risk, hip-fracture mortality.

The remodeling space (model.remodeling) replaces an instantaneous CTX multiplier: it lags
turnover, closes when formation outpaces resorption (so an anabolic that raises CTX less than
formation is not harmful) and reopens when an antiresorptive stops.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from model_fixtures import arm

from osteotrial.calibration.hip_base import hip_base_per_year
from osteotrial.calibration.objective import cohort_means, typical_cohort
from osteotrial.cohort.population import PopulationParams
from osteotrial.cohort.sampling import Cohort
from osteotrial.engine.simulate import simulate_arm
from osteotrial.model import fracture
from osteotrial.model.records import FRACTURE_TYPES, pack_model
from osteotrial.trial.schedules import Schedule
from osteotrial.units import DAYS_PER_YEAR


@pytest.fixture(scope="module")
def records(params):
    return pack_model(params)


YEAR = 365.25
UNTREATED = arm(("placebo", 0, 30.4375, 0, YEAR))
SCHEDULE = Schedule(1.0, YEAR, (1.0, 3.0, 6.0, 9.0, 12.0), (7.0, 14.0), ())


def patients(*variants: dict) -> Cohort:
    """Typical FRAME patients (objective.typical_patient), one per variant: each variant
    changes the age, T-scores (all sites, BMD with them) or prior fractures of the first."""
    age, tscores = cohort_means("frame")
    rows = []
    for variant in variants:
        shift = variant.get("tscore_shift", 0.0)
        row = typical_cohort(variant.get("age", age), {s: t + shift for s, t in tscores})
        rows.append(
            dataclasses.replace(
                row,
                prevalent_vertebral_fracture_count=np.array([variant.get("prevalent", 0)]),
                prior_nonvertebral_fracture=np.array([variant.get("prior_nonvertebral", False)]),
            )
        )
    columns = {
        f.name: np.concatenate([getattr(row, f.name) for row in rows])
        for f in dataclasses.fields(Cohort)
    }
    columns["patient_id"] = np.arange(len(rows))
    return Cohort(**columns)


def year_hazards(params, cohort: Cohort, regimen=UNTREATED) -> dict[str, np.ndarray]:
    """Cumulative hazard of each fracture type over one year, one value per patient."""
    result = simulate_arm(cohort, regimen, params, SCHEDULE, record_pk=False)
    return {kind: result.cumulative_hazard[kind][-1] for kind in FRACTURE_TYPES}


def test_fracture_hazards_rise_with_lower_bmd_and_older_age(params):
    """Every type's hazard falls with every standard deviation of BMD gained (Marshall 1996)
    and rises with age, whatever the fitted base hazards."""
    by_bmd = year_hazards(params, patients(*({"tscore_shift": d} for d in (-1.0, -0.5, 0, 0.5))))
    by_age = year_hazards(params, patients(*({"age": a} for a in (60.0, 70.0, 80.0))))
    for kind in FRACTURE_TYPES:
        assert (by_bmd[kind] > 0.0).all() and (np.diff(by_bmd[kind]) < 0.0).all(), kind
        assert (np.diff(by_age[kind]) > 0.0).all(), kind


def test_prior_fractures_raise_the_hazard_and_most_of_their_own_kind(params):
    """A prevalent vertebral fracture raises every type's hazard and the vertebral one most; a
    prior nonvertebral fracture raises every type's hazard (Black 1999, Kanis 2004)."""
    h = year_hazards(params, patients({}, {"prevalent": 1}, {"prior_nonvertebral": True}))
    rr_vertebral = {kind: h[kind][1] / h[kind][0] for kind in FRACTURE_TYPES}
    for kind in FRACTURE_TYPES:
        assert rr_vertebral[kind] > 1.0 and h[kind][2] > h[kind][0], kind
    assert rr_vertebral["vertebral"] == max(rr_vertebral.values())


def test_treatment_lowers_the_hazard_with_a_lag_and_stopping_brings_it_back(params):
    """Denosumab (60 mg at day 0 only, stopped at month 6) lowers each type's hazard through
    BMD and the remodeling space, not through CTX: in the first week, when CTX is already
    down by more than half, the vertebral hazard has barely moved; it is lowest months later
    and rises again once resorption returns after the missed dose."""
    cohort = patients({})
    stopped = arm(("denosumab", 60.0, 182.625, 0.0, 180.0))
    schedule = Schedule(1.0, 2 * YEAR, (1.0, 3.0, 6.0, 9.0, 12.0, 15.0, 18.0, 24.0), (7.0,), ())
    on = simulate_arm(cohort, stopped, params, schedule, record_pk=False)
    off = simulate_arm(cohort, arm(("placebo", 0, 30.4375, 0, 2 * YEAR)), params, schedule)
    days = on.record_days
    for kind in FRACTURE_TYPES:
        assert on.cumulative_hazard[kind][-1, 0] < off.cumulative_hazard[kind][-1, 0], kind
    # hazard rate ratio (on / untreated) over each interval between record days
    rate = {
        name: np.diff(r.cumulative_hazard["vertebral"][:, 0]) / np.diff(days)
        for name, r in (("on", on), ("off", off))
    }
    ratio = rate["on"] / rate["off"]
    week = int(np.argmin(np.abs(days - 7.0)))
    assert on.ctx_rel[week, 0] < 0.5
    first_week, lowest = ratio[week - 1], ratio.min()
    assert lowest < 0.9 and first_week > 1.0 - 0.25 * (1.0 - lowest)
    assert days[1:][np.argmin(ratio)] >= 3 * 30.4375  # lowest months into treatment
    assert ratio[-1] > lowest + 0.5 * (1.0 - lowest)  # back towards untreated after stopping


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


def test_an_anabolic_lowers_every_hazard_within_its_year(params):
    """Romosozumab 210 mg monthly (formation up, resorption down): by month 12 each type's
    hazard is below the untreated woman's, and the vertebral one most (FRAME's ordering of
    relative risk reductions, targets.yaml: new vertebral far above nonvertebral)."""
    cohort = patients({})
    romosozumab = arm(("romosozumab", 210.0, 30.4375, 0.0, YEAR))
    on = simulate_arm(cohort, romosozumab, params, SCHEDULE, record_pk=False)
    off = simulate_arm(cohort, UNTREATED, params, SCHEDULE, record_pk=False)
    ratio = {  # hazard ratio over the last month of the year
        kind: float(np.diff(on.cumulative_hazard[kind][-2:, 0])[0])
        / float(np.diff(off.cumulative_hazard[kind][-2:, 0])[0])
        for kind in FRACTURE_TYPES
    }
    assert all(r < 1.0 for r in ratio.values()), ratio
    assert ratio["vertebral"] == min(ratio.values()), ratio


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
