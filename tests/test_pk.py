"""PK of denosumab and romosozumab against targets.yaml single-dose figures, and mass balance."""

import numpy as np
import pytest

from osteotrial.engine.simulate import simulate_arm
from osteotrial.model import pk
from osteotrial.trial.schedules import ArmSpec, Schedule


def _single_dose(cohort, params, drug, dose_mg, days=120):
    arm = ArmSpec.from_dict(
        "x", [dict(drug=drug, dose_mg=dose_mg, interval_days=1000, start_day=0, stop_day=1)]
    )
    schedule = Schedule(1.0, days, (), (5.0,), ())
    return simulate_arm(cohort, arm, params, schedule)


def test_denosumab_tmax_within_target(typical, params, targets):
    target = targets["pk"]["denosumab_60mg_single_dose"]["tmax_days"]
    conc = _single_dose(typical, params, "denosumab", 60).denosumab_ng_ml[:, 0]
    assert abs(np.argmax(conc) - target["value"]) <= target["tol"]


def test_denosumab_terminal_half_life_within_target(typical, params, targets):
    target = targets["pk"]["denosumab_60mg_single_dose"]["terminal_half_life_days"]
    conc = _single_dose(typical, params, "denosumab", 60).denosumab_ng_ml[:, 0]
    assert abs(pk.terminal_half_life_days(conc) - target["value"]) <= target["tol"]


def test_romosozumab_cmax_tmax_auc_within_one_sd(typical, params, targets):
    target = targets["pk"]["romosozumab_210mg_single_dose"]
    conc_ug_ml = _single_dose(typical, params, "romosozumab", 210).romosozumab_ng_ml[:, 0] / 1e3
    assert (
        abs(conc_ug_ml.max() - target["cmax_ug_per_ml"]["value"]) <= target["cmax_ug_per_ml"]["sd"]
    )
    low, high = target["tmax_days"]["range"]
    assert low <= np.argmax(conc_ug_ml) <= high
    auc = np.trapezoid(conc_ug_ml, dx=1.0)
    assert abs(auc - target["auc_ug_day_per_ml"]["value"]) <= target["auc_ug_day_per_ml"]["sd"]


def test_romosozumab_effective_half_life_from_accumulation(typical, params, targets):
    """t1/2,eff = ln2 tau / ln(R / (R - 1)), R = AUC over the 6th interval / AUC over the 1st."""
    arm = ArmSpec.from_dict(
        "r", [dict(drug="romosozumab", dose_mg=210, interval_days=28, start_day=0, stop_day=168)]
    )
    conc = simulate_arm(typical, arm, params, Schedule(1.0, 168, (), (), ())).romosozumab_ng_ml[
        :, 0
    ]
    ratio = np.trapezoid(conc[140:169]) / np.trapezoid(conc[0:29])
    t_half = np.log(2) * 28 / np.log(ratio / (ratio - 1))
    assert 1.0 < ratio < 2.0
    assert (
        abs(
            t_half
            - targets["pk"]["romosozumab_210mg_single_dose"]["effective_half_life_days"]["value"]
        )
        < 4.0
    )


@pytest.mark.parametrize("drug", ["denosumab", "romosozumab"])
def test_mass_balance(params, drug):
    """Depot + central + peripheral + eliminated equals the absorbed dose (RK4 keeps it)."""
    ind = pk.individualize(
        getattr(params, drug), np.array([0.7, 1.0, 1.6]), np.array([1.2, 1.0, 0.8])
    )
    amounts = np.zeros((4, 3))
    amounts[0] = pk.absorbed_dose_mg(100.0, ind)
    stepper = pk.PKStepper.build(ind, 1.0, 4)
    for _ in range(300):
        amounts = stepper.advance(amounts)[1]
    np.testing.assert_allclose(amounts.sum(axis=0), pk.absorbed_dose_mg(100.0, ind), rtol=1e-12)
    assert np.all(amounts >= 0)
