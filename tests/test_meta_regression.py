"""The fracture link reproduces the trial-level BMD-fracture line (Bouxsein 2019, S32).

The model was fitted to FRAME's fractures only (romosozumab, year 1). FREEDOM's contrast
(denosumab, 3 years) is not a target: its agreement with the meta-regression line checks that
BMD (between-person gradient) and remodeling space together carry over from an anabolic to an
antiresorptive without a within-person BMD term that would count turnover twice
(calibration.meta_regression).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from osteotrial.calibration.meta_regression import (
    BOUXSEIN_LINES,
    LOG_RR_TOLERANCE,
    trial_level_points,
)

MODEL = yaml.safe_load((Path(__file__).parents[1] / "config" / "model.yaml").read_text())
N_PER_ARM = 500


@pytest.mark.parametrize("trial,month", [("frame", 12), ("freedom", 36)])
def test_trial_level_relative_risks_lie_on_the_meta_regression_line(trial, month):
    (point,) = trial_level_points(trial, [month], MODEL, N_PER_ARM)
    assert point.th_difference_pct > 3.0  # a real BMD contrast, else the check says nothing
    for endpoint in BOUXSEIN_LINES:
        gap = point.log_rr_gap(endpoint)
        assert abs(gap) < LOG_RR_TOLERANCE, (endpoint, point)


def test_the_emulated_relative_risk_falls_as_the_hip_gain_grows():
    """Within FRAME, months 3, 6 and 12: as the romosozumab arm's hip gain over placebo grows,
    the emulated relative risk of new vertebral and of hip fractures falls at every step (the
    direction of Bouxsein's trial-level line, here within one trial)."""
    points = trial_level_points("frame", [3, 6, 12], MODEL, N_PER_ARM)
    assert np.all(np.diff([p.th_difference_pct for p in points]) > 0.5)
    for endpoint in BOUXSEIN_LINES:
        rr = [p.relative_risk[endpoint] for p in points]
        assert np.all(np.diff(rr) < 0.0) and rr[-1] < 1.0, (endpoint, rr)
