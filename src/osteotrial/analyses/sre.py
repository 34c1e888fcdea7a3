"""Skeletal-related events (SREs) of a bone-metastasis trial: data contract and counting rule.

Two polars frames carry a trial's SREs (the contract with the model side,
``analyses.sre_frames``):

- ``patients``: one row per randomized patient: ``patient_id`` (int64), ``arm`` (str),
  ``end_day`` (float, end of follow-up: the first of death, dropout and the end of the trial),
  ``died`` (bool, death observed at ``end_day``), optional ``stratum`` (str, the randomization
  strata; the models below are stratified by it).
- ``events``: every event the model drew: ``patient_id``, ``arm``, ``day`` (float, days from
  randomization), ``type`` (one of ``vocabulary.SRE_TYPES``).

``check_frames`` holds both to the contract before any work (an error names the column).
Events after a patient's ``end_day`` were not observed and are dropped; an event on
``end_day`` is observed (a fracture on the day of death counts).

**Counting rule** (``counted_events``), as the trials counted SREs (Stopeck 2010): a further
event counts only if it is ``gap_days`` (21) days or more after the previous *counted* event of
the same patient. Reading: the gap is measured from the last counted event, not from the last
drawn one, so a chain 0, 15, 30 counts days 0 and 30 (15 is within 21 days of 0; 30 is 30 days
after the counted 0, although 15 after the uncounted 15); an event exactly 21 days after the
counted one counts. Events of one patient on the same day are one SRE; its type is the first of
``vocabulary.SRE_TYPES`` among them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from osteotrial.analyses.vocabulary import SRE_TYPES

GAP_DAYS = 21.0
EPS_DAYS = 1e-6  # least length of a counting-process row (counting_process)
PATIENT_COLUMNS: dict[str, type[pl.DataType]] = {
    "patient_id": pl.Int64,
    "arm": pl.String,
    "end_day": pl.Float64,
    "died": pl.Boolean,
}
EVENT_COLUMNS: dict[str, type[pl.DataType]] = {
    "patient_id": pl.Int64,
    "arm": pl.String,
    "day": pl.Float64,
    "type": pl.String,
}


def _check_columns(
    frame: pl.DataFrame, columns: Mapping[str, type[pl.DataType]], name: str
) -> None:
    """Raise ValueError naming the first column of ``columns`` missing or of another type."""
    for column, dtype in columns.items():
        if column not in frame.columns:
            raise ValueError(f"SRE frame {name!r} lacks column {column!r} ({dtype.__name__})")
        if frame.schema[column] != dtype:
            raise ValueError(
                f"SRE frame {name!r}: column {column!r} is {frame.schema[column]}, "
                f"must be {dtype.__name__}"
            )
        if frame[column].null_count():
            raise ValueError(f"SRE frame {name!r}: column {column!r} has nulls")


def check_frames(patients: pl.DataFrame, events: pl.DataFrame) -> None:
    """Raise ValueError, naming the column, if the frames break the contract (module docstring)."""
    _check_columns(patients, PATIENT_COLUMNS, "patients")
    _check_columns(events, EVENT_COLUMNS, "events")
    if "stratum" in patients.columns:
        _check_columns(patients, {"stratum": pl.String}, "patients")
    if patients["patient_id"].is_duplicated().any():
        raise ValueError("SRE frame 'patients': column 'patient_id' repeats a patient")
    end = patients["end_day"].to_numpy()
    if not np.all(np.isfinite(end) & (end >= 0)):
        raise ValueError("SRE frame 'patients': column 'end_day' must be finite and >= 0")
    day = events["day"].to_numpy()
    if not np.all(np.isfinite(day) & (day >= 0)):
        raise ValueError("SRE frame 'events': column 'day' must be finite and >= 0")
    unknown = set(events["type"].unique().to_list()) - set(SRE_TYPES)
    if unknown:
        raise ValueError(
            f"SRE frame 'events': column 'type' has {sorted(unknown)}; allowed: {list(SRE_TYPES)}"
        )
    joined = events.join(patients.select("patient_id", "arm"), on="patient_id", how="left")
    if joined["arm_right"].null_count():
        raise ValueError("SRE frame 'events': column 'patient_id' names a patient not in patients")
    if (joined["arm"] != joined["arm_right"]).any():
        raise ValueError("SRE frame 'events': column 'arm' differs from the patient's arm")


def observed_events(patients: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """Return the events on or before their patient's ``end_day``, sorted by patient, day and
    type order (``SRE_TYPES``), with a column ``type_rank`` (0 .. 3)."""
    rank = pl.col("type").replace_strict(list(SRE_TYPES), range(len(SRE_TYPES)), default=None)
    return (
        events.join(patients.select("patient_id", "end_day"), on="patient_id")
        .filter(pl.col("day") <= pl.col("end_day"))
        .drop("end_day")
        .with_columns(type_rank=rank.cast(pl.Int64))
        .sort("patient_id", "day", "type_rank")
    )


def counted_mask(patient_id: np.ndarray, day: np.ndarray, gap_days: float = GAP_DAYS) -> np.ndarray:
    """Return a bool mask of the counted events (module docstring) of events sorted by patient
    then day. One vectorized round per counted event of the busiest patient: each round counts
    every patient's first remaining event and drops his events less than ``gap_days`` after it."""
    counted = np.zeros(day.size, dtype=bool)
    remaining = np.arange(day.size)
    while remaining.size:
        pid = patient_id[remaining]
        first = np.r_[True, pid[1:] != pid[:-1]]  # sorted: a patient's first remaining event
        counted[remaining[first]] = True
        start = np.maximum.accumulate(np.where(first, np.arange(pid.size), 0))
        threshold = day[remaining[first]][np.cumsum(first) - 1]
        keep = (day[remaining] >= threshold + gap_days) & (np.arange(pid.size) != start)
        remaining = remaining[keep]
    return counted


def counted_events(
    events: pl.DataFrame, gap_days: float = GAP_DAYS, patients: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Return the events that count as SREs (the 21-day rule, module docstring), sorted by
    patient and day. With ``patients`` the frames are checked and events after a patient's
    ``end_day`` dropped first; without, every event of ``events`` is taken as observed."""
    if patients is not None:
        check_frames(patients, events)
        ordered = observed_events(patients, events)
    else:
        _check_columns(events, EVENT_COLUMNS, "events")
        ordered = observed_events(
            events.select("patient_id").unique().with_columns(end_day=pl.lit(np.inf)), events
        )
    mask = counted_mask(ordered["patient_id"].to_numpy(), ordered["day"].to_numpy(), gap_days)
    return ordered.filter(pl.Series(mask)).drop("type_rank")


def patient_sre(
    patients: pl.DataFrame, events: pl.DataFrame, gap_days: float = GAP_DAYS
) -> pl.DataFrame:
    """Return one row per patient (sorted by patient_id): the patients' columns with
    ``first_day`` and ``first_type`` of the first SRE (null if none on study), ``n_sre`` (counted
    SREs) and ``n_drawn`` (observed events before the counting rule)."""
    check_frames(patients, events)
    observed = observed_events(patients, events)
    mask = counted_mask(observed["patient_id"].to_numpy(), observed["day"].to_numpy(), gap_days)
    counted = observed.filter(pl.Series(mask))
    per = counted.group_by("patient_id").agg(
        first_day=pl.col("day").first(), first_type=pl.col("type").first(), n_sre=pl.len()
    )
    drawn = observed.group_by("patient_id").agg(n_drawn=pl.len())
    return (
        patients.join(per, on="patient_id", how="left")
        .join(drawn, on="patient_id", how="left")
        .with_columns(pl.col("n_sre", "n_drawn").fill_null(0).cast(pl.Int64))
        .sort("patient_id")
    )


def counting_process(patients: pl.DataFrame, counted: pl.DataFrame) -> pl.DataFrame:
    """Return the Andersen-Gill rows (start, stop] of each patient: one ending at each counted
    SRE (``event`` 1) and a last one to ``end_day`` (``event`` 0, dropped when of zero length).
    Columns: patient_id, arm, start, stop, event (and stratum when the patients carry it).

    A row must have positive length (a Cox fit with entry times puts a row in the risk set
    on (start, stop]): an SRE on day 0, or two on one day (only with ``gap_days`` 0), ends
    its row ``EPS_DAYS`` after the previous row's stop, a_k = max(stop_k, a_(k-1) + eps)."""
    keep = [c for c in ("patient_id", "arm", "stratum") if c in patients.columns]
    ends = patients.select(*keep, stop=pl.col("end_day"), event=pl.lit(0, pl.Int64))
    stops = counted.select("patient_id", stop=pl.col("day"), event=pl.lit(1, pl.Int64))
    stops = stops.join(patients.select(keep), on="patient_id").select(ends.columns)
    rows = pl.concat([stops, ends]).sort(
        ["patient_id", "stop", "event"], descending=[False, False, True]
    )
    previous = pl.col("stop").shift(1, fill_value=0.0).over("patient_id")
    rows = rows.filter((pl.col("stop") > previous) | (pl.col("event") == 1))
    k = pl.int_range(pl.len()).over("patient_id").cast(pl.Float64)
    floor = pl.max_horizontal(pl.col("stop") - k * EPS_DAYS, pl.lit(EPS_DAYS))
    rows = rows.with_columns(stop=floor.cum_max().over("patient_id") + k * EPS_DAYS)
    rows = rows.with_columns(start=pl.col("stop").shift(1, fill_value=0.0).over("patient_id"))
    return rows.select(*keep, "start", "stop", "event")
