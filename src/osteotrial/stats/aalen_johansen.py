"""lifelines' Aalen-Johansen fitter with its variance computed by cumulative sums.

Kept apart from ``stats.incidence`` (which calls it) because lifelines and the pandas it loads
take about 0.35 s to import: only the jobs that fit a curve pay it (tests/test_imports.py).
"""

from __future__ import annotations

import numpy as np
from lifelines import AalenJohansenFitter
from lifelines.utils import inv_normal_cdf


class VectorizedAalenJohansen(AalenJohansenFitter):
    """lifelines' Aalen-Johansen fitter with its variance computed by cumulative sums.

    lifelines 0.30.3 (pinned) computes the variance of the cumulative incidence (Collett's
    Greenwood-type formula, ``AalenJohansenFitter._bounds``) in a Python loop over the rows of
    its event table, one per distinct time: about 1.4 s per curve at 200,000 women and most of
    a large trial's safety tables (243 s of a 1,000,000-patient FRAME run). The loop adds each
    row's terms to running sums (``QuadraticAccumulator``, ``LinearAccumulator``) and
    evaluates them at the row's incidence; here the running sums are ``np.cumsum`` of the same
    terms, in the same order and with the same operations, and the confidence interval is
    lifelines' own code. tests/test_incidence.py holds it to lifelines' loop.
    """

    def _bounds(self, lagged_survival, alpha, ci_labels):
        df = self.event_table.copy()
        df["Ft"] = self.cumulative_density_
        df["lagS"] = lagged_survival.fillna(1)
        if ci_labels is None:
            ci = 1 - alpha
            ci_labels = [f"{self._label}_upper_{ci:g}", f"{self._label}_lower_{ci:g}"]
        df["variance"] = collett_variance(
            *(df[c].to_numpy(dtype=np.float64) for c in ("observed", "at_risk", "Ft", "lagS")),
            df[self.label_cmprisk].to_numpy(dtype=np.float64),
        )
        df["F_transformed"] = np.log(-np.log(df["Ft"]))
        df["se_transformed"] = np.sqrt(df["variance"]) / (df["Ft"] * np.absolute(np.log(df["Ft"])))
        zalpha = inv_normal_cdf(1 - alpha / 2)
        df[ci_labels[0]] = np.exp(-np.exp(df["F_transformed"] + zalpha * df["se_transformed"]))
        df[ci_labels[1]] = np.exp(-np.exp(df["F_transformed"] - zalpha * df["se_transformed"]))
        return df["variance"], df[ci_labels]


def collett_variance(observed, at_risk, incidence, lagged_survival, observed_event):
    """Return the variance of the cumulative incidence at each row of an Aalen-Johansen event
    table (``VectorizedAalenJohansen``): Var F(t) = sum d/(n(n-d)) (F(t) - F(t_i))^2 +
    sum S(t_i-)^2 d_k (n - d_k) / n^3 - 2 sum S(t_i-) d_k / n^2 (F(t) - F(t_i)), the sums over
    rows up to t (d every event, d_k the event of interest, n at risk)."""
    a = observed / at_risk / (at_risk - observed)
    quadratic = np.cumsum(a)
    linear = np.cumsum(-(2 * a * incidence))
    squared = _libm_square(incidence)
    const = np.cumsum(a * squared)
    first = const + linear * incidence + quadratic * squared
    second = np.cumsum(
        _libm_square(lagged_survival) * observed_event * (at_risk - observed_event) / (at_risk**3)
    )
    b = lagged_survival * observed_event / (at_risk**2)
    third = np.cumsum(-(b * incidence)) + np.cumsum(b) * incidence
    return first + second - 2 * third


def _libm_square(values: np.ndarray) -> np.ndarray:
    """Return values ** 2 as lifelines' loop takes it, libm's pow(x, 2.0) of each scalar
    (numpy squares an array as x * x, which rounds differently in rare cases)."""
    return np.array([v**2.0 for v in values.tolist()], dtype=np.float64)
