"""The SRE endpoint tables of a bone-metastasis trial from its simulation files (the workflow's
rule ``sre_endpoints``).

A trial draws skeletal-related events when its file has ``skeletal_events`` (``has_sre``). The
simulation files carry the tumour's cumulative hazards (``io.TUMOUR_COLUMNS``);
``sre_endpoint_tables`` reads them (every arm and shard), draws the SREs and deaths
(``analyses.sre_frames``: streams keyed by patient_id, so the tables are the same for any shard
layout), ends each patient's follow-up at the trial's staggered end (``trial_end_days``) and
returns ``analyses.sre_tables`` with the simulation's uNTX course and the trial's control arm
as the reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from osteotrial.analyses.safety_endpoints import files_by_arm
from osteotrial.analyses.sre_frames import (
    read_simulations,
    sre_frames_from_simulation,
    staggered_end_days,
)
from osteotrial.analyses.sre_tables import UNTX_COLUMN, sre_tables
from osteotrial.trial.config import TrialConfig, has_sre
from osteotrial.units import DAYS_PER_MONTH


def trial_end_days(trial: TrialConfig, n_patients: int) -> np.ndarray:
    """Return the administrative end of follow-up of patients 0 to n_patients - 1: the
    analysis at ``schedule.duration_months``, entry spread over ``skeletal_events.
    accrual_months`` (``sre_frames.staggered_end_days``; keyed by patient_id)."""
    accrual = float(trial.raw["skeletal_events"]["accrual_months"]) * DAYS_PER_MONTH
    return staggered_end_days(trial.seed, n_patients, trial.schedule.duration_days, accrual)


def sre_endpoint_tables(
    trial: TrialConfig, simulation_paths: Sequence[str | Path]
) -> dict[str, pl.DataFrame]:
    """Return the tables of ``io.SRE_TABLES`` of a trial from its simulation files.

    One arm at a time (arms sorted, the order of ``sre_frames_from_simulation``): its files'
    SRE columns are read, its frames drawn and only the uNTX course kept, so memory holds one
    arm's tumour columns, not the trial's.
    """
    if not has_sre(trial):
        raise ValueError(f"trial {trial.name!r} has no skeletal_events: it draws no SREs")
    paths = [str(p) for p in simulation_paths]
    last_id = pl.scan_parquet(paths).select(pl.col("patient_id").max()).collect().item()
    end = trial_end_days(trial, int(last_id) + 1)
    patients, events, markers = [], [], []
    for arm, files in files_by_arm(paths).items():
        rows = read_simulations(files).filter(pl.col("arm") == arm)
        arm_patients, arm_events = sre_frames_from_simulation(rows, trial.seed, end)
        patients.append(arm_patients)
        events.append(arm_events)
        markers.append(rows.select("patient_id", "day", UNTX_COLUMN))
        del rows
    return sre_tables(
        pl.concat(patients),
        pl.concat(events),
        markers=pl.concat(markers),
        reference_arm=trial.control_arm,
    )
