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
    SAFETY_EVENTS,
    PatientCovariates,
    exposures_from_simulation,
    safety_frames,
)
from osteotrial.cohort.sampling import Cohort
from osteotrial.engine.inputs import CALCIUM
from osteotrial.trial.config import TrialConfig

EVENT_NAMES: tuple[str, ...] = (*SAFETY_EVENTS, *calcium_frames.EVENTS)
CALCIUM_READ = ("patient_id", "arm", "day", "death_day", "dropout_day", *CALCIUM)


def hypocalcemia_events(sim: pl.DataFrame, patients: pl.DataFrame) -> pl.DataFrame:
    """Return the hypocalcemia events of simulation rows that fall within each patient's
    follow-up (``patients``' end_day), in the contract's event columns."""
    _, events = calcium_frames.frames_from_simulation(sim)
    follow = patients.select("patient_id", "arm", "end_day")
    kept = events.join(follow, on=["patient_id", "arm"]).filter(pl.col("day") <= pl.col("end_day"))
    return kept.select("patient_id", "arm", "day", "event")


def safety_endpoint_tables(
    trial: TrialConfig, cohort: Cohort, simulations: Sequence[str | Path]
) -> Mapping[str, pl.DataFrame]:
    """Return every table of ``io.SAFETY_TABLES`` for a trial from its cohort and simulation
    shards: events of every kind by arm, their incidence by month, the calcium course."""
    covariates = PatientCovariates.from_cohort(cohort)
    arms = exposures_from_simulation(simulations)
    patients, events = safety_frames(
        arms, trial.arms, covariates, trial.params.safety, trial.seed, trial.schedule.duration_days
    )
    sim = pl.scan_parquet([str(p) for p in simulations]).select(CALCIUM_READ).collect()
    events = pl.concat([events, hypocalcemia_events(sim, patients)]).sort("patient_id", "day")
    tables = dict(safety_tables(patients, events, trial.control_arm, EVENT_NAMES))
    tables[CALCIUM_COURSE_TABLE] = calcium_frames.course_from_simulation(sim)
    return tables
