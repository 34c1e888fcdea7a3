"""Trial endpoints from the sharded simulation files: BMD, markers, fractures, comparisons, Table 1.

Definitions (1 month = 30.4375 days; day m = month x 30.4375):

- *On study at day d*: alive and not lost to follow-up, ``min(death_day, dropout_day) > d``.
- ``bmd``: measured percent change from the baseline BMD of the cohort file (DXA precision,
  ``analyses.measurement``), among patients on study at the visit; mean with a t-based 95 %
  confidence interval (``stats.intervals.mean_ci``), SD, the least significant change (LSC,
  ISCD) and the share of responders (measured gain above the LSC).
- ``markers``: measured percent change of P1NP and CTX (within-subject CV) at every record day
  > 0, among patients on study; median and quartiles. Rows carry ``day`` and ``month`` (day /
  30.4375), as every table carries ``month``.
- ``fractures``: incidence by month m. ``new_vertebral`` (morphometric) counts, among patients
  imaged at imaging month m (on study at day m), those with any vertebral fracture before day m;
  ``multiple_new_vertebral`` those with two or more (the second before day m; the engine keeps
  up to ``cohort.sampling.MAX_EVENTS`` vertebral fractures a patient). Both are the imaging
  endpoints of the vocabulary (``vocabulary.at_imaging``).
  The clinical endpoints (``clinical_vertebral``, ``hip``, ``nonvertebral`` = hip or other
  nonvertebral, ``clinical`` = nonvertebral or clinical vertebral; names and engine events in
  ``analyses.vocabulary``, the one vocabulary of tables, API and CLI) count a first event on or
  before day m that happened before the patient's death or dropout; the denominator is every
  randomized patient of the arm. Wilson 95 % intervals (``stats.intervals.proportion_ci``).
  ``cumulative_incidence_frac``: the Aalen-Johansen incidence of the clinical endpoints by month
  m, death a competing risk and dropout censoring (``stats.incidence``); null for the imaging
  endpoints.
- ``comparisons``: each arm against the control arm. Risk ratio with its log-normal 95 % interval
  (``stats.intervals.risk_ratio_ci``) and the relative risk reduction 1 - RR, all four null when
  the RR is not estimable (no event in an arm: RR 0 or inf, undefined interval); hazard ratio
  of a Cox model (``stats.cox``: one binary covariate, Efron ties; equal to lifelines'
  CoxPHFitter to 1e-9) of the time to the first event censored at death, dropout or day m,
  null for the imaging endpoints; ``p_value`` is the log-rank test (the score test of the same
  Cox model at HR 1, ``stats.logrank``) for time-to-event endpoints and Fisher's exact test for
  the imaging endpoints (``new_vertebral``, ``multiple_new_vertebral``). The log-rank test, not
  the Cox Wald test: with few events the Wald statistic fails (no event in an arm: no finite
  HR) or falls below the score statistic, so a rare endpoint lost most of its power
  (docs/analyses.md).
- ``baseline``: Table 1 (n, mean/sd of continuous variables, fractions of binary ones;
  ``analyses.baseline``).

Every statistic is computed with numpy/scipy on arrays sorted by patient_id, so the tables do not
depend on how the cohort was sharded or the order of the files. Values that cannot be computed are
NaN here and null on disk (``io.nan_to_null``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from osteotrial.analyses import vocabulary
from osteotrial.analyses.baseline import BASELINE_CONTINUOUS, baseline_table
from osteotrial.analyses.by_sex import by_group_table
from osteotrial.analyses.measurement import EXACT, Measurement
from osteotrial.analyses.safety_endpoints import files_by_arm
from osteotrial.analyses.visit_tables import (
    bmd_table,
    endpoint_frame,
    markers_table,
    never,
    read_visits,
    structure_table,
)
from osteotrial.analyses.vocabulary import ENGINE_EVENTS
from osteotrial.model.records import SITES
from osteotrial.stats.cox import cox_hazard_ratio
from osteotrial.stats.incidence import aalen_johansen, competing_status
from osteotrial.stats.intervals import proportion_ci, risk_ratio_ci
from osteotrial.stats.logrank import logrank_test
from osteotrial.stats.tests import fisher_exact_p
from osteotrial.trial.strata import Stratum, assign
from osteotrial.units import DAYS_PER_MONTH

# Endpoints of every analysis: tables, counterfactuals, power, expected incidences
# (``analyses.vocabulary`` names). Each analysis treats an endpoint by its vocabulary fields
# (``imaging``, ``min_events``), never by its name, so a new endpoint needs only a name here.
FRACTURE_ENDPOINTS: tuple[str, ...] = (
    "new_vertebral",
    "multiple_new_vertebral",
    "clinical_vertebral",
    "hip",
    "nonvertebral",
    "clinical",
)
Paths = Sequence[str | Path]
# The cohort columns the tables read (Table 1, baselines of the BMD changes, groups).
COHORT_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(
        ["patient_id", "candidate_id", "arm", "sex", *BASELINE_CONTINUOUS]
        + [f"bmd_{site.lower()}_g_cm2" for site in SITES]
        + ["prior_nonvertebral_fracture", "prior_hip_fracture"]
    )
)


def _event_days(names: Sequence[str]) -> dict[str, list[pl.Expr]]:
    """Return the days of every ``vocabulary.ENGINE_EVENTS`` event, one expression per engine
    event slot (+inf where none), from the simulation columns ``<engine type>_fracture_day_k``."""
    events = {}
    for event, (fracture_type, clinical_only) in ENGINE_EVENTS.items():
        columns = sorted(c for c in names if c.startswith(f"{fracture_type}_fracture_day_"))
        if clinical_only:
            events[event] = [
                pl.when(pl.col(f"vertebral_fracture_clinical_{c.rsplit('_', 1)[1]}"))
                .then(never(pl.col(c)))
                .otherwise(np.inf)
                for c in columns
            ]
        else:
            events[event] = [never(pl.col(c)) for c in columns]
    return events


def _nth_day(days: list[pl.Expr], n: int) -> pl.Expr:
    """Return the n-th smallest of ``days`` (n = 1: the first event), +inf if fewer."""
    if n == 1:
        return pl.min_horizontal(days)
    return pl.concat_list(days).list.sort().list.get(n - 1, null_on_oob=True)


def patient_events(simulations: pl.LazyFrame) -> pl.DataFrame:
    """Return one row per patient, sorted by patient_id, with first-event days per endpoint.

    Columns: patient_id, arm, exit_day (min of death and dropout day), death_day, and
    ``<endpoint>_day`` for every endpoint of ``FRACTURE_ENDPOINTS``: the day of the first (or the
    ``min_events``-th) of the engine events the vocabulary names (``analyses.vocabulary``). Days
    are +inf when no (observed) event happened; a clinical endpoint's event counts only before
    the patient's exit.
    """
    events = _event_days(simulations.collect_schema().names())
    exit_day = pl.min_horizontal(never(pl.col("death_day")), never(pl.col("dropout_day")))

    def first_day(name: str) -> pl.Expr:
        meaning = vocabulary.endpoint(name)
        days = [day for e in meaning.events for day in events[e]]
        day = never(_nth_day(days, meaning.min_events))
        if meaning.imaging:  # seen at imaging: fracture_counts applies the visit rule
            return day
        return pl.when(day < pl.col("exit_day")).then(day).otherwise(np.inf)

    return (
        simulations.filter(pl.col("day") == pl.col("day").min().over("patient_id"))
        .with_columns(exit_day=exit_day)
        .select(
            "patient_id",
            "arm",
            "exit_day",
            death_day=never(pl.col("death_day")),
            **{f"{name}_day": first_day(name) for name in FRACTURE_ENDPOINTS},
        )
        .sort("patient_id")
        .collect()
    )


def fracture_counts(
    event_day: np.ndarray, exit_day: np.ndarray, endpoint: str, month: float
) -> tuple[int, int]:
    """Return (n_patients, n_events) of an endpoint by ``month``; arrays have shape (n,)."""
    day = month * DAYS_PER_MONTH
    if vocabulary.at_imaging(endpoint):
        imaged = exit_day > day
        return int(imaged.sum()), int((imaged & (event_day <= day)).sum())
    return int(event_day.size), int((event_day <= day).sum())


def endpoint_months(
    endpoint: str, visit_months: Sequence[float], imaging_months: Sequence[float]
) -> list[float]:
    """Return the months of a fracture endpoint: imaging months for the imaging endpoints."""
    months = imaging_months if vocabulary.at_imaging(endpoint) else visit_months
    return [float(m) for m in months]


def _compare(
    patients: pl.DataFrame, arm: str, control: str, endpoint: str, month: float
) -> dict[str, object]:
    """Return one row of the comparisons table: ``arm`` vs ``control`` for one endpoint/month."""
    pair = patients.filter(pl.col("arm").is_in([arm, control])).sort("patient_id")
    treated = (pair["arm"] == arm).to_numpy()
    event_day = pair[f"{endpoint}_day"].to_numpy()
    exit_day = pair["exit_day"].to_numpy()
    n1, a = fracture_counts(event_day[treated], exit_day[treated], endpoint, month)
    n0, c = fracture_counts(event_day[~treated], exit_day[~treated], endpoint, month)
    rr_value, rr_low, rr_high = risk_ratio_ci(a, n1, c, n0)
    if a == 0 or c == 0:  # RR 0 or inf, log-normal interval undefined: not estimable
        rr_value = rr_low = rr_high = float("nan")
    if vocabulary.at_imaging(endpoint):
        hr = (float("nan"),) * 3 + (fisher_exact_p(a, n1, c, n0),)
    else:
        day = month * DAYS_PER_MONTH
        duration = np.minimum(np.minimum(event_day, exit_day), day)
        observed = event_day <= day
        cox = cox_hazard_ratio(duration, observed, treated)  # HR and its Wald interval
        hr = (*cox[:3], logrank_test(duration, observed, treated)[2])  # the log-rank p
    return {
        "endpoint": endpoint,
        "month": month,
        "arm": arm,
        "reference_arm": control,
        "risk_ratio": rr_value,
        "rr_ci_low": rr_low,
        "rr_ci_high": rr_high,
        "relative_risk_reduction_frac": 1.0 - rr_value,
        "hazard_ratio": hr[0],
        "hr_ci_low": hr[1],
        "hr_ci_high": hr[2],
        "p_value": hr[3],
    }


def fracture_tables(
    patients: pl.DataFrame,
    control_arm: str,
    visit_months: Sequence[float],
    imaging_months: Sequence[float],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return the ``fractures`` and ``comparisons`` tables from ``patient_events`` output."""
    arms = sorted(patients["arm"].unique().to_list())
    fractures, comparisons = [], []
    for endpoint in FRACTURE_ENDPOINTS:
        months = endpoint_months(endpoint, visit_months, imaging_months)
        competing = {a: competing_incidence(patients, a, endpoint, months) for a in arms}
        for m, month in enumerate(months):
            for arm in arms:
                group = patients.filter(pl.col("arm") == arm)
                n, k = fracture_counts(
                    group[f"{endpoint}_day"].to_numpy(),
                    group["exit_day"].to_numpy(),
                    endpoint,
                    month,
                )
                low, high = proportion_ci(k, n)
                fractures.append(
                    {
                        "arm": arm,
                        "endpoint": endpoint,
                        "month": month,
                        "n_patients": n,
                        "n_events": k,
                        "incidence_frac": k / n if n else float("nan"),
                        "ci_low_frac": low,
                        "ci_high_frac": high,
                        "cumulative_incidence_frac": competing[arm][m],
                    }
                )
                if arm != control_arm:
                    comparisons.append(_compare(patients, arm, control_arm, endpoint, month))
    return endpoint_frame("fractures", fractures), endpoint_frame("comparisons", comparisons)


def competing_incidence(patients: pl.DataFrame, arm: str, endpoint: str, months) -> list:
    """Return the Aalen-Johansen incidence (death competing) of a clinical endpoint at each
    month (``stats.incidence``); NaN for the imaging endpoints, assessed at imaging only."""
    if vocabulary.at_imaging(endpoint):
        return [float("nan")] * len(months)
    group = patients.filter(pl.col("arm") == arm)
    days = (group[c].to_numpy() for c in (f"{endpoint}_day", "death_day", "exit_day"))
    time, status = competing_status(*days, end_day=max(months) * DAYS_PER_MONTH)
    return [float(v) for v in aalen_johansen(time, status, months)[1]]


def compute_endpoint_tables(
    cohort_paths: Paths,
    simulation_paths: Paths,
    control_arm: str,
    visit_months: Sequence[float],
    imaging_months: Sequence[float],
    measurement: Measurement = EXACT,
    strata: Sequence[Stratum] = (),
    seed: int = 0,
) -> dict[str, pl.DataFrame]:
    """Return the endpoint tables (``io.ENDPOINT_TABLES``) of one trial.

    Parameters
    ----------
    cohort_paths, simulation_paths
        Every cohort shard and every (arm, shard) simulation file of the trial, in any order.
    control_arm
        Reference arm of the comparisons.
    visit_months, imaging_months
        Months of the BMD and fracture tables; imaging months for the imaging endpoints.
    measurement
        Precision of the trial's DXA and marker readings (``analyses.measurement``; default
        ``EXACT``: the model's true values).
    strata, seed
        The trial's strata and seed (``trial.strata``): ``by_stratum`` gives each stratum's
        results (empty without strata).
    """
    cohort = (
        pl.scan_parquet([str(p) for p in cohort_paths])
        .select(COHORT_COLUMNS)  # only these are read: not the thresholds and multipliers
        .sort("patient_id")
        .collect()
    )
    paths = [str(p) for p in simulation_paths]
    first_rows = pl.scan_parquet(paths).filter(pl.col("day") == 0.0)
    patients = patient_events(first_rows)
    fractures, comparisons = fracture_tables(patients, control_arm, visit_months, imaging_months)
    months_of = {e: endpoint_months(e, visit_months, imaging_months) for e in FRACTURE_ENDPOINTS}
    if strata:
        labels = assign(strata, seed, cohort["candidate_id"].to_numpy())
        cohort = cohort.with_columns(pl.Series("stratum", labels.tolist(), dtype=pl.String))
    visit_tables = tables_by_arm(
        paths, cohort, patients, visit_months, months_of, measurement, bool(strata)
    )
    return {
        "bmd": visit_tables["bmd"],
        "markers": visit_tables["markers"],
        "structure": visit_tables["structure"],
        "fractures": fractures,
        "comparisons": comparisons,
        "by_sex": visit_tables["by_sex"],
        "baseline": baseline_table(cohort),
        "by_stratum": visit_tables["by_stratum"],
    }


# Sort order of the tables made of visit rows (each function's own): every row is one arm's.
VISIT_TABLE_ORDER: dict[str, tuple[str, ...]] = {
    "bmd": ("arm", "site", "month"),
    "markers": ("arm", "marker", "day"),
    "structure": ("arm", "site", "measure", "month"),
    "by_sex": ("kind", "measure", "arm", "sex", "month"),
    "by_stratum": ("kind", "measure", "arm", "stratum", "month"),
}


def tables_by_arm(
    paths: Sequence[str],
    cohort: pl.DataFrame,
    patients: pl.DataFrame,
    visit_months: Sequence[float],
    months_of: dict[str, list[float]],
    measurement: Measurement,
    strata: bool,
) -> dict[str, pl.DataFrame]:
    """Return the tables of ``VISIT_TABLE_ORDER`` (``by_stratum`` empty unless ``strata``:
    ``cohort`` then has a ``stratum`` column), one arm's visit rows in memory at a time.

    Every row of these tables is one arm's, computed from that arm's patients alone
    (measurement error is drawn by patient id), so each arm's tables, concatenated and
    sorted in the tables' own order, are the tables of the whole trial, with a peak memory
    of the largest arm's visits instead of all of them.
    """
    parts: dict[str, list[pl.DataFrame]] = {name: [] for name in VISIT_TABLE_ORDER}
    for arm, files in files_by_arm(paths).items():
        visits = read_visits(files, arm, visit_months)
        of_arm = cohort.filter(pl.col("arm") == arm)
        events = patients.filter(pl.col("arm") == arm)
        parts["bmd"].append(bmd_table(visits, of_arm, visit_months, measurement))
        parts["markers"].append(markers_table(visits, measurement))
        parts["structure"].append(structure_table(visits, visit_months))
        for column in ("sex", "stratum") if strata else ("sex",):
            parts[f"by_{column}"].append(
                by_group_table(
                    column,
                    visits,
                    of_arm,
                    events,
                    visit_months,
                    months_of,
                    fracture_counts,
                    measurement,
                )
            )
        del visits
    return {
        name: pl.concat(frames).sort(VISIT_TABLE_ORDER[name])
        if frames
        else endpoint_frame(name, [])
        for name, frames in parts.items()
    }
