"""The postmenopausal-osteoporosis trials land on every calibration target.

FRAME and FREEDOM at the published arm sizes (7,180 and 7,808 women), the FREEDOM extension,
the DEFEND-like discontinuation, the dose-ranging trial and the FREEDOM QCT substudy (bone
strength), run through the workflow and compared with targets.yaml (tests/calibration_runs.py
says how; the other populations are in test_calibration_populations.py). The cohort baselines
are checked against targets.yaml in test_cohort.py.
"""

from __future__ import annotations

import pytest
from calibration_runs import (
    OSTEOPOROSIS_TRIALS,
    check_every_target_is_compared,
    check_every_target_is_within_tolerance,
    run_and_compare,
)


@pytest.fixture(scope="module", params=OSTEOPOROSIS_TRIALS)
def calibration(request, tmp_path_factory):
    return run_and_compare(request.param, tmp_path_factory.mktemp(request.param))


def test_every_target_is_compared(calibration):
    check_every_target_is_compared(*calibration)


def test_every_target_is_within_tolerance(calibration):
    check_every_target_is_within_tolerance(*calibration)
