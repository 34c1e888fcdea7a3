"""The ``by_sex`` endpoint table: BMD and fracture results of each arm stratified by sex.

A cohort may hold women and men (a mixed source population, ``cohort.population.male_frac``,
or a table with a ``sex`` column). Their results are not pooled silently: this table repeats the
arm's BMD change (mean % change per site and visit, with the measurement of ``bmd_table``) and
crude fracture incidence (per endpoint and visit, imaging endpoints at imaging visits, as in
``fractures``) for the patients of each sex present. The strata add up to the arm: the
``n_patients`` and ``n_events`` of its sexes sum to the arm's in ``bmd`` and ``fractures``, and
the n-weighted mean of the strata's BMD means is the arm's. ``n_events`` of a BMD row counts the
responders (measured gain above the least significant change, ``bmd.responder_frac``). A
single-sex cohort has one stratum, equal to the arm.

``by_group_table`` is the same table for any grouping column of the cohort: the ``by_stratum``
table of a trial with strata (``trial.strata``: column ``stratum``) is built by it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import polars as pl

from osteotrial.analyses.measurement import EXACT, Measurement
from osteotrial.analyses.visit_tables import VisitRows, bmd_table, endpoint_frame
from osteotrial.stats.intervals import proportion_ci


def _of_patients(visits: VisitRows, ids: pl.Series) -> VisitRows:
    """Return the visit rows of the patients ``ids`` (a long frame or per-day frames)."""
    if isinstance(visits, pl.DataFrame):
        return visits.filter(pl.col("patient_id").is_in(ids.implode()))
    return visits.of_patients(ids)


def _bmd_rows(column: str, group: str, table: pl.DataFrame) -> list[dict]:
    """Return the rows of one group's (a sex's, a stratum's) ``bmd`` table."""
    return [
        {
            "arm": row["arm"],
            column: group,
            "kind": "bmd_pct_change",
            "measure": row["site"],
            "month": row["month"],
            "n_patients": row["n_patients"],
            "n_events": round(row["responder_frac"] * row["n_patients"]),
            "value": row["mean_pct_change"],
            "ci_low": row["ci_low_pct"],
            "ci_high": row["ci_high_pct"],
        }
        for row in table.iter_rows(named=True)
    ]


Counts = Callable[[np.ndarray, np.ndarray, str, float], tuple[int, int]]


def _fracture_rows(
    column: str,
    group: str,
    patients: pl.DataFrame,
    months_of: Mapping[str, Sequence[float]],
    counts: Counts,
) -> list:
    """Return the incidence rows of one group's ``patient_events`` rows."""
    rows = []
    for (arm,), of_arm in patients.sort("arm").group_by("arm", maintain_order=True):
        exit_day = of_arm["exit_day"].to_numpy()
        for endpoint, months in months_of.items():
            event_day = of_arm[f"{endpoint}_day"].to_numpy()
            for month in months:
                n, k = counts(event_day, exit_day, endpoint, month)
                low, high = proportion_ci(k, n)
                rows.append(
                    {
                        "arm": arm,
                        column: group,
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
    months_of: Mapping[str, Sequence[float]],
    counts: Counts,
    measurement: Measurement = EXACT,
) -> pl.DataFrame:
    """Return the ``by_sex`` table (module docstring) of one trial.

    ``visits``: the frames of ``visit_tables.read_visits``; ``cohort``: the cohort table (with
    ``sex``); ``patients``: the first-event days of ``endpoints.patient_events``;
    ``months_of``: each fracture endpoint's months and ``counts`` its (n, events) by a month
    (``endpoints.endpoint_months`` and ``endpoints.fracture_counts``, which call this).
    """
    return by_group_table(
        "sex", visits, cohort, patients, visit_months, months_of, counts, measurement
    )


def by_group_table(
    column: str,
    visits: VisitRows,
    cohort: pl.DataFrame,
    patients: pl.DataFrame,
    visit_months: Sequence[float],
    months_of: Mapping[str, Sequence[float]],
    counts: Counts,
    measurement: Measurement = EXACT,
) -> pl.DataFrame:
    """Return the table of ``by_sex_table`` for the groups of any column of ``cohort``
    (``sex``, ``stratum``): the endpoint table ``by_<column>``."""
    rows: list[dict] = []
    for group in sorted(np.unique(cohort[column].to_numpy()).tolist()):
        sub = cohort.filter(pl.col(column) == group)
        ids = sub["patient_id"]
        whole = sub.height == cohort.height  # one group (a trial of women): no copy of visits
        mine = visits if whole else _of_patients(visits, ids)
        table = bmd_table(mine, sub, visit_months, measurement)
        rows += _bmd_rows(column, group, table)
        events = patients if whole else patients.filter(pl.col("patient_id").is_in(ids.implode()))
        rows += _fracture_rows(column, group, events, months_of, counts)
    frame = endpoint_frame(f"by_{column}", rows)
    return frame.sort("kind", "measure", "arm", column, "month")
