"""The ``by_sex`` endpoint table: BMD and fracture results of each arm stratified by sex.

A cohort may hold women and men (a mixed source population, ``cohort.population.male_frac``,
or a table with a ``sex`` column). Their results are not pooled silently: this table repeats the
arm's BMD change (mean % change per site and visit, with the measurement of ``bmd_table``) and
crude fracture incidence (per endpoint and visit, imaging endpoints at imaging visits, as in
``fractures``) for the patients of each sex present. The strata add up to the arm: the
``n_patients`` and ``n_events`` of its sexes sum to the arm's in ``bmd`` and ``fractures``, and
the n-weighted mean of the strata's BMD means is the arm's. A single-sex cohort has one stratum,
equal to the arm.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from osteotrial.analyses.endpoints import FRACTURE_ENDPOINTS, endpoint_months, fracture_counts
from osteotrial.analyses.measurement import EXACT, Measurement
from osteotrial.analyses.visit_tables import VisitRows, bmd_table, endpoint_frame
from osteotrial.stats.intervals import proportion_ci


def _of_patients(visits: VisitRows, ids: pl.Series) -> VisitRows:
    """Return the visit rows of the patients ``ids`` (a long frame or per-day frames)."""
    if isinstance(visits, pl.DataFrame):
        return visits.filter(pl.col("patient_id").is_in(ids.implode()))
    return {
        day: frame.filter(pl.col("patient_id").is_in(ids.implode()))
        for day, frame in visits.items()
    }


def _bmd_rows(sex: str, table: pl.DataFrame) -> list[dict]:
    """Return the by_sex rows of one sex's ``bmd`` table."""
    return [
        {
            "arm": row["arm"],
            "sex": sex,
            "kind": "bmd_pct_change",
            "measure": row["site"],
            "month": row["month"],
            "n_patients": row["n_patients"],
            "n_events": None,
            "value": row["mean_pct_change"],
            "ci_low": row["ci_low_pct"],
            "ci_high": row["ci_high_pct"],
        }
        for row in table.iter_rows(named=True)
    ]


def _fracture_rows(sex: str, patients: pl.DataFrame, months_of: dict[str, list[float]]) -> list:
    """Return the by_sex incidence rows of one sex's ``patient_events`` rows."""
    rows = []
    for (arm,), group in patients.sort("arm").group_by("arm", maintain_order=True):
        exit_day = group["exit_day"].to_numpy()
        for endpoint, months in months_of.items():
            event_day = group[f"{endpoint}_day"].to_numpy()
            for month in months:
                n, k = fracture_counts(event_day, exit_day, endpoint, month)
                low, high = proportion_ci(k, n)
                rows.append(
                    {
                        "arm": arm,
                        "sex": sex,
                        "kind": "incidence",
                        "measure": endpoint,
                        "month": month,
                        "n_patients": n,
                        "n_events": k,
                        "value": k / n if n else float("nan"),
                        "ci_low": low,
                        "ci_high": high,
                    }
                )
    return rows


def by_sex_table(
    visits: VisitRows,
    cohort: pl.DataFrame,
    patients: pl.DataFrame,
    visit_months: Sequence[float],
    imaging_months: Sequence[float],
    measurement: Measurement = EXACT,
) -> pl.DataFrame:
    """Return the ``by_sex`` table (module docstring) of one trial.

    ``visits``: the frames of ``visit_tables.read_visits``; ``cohort``: the cohort table (with
    ``sex``); ``patients``: the first-event days of ``endpoints.patient_events``.
    """
    months_of = {e: endpoint_months(e, visit_months, imaging_months) for e in FRACTURE_ENDPOINTS}
    rows: list[dict] = []
    for sex in sorted(np.unique(cohort["sex"].to_numpy()).tolist()):
        ids = cohort.filter(pl.col("sex") == sex)["patient_id"]
        sub = cohort.filter(pl.col("sex") == sex)
        rows += _bmd_rows(sex, bmd_table(_of_patients(visits, ids), sub, visit_months, measurement))
        events = patients.filter(pl.col("patient_id").is_in(ids.implode()))
        rows += _fracture_rows(sex, events, months_of)
    frame = endpoint_frame("by_sex", rows)
    return frame.sort("kind", "measure", "arm", "sex", "month")
