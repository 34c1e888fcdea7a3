"""Typical-to-cohort offsets of the remodeling stage's mean rows (calibration.cohort_offset)."""

from __future__ import annotations

import numpy as np
import pytest

from osteotrial.calibration import cohort_offset
from osteotrial.calibration.objective import trial_design, typical_patient
from osteotrial.calibration.remodeling import remodeling_targets, typical_emulated
from osteotrial.calibration.targets import read_targets
from osteotrial.engine.simulate import simulate_arm
from osteotrial.trial.schedules import Schedule
from osteotrial.units import DAYS_PER_MONTH

DATA = read_targets()
GOALS = remodeling_targets(DATA)
EXTENSION_LS = "trials.freedom_extension.bmd_pct_change[0]"


@pytest.fixture(scope="module")
def offsets(params):
    return cohort_offset.cohort_offsets(params, DATA, GOALS, typical_emulated)


def test_only_trial_means_get_an_offset(offsets):
    """BMD % change, BMD points versus placebo and strength rows get one; PK, marker ratios and
    CTX rows (medians, figure points, one-dose studies) keep the typical value."""
    for goal, value in zip(GOALS, offsets, strict=True):
        kind = goal.probe[0]
        mean_row = kind in ("bmd", "strength") or goal.source.endswith("_bmd_pct_points")
        assert cohort_offset.has_offset(goal) == mean_row, goal.source
        if not mean_row:
            assert value == 0.0, goal.source
    assert np.count_nonzero(offsets) == sum(map(cohort_offset.has_offset, GOALS)) >= 12


def test_extension_offset_is_the_cohort_mean_minus_the_typical_woman(params, offsets):
    """The month-60 LS offset of the FREEDOM extension equals, computed here by another path
    (``simulate_arm`` of the trial's own women under its denosumab arm), the mean % change of
    the cohort minus the typical woman's; the cohort lands below her, and the gap grows with the
    length of treatment (FRAME's month-12 LS gap is smaller)."""
    design = trial_design("freedom_extension")
    days = tuple(m * 12 * DAYS_PER_MONTH for m in range(6))  # the extension's yearly visits
    schedule = Schedule(design.schedule.dt_days, days[-1], (), days, ())
    arm = design.arms["denosumab"]
    women = simulate_arm(cohort_offset.cohort_of("freedom_extension"), arm, params, schedule)
    typical = simulate_arm(typical_patient("freedom_extension"), arm, params, schedule)
    k = int(np.argmin(np.abs(women.record_days - days[-1])))
    change = (women.bmd_ls_g_cm2[k] / women.bmd_ls_g_cm2[0] - 1.0) * 100.0
    alone = (typical.bmd_ls_g_cm2[k, 0] / typical.bmd_ls_g_cm2[0, 0] - 1.0) * 100.0
    row = [g.source for g in GOALS].index(EXTENSION_LS)
    assert offsets[row] == pytest.approx(np.mean(change) - alone, abs=1e-9)
    assert women.bmd_ls_g_cm2.shape[1] == cohort_offset.N_PATIENTS
    frame_ls = [g.source for g in GOALS].index("trials.frame.bmd_pct_change[0]")
    assert offsets[row] < offsets[frame_ls] < 0.0
