"""The endpoint tables read at the visits: ``bmd``, ``markers`` and ``structure`` (definitions in
``analyses.endpoints``), from the per-day rows of the simulation files.

``read_visits`` reads, file by file, one arm's rows of patients on study, one frame per record
day, holding of each day only the columns its tables read (``ArmVisits``); the table functions
take those frames or the long simulation frame. ``endpoint_frame`` and ``never`` are shared
with the fracture tables of ``analyses.endpoints``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from osteotrial.analyses import measurement as measure
from osteotrial.analyses.measurement import EXACT, Measurement
from osteotrial.io import ENDPOINT_SCHEMAS, STRUCTURE_COLUMNS, STRUCTURE_MEASURES
from osteotrial.model.records import SITES
from osteotrial.stats.intervals import mean_ci
from osteotrial.units import DAYS_PER_MONTH

MARKERS: dict[str, str] = {"P1NP": "p1np_pct_change", "CTX": "ctx_pct_change"}
Paths = Sequence[str | Path]
DAY_TOLERANCE = 1e-6  # a record day is the visit's day within this (days are sums of floats)


def _near(day: float, days: Iterable[float]) -> list[float]:
    """Return the days of ``days`` within ``DAY_TOLERANCE`` of ``day``."""
    return [d for d in days if abs(d - day) < DAY_TOLERANCE]


@dataclass(frozen=True)
class ArmVisits:
    """One arm's rows of patients on study, one frame per record day (``read_visits``).

    Each frame holds ``patient_id`` and the value columns its day's tables read: every column
    of ``VALUE_COLUMNS`` at baseline and at the visit months, the markers alone at the other
    record days (``markers`` is the only table read there). The arm, the day and the exit days
    are not stored per row: ``rows_at`` adds the arm and the day back for one day at a time.
    """

    arm: str
    days: dict[float, pl.DataFrame]

    def rows_at(self, day: float) -> pl.DataFrame:
        """Return the on-study rows of record day ``day`` (within ``DAY_TOLERANCE``), with
        ``arm`` and ``day`` columns, as the long simulation frame would give them."""
        near = _near(day, self.days)
        if near:
            frame = pl.concat([self.days[d] for d in near])
        else:  # no row that day: an empty frame with every column
            schema = {"patient_id": pl.Int64} | dict.fromkeys(VALUE_COLUMNS, pl.Float64)
            frame, near = pl.DataFrame(schema=schema), [float(day)]
        return frame.with_columns(
            arm=pl.lit(self.arm, dtype=pl.String), day=pl.lit(near[0], dtype=pl.Float64)
        )

    def of_patients(self, ids: pl.Series) -> ArmVisits:
        """Return the rows of the patients ``ids`` only."""
        keep = pl.col("patient_id").is_in(ids.implode())
        return ArmVisits(self.arm, {day: frame.filter(keep) for day, frame in self.days.items()})


VisitRows = pl.DataFrame | ArmVisits


def endpoint_frame(name: str, rows: list[dict]) -> pl.DataFrame:
    """Return rows as a polars frame with the explicit schema of endpoint table ``name``."""
    return pl.from_arrow(pa.Table.from_pylist(rows, schema=ENDPOINT_SCHEMAS[name]))


def never(expr: pl.Expr) -> pl.Expr:
    """Return ``expr`` with nan and null (event did not happen) replaced by +inf."""
    return expr.fill_nan(np.inf).fill_null(np.inf)


def _on_study(visits: pl.DataFrame) -> pl.DataFrame:
    """Return the rows of patients alive and not lost to follow-up at the row's day."""
    exit_day = pl.min_horizontal(never(pl.col("death_day")), never(pl.col("dropout_day")))
    return visits.filter(exit_day > pl.col("day"))


def bmd_table(
    visits: VisitRows,
    cohort: pl.DataFrame,
    visit_months: Sequence[float],
    measurement: Measurement = EXACT,
) -> pl.DataFrame:
    """Return the ``bmd`` table: percent change from baseline per arm, site and visit month.

    Changes are measured (``analyses.measurement``: DXA precision at baseline and at the
    visit); mean with its 95 % CI, SD, the least significant change and the share of patients
    whose gain exceeds it (responders). ``visits`` is the long simulation frame or the per-day
    frames of ``read_visits``.
    """
    baseline = cohort.select(
        "patient_id", *(pl.col(f"bmd_{s.lower()}_g_cm2").alias(s) for s in SITES)
    )
    rows = []
    for month in sorted(float(m) for m in visit_months):
        day = month * DAYS_PER_MONTH
        at_visit = _on_study_at(visits, day)
        at_visit = at_visit.join(baseline, on="patient_id").sort("arm", "patient_id")
        for (arm,), group in at_visit.group_by("arm", maintain_order=True):
            ids = group["patient_id"].to_numpy()
            for site in SITES:
                bmd = group[f"bmd_{site.lower()}_g_cm2"].to_numpy()
                bmd0 = group[site].to_numpy()
                pct = measure.bmd_pct_change(measurement, site, ids, day, bmd, bmd0)
                rows.append(_bmd_row(arm, site, month, pct, measurement.lsc_pct(site)))
    frame = endpoint_frame("bmd", rows)
    return frame.sort("arm", "site", "month")


def _bmd_row(arm: str, site: str, month: float, pct: np.ndarray, lsc: float) -> dict:
    mean, low, high = mean_ci(pct)
    return {
        "arm": arm,
        "site": site,
        "month": month,
        "n_patients": pct.size,
        "mean_pct_change": mean,
        "ci_low_pct": low,
        "ci_high_pct": high,
        "sd_pct_change": float(np.std(pct, ddof=1)) if pct.size > 1 else float("nan"),
        "lsc_pct": lsc,
        "responder_frac": float(np.mean(pct > lsc)) if pct.size else float("nan"),
    }


def structure_table(visits: VisitRows, visit_months: Sequence[float]) -> pl.DataFrame:
    """Return the ``structure`` table: bone structure per arm, site, measure and visit month.

    Measures (model.bone): ``trabecular_bvtv`` and ``cortical_porosity`` (fractions, the
    model's true values: no imaging precision is modelled) and ``strength_pct_change``, the
    strength index's percent change from the patient's baseline; mean with its 95 % CI and
    SD, as for BMD. Month 0 is included (baseline structure).
    """
    rows = []
    for month in sorted({0.0, *(float(m) for m in visit_months)}):
        at_visit = _on_study_at(visits, month * DAYS_PER_MONTH).sort("arm", "patient_id")
        for (arm,), group in at_visit.group_by("arm", maintain_order=True):
            for site in SITES:
                for kind in STRUCTURE_MEASURES:
                    values = group[f"{kind}_{site.lower()}"].to_numpy()
                    if kind == "strength_rel":
                        kind, values = "strength_pct_change", (values - 1.0) * 100.0
                    mean, low, high = mean_ci(values)
                    sd = float(np.std(values, ddof=1)) if values.size > 1 else float("nan")
                    rows.append(
                        {"arm": arm, "site": site, "measure": kind, "month": month}
                        | {"n_patients": values.size, "mean": mean, "ci_low": low}
                        | {"ci_high": high, "sd": sd}
                    )
    return endpoint_frame("structure", rows).sort("arm", "site", "measure", "month")


def markers_table(visits: VisitRows, measurement: Measurement = EXACT) -> pl.DataFrame:
    """Return the ``markers`` table: median and quartiles of percent change per arm and day.

    Changes are measured (``analyses.measurement``: within-subject CV of each marker at
    baseline and at the visit). ``visits`` is the long simulation frame or the per-day frames
    of ``read_visits``.
    """
    rows = []
    for day in (d for d in record_days(visits) if d > 0):
        on_study = _on_study_at(visits, day).sort("arm", "patient_id")
        for (arm,), group in on_study.group_by("arm", maintain_order=True):
            ids = group["patient_id"].to_numpy()
            for marker, column in MARKERS.items():
                true_pct = group[column].to_numpy()
                pct = measure.marker_pct_change(measurement, marker, ids, float(day), true_pct)
                q25, median, q75 = np.quantile(pct, [0.25, 0.5, 0.75])
                rows.append(
                    {
                        "arm": arm,
                        "marker": marker,
                        "day": day,
                        "month": day / DAYS_PER_MONTH,
                        "median_pct_change": float(median),
                        "q25_pct_change": float(q25),
                        "q75_pct_change": float(q75),
                    }
                )
    return endpoint_frame("markers", rows).sort("arm", "marker", "day")


# The values the visit tables read: BMD (bmd, by_sex, by_stratum), markers, structure.
VALUE_COLUMNS: tuple[str, ...] = (
    "bmd_ls_g_cm2",
    "bmd_th_g_cm2",
    "bmd_fn_g_cm2",
    *MARKERS.values(),
    *STRUCTURE_COLUMNS,
)
VISIT_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "arm",
    "day",
    *VALUE_COLUMNS,
    "death_day",
    "dropout_day",
)


def _on_study_at(visits: VisitRows, day: float) -> pl.DataFrame:
    """Return the rows of record day ``day`` (within ``DAY_TOLERANCE``) of patients on study
    that day."""
    if isinstance(visits, ArmVisits):
        return visits.rows_at(day)  # read_visits kept the on-study rows only
    return _on_study(visits.filter((pl.col("day") - day).abs() < DAY_TOLERANCE))


def record_days(visits: VisitRows) -> list[float]:
    """Return the record days of ``visits``, sorted."""
    if isinstance(visits, ArmVisits):
        return sorted(visits.days)
    return visits["day"].unique().sort().to_list()


def _row_groups(path: str | Path, columns: Sequence[str]) -> Iterator[pl.DataFrame]:
    """Yield the row groups of a Parquet file, ``columns`` only, one in memory at a time."""
    reader = pq.ParquetFile(path)
    for group in range(reader.num_row_groups):
        yield pl.from_arrow(reader.read_row_group(group, columns=list(columns)))


def read_visits(simulation_paths: Paths, arm: str, visit_months: Sequence[float]) -> ArmVisits:
    """Return the on-study rows of ``arm`` at every record day, one frame per day.

    Only the columns of ``VISIT_COLUMNS`` are read, one row group of one simulation file at a
    time, and rows of patients off study are dropped. Of each day only ``patient_id`` and the
    values its tables read are kept (``ArmVisits``): every value at baseline and at
    ``visit_months``, the markers at the other days. FRAME's 17 record days then hold about
    1.1 kB a patient, not 3.2 kB, and the reading's own memory is one row group's.
    """
    full_days = [m * DAYS_PER_MONTH for m in (0.0, *visit_months)]
    markers = ["patient_id", *MARKERS.values()]
    parts: dict[float, list[pl.DataFrame]] = {}
    for path in simulation_paths:
        for rows in _row_groups(path, VISIT_COLUMNS):
            rows = _on_study(rows).filter(pl.col("arm") == arm)
            for (day,), group in rows.group_by("day"):
                full = bool(_near(day, full_days))
                kept = group.select("patient_id", *VALUE_COLUMNS) if full else group.select(markers)
                parts.setdefault(float(day), []).append(kept)
    return ArmVisits(arm, {day: pl.concat(parts[day]) for day in sorted(parts)})
