"""Expected endpoints of a parameter set: what a trial of the design shows on average.

A trial's estimate is one draw: which women fracture depends on their latent thresholds, and a
prediction interval centred on it carries that draw's luck (issue 13). Here every endpoint is
taken at its *expected value* over a cohort of its own (the ``prediction`` cohort,
``TrialConfig.cohort_seed``), every patient simulated under every arm, from each patient's
cumulative hazards instead of her sampled events; ``analyses.prediction`` then puts the sampling
distribution at the trial's size around it.

Expected incidence by day d of an endpoint with cumulative hazard E (per patient; death D):

- clinical endpoints (``clinical_vertebral`` f H_v, ``hip`` H_hip, ``nonvertebral``
  H_hip + H_nv, ``clinical`` their sum with f H_v; f the clinically recognized share): the
  probability of an event before death, dropout and d, with death as a competing risk,
  sum_j S_j (1 - exp(-(dE_j + dD_j))) dE_j / (dE_j + dD_j), S_j = exp(-(E + D)) at the start of
  interval j of the record grid cut at min(dropout, d) (hazards constant within an interval);
  the mean over all patients, like the trial's crude proportion;
- the imaging endpoints (``vocabulary.at_imaging``): P(k, H_v(d)), the chance of k =
  ``min_events`` or more events of a Poisson process of cumulative hazard H_v (the regularized
  lower incomplete gamma function; 1 - exp(-H_v(d)) for ``new_vertebral``, k = 1), averaged over
  the women imaged at d, each weighted by her chance to be alive then, exp(-D(d)) (only those
  still on study are imaged). For ``multiple_new_vertebral`` (k = 2) this leaves out the
  rise of the hazard after the first fracture (the imminent risk and the vertebral cascade,
  ``model.fracture``), so it is below what the engine's sampled events give (FREEDOM placebo,
  36 months: 0.65 % expected, 1.14 % in the emulated trial, 2026-12-06).

The cohort is simulated *event-free* (``event_free``: every threshold infinite), so each
patient's cumulative hazards are those of the path before any event: the hazard of a first
event, with no imminent-risk rise after a fracture that one draw of thresholds happened to give
and no stop at a sampled death. The risk ratio is the ratio of expected incidences; the hazard
ratio the ratio of cumulative hazards -log(1 - p) (the complementary log-log contrast, exact
under proportional hazards). BMD: the mean true % change among women still on study (dropout
after d), weighted by exp(-D(d)), and its SD; markers: the median true % change. Measurement
error has mean zero and is left to the sampling distribution (``analyses.prediction``).

This module only computes statistics from results in memory; it runs no engine. The simulation
step that produces them is a job's (``trial.jobs.expected_endpoints_of_sets``): the event-free
cohort under every arm, the job's parameter sets as patients of one run per arm (the cohort
repeated per set), handed over in memory rather than as simulation files, since a file per set
and arm would be written and read once, and a batch of sets per job keeps the compiled engine's
start-up shared (workflow/rules/uncertainty.smk).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import polars as pl
import pyarrow as pa
from scipy.special import gammainc

from osteotrial.analyses import vocabulary
from osteotrial.analyses.endpoints import FRACTURE_ENDPOINTS, endpoint_months
from osteotrial.analyses.vocabulary import ENGINE_EVENTS
from osteotrial.cohort.sampling import Cohort
from osteotrial.engine.results import ArmResult
from osteotrial.model.params import ModelParams
from osteotrial.model.records import SITES
from osteotrial.stats.incidence import incidence_hazard_ratio
from osteotrial.units import DAYS_PER_MONTH

F64, STR = pa.float64(), pa.string()
EXPECTED_SCHEMA = pa.schema(
    [("table", STR), ("arm", STR), ("reference_arm", STR), ("endpoint", STR), ("time", F64)]
    + [("statistic", STR), ("value", F64), ("sd", F64), ("incidence", F64)]
    + [("reference_incidence", F64)]
)
MARKER_COLUMNS: dict[str, str] = {"P1NP": "p1np_rel", "CTX": "ctx_rel"}


def cumulative_at(result: ArmResult, cumulative: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Return each patient's cumulative value at her own day, linear between record days.

    cumulative: (n_records, n_patients); days: (n_patients,) or (m, n_patients).
    """
    grid = result.record_days
    idx = np.clip(np.searchsorted(grid, days), 1, grid.size - 1)
    t0, t1 = grid[idx - 1], grid[idx]
    w = np.clip((days - t0) / (t1 - t0), 0.0, 1.0)
    cols = np.broadcast_to(np.arange(cumulative.shape[1]), np.shape(days))
    return cumulative[idx - 1, cols] * (1.0 - w) + cumulative[idx, cols] * w


def endpoint_hazard(result: ArmResult, params: ModelParams, endpoint: str) -> np.ndarray:
    """Return the cumulative hazard of an endpoint, (n_records, n_patients).

    The sum over the endpoint's events (``vocabulary.ENGINE_EVENTS``) of their engine type's
    cumulative hazard, times the clinically recognized share f for a clinical-only event, so
    that a new endpoint of the vocabulary needs no code here.
    """
    cum = result.cumulative_hazard
    if cum is None:
        raise ValueError("expected endpoints need the cumulative hazards of the simulation")
    share = params.fracture.vertebral_clinical_frac
    total = np.zeros_like(cum["death"])
    for event in vocabulary.endpoint(endpoint).events:
        fracture_type, clinical_only = ENGINE_EVENTS[event]
        total = total + (share if clinical_only else 1.0) * cum[fracture_type]
    return total


def competing_terms(result: ArmResult, hazard: np.ndarray, day: float) -> np.ndarray:
    """Return each patient's probability of an event before death, dropout and ``day``."""
    end = np.minimum(result.dropout_day, day)
    points = np.minimum(result.record_days[:, None], end[None, :])  # (n_records, n)
    e = cumulative_at(result, hazard, points)
    d = cumulative_at(result, result.cumulative_hazard["death"], points)  # type: ignore[index]
    de, dd = np.diff(e, axis=0), np.diff(d, axis=0)
    survival = np.exp(-(e[:-1] + d[:-1]))
    total = de + dd
    share = np.divide(de, total, out=np.zeros_like(de), where=total > 0.0)
    return sum_over_records(survival * -np.expm1(-total) * share)


def sum_over_records(values: np.ndarray) -> np.ndarray:
    """Return the sum over axis 0 of (n_records, n_patients) ``values``, record by record.

    The same rounding for every patient whatever the other patients of the array: ``np.sum``
    adds a lone patient's contiguous column pairwise instead, so a chunk of one patient would
    round differently and a table summed chunk by chunk would depend on the chunks.
    """
    total = np.zeros(values.shape[1])
    for row in values:
        total += row
    return total


def competing_incidence(result: ArmResult, hazard: np.ndarray, day: float) -> float:
    """Return the mean probability of an event before death, dropout and ``day``."""
    return float(np.mean(competing_terms(result, hazard, day)))


def imaged_terms(
    result: ArmResult, hazard: np.ndarray, day: float, min_events: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return each patient's weighted probability of an imaging endpoint by ``day`` and her
    weight (``imaged_incidence``: their sums' ratio is the expected incidence).

    ``hazard`` (n_records, n_patients) is the endpoint's cumulative hazard H; with events a
    Poisson process of it, P(at least ``min_events`` by d) = P(min_events, H(d)), the
    regularized lower incomplete gamma function (1 - exp(-H) for one event); the weight is
    the chance to be imaged, on study (dropout after d) and alive, exp(-D(d)).
    """
    at = np.full(result.n_patients, day)
    death = result.cumulative_hazard["death"]  # type: ignore[index]
    weight = (result.dropout_day > day) * np.exp(-cumulative_at(result, death, at))
    probability = gammainc(min_events, cumulative_at(result, hazard, at))
    return weight * probability, weight


def imaged_incidence(result: ArmResult, hazard: np.ndarray, day: float, min_events: int) -> float:
    """Return the expected incidence of an imaging endpoint among women imaged at ``day``."""
    weighted, weight = imaged_terms(result, hazard, day, min_events)
    return float(np.sum(weighted) / np.sum(weight))


def expected_incidence(result: ArmResult, params: ModelParams, endpoint: str, day: float) -> float:
    """Return the expected incidence of one endpoint of ``FRACTURE_ENDPOINTS`` by ``day``."""
    hazard = endpoint_hazard(result, params, endpoint)
    meaning = vocabulary.endpoint(endpoint)
    if meaning.imaging:
        return imaged_incidence(result, hazard, day, meaning.min_events)
    return competing_incidence(result, hazard, day)


def incidence_terms(
    result: ArmResult, params: ModelParams, endpoint: str, day: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``expected_incidence``'s per-patient numerators and weights: the incidence is
    the ratio of their sums (weight 1 for a clinical endpoint: a mean over all patients), so
    that chunks of a cohort can be summed apart and combined (``analyses.expected_sums``)."""
    hazard = endpoint_hazard(result, params, endpoint)
    meaning = vocabulary.endpoint(endpoint)
    if meaning.imaging:
        return imaged_terms(result, hazard, day, meaning.min_events)
    return competing_terms(result, hazard, day), np.ones(result.n_patients)


def _row(table, arm, reference, endpoint, time, statistic, value, sd=None, p=None, p0=None):
    return {
        "table": table,
        "arm": arm,
        "reference_arm": reference,
        "endpoint": endpoint,
        "time": float(time),
        "statistic": statistic,
        "value": float(value),
        "sd": sd,
        "incidence": p,
        "reference_incidence": p0,
    }


def fracture_rows(
    results: Mapping[str, ArmResult],
    params: ModelParams,
    control_arm: str,
    visit_months,
    imaging_months,
) -> list[dict]:
    """Return the expected ``fractures`` and ``comparisons`` rows (module docstring)."""
    rows = []
    for endpoint in FRACTURE_ENDPOINTS:
        for month in endpoint_months(endpoint, visit_months, imaging_months):
            day = month * DAYS_PER_MONTH
            p = {a: expected_incidence(r, params, endpoint, day) for a, r in results.items()}
            rows += incidence_rows(endpoint, month, p, control_arm)
    return rows


def incidence_rows(
    endpoint: str, month: float, p: Mapping[str, float], control_arm: str
) -> list[dict]:
    """Return the ``fractures`` rows of one endpoint and month from each arm's expected
    incidence ``p`` (in the arms' order), then its ``comparisons`` rows against the control."""
    rows = [
        _row("fractures", arm, None, endpoint, month, "incidence_frac", v) for arm, v in p.items()
    ]
    p0 = p[control_arm]
    for arm, p1 in p.items():
        if arm == control_arm:
            continue
        ratios = {"risk_ratio": p1 / p0 if p0 > 0 else float("nan")}
        if not vocabulary.at_imaging(endpoint):  # the trial reports no HR for it
            ratios["hazard_ratio"] = incidence_hazard_ratio(p1, p0)
        for statistic, value in ratios.items():
            key = ("comparisons", arm, control_arm, endpoint, month, statistic)
            rows.append(_row(*key, value, None, p1, p0))
    return rows


def bmd_rows(results: Mapping[str, ArmResult], visit_months) -> list[dict]:
    """Return the expected ``bmd`` rows: mean and SD of the true % change per arm and site."""
    rows = []
    for arm, result in results.items():
        for month in sorted(float(m) for m in visit_months):
            day = month * DAYS_PER_MONTH
            k = int(np.argmin(np.abs(result.record_days - day)))
            at = np.full(result.n_patients, day)
            alive = np.exp(-cumulative_at(result, result.cumulative_hazard["death"], at))  # type: ignore[index]
            weight = (result.dropout_day > day) * alive
            for site in SITES:
                bmd = getattr(result, f"bmd_{site.lower()}_g_cm2")
                pct = (bmd[k] / bmd[0] - 1.0) * 100.0
                mean = float(np.sum(weight * pct) / np.sum(weight))
                sd = float(np.sqrt(np.sum(weight * (pct - mean) ** 2) / np.sum(weight)))
                rows.append(_row("bmd", arm, None, site, month, "mean_pct_change", mean, sd))
    return rows


def marker_rows(results: Mapping[str, ArmResult]) -> list[dict]:
    """Return the expected ``markers`` rows: median true % change per arm, marker and day."""
    rows = []
    for arm, result in results.items():
        for k, day in enumerate(result.record_days):
            if day <= 0:
                continue
            on_study = result.dropout_day > day
            for marker, column in MARKER_COLUMNS.items():
                pct = (getattr(result, column)[k, on_study] - 1.0) * 100.0
                median = float(np.median(pct)) if pct.size else float("nan")
                rows.append(_row("markers", arm, None, marker, day, "median_pct_change", median))
    return rows


def expected_table(
    results: Mapping[str, ArmResult],
    params: ModelParams,
    control_arm: str,
    visit_months,
    imaging_months,
) -> pl.DataFrame:
    """Return every expected endpoint of one parameter set (``EXPECTED_SCHEMA``).

    ``results``: the prediction cohort simulated under every arm (the same women in each),
    with cumulative hazards.
    """
    rows = (
        bmd_rows(results, visit_months)
        + marker_rows(results)
        + fracture_rows(results, params, control_arm, visit_months, imaging_months)
    )
    return pl.from_arrow(pa.Table.from_pylist(rows, schema=EXPECTED_SCHEMA))


def event_free(cohort: Cohort) -> Cohort:
    """Return the cohort with every fracture and death threshold infinite (module docstring)."""
    infinite = {
        field.name: np.full(cohort.patient_id.size, np.inf)
        for field in dataclasses.fields(cohort)
        if field.name.startswith("threshold_")
    }
    return dataclasses.replace(cohort, **infinite)
