"""Significance tests of two groups with binary outcomes: Fisher's exact test, pooled z-test."""

from __future__ import annotations

import numpy as np
from scipy import stats

from osteotrial.arrays import FloatArray


def fisher_exact_p(x1: int, n1: int, x0: int, n0: int) -> float:
    """Return the two-sided p-value of Fisher's exact test of x1/n1 against x0/n0."""
    return float(stats.fisher_exact([[x1, n1 - x1], [x0, n0 - x0]])[1])


def pooled_z_test(x1, n1, x0, n0) -> FloatArray:
    """Return two-sided p-values of the pooled z-test of two proportions (arrays broadcast).

    z = (p1 - p0) / sqrt(p (1 - p) (1/n1 + 1/n0)) with p = (x1 + x0) / (n1 + n0), p-value
    2 Phi(-|z|) (the uncorrected chi-square test of the 2 x 2 table). p = 1 where the pooled
    variance is zero (no event, or only events) or an arm is empty.
    """
    x1, n1, x0, n0 = (np.asarray(v, dtype=np.float64) for v in (x1, n1, x0, n0))
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (x1 + x0) / (n1 + n0)
        se = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n0))
        z = (x1 / n1 - x0 / n0) / se
        p = 2.0 * stats.norm.sf(np.abs(z))
    return np.where((n1 > 0) & (n0 > 0) & (se > 0), p, 1.0)
