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
    # lazily (lifelines, with its pandas): tests/test_imports.py
    from osteotrial.stats.aalen_johansen import VectorizedAalenJohansen

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
