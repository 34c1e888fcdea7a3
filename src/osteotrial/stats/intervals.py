"""Confidence intervals: proportions, means, risk ratios and paired differences (95 %)."""

from __future__ import annotations

import numpy as np

from osteotrial.arrays import FloatArray

CONFIDENCE = 0.95
NAN = float("nan")


def proportion_ci(n_events: int, n_patients: int) -> tuple[float, float]:
    """Return the Wilson 95 % interval of a proportion (nan, nan when n_patients is 0)."""
    from scipy import stats  # lazily: tests/test_imports.py

    if n_patients == 0:
        return NAN, NAN
    ci = stats.binomtest(n_events, n_patients).proportion_ci(CONFIDENCE, method="wilson")
    return float(ci.low), float(ci.high)


def proportion_ci_arrays(n_events: np.ndarray, n_patients: np.ndarray) -> tuple:
    """Return the Wilson 95 % intervals (low, high) of many proportions at once (elementwise
    ``proportion_ci``: the same formula, without scipy's per-call cost); nan where n is 0.
    With no event the lower limit is exactly 0 and with every patient an event the upper is
    exactly 1 (Wilson's limits there; centre minus half-width would leave rounding, 1e-19)."""
    from scipy import stats  # lazily: tests/test_imports.py

    n = np.asarray(n_patients, dtype=np.float64)
    k = np.asarray(n_events, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        z2 = stats.norm.ppf(0.5 + CONFIDENCE / 2) ** 2
        center = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = np.sqrt(z2 * p * (1 - p) / n + z2**2 / (4 * n**2)) / (1 + z2 / n)
    low = np.where(k == 0, 0.0, np.clip(center - half, 0.0, 1.0))
    high = np.where(k == n, 1.0, np.clip(center + half, 0.0, 1.0))
    return np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


def mean_ci_arrays(mean: np.ndarray, sd: np.ndarray, n: np.ndarray) -> tuple:
    """Return the t-based 95 % intervals (low, high) of many means from their SD and n
    (elementwise ``mean_ci``); nan below 2 values."""
    from scipy import stats  # lazily: tests/test_imports.py

    n = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + CONFIDENCE / 2, df=np.where(n >= 2, n - 1, np.nan))
        half = half * np.asarray(sd, dtype=np.float64) / np.sqrt(n)
    return mean - half, mean + half


def mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    """Return (mean, 95 % CI low, high) with a t interval; CI is nan below 2 values."""
    from scipy import stats  # lazily: tests/test_imports.py

    if values.size == 0:
        return (NAN,) * 3
    mean = float(np.mean(values))
    if values.size < 2:
        return mean, NAN, NAN
    sem = float(np.std(values, ddof=1)) / np.sqrt(values.size)
    if sem == 0.0:
        return mean, mean, mean
    low, high = stats.t.interval(CONFIDENCE, df=values.size - 1, loc=mean, scale=sem)
    return mean, float(low), float(high)


def risk_ratio_ci(x1: int, n1: int, x0: int, n0: int) -> tuple[float, float, float]:
    """Return (risk ratio, 95 % CI low, high) of x1/n1 against x0/n0, log-normal interval.

    ``scipy.stats.contingency.relative_risk``; nans when a group is empty.
    """
    from scipy.stats.contingency import relative_risk  # lazily: tests/test_imports.py

    if not (n1 and n0):
        return (NAN,) * 3
    rr = relative_risk(x1, n1, x0, n0)
    low, high = rr.confidence_interval(CONFIDENCE)
    return float(rr.relative_risk), float(low), float(high)


def risk_ratio(x1, n1, x0, n0) -> FloatArray:
    """Return (x1/n1) / (x0/n0); 0.5 is added to every cell only where a cell is zero.

    Haldane-Anscombe: ((x1 + .5) / (n1 + 1)) / ((x0 + .5) / (n0 + 1)) where one of the cells
    x1, n1 - x1, x0, n0 - x0 is zero (arrays broadcast).
    """
    x1, n1, x0, n0 = (np.asarray(v, dtype=np.float64) for v in (x1, n1, x0, n0))
    zero = (x1 == 0) | (x1 == n1) | (x0 == 0) | (x0 == n0)
    c = np.where(zero, 0.5, 0.0)
    return ((x1 + c) / (n1 + 2 * c)) / ((x0 + c) / (n0 + 2 * c))


def paired_mean_difference(treated: np.ndarray, control: np.ndarray) -> tuple[float, ...]:
    """Return (mean control, mean treated, mean difference, CI low, CI high) over pairs.

    Pairs with a nan on either side are left out; the interval is the t interval of the
    per-pair differences (``mean_ci``).
    """
    keep = ~(np.isnan(treated) | np.isnan(control))
    if not keep.any():
        return (NAN,) * 5
    difference = mean_ci(treated[keep] - control[keep])
    return float(np.mean(control[keep])), float(np.mean(treated[keep])), *difference


def paired_risk_ratio(treated: np.ndarray, control: np.ndarray) -> tuple[float, float, float]:
    """Return (risk ratio, CI low, CI high) of paired binary outcomes (delta method, log scale).

    var(log RR) = [s1^2/p1^2 + s0^2/p0^2 - 2 s10/(p1 p0)] / n with the sample covariance of the
    two outcomes; pairs with a nan are left out; nan when either risk is 0 (the log ratio is
    undefined) or fewer than 2 pairs remain.
    """
    from scipy import stats  # lazily: tests/test_imports.py

    keep = ~(np.isnan(treated) | np.isnan(control))
    y1, y0 = treated[keep], control[keep]
    n = y1.size
    p1, p0 = (float(np.mean(y1)), float(np.mean(y0))) if n else (0.0, 0.0)
    if n < 2 or p1 == 0.0 or p0 == 0.0:
        return NAN, NAN, NAN
    covariance = np.cov(y1, y0, ddof=1)
    variance = (
        covariance[0, 0] / p1**2 + covariance[1, 1] / p0**2 - 2 * covariance[0, 1] / (p1 * p0)
    ) / n
    z = stats.norm.ppf(0.5 + CONFIDENCE / 2)
    half = z * np.sqrt(max(variance, 0.0))
    ratio = p1 / p0
    return ratio, float(ratio * np.exp(-half)), float(ratio * np.exp(half))
