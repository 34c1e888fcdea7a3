"""The Cox proportional-hazards model of one binary covariate (treated vs reference).

The partial likelihood (Efron's method for tied event times, as lifelines' CoxPHFitter) of one
binary covariate depends only on the numbers at risk and the events per group at each distinct
event time, so Newton-Raphson on it takes O(n log n) for the counts and O(events) per
iteration: well under a second at 10^6 patients, where lifelines takes 13 s per fit.
``cox_hazard_ratio_lifelines`` fits the same model with lifelines, run to convergence; tests
check that the two agree to 1e-9 (relative), with and without tied times.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from osteotrial.stats.intervals import CONFIDENCE

CoxResult = tuple[float, float, float, float]
NANS: CoxResult = (float("nan"),) * 4
# lifelines' Newton-Raphson stops at a step of 1e-7 or a relative change of the log-likelihood
# of 1e-9 by default, which leaves ~1e-7 relative in the hazard ratio: run it to convergence.
LIFELINES_FIT_OPTIONS = {"precision": 1e-12, "r_precision": 1e-15}


class EfronTerms(NamedTuple):
    """The terms of Efron's partial likelihood, one per event (ties expanded, j = 0 .. d-1).

    ``n0``/``n1``: numbers at risk per group at the event's time; ``e0``/``e1``: events per
    group at that time; ``frac``: j / d of the event among the d tied at its time;
    ``events_treated``: total events in the treated group.
    """

    n0: np.ndarray
    n1: np.ndarray
    e0: np.ndarray
    e1: np.ndarray
    frac: np.ndarray
    events_treated: float


def efron_terms(duration: np.ndarray, event: np.ndarray, treated: np.ndarray) -> EfronTerms:
    """Return the Efron terms of durations (n,) with event and treated flags (bool, (n,))."""
    times, inverse = np.unique(duration[event], return_inverse=True)
    d1 = np.bincount(inverse, weights=treated[event], minlength=times.size)
    d = np.bincount(inverse, minlength=times.size).astype(np.float64)
    d0 = d - d1
    at_risk = {}
    for group, mask in ((1, treated), (0, ~treated)):
        sorted_dur = np.sort(duration[mask])
        at_risk[group] = sorted_dur.size - np.searchsorted(sorted_dur, times, side="left")
    # Efron: the d tied events of a time contribute terms j = 0 .. d-1
    rep = np.repeat(np.arange(times.size), d.astype(np.int64))
    first = np.repeat(np.cumsum(d) - d, d.astype(np.int64))
    frac = (np.arange(rep.size) - first) / d[rep]
    n0, n1 = at_risk[0][rep].astype(np.float64), at_risk[1][rep].astype(np.float64)
    return EfronTerms(n0, n1, d0[rep], d1[rep], frac, d1.sum())


def score_and_information(beta: float, terms: EfronTerms) -> tuple[float, float]:
    """Return the score and the observed information of the log partial likelihood at beta."""
    r = np.exp(beta)
    a = terms.n0 + terms.n1 * r - terms.frac * (terms.e0 + terms.e1 * r)
    p = r * (terms.n1 - terms.frac * terms.e1) / a
    return terms.events_treated - p.sum(), float(np.sum(p * (1.0 - p)))


def fit_log_hazard_ratio(terms: EfronTerms) -> tuple[float, float] | None:
    """Return (beta, model-based SE) maximizing Efron's partial likelihood of ``terms`` by
    Newton-Raphson from 0; None when it has no finite maximum (e.g. no event in a group)."""
    beta = 0.0
    for _ in range(100):
        score, info = score_and_information(beta, terms)
        if not np.isfinite(info) or info <= 0.0:
            return None
        step = score / info
        beta += step
        if abs(step) < 1e-12 * max(1.0, abs(beta)):
            break
    else:
        return None
    se = 1.0 / np.sqrt(score_and_information(beta, terms)[1])
    if not (np.isfinite(beta) and np.isfinite(se)) or abs(beta) > 50.0:
        return None
    return beta, float(se)


def cox_hazard_ratio(
    duration_days: np.ndarray, event: np.ndarray, treated: np.ndarray
) -> CoxResult:
    """Return (hazard ratio, 95 % CI low, high, Wald p) of ``treated`` in a Cox model.

    All arrays have shape (n,). Returns nans when there is no event or the fit fails (e.g. no
    event in one group, where the partial likelihood has no finite maximum). Newton-Raphson
    from beta = 0 on Efron's partial likelihood (module docstring); Wald interval and test.
    """
    from scipy import stats  # lazily: tests/test_imports.py

    event = np.asarray(event, dtype=bool)
    treated = np.asarray(treated, dtype=bool)
    duration = np.asarray(duration_days, dtype=np.float64)
    if event.sum() == 0 or event[treated].sum() == 0 or event[~treated].sum() == 0:
        return NANS
    terms = efron_terms(duration, event, treated)
    fitted = fit_log_hazard_ratio(terms)
    if fitted is None:
        return NANS
    beta, se = fitted
    z = stats.norm.ppf(0.5 + CONFIDENCE / 2.0)
    return (
        float(np.exp(beta)),
        float(np.exp(beta - z * se)),
        float(np.exp(beta + z * se)),
        float(stats.chi2.sf((beta / se) ** 2, 1)),
    )


def cox_hazard_ratio_lifelines(
    duration_days: np.ndarray, event: np.ndarray, treated: np.ndarray
) -> CoxResult:
    """Return what ``cox_hazard_ratio`` returns, fitted by lifelines (tests compare the two)."""
    import pandas as pd  # lazily: tests/test_imports.py
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    if event.sum() == 0 or event[treated].sum() == 0 or event[~treated].sum() == 0:
        return NANS
    frame = pd.DataFrame(
        {"duration": duration_days, "event": event.astype(int), "treated": treated.astype(float)}
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = CoxPHFitter().fit(frame, "duration", "event", fit_options=LIFELINES_FIT_OPTIONS)
    except (ConvergenceError, ValueError, np.linalg.LinAlgError):
        return NANS
    row = fit.summary.loc["treated"]
    return (
        float(row["exp(coef)"]),
        float(row["exp(coef) lower 95%"]),
        float(row["exp(coef) upper 95%"]),
        float(row["p"]),
    )
