"""Where one trial's published figure may fall: the 95 % interval of a draw around the model.

A published fracture incidence is itself one draw: k events among n women. The calibration
check of a fracture row (``calibration.comparison``) therefore asks whether the published value
lies where a trial *of the published size* would put it 95 % of the time if the model were
true, i.e. inside the interval of a draw around the model's *expected* incidence for the
trial's own cohort (``trial.jobs.trial_expected_fractures``), not inside the interval of the
emulator's own draw (that rule counts the emulator's luck twice: a model exactly right fails
it about 17 % of the time at two equal draws, and a row can fail though the expected value is
inside, as FRAME's romosozumab nonvertebral row did: 42/3589 drawn, 1.52 % expected, 1.6 %
published).

- incidence: the central 95 % range of Binomial(n, p) / n, p the expected incidence, n the
  published arm size (``binomial_interval``);
- risk or hazard ratio: the normal interval of the log ratio of a trial with the published arm
  sizes at the expected incidences p1, p0 (``ratio_interval``): var log RR = (1 - p1) / (n1 p1)
  + (1 - p0) / (n0 p0) (crude proportions, delta method); var log HR = 1 / d1 + 1 / d0 with d
  = n p the expected events (the Cox estimate's information, Peto). Centred on the expected
  ratio, so the same question as for an incidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import polars as pl
from scipy import stats

from osteotrial.calibration.estimates import NAN, Z95, Estimate, pick

# the quantiles of the central range: the level of every normal interval here (Z95)
TAILS = (float(stats.norm.cdf(-Z95)), float(stats.norm.cdf(Z95)))


def binomial_interval(p: float, n: float) -> Estimate:
    """Return p with the central 95 % range of a proportion of n draws at probability p."""
    if not (n >= 1 and 0.0 <= p <= 1.0):
        return Estimate(p, NAN, NAN)
    n = int(round(n))
    low, high = stats.binom.ppf(TAILS, n, p) / n
    return Estimate(p, float(low), float(high))


def log_ratio_se(measure: str, p1: float, n1: float, p0: float, n0: float) -> float:
    """Return the SE of the log risk or hazard ratio of a trial of n1, n0 women at p1, p0."""
    if min(p1, p0, n1, n0) <= 0.0:
        return NAN
    if measure == "risk_ratio":
        return math.sqrt((1.0 - p1) / (n1 * p1) + (1.0 - p0) / (n0 * p0))
    if measure == "hazard_ratio":
        return math.sqrt(1.0 / (n1 * p1) + 1.0 / (n0 * p0))
    raise ValueError(f"measure={measure!r}; allowed: risk_ratio, hazard_ratio")


def ratio_interval(
    measure: str, ratio: float, p1: float, n1: float, p0: float, n0: float
) -> Estimate:
    """Return the expected ``ratio`` with the 95 % range of a trial's estimate of it."""
    se = log_ratio_se(measure, p1, n1, p0, n0)
    if not (ratio > 0.0 and math.isfinite(se)):
        return Estimate(ratio, NAN, NAN)
    return Estimate(ratio, ratio * math.exp(-Z95 * se), ratio * math.exp(Z95 * se))


def arm_size(targets: Mapping[str, Any], fractures: pl.DataFrame, arm: str, t: Mapping) -> float:
    """Return the published size of an arm for an endpoint and month (the ``n`` of its
    incidence target), else the emulated trial's number of patients in that row."""
    for entry in targets.get("fracture_incidence", []):
        same = (entry["arm"], entry["endpoint"], float(entry["month"]))
        if same == (arm, t["endpoint"], float(t["month"])) and "n" in entry:
            return float(entry["n"])
    got = pick(fractures, arm=arm, endpoint=t["endpoint"], month=float(t["month"]))
    return NAN if got is None else float(got["n_patients"])
