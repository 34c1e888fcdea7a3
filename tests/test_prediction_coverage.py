"""Simulation-based calibration of the prediction intervals (analyses.prediction).

A problem with a known truth: true incidences (two arms) and a true mean BMD change are drawn
from a prior; a calibration trial observes them; the exact posterior (conjugate) gives K
"parameter sets", each an expected value; a *future* trial of another size is then run from the
truth. The prediction interval built from the K expected values and the sampling distribution at
the future trial's size must contain the future trial's estimate as often as it says: nominal
90 % and 95 % within 3 points, over ``REPLICATES`` truths. Coverage of 1,000 replicates has a
Monte Carlo SE of about 0.7-1 point.
"""

from __future__ import annotations

import numpy as np
import pytest

from osteotrial.analyses.prediction import mixture_quantile, ratio_log_se

REPLICATES = 1000
K = 100  # parameter sets (posterior draws) per replicate
CALIBRATION_N = 1500  # per arm, the trial the "model" was calibrated to
FUTURE_N = 1200  # per arm, the trial whose result is predicted
PRIOR_CONTROL = (6.0, 250.0)  # Beta prior of the control incidence: mean 2.3 %
PRIOR_TREATED = (4.0, 250.0)  # Beta prior of the treated incidence: mean 1.6 %
BMD_PRIOR = (5.0, 2.0)  # normal prior of the true mean % change (mean, SD)
BMD_SD = 4.0  # per-patient SD of the measured % change


def covered(interval: tuple[float, float], value: float) -> bool:
    return interval[0] <= value <= interval[1]


def interval(family: str, centres, spread, n: int, level: float) -> tuple[float, float]:
    probs = ((1 - level) / 2, (1 + level) / 2)
    return tuple(mixture_quantile(family, centres, spread, n, p) for p in probs)


def replicate(gen: np.random.Generator, level: float) -> dict[str, bool]:
    """Return which intervals of one truth cover the future trial's estimates."""
    p0, p1 = gen.beta(*PRIOR_CONTROL), gen.beta(*PRIOR_TREATED)
    x0, x1 = gen.binomial(CALIBRATION_N, p0), gen.binomial(CALIBRATION_N, p1)
    post0 = gen.beta(PRIOR_CONTROL[0] + x0, PRIOR_CONTROL[1] + CALIBRATION_N - x0, K)
    post1 = gen.beta(PRIOR_TREATED[0] + x1, PRIOR_TREATED[1] + CALIBRATION_N - x1, K)
    y0, y1 = gen.binomial(FUTURE_N, p0), gen.binomial(FUTURE_N, p1)
    # mean BMD change: normal prior, calibration mean of CALIBRATION_N women, normal posterior
    mu = gen.normal(*BMD_PRIOR)
    xbar = gen.normal(mu, BMD_SD / np.sqrt(CALIBRATION_N))
    precision = 1 / BMD_PRIOR[1] ** 2 + CALIBRATION_N / BMD_SD**2
    post_mean = (BMD_PRIOR[0] / BMD_PRIOR[1] ** 2 + xbar * CALIBRATION_N / BMD_SD**2) / precision
    post_mu = gen.normal(post_mean, 1 / np.sqrt(precision), K)
    future_mean = gen.normal(mu, BMD_SD / np.sqrt(FUTURE_N))
    out = {
        "incidence": covered(interval("binomial", post1, None, FUTURE_N, level), y1 / FUTURE_N),
        "bmd": covered(
            interval("normal", post_mu, np.full(K, BMD_SD / np.sqrt(FUTURE_N)), FUTURE_N, level),
            future_mean,
        ),
    }
    if y0 > 0 and y1 > 0:  # a risk ratio needs events in both arms, as in the trial's table
        se = ratio_log_se("risk_ratio", post1, post0, FUTURE_N, FUTURE_N)
        rr = interval("lognormal", post1 / post0, se, FUTURE_N, level)
        out["risk_ratio"] = covered(rr, y1 / y0)
    return out


@pytest.mark.parametrize("level", [0.90, 0.95])
def test_prediction_intervals_cover_a_future_trial_as_often_as_they_say(level):
    gen = np.random.default_rng(20261128 + int(level * 100))
    results = [replicate(gen, level) for _ in range(REPLICATES)]
    for statistic in ("incidence", "bmd", "risk_ratio"):
        hits = [r[statistic] for r in results if statistic in r]
        assert len(hits) > 0.95 * REPLICATES
        coverage = float(np.mean(hits))
        assert abs(coverage - level) <= 0.03, (statistic, level, coverage)


def test_intervals_centred_on_one_realised_trial_undercover():
    """The check can fail: centring on a realised estimate (the old method) misses."""
    gen = np.random.default_rng(7)
    hits = []
    for _ in range(400):
        p1 = gen.beta(*PRIOR_TREATED)
        realised = gen.binomial(CALIBRATION_N, p1) / CALIBRATION_N  # one trial's estimate
        centres = np.full(K, realised)  # no parameter spread: the realised value as the truth
        low, high = interval("binomial", centres, None, FUTURE_N, 0.95)
        hits.append(low <= gen.binomial(FUTURE_N, p1) / FUTURE_N <= high)
    assert np.mean(hits) < 0.92
