"""Counterfactual twins: every randomized patient simulated under every arm.

An arm consumes no randomness: every latent draw (covariates, variability multipliers, fracture
and death thresholds, clinical-recognition uniforms, dropout day) lives in the cohort, and arms
differ only through the hazards they produce. Simulating a patient under each arm therefore
gives her potential outcomes, coupled through the same latent thresholds (a rank-preserving
structural assumption: a patient whose threshold is crossed early under one arm is the same
frail patient under the other). The patient randomized to arm A has, under A, exactly the
outcome of the randomized simulation (tested).

Tables
------
``individual_effects``: one row per (patient, treated arm, imaging month), against the control
arm: BMD difference per site in percentage points of change from baseline (null unless on study
under both arms), and per fracture endpoint ``-1`` (prevented: event by the month under the
control arm only), ``0`` or ``+1`` (caused: under the treated arm only); the same observation
rules as ``endpoints`` (clinical events before death or dropout; the imaging endpoints,
``new_vertebral`` and ``multiple_new_vertebral``, only when imaged under both arms, else null).

``subgroups``: population-average effects by subgroup (all, age band, baseline T-score band,
prevalent vertebral fracture): paired risk ratio and risk difference per fracture endpoint and
mean BMD difference per site, with 95 % intervals. Each patient contributes both potential
outcomes, so intervals are paired: the risk difference and BMD difference use the t interval of
the per-patient differences; the log risk ratio uses the delta method with the covariance of
the two outcomes, var = [s1²/p1² + s0²/p0² - 2 s10/(p1 p0)] / n.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from osteotrial.analyses import vocabulary
from osteotrial.analyses.endpoints import FRACTURE_ENDPOINTS, patient_events
from osteotrial.model.records import SITES
from osteotrial.stats.intervals import paired_mean_difference, paired_risk_ratio
from osteotrial.units import DAYS_PER_MONTH

F64, I64, I8, STR = pa.float64(), pa.int64(), pa.int8(), pa.string()
INDIVIDUAL_EFFECTS_SCHEMA = pa.schema(
    [("patient_id", I64), ("randomized_arm", STR), ("arm", STR), ("reference_arm", STR)]
    + [("month", F64)]
    + [(f"bmd_{site.lower()}_diff_pct_points", F64) for site in SITES]
    + [(f"{endpoint}_effect", I8) for endpoint in FRACTURE_ENDPOINTS]
)
SUBGROUPS_SCHEMA = pa.schema(
    [("subgroup", STR), ("level", STR), ("arm", STR), ("reference_arm", STR)]
    + [("endpoint", STR), ("month", F64), ("n_patients", I64)]
    + [("outcome_reference", F64), ("outcome_arm", F64), ("measure", STR)]
    + [("estimate", F64), ("ci_low", F64), ("ci_high", F64)]
)
SCHEMAS: dict[str, pa.Schema] = {
    "individual_effects": INDIVIDUAL_EFFECTS_SCHEMA,
    "subgroups": SUBGROUPS_SCHEMA,
}
MEASURES = ("risk_ratio", "risk_difference", "mean_difference_pct_points")
Paths = Sequence[str | Path]


def _exit_day(frame: pl.DataFrame) -> np.ndarray:
    return frame["exit_day"].to_numpy()


def effect_months(schedule) -> list[float]:
    """Return the months of the effects: the imaging months, else the last visit month."""
    months = schedule.imaging_months or schedule.visit_months[-1:]
    return sorted(float(m) for m in months)


def read_potential_outcomes(
    simulations_by_arm: Mapping[str, Paths], months: Sequence[float]
) -> dict[str, dict[str, np.ndarray]]:
    """Return per arm the arrays of every patient (sorted by patient_id) needed for effects.

    Keys of each arm's mapping: ``patient_id``, ``exit_day``, ``<endpoint>_day`` (first observed
    event, +inf when none; see ``endpoints.patient_events``) and ``bmd_<site>_<month>`` (BMD in
    g/cm2 at the record day of each month, nan when the patient is off study).
    """
    outcomes = {}
    for arm, paths in simulations_by_arm.items():
        paths = [str(p) for p in paths]
        events = patient_events(pl.scan_parquet(paths).filter(pl.col("day") == 0.0))
        arrays = {"patient_id": events["patient_id"].to_numpy()}
        arrays["exit_day"] = _exit_day(events)
        arrays |= {f"{e}_day": events[f"{e}_day"].to_numpy() for e in FRACTURE_ENDPOINTS}
        for month in months:
            day = float(month) * DAYS_PER_MONTH
            rows = (
                pl.scan_parquet(paths)
                .filter((pl.col("day") - day).abs() < 1e-6)
                .select("patient_id", *(f"bmd_{s.lower()}_g_cm2" for s in SITES))
                .sort("patient_id")
                .collect()
            )
            if not np.array_equal(rows["patient_id"].to_numpy(), arrays["patient_id"]):
                raise ValueError(f"arm {arm}: month {month} is not a record day of every patient")
            on_study = arrays["exit_day"] > day
            for site in SITES:
                values = rows[f"bmd_{site.lower()}_g_cm2"].to_numpy().astype(float)
                arrays[f"bmd_{site}_{month:g}"] = np.where(on_study, values, np.nan)
        outcomes[arm] = arrays
    ids = [o["patient_id"] for o in outcomes.values()]
    if any(not np.array_equal(ids[0], other) for other in ids[1:]):
        raise ValueError("the arms' simulation files do not hold the same patients")
    return outcomes


def event_by(outcome: Mapping[str, np.ndarray], endpoint: str, month: float) -> np.ndarray:
    """Return the potential outcome by ``month`` as floats: 1 event, 0 none, nan undefined.

    An imaging endpoint (``vocabulary.at_imaging``: ``new_vertebral``, ``multiple_new_vertebral``)
    is defined only for patients imaged at the month (on study); clinical endpoints count
    observed events for every patient (as ``endpoints.fracture_counts``).
    """
    day = float(month) * DAYS_PER_MONTH
    event = (outcome[f"{endpoint}_day"] <= day).astype(float)
    if vocabulary.at_imaging(endpoint):
        event[outcome["exit_day"] <= day] = np.nan
    return event


def bmd_pct_change(
    outcome: Mapping[str, np.ndarray], baseline: Mapping[str, np.ndarray], site: str, month: float
) -> np.ndarray:
    """Return the percent change of BMD at ``site`` by ``month`` (nan when off study)."""
    return (outcome[f"bmd_{site}_{month:g}"] / baseline[site] - 1.0) * 100.0


def individual_effects(
    cohort: pl.DataFrame,
    outcomes: Mapping[str, Mapping[str, np.ndarray]],
    control_arm: str,
    months: Sequence[float],
) -> pl.DataFrame:
    """Return the ``individual_effects`` table (module docstring) for every treated arm."""
    cohort = cohort.sort("patient_id")
    baseline = {s: cohort[f"bmd_{s.lower()}_g_cm2"].to_numpy() for s in SITES}
    control = outcomes[control_arm]
    parts = []
    for arm in sorted(a for a in outcomes if a != control_arm):
        for month in months:
            columns = {
                "patient_id": cohort["patient_id"].to_numpy(),
                "randomized_arm": cohort["arm"].to_numpy(),
                "arm": np.full(cohort.height, arm, dtype=object),
                "reference_arm": np.full(cohort.height, control_arm, dtype=object),
                "month": np.full(cohort.height, float(month)),
            }
            for site in SITES:
                treated = bmd_pct_change(outcomes[arm], baseline, site, month)
                difference = treated - bmd_pct_change(control, baseline, site, month)
                columns[f"bmd_{site.lower()}_diff_pct_points"] = pa.array(
                    difference, from_pandas=True
                )
            for endpoint in FRACTURE_ENDPOINTS:
                diff = event_by(outcomes[arm], endpoint, month) - event_by(control, endpoint, month)
                columns[f"{endpoint}_effect"] = pa.array(
                    np.nan_to_num(diff).astype(np.int8), mask=np.isnan(diff)
                )
            parts.append(pa.table(columns, schema=INDIVIDUAL_EFFECTS_SCHEMA))
    table = pa.concat_tables(parts) if parts else INDIVIDUAL_EFFECTS_SCHEMA.empty_table()
    return pl.from_arrow(table)


Levels = tuple[np.ndarray, list[str]]


def band_labels(values: np.ndarray, edges: Sequence[float], unit: str = "") -> Levels:
    """Return (label per value, labels in order) of the bands cut at ``edges``.

    Bands: ``<e0``, ``e0 to <e1``, ..., ``>=e_last`` (a value equal to an edge goes up).
    """
    names = [f"<{edges[0]:g}{unit}"]
    names += [
        f"{low:g} to <{high:g}{unit}" for low, high in zip(edges[:-1], edges[1:], strict=True)
    ]
    names += [f">={edges[-1]:g}{unit}"]
    labels = np.asarray(names, dtype=object)[np.searchsorted(edges, values, side="right")]
    return labels, names


def subgroup_levels(cohort: pl.DataFrame, settings: Mapping) -> dict[str, Levels]:
    """Return subgroup name -> (level label per patient sorted by patient_id, level order)."""
    cohort = cohort.sort("patient_id")
    site = settings["tscore_band_site"].lower()
    prevalent = cohort["prevalent_vertebral_fracture_count"].to_numpy() > 0
    return {
        "all": (np.full(cohort.height, "all", dtype=object), ["all"]),
        "age_band": band_labels(
            cohort["age_years"].to_numpy(), settings["age_band_edges_years"], " y"
        ),
        f"tscore_{site}_band": band_labels(
            cohort[f"tscore_{site}"].to_numpy(), settings["tscore_band_edges"]
        ),
        "prevalent_vertebral_fracture": (
            np.where(prevalent, "yes", "no").astype(object),
            ["no", "yes"],
        ),
    }


def _subgroup_rows(
    key: dict, treated: np.ndarray, control: np.ndarray, binary: bool
) -> list[dict[str, object]]:
    keep = ~(np.isnan(treated) | np.isnan(control))
    base = {**key, "n_patients": int(keep.sum())}
    reference, arm_value, *difference = paired_mean_difference(treated, control)
    base |= {"outcome_reference": reference, "outcome_arm": arm_value}
    if not binary:
        return [{**base, "measure": MEASURES[2], **_estimate(difference)}]
    ratio = paired_risk_ratio(treated, control)
    return [
        {**base, "measure": MEASURES[0], **_estimate(ratio)},
        {**base, "measure": MEASURES[1], **_estimate(difference)},
    ]


def _estimate(values: Sequence[float]) -> dict[str, float]:
    return dict(zip(("estimate", "ci_low", "ci_high"), map(float, values), strict=True))


def subgroup_table(
    cohort: pl.DataFrame,
    outcomes: Mapping[str, Mapping[str, np.ndarray]],
    control_arm: str,
    months: Sequence[float],
    settings: Mapping,
) -> pl.DataFrame:
    """Return the ``subgroups`` table (module docstring) for every treated arm and month."""
    cohort = cohort.sort("patient_id")
    baseline = {s: cohort[f"bmd_{s.lower()}_g_cm2"].to_numpy() for s in SITES}
    control = outcomes[control_arm]
    rows: list[dict[str, object]] = []
    for subgroup, (labels, levels) in subgroup_levels(cohort, settings).items():
        for level in levels:
            members = labels == level
            for arm in sorted(a for a in outcomes if a != control_arm):
                for month in months:
                    key = {"subgroup": subgroup, "level": level, "arm": arm}
                    key |= {"reference_arm": control_arm, "month": float(month)}
                    for endpoint in FRACTURE_ENDPOINTS:
                        treated = event_by(outcomes[arm], endpoint, month)[members]
                        untreated = event_by(control, endpoint, month)[members]
                        rows += _subgroup_rows(
                            {**key, "endpoint": endpoint}, treated, untreated, True
                        )
                    for site in SITES:
                        treated = bmd_pct_change(outcomes[arm], baseline, site, month)[members]
                        untreated = bmd_pct_change(control, baseline, site, month)[members]
                        rows += _subgroup_rows(
                            {**key, "endpoint": f"bmd_{site.lower()}"}, treated, untreated, False
                        )
    return pl.from_arrow(pa.Table.from_pylist(rows, schema=SUBGROUPS_SCHEMA))


def counterfactual_tables(
    cohort_paths: Paths,
    simulations_by_arm: Mapping[str, Paths],
    control_arm: str,
    imaging_months: Sequence[float],
    settings: Mapping,
) -> dict[str, pl.DataFrame]:
    """Return ``individual_effects`` and ``subgroups`` of one trial's counterfactual twins.

    Parameters
    ----------
    cohort_paths
        Every cohort shard of the trial.
    simulations_by_arm
        Arm -> the files of every patient simulated under that arm (all shards).
    control_arm
        Reference arm of the effects.
    imaging_months
        Months of the effects (the trial's imaging months, where every endpoint is defined).
    settings
        The ``counterfactual`` config block (subgroup band edges and T-score site).
    """
    cohort = pl.read_parquet([str(p) for p in cohort_paths]).sort("patient_id")
    months = sorted(float(m) for m in imaging_months)
    outcomes = read_potential_outcomes(simulations_by_arm, months)
    if not np.array_equal(outcomes[control_arm]["patient_id"], cohort["patient_id"].to_numpy()):
        raise ValueError("the counterfactual simulations do not hold every patient of the cohort")
    return {
        "individual_effects": individual_effects(cohort, outcomes, control_arm, months),
        "subgroups": subgroup_table(cohort, outcomes, control_arm, months, settings),
    }
