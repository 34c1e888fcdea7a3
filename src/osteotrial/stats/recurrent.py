"""First and recurrent events of two arms: lifelines and statsmodels, and one own estimator.

- ``cox_first_event``: lifelines' CoxPHFitter (Efron ties), one binary covariate (treated vs
  reference), stratified when strata are given; death censors, so the hazard ratio is the
  cause-specific one the SRE trials reported. Wald 95 % interval and p.
- ``km_median`` / ``km_incidence``: lifelines' KaplanMeierFitter: the median time to the first
  event with its 95 % interval (lifelines' ``median_survival_times`` of the pointwise
  exponential-Greenwood band, the Brookmeyer-Crowley construction), and 1 - KM on a grid.
- ``andersen_gill``: the rate ratio of all (first and subsequent) events: a Cox model on
  counting-process rows (start, stop], as Andersen and Gill (1982), with Lin-Wei-Yang-Ying's
  robust variance clustered by patient. Own code (Efron's partial likelihood of one binary
  covariate, as ``stats.cox``): lifelines' CoxPHFitter with ``entry_col`` grows quadratically
  and its robust variance is wrong on such rows (``andersen_gill``); tests check the ratio
  against lifelines and statsmodels' PHReg, the variance against PHReg's score residuals.
- ``negative_binomial``: the rate ratio of the event counts per patient from statsmodels' NB2
  regression with offset log(follow-up), overdispersion estimated by maximum likelihood.
- ``ghosh_lin_mcf``: own numpy code (no well-kept Python library has it): the mean cumulative
  function with death as a terminal event (Ghosh and Lin 2000), MCF(t) = sum over event times
  t_j <= t of S(t_j-) dN(t_j) / Y(t_j): the Kaplan-Meier survival from death just before t_j
  times the Nelson-Aalen rate among the patients still followed. Without deaths it is the
  Nelson-Aalen MCF (Nelson 1995). ``tests/test_sre.py`` checks it against lifelines'
  NelsonAalenFitter (counting-process entry) and KaplanMeierFitter on the same data.

Statistics that cannot be estimated (no event, one arm without patients) are nan.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.utils import median_survival_times
from scipy import stats

from osteotrial.stats.cox import EfronTerms, fit_log_hazard_ratio
from osteotrial.stats.intervals import CONFIDENCE

NAN = float("nan")


class Ratio(NamedTuple):
    """A ratio of two arms (treated / reference) with its 95 % interval and Wald p-value."""

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float


NAN_RATIO = Ratio(NAN, NAN, NAN, NAN)


def _cox_ratio(frame: pd.DataFrame, **fit_options) -> Ratio:
    """Fit lifelines' CoxPHFitter with covariate ``treated``; return its Ratio (nan if the fit
    fails or there is no event in an arm)."""
    if frame.groupby("treated")["event"].sum().min() == 0 or frame["treated"].nunique() < 2:
        return NAN_RATIO
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitter = CoxPHFitter(alpha=1 - CONFIDENCE).fit(frame, **fit_options)
    row = fitter.summary.loc["treated"]
    lower, upper = (c for c in fitter.summary.columns if c.startswith("exp(coef) "))  # ordered
    return Ratio(float(row["exp(coef)"]), float(row[lower]), float(row[upper]), float(row["p"]))


def cox_first_event(
    duration: np.ndarray, event: np.ndarray, treated: np.ndarray, strata: np.ndarray | None = None
) -> Ratio:
    """Return the hazard ratio (treated vs reference) of the time to a first event (module
    docstring); arrays (n,), strata optional (n,) labels."""
    frame = pd.DataFrame(
        {"duration": duration, "event": np.asarray(event, int), "treated": np.asarray(treated, int)}
    )
    options = {"duration_col": "duration", "event_col": "event"}
    if strata is not None:
        frame["stratum"] = strata
        options["strata"] = ["stratum"]
    return _cox_ratio(frame, **options)


def _at_risk(start: np.ndarray, stop: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Return the number of rows (start, stop] at risk at each of ``times``."""
    starts, stops = np.sort(start), np.sort(stop)
    return np.searchsorted(starts, times, side="left") - np.searchsorted(stops, times, "left")


def _score_residuals(rows: pd.DataFrame, beta: float) -> tuple[np.ndarray, float]:
    """Return (score residual per row, information) of one stratum's counting-process rows at
    log rate ratio ``beta``: Lin, Wei, Yang and Ying's residuals in Breslow's form, L_r =
    event_r (x_r - xbar(stop_r)) - sum over event times t_j in (start_r, stop_r] of
    exp(beta x_r) (x_r - xbar_j) dN_j / S0_j, with S0 = n0 + n1 exp(beta), xbar = n1
    exp(beta) / S0; information sum_j dN_j xbar_j (1 - xbar_j)."""
    start, stop = rows["start"].to_numpy(float), rows["stop"].to_numpy(float)
    event, x = rows["event"].to_numpy(bool), rows["treated"].to_numpy(float)
    times, d_n = np.unique(stop[event], return_counts=True)
    n1 = _at_risk(start[x == 1], stop[x == 1], times)
    n0 = _at_risk(start[x == 0], stop[x == 0], times)
    s0 = n0 + n1 * np.exp(beta)
    xbar = n1 * np.exp(beta) / s0
    c1, cx = (np.r_[0.0, np.cumsum(v * d_n / s0)] for v in (np.ones(times.size), xbar))

    def upto(c: np.ndarray, t: np.ndarray) -> np.ndarray:
        return c[np.searchsorted(times, t, side="right")]

    xbar_at_stop = np.r_[0.0, xbar][np.searchsorted(times, stop, side="right")]
    compensator = np.exp(beta * x) * (
        x * (upto(c1, stop) - upto(c1, start)) - (upto(cx, stop) - upto(cx, start))
    )
    residuals = np.where(event, x - xbar_at_stop, 0.0) - compensator
    return residuals, float(np.sum(d_n * xbar * (1.0 - xbar)))


def counting_terms(rows: pd.DataFrame) -> EfronTerms:
    """Return the Efron terms (``stats.cox``) of one stratum's counting-process rows: at each
    event time t the rows at risk are those with start < t <= stop (each patient at most once,
    his rows being disjoint), per group."""
    start, stop = rows["start"].to_numpy(float), rows["stop"].to_numpy(float)
    event, treated = rows["event"].to_numpy(bool), rows["treated"].to_numpy(bool)
    times, inverse = np.unique(stop[event], return_inverse=True)
    d1 = np.bincount(inverse, weights=treated[event], minlength=times.size)
    d = np.bincount(inverse, minlength=times.size).astype(np.float64)
    n1 = _at_risk(start[treated], stop[treated], times).astype(np.float64)
    n0 = _at_risk(start[~treated], stop[~treated], times).astype(np.float64)
    counts = d.astype(np.int64)
    index = np.repeat(np.arange(times.size), counts)
    frac = (np.arange(index.size) - np.repeat(np.cumsum(d) - d, counts)) / d[index]
    return EfronTerms(n0[index], n1[index], (d - d1)[index], d1[index], frac, float(d1.sum()))


def _joined(parts: list[EfronTerms]) -> EfronTerms:
    """Return the terms of several strata as one (the partial likelihood is their sum)."""
    arrays = [np.concatenate([getattr(p, f) for p in parts]) for f in EfronTerms._fields[:5]]
    return EfronTerms(*arrays, sum(p.events_treated for p in parts))


def andersen_gill(rows: pd.DataFrame) -> Ratio:
    """Return the Andersen-Gill rate ratio (module docstring) of counting-process ``rows``:
    columns patient_id, start, stop, event (0/1), treated (0/1), optional stratum.

    Maximizes Efron's partial likelihood of the rows (``counting_terms``, Newton-Raphson of
    ``stats.cox``: lifelines' CoxPHFitter with ``entry_col`` gives the same ratio but took 7 s
    at 8,000 patients and grows quadratically). The robust variance is the sum over patients
    of (sum of their score residuals)^2 / information^2 (``_score_residuals``): lifelines'
    ``robust``/``cluster_col`` ignores the entry times of counting-process rows (its robust SE
    came out below the model-based one, and below a patient bootstrap's, on recurrent events)
    and its CoxTimeVaryingFitter has no robust variance (lifelines issue 544).
    ``tests/test_sre.py`` checks ratio and variance against lifelines and statsmodels."""
    strata = rows["stratum"].to_numpy() if "stratum" in rows.columns else np.zeros(len(rows))
    groups = [rows[strata == s] for s in np.unique(strata)]
    treated = rows["treated"].to_numpy(bool)
    events = rows["event"].to_numpy(bool)
    if not (events & treated).any() or not (events & ~treated).any():
        return NAN_RATIO
    fitted = fit_log_hazard_ratio(_joined([counting_terms(g) for g in groups]))
    if fitted is None:
        return NAN_RATIO
    beta, residuals, information = fitted[0], np.zeros(len(rows)), 0.0
    for stratum, group in zip(np.unique(strata), groups, strict=True):
        residuals[strata == stratum], info = _score_residuals(group, beta)
        information += info
    per_patient = pd.Series(residuals).groupby(rows["patient_id"].to_numpy()).sum().to_numpy()
    se = np.sqrt(np.sum(per_patient**2)) / information
    z = stats.norm.ppf(0.5 + CONFIDENCE / 2)
    p_value = float(2 * stats.norm.sf(abs(beta / se)))
    low, high = np.exp(beta - z * se), np.exp(beta + z * se)
    return Ratio(float(np.exp(beta)), float(low), float(high), p_value)


def negative_binomial(
    counts: np.ndarray, years: np.ndarray, treated: np.ndarray, strata: np.ndarray | None = None
) -> Ratio:
    """Return the negative-binomial (NB2) rate ratio of event ``counts`` over follow-up
    ``years`` (offset log years; patients without follow-up left out), strata as dummies.
    When the overdispersion's estimate sits at its bound 0 (Poisson-like counts, no finite
    standard error) the Poisson GLM, the NB2 model's limit, gives the ratio and interval."""
    import statsmodels.api as sm
    from statsmodels.discrete.discrete_model import NegativeBinomial

    keep = np.asarray(years) > 0
    counts, years, treated = (np.asarray(a)[keep] for a in (counts, years, treated))
    if counts.sum() == 0 or np.unique(treated).size < 2:
        return NAN_RATIO
    design = pd.DataFrame({"const": 1.0, "treated": treated.astype(np.float64)})
    if strata is not None:
        dummies = pd.get_dummies(np.asarray(strata)[keep], prefix="s", drop_first=True)
        design = pd.concat([design, dummies.astype(np.float64)], axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = NegativeBinomial(counts, design, loglike_method="nb2", exposure=years).fit(
            disp=0, maxiter=200
        )
        if not np.all(np.isfinite(fit.bse)):  # overdispersion at its bound 0: the Poisson limit
            family = sm.families.Poisson()
            fit = sm.GLM(counts, design, family=family, exposure=years).fit()
    coef = float(fit.params["treated"])
    low, high = fit.conf_int(alpha=1 - CONFIDENCE).loc["treated"]
    p_value = float(fit.pvalues["treated"])
    return Ratio(float(np.exp(coef)), float(np.exp(low)), float(np.exp(high)), p_value)


def _fit_km(duration: np.ndarray, event: np.ndarray) -> KaplanMeierFitter:
    """Return lifelines' Kaplan-Meier fit of (duration, event)."""
    return KaplanMeierFitter(alpha=1 - CONFIDENCE).fit(duration, np.asarray(event, bool))


def _finite(value: float) -> float:
    """Return ``value``, nan if infinite (a median not reached)."""
    return float(value) if np.isfinite(value) else NAN


def km_median(duration: np.ndarray, event: np.ndarray) -> tuple[float, float, float]:
    """Return the Kaplan-Meier median of ``duration`` with its 95 % interval; nan where the
    curve (or its band) does not reach 0.5 (median not reached)."""
    if len(duration) == 0:
        return NAN, NAN, NAN
    fitter = _fit_km(duration, event)
    band = median_survival_times(fitter.confidence_interval_).to_numpy()[0]
    return _finite(fitter.median_survival_time_), _finite(band[0]), _finite(band[1])


def km_incidence(
    duration: np.ndarray, event: np.ndarray, at: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return 1 - Kaplan-Meier of ``duration`` at times ``at`` with its 95 % band."""
    if len(duration) == 0:
        return (np.full(len(at), NAN),) * 3
    fitter = _fit_km(duration, event)
    steps = fitter.survival_function_.index.to_numpy()
    index = np.clip(np.searchsorted(steps, at, side="right") - 1, 0, None)
    surv = fitter.survival_function_.to_numpy()[index, 0]
    band = np.nan_to_num(fitter.confidence_interval_.to_numpy()[index], nan=1.0)
    return 1.0 - surv, 1.0 - band[:, 1], 1.0 - band[:, 0]


def _survival_before(end_day: np.ndarray, died: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Return the Kaplan-Meier survival from death just before each of ``times``."""
    death_times, deaths = np.unique(end_day[died], return_counts=True)
    ends = np.sort(end_day)
    at_risk = ends.size - np.searchsorted(ends, death_times, side="left")
    surv = np.r_[1.0, np.cumprod(1.0 - deaths / at_risk)]
    return surv[np.searchsorted(death_times, times, side="left")]


def ghosh_lin_mcf(
    end_day: np.ndarray, died: np.ndarray, event_day: np.ndarray, at: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return (MCF, patients followed) at times ``at`` (module docstring).

    ``end_day``, ``died``: per patient (n,); ``event_day``: the day of every event of these
    patients (m,), each on or before its patient's end_day. ``patients followed``: end_day >= t.
    """
    ends = np.sort(np.asarray(end_day, np.float64))
    at = np.asarray(at, np.float64)
    followed = ends.size - np.searchsorted(ends, at, side="left")
    if len(event_day) == 0:
        return np.zeros(at.size), followed
    times, d_n = np.unique(event_day, return_counts=True)
    at_risk = ends.size - np.searchsorted(ends, times, side="left")
    rate = _survival_before(np.asarray(end_day, np.float64), np.asarray(died, bool), times)
    steps = np.cumsum(rate * d_n / at_risk)
    index = np.searchsorted(times, at, side="right") - 1
    return np.where(index >= 0, steps[np.clip(index, 0, None)], 0.0), followed
