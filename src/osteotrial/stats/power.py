"""Power and sample size of the two-sided pooled z-test of two proportions (``tests``).

``analytic_power`` is the normal approximation without continuity correction (Fleiss, Levin &
Paik 2003, ch. 4): with d = |p1 - p0|, s0 the pooled standard error under H0 (p = weighted mean
of p1 and p0) and s1 = sqrt(p1 q1 / n1 + p0 q0 / n0), power = Phi((d - z s0) / s1) +
Phi((-d - z s0) / s1), z = Phi^-1(1 - alpha / 2). ``exact_power`` enumerates both binomials.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from osteotrial.arrays import FloatArray
from osteotrial.stats.tests import pooled_z_test


def analytic_power(p1, p0, n1, n0, alpha: float) -> FloatArray:
    """Return the power of the two-sided pooled z-test at true proportions p1, p0 (broadcast).

    Normal approximation without continuity correction (Fleiss, Levin & Paik 2003); sizes may
    be fractional (expected numbers assessed). 0 when p1 = p0 in {0, 1}.
    """
    p1, p0, n1, n0 = (np.asarray(v, dtype=np.float64) for v in (p1, p0, n1, n0))
    z = stats.norm.ppf(1.0 - alpha / 2.0)
    pooled = (n1 * p1 + n0 * p0) / (n1 + n0)
    s0 = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n0))
    s1 = np.sqrt(p1 * (1.0 - p1) / n1 + p0 * (1.0 - p0) / n0)
    d = np.abs(p1 - p0)
    with np.errstate(divide="ignore", invalid="ignore"):
        power = stats.norm.cdf((d - z * s0) / s1) + stats.norm.cdf((-d - z * s0) / s1)
    return np.where(s1 > 0, power, (d > 0).astype(np.float64))


def required_n_per_arm(
    p1: float, p0: float, target_power: float, alpha: float, assessed_frac: float = 1.0
) -> float:
    """Return patients per arm for ``target_power`` (textbook formula, equal arms, no CC).

    n = (z_a sqrt(2 p q) + z_b sqrt(p1 q1 + p0 q0))^2 / (p1 - p0)^2 assessed per arm, p the
    mean of p1 and p0, divided by ``assessed_frac`` (share of randomized patients assessed).
    """
    z_a, z_b = stats.norm.ppf(1.0 - alpha / 2.0), stats.norm.ppf(target_power)
    pooled = (p1 + p0) / 2.0
    root = z_a * np.sqrt(2 * pooled * (1 - pooled)) + z_b * np.sqrt(p1 * (1 - p1) + p0 * (1 - p0))
    return float(root**2 / (p1 - p0) ** 2 / assessed_frac)


def exact_power(p1: float, p0: float, n1: int, n0: int, alpha: float) -> float:
    """Return the power of the pooled z-test by enumerating both binomials (n fixed).

    The reference for the normal approximation of ``analytic_power`` when events are few.
    """
    x1 = np.arange(n1 + 1)[:, np.newaxis]
    x0 = np.arange(n0 + 1)[np.newaxis, :]
    weight = stats.binom.pmf(x1, n1, p1) * stats.binom.pmf(x0, n0, p0)
    return float(np.sum(weight * (pooled_z_test(x1, n1, x0, n0) < alpha)))
