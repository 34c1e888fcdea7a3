"""The fracture link reproduces the trial-level BMD-fracture line (Bouxsein 2019, S32).

The model was fitted to FRAME's fractures only (romosozumab, year 1). FREEDOM's contrast
(denosumab, 3 years) is not a target: its agreement with the meta-regression line checks that
BMD (between-person gradient) and remodeling space together carry over from an anabolic to an
antiresorptive without a within-person BMD term that would count turnover twice
(calibration.meta_regression).
"""

from __future__ import annotations

from pathlib import Path

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


def test_a_larger_hip_gain_gives_a_lower_line_relative_risk():
    low, high = (trial_level_points("frame", [m], MODEL, N_PER_ARM)[0] for m in (3, 12))
    assert high.th_difference_pct > low.th_difference_pct
    assert high.line_relative_risk("new_vertebral") < low.line_relative_risk("new_vertebral")
    assert high.relative_risk["new_vertebral"] < low.relative_risk["new_vertebral"]
