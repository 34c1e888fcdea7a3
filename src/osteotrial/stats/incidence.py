"""Cumulative incidence with death as a competing risk (Aalen-Johansen, lifelines).

1 - Kaplan-Meier treats a woman who died as if she could still fracture later, so it
overstates the incidence in an old population; the Aalen-Johansen estimator counts death as an
event that ends the risk of fracture. Status per woman, followed to ``end_day``: 1 if her first
observed event of the endpoint happened first, 2 if she died first, 0 if she was censored
(dropout, or still followed at the end).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from lifelines import AalenJohansenFitter
from lifelines.utils import inv_normal_cdf

from osteotrial.units import DAYS_PER_MONTH

EVENT, DEATH = 1, 2
JITTER_SEED = 0  # lifelines breaks tied event times with a seeded jitter: same input, same curve


def incidence_hazard_ratio(p1: float, p0: float) -> float:
    """Return the hazard ratio of two cumulative incidences, log(1 - p1) / log(1 - p0): the
    ratio of their cumulative hazards, exact under proportional hazards (nan if p0 is 0)."""
    return float(np.log1p(-p1) / np.log1p(-p0)) if p0 > 0 else float("nan")


def competing_status(
    event_day: np.ndarray, death_day: np.ndarray, exit_day: np.ndarray, end_day: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return (time in months, status) per woman (module docstring).

    ``event_day``: first observed event (inf if none); ``death_day``: death (inf if none);
    ``exit_day``: min(death, dropout).
    """
    stop = np.minimum(np.minimum(event_day, exit_day), end_day)
    status = np.zeros(stop.size, dtype=np.int64)
    status[(death_day <= stop) & (death_day < event_day)] = DEATH
    status[event_day <= stop] = EVENT
    return stop / DAYS_PER_MONTH, status


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


def aalen_johansen(
    months: np.ndarray, status: np.ndarray, at_months: Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (times, cumulative incidence, 95 % CI low, high) of status ``EVENT``.

    With ``at_months`` the step function is read at those months; else at its own steps.
    Without any event the incidence is 0 throughout.
    """
    if not np.any(status == EVENT):
        times = np.asarray(at_months if at_months is not None else [0.0], dtype=np.float64)
        zero = np.zeros(times.size)
        return times, zero, zero, zero
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines warns when it jitters tied times
        fitter = VectorizedAalenJohansen(seed=JITTER_SEED).fit(
            months, status, event_of_interest=EVENT
        )
    steps = fitter.cumulative_density_.index.to_numpy()
    cif = fitter.cumulative_density_.to_numpy()[:, 0]
    ci = np.nan_to_num(fitter.confidence_interval_cumulative_density_.to_numpy())
    if at_months is None:
        return steps, cif, ci[:, 0], ci[:, 1]
    index = np.searchsorted(steps, np.asarray(at_months, dtype=np.float64), side="right") - 1
    pick = np.clip(index, 0, None)
    value = np.where(index >= 0, cif[pick], 0.0)
    low, high = (np.where(index >= 0, ci[pick, j], 0.0) for j in (0, 1))
    return np.asarray(at_months, dtype=np.float64), value, low, high
