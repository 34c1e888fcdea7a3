"""Skeletal-related events (SREs) and deaths drawn from the engines' cumulative hazards.

The engines integrate, per patient, the cumulative hazard of each SRE type and of death from
the cancer (``model.metastasis``) and record them at the record days
(``ArmResult.metastasis``). Events are drawn here, afterwards and vectorized: the k-th event of
type j happens when the cumulative hazard H_j(t) reaches the k-th cumulative sum of Exp(1)
draws of the named stream ``sre.<type>`` (counter-based, keyed by patient_id, so a patient's
events are the same in any arm, chunk or cohort size: common random numbers between arms),
t found by linear interpolation of H between record days (piecewise-constant hazard). Death
is the first of the cancer death (stream ``sre.cancer_death``) and the engine's background
death (``ArmResult.death_day``); follow-up ends at the first of death, dropout and the end of
the trial (``end_days``: the trial's administrative end for each patient, e.g. staggered
entry). Only events up to the end of follow-up are kept.

``sre_frames`` returns the two frames of the SRE data contract (``analyses.sre``, the stats
side): ``patients`` (patient_id, arm, end_day, died) and ``events`` (patient_id, arm, day,
type; every drawn event: the 21-day counting rule is ``analyses.sre.counted_events``'s).
``untx_frame`` gives the urinary NTX % change per record day (the model's resorption signal,
as CTX) for the SRE report's marker table.

``sre_frames_from_simulation`` gives the same two frames from the workflow's simulation files
(the shards of every arm; columns ``io.TUMOUR_COLUMNS``): the recorded cumulative hazards are
written exactly, so the frames equal the in-memory ones whatever the shard layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import polars as pl

from osteotrial import io, rng
from osteotrial.arrays import FloatArray, IntArray
from osteotrial.engine.results import ArmResult
from osteotrial.model.metastasis import SRE_TYPES

MAX_EVENTS_PER_TYPE = 12  # drawn events per type and patient (far above the trials' means)
UNTX_COLUMN = "untx_pct_change"


def crossing_days(days: FloatArray, cum: FloatArray, thresholds: FloatArray) -> FloatArray:
    """Return the day each threshold is reached by a cumulative hazard, nan if never.

    ``days`` (n_t,) increasing from 0; ``cum`` (n_t, n) non-decreasing per patient, 0 at day 0;
    ``thresholds`` (n_ev, n) positive. Linear interpolation between record days.
    """
    reached = cum[:, np.newaxis, :] >= thresholds[np.newaxis, :, :]  # (n_t, n_ev, n)
    ever = reached[-1]
    idx = np.argmax(reached, axis=0)  # first record index at or above the threshold
    hi = np.maximum(idx, 1)
    cols = np.arange(cum.shape[1])[np.newaxis, :]
    h_lo, h_hi = cum[hi - 1, cols], cum[hi, cols]
    span = np.where(h_hi > h_lo, h_hi - h_lo, 1.0)
    frac = np.clip((thresholds - h_lo) / span, 0.0, 1.0)
    day = days[hi - 1] + frac * (days[hi] - days[hi - 1])
    return np.where(ever, day, np.nan)


def _thresholds(seed: int, stream: str, patient_id: np.ndarray, n_events: int) -> FloatArray:
    """Return cumulative Exp(1) thresholds of a stream, shape (n_events, n)."""
    return np.cumsum(rng.exponentials(seed, stream, patient_id, n_events), axis=0)


class TumourCourse(NamedTuple):
    """What the draws need of one arm: the ArmResult fields of that name, as an ArmResult or
    as read back from simulation files (``courses_from_simulation``)."""

    arm: str
    patient_id: IntArray  # (n,)
    record_days: FloatArray  # (n_t,)
    death_day: FloatArray  # (n,) background death, nan if none
    dropout_day: FloatArray  # (n,) inf if never lost
    metastasis: dict[str, FloatArray]  # engine.inputs.METASTASIS names, each (n_t, n)


def _arm_frames(
    result: ArmResult | TumourCourse, seed: int, end_days: FloatArray
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return the contract's two frames of one arm (module docstring)."""
    if result.metastasis is None:
        raise ValueError(f"arm {result.arm!r}: the result carries no tumour hazards (metastasis)")
    days, ids = result.record_days, np.asarray(result.patient_id, dtype=np.int64)
    cancer = _thresholds(seed, "sre.cancer_death", ids, 1)
    cancer_day = crossing_days(days, result.metastasis["cancer_death"], cancer)[0]
    death = np.fmin(cancer_day, result.death_day)
    end = np.fmin(np.fmin(death, result.dropout_day), end_days)
    died = np.isfinite(death) & (death <= end)
    patients = pl.DataFrame(
        {
            "patient_id": ids,
            "arm": np.full(ids.size, result.arm),
            "end_day": end.astype(np.float64),
            "died": died,
        }
    )
    parts = []
    for name in SRE_TYPES:
        thresholds = _thresholds(seed, f"sre.{name}", ids, MAX_EVENTS_PER_TYPE)
        day = crossing_days(days, result.metastasis[name], thresholds)
        keep = np.isfinite(day) & (day <= end[np.newaxis, :])
        k, i = np.nonzero(keep)
        parts.append(
            pl.DataFrame(
                {
                    "patient_id": ids[i],
                    "day": day[k, i],
                    "type": np.full(i.size, name, dtype=object),
                }
            ).cast({"type": pl.String})
        )
    events = pl.concat(parts).with_columns(arm=pl.lit(result.arm))
    events = events.select("patient_id", "arm", "day", "type").sort("patient_id", "day")
    return patients, events


def sre_frames(
    results: Sequence[ArmResult | TumourCourse], seed: int, end_days: FloatArray | float
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return the SRE contract's ``patients`` and ``events`` frames of a trial's arms.

    ``results``: one ArmResult per arm (patient ids distinct across arms); ``seed``: the
    trial's seed (streams ``sre.*``); ``end_days``: the end of the trial per patient, one
    number or an array keyed like ``patient_id`` (indexed by it: length > the largest id).
    """
    pats, evs = [], []
    for result in results:
        ends = np.asarray(end_days, dtype=np.float64)
        n = result.patient_id.size
        end = np.full(n, float(ends)) if ends.ndim == 0 else ends[result.patient_id]
        p, e = _arm_frames(result, seed, end)
        pats.append(p)
        evs.append(e)
    return pl.concat(pats), pl.concat(evs)


def read_simulations(paths: Sequence[str | Path]) -> pl.DataFrame:
    """Return the rows of simulation files (any arms and shards) with the columns the SRE
    tables need (``TUMOUR_COLUMNS``, death, dropout, uNTX), sorted by arm, patient and day."""
    columns = ["patient_id", "arm", "day", "death_day", "dropout_day", UNTX_COLUMN]
    columns += list(io.TUMOUR_COLUMNS.values())
    frames = [io.read_frame(path, columns) for path in paths]  # only these columns are read
    return pl.concat(frames).sort("arm", "patient_id", "day")


def courses_from_simulation(rows: pl.DataFrame) -> list[TumourCourse]:
    """Return one ``TumourCourse`` per arm (sorted by name) of simulation rows
    (``read_simulations``); every patient of an arm must have the same record days."""
    courses = []
    for (arm,), part in rows.group_by("arm", maintain_order=True):
        first = part.filter(pl.col("patient_id") == part["patient_id"][0])
        days = first["day"].to_numpy()
        n_t = days.size
        if part.height % n_t:
            raise ValueError(f"arm {arm!r}: patients have different record days")
        once = part.gather_every(n_t)
        courses.append(
            TumourCourse(
                arm=str(arm),
                patient_id=once["patient_id"].to_numpy().astype(np.int64),
                record_days=days,
                death_day=once["death_day"].to_numpy(),
                dropout_day=once["dropout_day"].to_numpy(),
                metastasis={
                    key: part[name].to_numpy().reshape(-1, n_t).T.copy()
                    for key, name in io.TUMOUR_COLUMNS.items()
                },
            )
        )
    return courses


def sre_frames_from_simulation(
    rows: pl.DataFrame, seed: int, end_days: FloatArray | float
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return ``sre_frames`` of simulation rows (``read_simulations``): the same frames as
    those of the ArmResults that were written (arms in name order)."""
    return sre_frames(courses_from_simulation(rows), seed, end_days)


def staggered_end_days(seed: int, n_patients: int, duration_days: float, accrual_days: float):
    """Return each patient's administrative end of follow-up (n,): the trial's analysis at
    ``duration_days`` after the first entry, entries uniform over ``accrual_days`` (stream
    ``sre.entry``, keyed by patient_id)."""
    u = rng.uniforms(seed, "sre.entry", np.arange(n_patients, dtype=np.int64))[0]
    return duration_days - u * accrual_days


def untx_frame(results: Sequence[ArmResult]) -> pl.DataFrame:
    """Return urinary NTX % change from baseline per patient and record day (patient_id,
    arm, day, untx_pct_change): the model's resorption marker (``ArmResult.ctx_rel``)."""
    parts = []
    for r in results:
        n_t, n = r.ctx_rel.shape
        pct = 100.0 * (r.ctx_rel / r.ctx_rel[0][np.newaxis, :] - 1.0)
        parts.append(
            pl.DataFrame(
                {
                    "patient_id": np.tile(np.asarray(r.patient_id, dtype=np.int64), n_t),
                    "arm": np.full(n_t * n, r.arm),
                    "day": np.repeat(r.record_days.astype(np.float64), n),
                    UNTX_COLUMN: pct.reshape(-1),
                }
            )
        )
    return pl.concat(parts)
