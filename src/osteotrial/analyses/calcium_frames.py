"""Hypocalcemia events and the serum calcium course, from the engines' calcium records.

The engines follow serum calcium at every step (``engine.loop_records``, ``model.calcium``)
and record, per patient and record day, the calcium, its nadir so far and the first day
below each grade threshold (``ArmResult.calcium``; thresholds in config/model.yaml, block
``calcium``, ``grade_<k>_below_mmol_l``). This module turns them into the safety event contract
(the same shape as the SRE frames of ``analyses.sre_frames``):

- ``patients``: patient_id (int64), arm (str), end_day (float: the first of death, dropout
  and the end of the simulation), died (bool);
- ``events``: patient_id, arm, day (days from randomization), event (str):
  ``hypocalcemia_grade_<k>``, the first day below threshold k, kept if within follow-up.

``calcium_course`` gives serum calcium per arm and record day (mean and percentiles);
``share_with_event`` the share of an arm's patients with an event by a day (the safety rows);
``frames_from_simulation`` and ``course_from_simulation`` the same from the workflow's
simulation shards (``analyses.safety_endpoints``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from osteotrial.engine.inputs import CALCIUM
from osteotrial.engine.results import ArmResult
from osteotrial.model.calcium import N_GRADES
from osteotrial.model.params import ModelParams

EVENTS: tuple[str, ...] = tuple(f"hypocalcemia_grade_{g}" for g in range(1, N_GRADES + 1))
DAY_COLUMNS: tuple[str, ...] = CALCIUM[2:]  # first day below each threshold, EVENTS order
PERCENTILES: tuple[float, ...] = (5.0, 25.0, 50.0, 75.0, 95.0)


def grade_thresholds(params: ModelParams) -> dict[str, float]:
    """Return each event name's threshold (mmol/L): serum calcium below it is the event."""
    return dict(zip(EVENTS, params.calcium.grade_thresholds_mmol_l(), strict=True))


def _calcium(result: ArmResult) -> dict[str, np.ndarray]:
    if result.calcium is None:
        raise ValueError(f"arm {result.arm!r}: the result carries no calcium records")
    return result.calcium


def _arm_frames(result: ArmResult) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return the contract's two frames of one arm (module docstring)."""
    ca = _calcium(result)
    ids = np.asarray(result.patient_id, dtype=np.int64)
    last_day = float(result.record_days[-1])
    end = np.fmin(np.fmin(result.death_day, result.dropout_day), last_day)
    died = np.isfinite(result.death_day) & (result.death_day <= end)
    patients = pl.DataFrame(
        {"patient_id": ids, "arm": np.full(ids.size, result.arm), "end_day": end, "died": died}
    )
    parts = []
    for event, column in zip(EVENTS, DAY_COLUMNS, strict=True):
        day = ca[column][-1]  # the first day below over the whole run (its last record)
        keep = np.isfinite(day) & (day <= end)
        parts.append(
            pl.DataFrame(
                {
                    "patient_id": ids[keep],
                    "arm": np.full(int(keep.sum()), result.arm),
                    "day": day[keep].astype(np.float64),
                    "event": np.full(int(keep.sum()), event, dtype=object),
                }
            ).cast({"event": pl.String, "arm": pl.String})
        )
    events = pl.concat(parts).sort("patient_id", "day")
    return patients, events


def calcium_frames(results: Sequence[ArmResult]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return the safety contract's ``patients`` and ``events`` frames of a trial's arms
    (one ArmResult per arm, patient ids distinct across arms)."""
    frames = [_arm_frames(r) for r in results]
    return pl.concat([p for p, _ in frames]), pl.concat([e for _, e in frames])


def calcium_course(
    results: Sequence[ArmResult], percentiles: Sequence[float] = PERCENTILES
) -> pl.DataFrame:
    """Return serum calcium (mmol/L) per arm and record day: n, mean and percentiles
    (columns ``p5``, ``p25``, ...), and the mean nadir so far."""
    rows = []
    for r in results:
        ca = _calcium(r)["serum_calcium_mmol_l"]
        nadir = _calcium(r)["calcium_nadir_mmol_l"]
        pct = np.percentile(ca, percentiles, axis=1)
        for t, day in enumerate(r.record_days):
            row = {"arm": r.arm, "day": float(day), "n": int(ca.shape[1])}
            row["mean_mmol_l"] = float(ca[t].mean())
            row |= {f"p{p:g}": float(pct[k, t]) for k, p in enumerate(percentiles)}
            row["mean_nadir_mmol_l"] = float(nadir[t].mean())
            rows.append(row)
    return pl.DataFrame(rows)


def share_with_event(result: ArmResult, event: str, by_day: float) -> float:
    """Return the share of the arm's patients whose first ``event`` (``EVENTS``) is at or
    before ``by_day`` (days from randomization; every patient in the denominator)."""
    if event not in EVENTS:
        raise ValueError(f"event={event!r}; allowed: {EVENTS}")
    day = _calcium(result)[DAY_COLUMNS[EVENTS.index(event)]][-1]
    return float(np.mean(np.isfinite(day) & (day <= by_day)))


def shares_within_follow_up(result: ArmResult) -> dict[str, float]:
    """Return, per event (``EVENTS``), the share of the arm's patients whose first event falls
    within their follow-up (as the frames count it): a parameter set's value for the
    prediction intervals (``analyses.safety_expected``; no draw, calcium is deterministic)."""
    ca = _calcium(result)
    end = np.fmin(np.fmin(result.death_day, result.dropout_day), float(result.record_days[-1]))
    out = {}
    for event, column in zip(EVENTS, DAY_COLUMNS, strict=True):
        day = ca[column][-1]
        out[event] = float(np.mean(np.isfinite(day) & (day <= end)))
    return out


def frames_from_simulation(sim: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return the contract's two frames from simulation-table rows (``io.SIMULATION_SCHEMA``:
    the workflow's shards, one or more arms): each patient's last record gives her end of
    follow-up and her first days below each threshold, as ``calcium_frames`` on the results."""
    last = sim.sort("patient_id", "day").group_by("patient_id", "arm").last()
    end = pl.min_horizontal(
        pl.col("death_day").fill_nan(None), pl.col("dropout_day").fill_nan(None), pl.col("day")
    )
    last = last.with_columns(end_day=end.cast(pl.Float64))
    died = pl.col("death_day").fill_nan(None).is_not_null() & (pl.col("death_day") <= end)
    patients = last.select("patient_id", "arm", "end_day", died.fill_null(False).alias("died"))
    parts = [
        last.filter(pl.col(column).is_not_nan() & (pl.col(column) <= pl.col("end_day"))).select(
            "patient_id", "arm", pl.col(column).alias("day"), pl.lit(event).alias("event")
        )
        for event, column in zip(EVENTS, DAY_COLUMNS, strict=True)
    ]
    events = pl.concat(parts).sort("patient_id", "day")
    return patients.sort("patient_id"), events


def course_from_simulation(sim: pl.DataFrame, arm: str | None = None) -> pl.DataFrame:
    """Return ``calcium_course``'s table from simulation-table rows (the workflow's shards):
    per arm and record day the number of patients, the mean, the percentiles (numpy's linear
    interpolation) of serum calcium and the mean nadir so far. ``arm``: the one arm of rows
    read without their arm column (less memory: issue 28)."""
    calcium, nadir = pl.col("serum_calcium_mmol_l"), pl.col("calcium_nadir_mmol_l")
    quantiles = [calcium.quantile(p / 100.0, "linear").alias(f"p{p:g}") for p in PERCENTILES]
    keys = ("arm", "day") if arm is None else ("day",)
    out = sim.group_by(*keys).agg(
        pl.len().cast(pl.Int64).alias("n"),
        calcium.mean().alias("mean_mmol_l"),
        *quantiles,
        nadir.mean().alias("mean_nadir_mmol_l"),
    )
    if arm is not None:
        out = out.select(pl.lit(arm, dtype=pl.String).alias("arm"), pl.all())
    return out.sort("arm", "day")
