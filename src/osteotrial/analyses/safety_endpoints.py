"""The safety endpoint tables of a trial's workflow run: every event the labels name.

ONJ, AFF and MACE are drawn from the simulations' safety exposures (``analyses.safety_frames``);
hypocalcemia by grade comes from the calcium the engines followed at every step
(``analyses.calcium_frames``). Both kinds of events join one pair of contract frames, the
patients' follow-up being the safety frames' (death, dropout, the trial's end), so that
``analyses.safety`` tabulates them alike; the serum calcium course per arm and visit is a
table of its own (``analyses.safety.CALCIUM_COURSE_TABLE``). Every trial gets them, with no
model switch (issue 27).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from osteotrial.analyses import calcium_frames
from osteotrial.analyses.safety import CALCIUM_COURSE_TABLE, safety_tables
from osteotrial.analyses.safety_frames import (
    EXPOSURE_READ,
    SAFETY_EVENTS,
    PatientCovariates,
    exposures_from_rows,
    safety_frames,
)
from osteotrial.engine.inputs import CALCIUM
from osteotrial.trial.config import TrialConfig

EVENT_NAMES: tuple[str, ...] = (*SAFETY_EVENTS, *calcium_frames.EVENTS)
CALCIUM_READ = ("patient_id", "arm", "day", "death_day", "dropout_day", *CALCIUM)
# what one arm's patients in one shard need (exposures and calcium records, read once)
SHARD_READ: tuple[str, ...] = tuple(dict.fromkeys((*EXPOSURE_READ, *CALCIUM_READ)))
# what the calcium course of an arm needs (its percentiles are over all the arm's patients)
COURSE_READ = ("day", "serum_calcium_mmol_l", "calcium_nadir_mmol_l")
# patients whose hazards are computed together (each hazard: weeks x patients float64, about
# 160 x 20,000 x 8 B = 26 MB for FRAME): bounds the memory whatever the shard size
GROUP_PATIENTS = 20_000


def hypocalcemia_events(sim: pl.DataFrame, patients: pl.DataFrame) -> pl.DataFrame:
    """Return the hypocalcemia events of simulation rows that fall within each patient's
    follow-up (``patients``' end_day), in the contract's event columns."""
    _, events = calcium_frames.frames_from_simulation(sim)
    follow = patients.select("patient_id", "arm", "end_day")
    kept = events.join(follow, on=["patient_id", "arm"]).filter(pl.col("day") <= pl.col("end_day"))
    return kept.select("patient_id", "arm", "day", "event")


def files_by_arm(simulations: Sequence[str | Path]) -> dict[str, list[str]]:
    """Return the simulation files holding each arm (arms sorted, files in the given order),
    reading only their arm column."""
    out: dict[str, list[str]] = {}
    for path in simulations:
        arms = pl.scan_parquet(str(path)).select(pl.col("arm").unique()).collect()["arm"]
        for arm in arms.to_list():
            out.setdefault(arm, []).append(str(path))
    return dict(sorted(out.items()))


def _rows(files: Sequence[str], arm: str, columns: Sequence[str]) -> pl.DataFrame:
    """Return one arm's rows of ``files``, only ``columns`` (projection and filter pushed down
    to the Parquet reader)."""
    return pl.scan_parquet(files).filter(pl.col("arm") == arm).select(columns).collect()


def shard_frames(
    trial: TrialConfig, covariates: PatientCovariates, path: str, arm: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return the contract's ``patients`` and ``events`` (ONJ, AFF, MACE and hypocalcemia) of
    one arm's patients in one simulation shard: every patient's records are in one shard
    (shards split patients), and her events depend on hers alone (streams keyed by id)."""
    rows = _rows([path], arm, SHARD_READ)
    groups = [part for whole in exposures_from_rows(rows) for part in whole.split(GROUP_PATIENTS)]
    patients, events = safety_frames(
        groups,
        trial.arms,
        covariates,
        trial.params.safety,
        trial.seed,
        trial.schedule.duration_days,
    )
    hypocalcemia = hypocalcemia_events(rows.select(CALCIUM_READ), patients)
    return patients, pl.concat([events, hypocalcemia])


def safety_endpoint_tables(
    trial: TrialConfig, covariates: PatientCovariates, simulations: Sequence[str | Path]
) -> Mapping[str, pl.DataFrame]:
    """Return every table of ``io.SAFETY_TABLES`` for a trial from its cohort's covariates
    (``PatientCovariates.from_files``: four columns of the cohort shards) and simulation
    shards: events of every kind by arm, their incidence by month, the calcium course.

    Memory (issue 28): one shard of one arm at a time for the events (only the columns they
    need), one arm's calcium and nadir for its course; the frames combined in the order of a
    whole-trial read (arms sorted, patients by id), so the tables do not depend on sharding.
    """
    patients, events, courses = [], [], []
    for arm, files in files_by_arm(simulations).items():
        parts = [shard_frames(trial, covariates, path, arm) for path in files]
        patients.append(pl.concat([p for p, _ in parts]).sort("patient_id"))
        events.extend(e for _, e in parts)
        rows = _rows(files, arm, COURSE_READ)  # not the arm's name on every row
        courses.append(calcium_frames.course_from_simulation(rows, arm))
    all_events = pl.concat(events).sort("patient_id", "day")
    tables = dict(safety_tables(pl.concat(patients), all_events, trial.control_arm, EVENT_NAMES))
    tables[CALCIUM_COURSE_TABLE] = pl.concat(courses)
    return tables
