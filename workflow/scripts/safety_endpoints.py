"""Glue: the safety tables (analyses.safety) of every trial, from the simulation shards'
safety exposures (analyses.safety_frames: ONJ, AFF, MACE)."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import numpy as np

from osteotrial import io
from osteotrial.analyses.safety import safety_tables
from osteotrial.analyses.safety_frames import (
    SAFETY_EVENTS,
    exposures_from_simulation,
    safety_frames,
)
from osteotrial.storage import check_inputs
from osteotrial.trial.config import job_config

trial = job_config(snakemake.params.config, snakemake.config)
check_inputs([snakemake.input.cohort, snakemake.input.simulations], trial.config_hash)
cohort = io.read_cohort(snakemake.input.cohort)
ages = np.full(int(cohort.patient_id.max()) + 1, np.nan)
ages[cohort.patient_id] = cohort.age_years
arms = exposures_from_simulation(snakemake.input.simulations)
patients, events = safety_frames(
    arms, trial.arms, ages, trial.params.safety, trial.seed, trial.schedule.duration_days
)
tables = safety_tables(patients, events, trial.control_arm, SAFETY_EVENTS)
meta = trial.provenance()
for name, table in tables.items():
    io.write_endpoint_table(name, table, snakemake.output[name], meta)
