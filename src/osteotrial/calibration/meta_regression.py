"""Trial-level check of the fracture link against the Bouxsein 2019 meta-regression (S32).

Bouxsein et al. (JBMR 2019; 38 placebo-controlled trials, 19 agents) regressed each trial's
log relative risk on its mean difference in total-hip BMD change between arms:
log RR = a + b dTH%. The lines here are the two-point fits to the paper's worked numbers
(model-anchors 5.2, D): vertebral a = 0.047, b = -0.188 per % TH; hip a = -0.006, b = -0.084.
Nonvertebral fractures showed no association, so they get no line.

Why a check and not a term of the hazard: the meta-regression slope is a *trial-level* slope. It
contains everything that goes with a treatment's BMD gain (turnover, remodeling space,
microarchitecture), so applying it to each woman's own BMD change while the hazard also carries
the remodeling space would count the turnover benefit twice, and applying it to the untreated
loss would make a placebo arm's vertebral hazard climb about 20 % a year. The hazard keeps the
between-person gradient on the current T-score (Marshall 1996, S30) and the remodeling space;
this module checks that, together, they reproduce the trial-level line for drugs of both kinds
(``trial_level_points``; ``tests/test_meta_regression.py``).

Tolerance: ``LOG_RR_TOLERANCE`` on the log RR. The paper reports r^2 (vertebral 0.56, hip 0.48),
not the residual SD; 0.35 (a factor of 1.4 on the RR) is an assumption about the scatter of
single trials around the line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from osteotrial.calibration.fracture import expected_incidences
from osteotrial.calibration.objective import trial_design
from osteotrial.cohort.sampling import CohortSpec, sample_cohort
from osteotrial.engine.results import ArmResult
from osteotrial.engine.simulate import simulate_arm
from osteotrial.model.params import ModelParams
from osteotrial.units import DAYS_PER_MONTH

# (intercept, slope per % TH) of log RR = a + b dTH% (Bouxsein 2019, S32; two-point fit, D)
BOUXSEIN_LINES: dict[str, tuple[float, float]] = {
    "new_vertebral": (0.047, -0.188),
    "hip": (-0.006, -0.084),
}
LOG_RR_TOLERANCE = 0.35  # assumption: scatter of single trials around the line (see docstring)


@dataclasses.dataclass(frozen=True)
class TrialLevelPoint:
    """One emulated trial contrast: treated vs control arm at one month."""

    trial: str
    arm: str
    month: float
    th_difference_pct: float  # mean % change in total-hip BMD, treated minus control
    relative_risk: dict[str, float]  # expected incidence ratio per endpoint of BOUXSEIN_LINES

    def line_relative_risk(self, endpoint: str) -> float:
        """Return the RR that Bouxsein's line gives at this trial's hip BMD difference."""
        a, b = BOUXSEIN_LINES[endpoint]
        return float(np.exp(a + b * self.th_difference_pct))

    def log_rr_gap(self, endpoint: str) -> float:
        """Return log(emulated RR) - log(line RR): negative where the model is more protective."""
        return float(np.log(self.relative_risk[endpoint] / self.line_relative_risk(endpoint)))


def mean_th_change_pct(result: ArmResult, day: float) -> float:
    """Return the arm's mean % change in total-hip BMD at the record day nearest ``day``."""
    k = int(np.argmin(np.abs(result.record_days - day)))
    bmd = result.bmd_th_g_cm2
    return float(np.mean(bmd[k] / bmd[0] - 1.0) * 100.0)


def trial_level_points(
    trial: str,
    months: Sequence[float],
    model: Mapping[str, Any],
    n_per_arm: int,
) -> list[TrialLevelPoint]:
    """Return the treated-vs-control contrast of every non-control arm of a trial file.

    Incidences are expected values (``calibration.fracture.expected_incidences``), so the RRs
    carry no sampling noise beyond the cohort draw of ``n_per_arm`` women per arm.
    """
    design = trial_design(trial)
    params = ModelParams.from_dict(dict(model))
    spec = CohortSpec.from_dict(design.cohort_spec)
    cohort = sample_cohort(spec, dict.fromkeys(design.arms, n_per_arm), design.seed)
    results = {
        name: simulate_arm(cohort.select(cohort.arm == name), arm, params, design.schedule, False)
        for name, arm in design.arms.items()
    }
    control = results[design.control_arm]
    points = []
    for name, result in results.items():
        if name == design.control_arm:
            continue
        for month in months:
            day = month * DAYS_PER_MONTH
            treated_inc = expected_incidences(result, params, day)
            control_inc = expected_incidences(control, params, day)
            rr = {k: treated_inc[k] / control_inc[k] for k in BOUXSEIN_LINES}
            dth = mean_th_change_pct(result, day) - mean_th_change_pct(control, day)
            points.append(TrialLevelPoint(trial, name, float(month), dth, rr))
    return points
