"""Replicate trials and power, drawn from a super-cohort simulated once under every arm.

Method. The super-cohort (``power.super_cohort_per_arm`` patients per arm, screened like the
trial) is simulated once under every arm, so each patient i has a potential outcome Y_i(a) of
every fracture endpoint under every arm a (the same latent thresholds under every arm). Replicate
r, for r = 0 .. R-1:

1. draws a permutation of the N super-cohort patients (sorted by patient_id) from its own
   generator ``rng.make_generator(seed, "power.replicate", r)``, so replicate r is the same
   whatever R and however the super-cohort was sharded;
2. deals the permuted patients round-robin to the K arms (sorted names): patient
   ``perm[K * i + j]`` goes to arm j. The first n patients of arm j's stream form that arm of
   the replicate trial with n patients per arm, so the trials of the sample-size grid are nested
   and one cumulative sum along the streams gives the counts of every n at once;
3. observes, in each arm, its patients' potential outcomes under that arm.

No simulation is repeated: a replicate only re-draws who is allocated where.

Endpoints are those of ``endpoints.fracture_counts``, at the same months: the imaging endpoints
(``vocabulary.at_imaging``: ``new_vertebral``, ``multiple_new_vertebral``) at the imaging
months, assessed only in patients imaged (on study, ``exit_day > day``); the
clinical endpoints at the visit months, every patient assessed, event = first observed event
on or before day m (m x 30.4375 days). ``PotentialOutcomes`` carries each patient's event and
exit days under every arm (``endpoints.patient_events``), so a replicate has the times to event
too.

Test: the trial's own (``endpoints._compare``, ``replicates.column_tests``), each non-control arm
(1) against ``control_arm`` (0).

- The imaging endpoints: Fisher's exact test, two-sided, of x1 / n1 against x0 / n0 imaged
  (``stats.tests.fisher_exact_ps``, equal to the trial's ``fisher_exact_p``).
- The clinical endpoints (time to event): the log-rank test, the trial table's test (its
  p-value; the table's HR and interval come from the Cox fit), i.e. the score test of the Cox
  partial likelihood at beta = 0 (``stats.logrank``), computed from the event and exit days of
  the replicate's patients with administrative censoring at the month: duration min(event,
  exit, month day), event = event day <= month day. It needs no fit, so 10^5 replicate tests
  take seconds. Until issue 13 the table reported the Cox Wald test, which with few events
  fails (no event in an arm) or falls below the score statistic: on FRAME's clinical vertebral
  fractures at 12 months (RR 0.27) its power was 0.02 at 1000 per arm against 0.24 for the
  log-rank test (docs/analyses.md).

``power_table(tests=...)`` can swap in the pooled z-test of two proportions
(``stats.tests.pooled_z_test``; the test of the textbook sample-size formula and of
``analytic_power``) or Fisher's test for any endpoint. The p-value of every test is 1 when it is
undefined (no event in either arm, an arm with no one assessed). Power = share of replicates
with p < alpha; its Monte Carlo standard error is sqrt(power (1 - power) / R).

Risk ratio (``stats.intervals.risk_ratio``) (x1 / n1) / (x0 / n0); only when one of the four
cells (x1, n1 - x1, x0, n0 - x0) is zero, 0.5 is added to every cell (Haldane-Anscombe):
((x1 + .5) / (n1 + 1)) / ((x0 + .5) / (n0 + 1)). Its median and 5 / 95 % quantiles over the
replicates are reported.

Truth and analytic power. The "true" incidence of an arm is the super-cohort's (every patient
under that arm; events / assessed) and the true risk ratio their ratio. The analytic power is
a reference: the normal-approximation power of the pooled z-test at the true proportions,
without continuity correction (``stats.power.analytic_power``; Fleiss, Levin & Paik 2003,
ch. 4), at sizes n per arm times the arm's assessed share in the super-cohort. It is not the
power of the replicate tests: Fisher's test is conservative with few events (its power lies
below the z-test's at small n), and the log-rank test compares hazards, not proportions (close
to the z-test when events are rare and censoring light).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from osteotrial import io
from osteotrial.analyses.endpoints import FRACTURE_ENDPOINTS, endpoint_months, patient_events
from osteotrial.analyses.outcomes import Column, PotentialOutcomes
from osteotrial.analyses.replicates import column_tests, replicate_tests
from osteotrial.arrays import FloatArray
from osteotrial.stats.intervals import risk_ratio
from osteotrial.stats.power import analytic_power

F64, I64, STR = pa.float64(), pa.int64(), pa.string()
# The power table (results/T/power/power.parquet): one row per endpoint, month, treated arm and n.
POWER_SCHEMA = pa.schema(
    [("endpoint", STR), ("month", F64), ("arm", STR), ("reference_arm", STR)]
    + [("n_per_arm", I64), ("replicates", I64), ("alpha", F64), ("test", STR)]
    + [("power", F64), ("power_mc_se", F64)]
    + [("rr_median", F64), ("rr_q05", F64), ("rr_q95", F64)]
    + [("true_incidence_frac", F64), ("true_reference_incidence_frac", F64)]
    + [("true_risk_ratio", F64), ("analytic_power", F64)]
)


def endpoint_columns(visit_months: Sequence[float], imaging_months: Sequence[float]):
    """Return the (endpoint, month) pairs of the fracture tables, in their order."""
    return tuple(
        (endpoint, month)
        for endpoint in FRACTURE_ENDPOINTS
        for month in endpoint_months(endpoint, visit_months, imaging_months)
    )


def read_potential_outcomes(
    simulation_paths: Sequence[str | Path], columns: Sequence[Column]
) -> PotentialOutcomes:
    """Return the potential outcomes from every (arm, shard) file of the super-cohort.

    Raises ValueError unless every arm holds the same patients.
    """
    first_rows = pl.scan_parquet([str(p) for p in simulation_paths]).filter(pl.col("day") == 0.0)
    events = patient_events(first_rows)
    endpoints = dict.fromkeys(endpoint for endpoint, _ in columns)
    exit_day, event_day, ids = {}, {}, {}
    for arm in sorted(events["arm"].unique().to_list()):
        part = events.filter(pl.col("arm") == arm).sort("patient_id")
        ids[arm] = part["patient_id"].to_numpy()
        exit_day[arm] = part["exit_day"].to_numpy().astype(np.float64)
        event_day[arm] = {e: part[f"{e}_day"].to_numpy().astype(np.float64) for e in endpoints}
    first = next(iter(ids.values()))
    for arm, patient_id in ids.items():
        if not np.array_equal(patient_id, first):
            raise ValueError(
                f"arm {arm!r} was simulated for {patient_id.size} patients, another arm for "
                f"{first.size} (or other ids): every patient must be simulated under every arm"
            )
    return PotentialOutcomes(first, tuple(columns), exit_day, event_day)


DESIGN_COLUMNS = ("endpoint", "month", "arm", "n_treated", "n_reference", "incidence_frac")
DESIGN_COLUMNS += ("reference_incidence_frac", "power")
DESIGN_SCHEMA = dict(zip(DESIGN_COLUMNS, [pl.String, pl.Float64, pl.String] + [pl.Int64] * 2
                         + [pl.Float64] * 3, strict=True))  # fmt: skip


def design_power(targets: Mapping | None, control_arm: str, alpha: float) -> pl.DataFrame:
    """Return the power the published design implies, per treated arm, endpoint and month.

    ``targets`` is a trial's block of targets.yaml; every pair of ``fracture_incidence``
    targets (a treated arm and ``control_arm``, same endpoint and month, both with ``n``)
    gives ``analytic_power`` at the published proportions and sizes (``DESIGN_SCHEMA``).
    """
    rows = []
    entries = [t for t in (targets or {}).get("fracture_incidence", []) if "n" in t]
    control = {(t["endpoint"], float(t["month"])): t for t in entries if t["arm"] == control_arm}
    for t in entries:
        ref = control.get((t["endpoint"], float(t["month"])))
        if t["arm"] == control_arm or ref is None:
            continue
        value = analytic_power(t["value"], ref["value"], t["n"], ref["n"], alpha)
        rows.append((t["endpoint"], float(t["month"]), t["arm"], int(t["n"]), int(ref["n"]),
                     float(t["value"]), float(ref["value"]), float(value)))  # fmt: skip
    return pl.DataFrame(rows, schema=DESIGN_SCHEMA, orient="row")


def true_rates(outcomes: PotentialOutcomes, arm: str) -> tuple[FloatArray, FloatArray]:
    """Return (incidence, assessed share), shape (n_columns,), of the whole super-cohort."""
    defined, event = (matrix.sum(axis=0) for matrix in outcomes.outcome_matrices(arm))
    with np.errstate(divide="ignore", invalid="ignore"):
        incidence = event / defined
    return incidence, defined / outcomes.patient_id.size


def _arm_columns(outcomes, counts, p_values, arms: tuple[str, str], sizes, alpha, tests):
    """Return the power-table columns of one treated arm.

    ``counts`` = (assessed, events), each (R, 2, sizes, columns) with the treated arm first;
    ``p_values`` (R, sizes, columns) of the replicate tests ``tests`` (one per column).
    """
    (n1, n0), (x1, x0) = ((c[:, 0], c[:, 1]) for c in counts)
    power = np.mean(p_values < alpha, axis=0)
    q05, median, q95 = np.quantile(risk_ratio(x1, n1, x0, n0), [0.05, 0.5, 0.95], axis=0)
    (p1, f1), (p0, f0) = true_rates(outcomes, arms[0]), true_rates(outcomes, arms[1])
    n = sizes[:, np.newaxis].astype(np.float64)
    shape = power.shape  # (sizes, columns)
    with np.errstate(divide="ignore", invalid="ignore"):
        true_rr = np.where(p0 > 0, p1 / p0, np.nan)
    return {
        "endpoint": np.broadcast_to([e for e, _ in outcomes.columns], shape),
        "month": np.broadcast_to([m for _, m in outcomes.columns], shape),
        "arm": np.full(shape, arms[0], dtype=object),
        "reference_arm": np.full(shape, arms[1], dtype=object),
        "n_per_arm": np.broadcast_to(sizes[:, np.newaxis], shape),
        "replicates": np.full(shape, p_values.shape[0]),
        "alpha": np.full(shape, alpha),
        "test": np.broadcast_to(np.array(tests, dtype=object), shape),
        "power": power,
        "power_mc_se": np.sqrt(power * (1.0 - power) / p_values.shape[0]),
        "rr_median": median,
        "rr_q05": q05,
        "rr_q95": q95,
        "true_incidence_frac": np.broadcast_to(p1, shape),
        "true_reference_incidence_frac": np.broadcast_to(p0, shape),
        "true_risk_ratio": np.broadcast_to(true_rr, shape),
        "analytic_power": analytic_power(p1, p0, n * f1, n * f0, alpha),
    }


def power_table(
    outcomes: PotentialOutcomes,
    control_arm: str,
    n_grid: Sequence[int],
    replicates: int,
    alpha: float,
    seed: int,
    tests: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """Return the power table (``POWER_SCHEMA``): each non-control arm vs ``control_arm``.

    One row per endpoint, month, treated arm and n of ``n_grid``, sorted in that order (the
    module docstring defines every column). ``tests`` maps an endpoint to another replicate
    test than the trial's ("fisher", "pooled_z" or, for a clinical endpoint, "logrank").
    """
    arms = outcomes.arms
    if control_arm not in arms:
        raise ValueError(f"control_arm={control_arm!r} is not an arm; allowed: {arms}")
    sizes = np.unique(np.asarray(n_grid, dtype=np.int64))
    names = column_tests(outcomes.columns, tests)
    assessed, events, p_values = replicate_tests(
        outcomes, control_arm, sizes, replicates, seed, names
    )
    frames = []
    for arm, p in p_values.items():
        pair = [arms.index(arm), arms.index(control_arm)]
        counts = (assessed[:, pair], events[:, pair])
        columns = _arm_columns(outcomes, counts, p, (arm, control_arm), sizes, alpha, names)
        flat = {name: np.ravel(np.swapaxes(value, 0, 1)) for name, value in columns.items()}
        frames.append(pl.from_arrow(io.to_table(flat, POWER_SCHEMA, "power")))
    order = {endpoint: i for i, endpoint in enumerate(FRACTURE_ENDPOINTS)}
    table = pl.concat(frames)
    return table.sort(pl.col("endpoint").replace_strict(order), "month", "arm", "n_per_arm")


def compute_power_table(cohort_paths, simulation_paths, trial) -> pl.DataFrame:
    """Return the power table of a trial (``config.TrialConfig``) from its super-cohort files.

    ``cohort_paths`` are the super-cohort shards, ``simulation_paths`` every (arm, shard) file
    of it simulated under every arm; raises ValueError if a cohort patient was not simulated.
    """
    columns = endpoint_columns(trial.schedule.visit_months, trial.schedule.imaging_months)
    outcomes = read_potential_outcomes(simulation_paths, columns)
    ids = [pq.read_table(p, columns=["patient_id"])["patient_id"].to_numpy() for p in cohort_paths]
    cohort_ids = np.sort(np.concatenate(ids))
    if not np.array_equal(cohort_ids, outcomes.patient_id):
        raise ValueError(
            f"the super-cohort has {cohort_ids.size} patients, the simulation files "
            f"{outcomes.patient_id.size} (or other ids): simulate every shard under every arm"
        )
    block: Mapping = trial.power
    return power_table(
        outcomes,
        trial.control_arm,
        block["n_per_arm"],
        int(block["replicates"]),
        float(block["alpha"]),
        trial.seed,
    )


def write_power_table(table: pl.DataFrame, path: str | Path, metadata: Mapping[str, str]):
    """Write the power table with its explicit schema and provenance, atomically."""
    io.write_parquet(io.to_table(table, POWER_SCHEMA, "power"), path, metadata)
