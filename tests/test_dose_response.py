"""Dose response and early marker courses of a typical patient (objective.typical_patient).

Relations, not fitted numbers: a higher dose at the same interval gives a larger month-12 BMD
gain at the spine and the hip, for denosumab (14 < 30 < 60 mg every 6 months, the dose-ranging
trial's doses, McClung 2006) with deeper CTX suppression, and for romosozumab (70 < 140 < 210 mg
monthly) with a larger P1NP rise. After a denosumab dose, formation follows resorption: CTX
falls within days (targets.yaml, pk: at least 80 % by day 5), P1NP later and less (DEFEND,
targets.yaml: P1NP -47 % vs CTX -63 % at month 24), because osteoblast commitment follows the
resorption that releases its coupling factor (docs/model.md).
"""

from __future__ import annotations

import numpy as np
import pytest
from model_fixtures import arm, pct_change

from osteotrial.engine.simulate import simulate_arm
from osteotrial.trial.schedules import Schedule
from osteotrial.units import DAYS_PER_MONTH, DAYS_PER_YEAR

EARLY_DAYS = (1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 14.0, 21.0, 28.0, 42.0, 56.0, 70.0, 84.0)
SCHEDULE = Schedule(1.0, DAYS_PER_YEAR, tuple(float(m) for m in range(1, 13)), EARLY_DAYS, ())
DRUGS = {
    "denosumab": ((14.0, 30.0, 60.0), 182.625),
    "romosozumab": ((70.0, 140.0, 210.0), DAYS_PER_MONTH),
}


@pytest.fixture(scope="module")
def by_dose(typical, params):
    """{drug: [ArmResult per dose, lowest first]} of one year at the drug's interval."""
    return {
        drug: [
            simulate_arm(
                typical, arm((drug, dose, interval, 0.0, DAYS_PER_YEAR)), params, SCHEDULE, False
            )
            for dose in doses
        ]
        for drug, (doses, interval) in DRUGS.items()
    }


def at(result, day: float) -> int:
    return int(np.argmin(np.abs(result.record_days - day)))


@pytest.mark.parametrize("drug", DRUGS)
@pytest.mark.parametrize("site", ["LS", "TH"])
def test_a_higher_dose_gains_more_bmd_by_month_12(by_dose, drug, site):
    gains = [pct_change(r.bmd_g_cm2(site))[at(r, DAYS_PER_YEAR), 0] for r in by_dose[drug]]
    assert gains[0] > 0.0 and np.all(np.diff(gains) > 0.0), (drug, site, gains)


def test_a_higher_denosumab_dose_suppresses_ctx_more_at_every_visit(by_dose):
    """14 < 30 < 60 mg every 6 months: CTX lower at every record day of the year, the troughs
    before the second dose included."""
    ctx = np.array([r.ctx_rel[1:, 0] for r in by_dose["denosumab"]])
    assert (ctx < 1.0).all()
    assert (np.diff(ctx, axis=0) < 0.0).all()


def test_a_higher_romosozumab_dose_raises_p1np_more(by_dose):
    """70 < 140 < 210 mg monthly: a larger P1NP rise at its peak (first month) and at day 14."""
    results = by_dose["romosozumab"]
    first_month = [r.p1np_rel[: at(r, DAYS_PER_MONTH) + 1, 0] for r in results]
    peaks = [p.max() for p in first_month]
    day_14 = [r.p1np_rel[at(r, 14.0), 0] for r in results]
    assert peaks[0] > 1.5 and np.all(np.diff(peaks) > 0.0), peaks
    assert np.all(np.diff(day_14) > 0.0), day_14


def test_after_denosumab_p1np_falls_after_ctx_and_less(by_dose):
    """60 mg: CTX halves within days while P1NP has barely moved (by day 3 formation has
    fallen by less than a sixth of what resorption has: with bone by compartment and the
    re-fit of issue 24, active osteoblasts start to follow within days, 0.93 at day 3); P1NP
    reaches its nadir after CTX does, and stays less suppressed than CTX at every visit of the
    first interval."""
    r = by_dose["denosumab"][-1]
    days, ctx, p1np = r.record_days, r.ctx_rel[:, 0], r.p1np_rel[:, 0]
    day_3 = at(r, 3.0)
    assert ctx[day_3] < 0.5 and 1.0 - p1np[day_3] < (1.0 - ctx[day_3]) / 6.0  # formation lags
    assert ctx[at(r, 5.0)] < p1np[at(r, 5.0)]
    first = days < 182.0
    nadir_ctx, nadir_p1np = (days[first][np.argmin(x[first])] for x in (ctx, p1np))
    assert 5.0 < nadir_ctx < nadir_p1np < 182.0
    assert p1np[at(r, 14.0)] < p1np[at(r, 7.0)] < p1np[at(r, 3.0)]  # P1NP falls in weeks 1-2
    assert (p1np[first][1:] > ctx[first][1:]).all()  # less suppressed at every visit
    assert p1np[at(r, 3 * DAYS_PER_MONTH)] < 0.5  # and still well below baseline at month 3
