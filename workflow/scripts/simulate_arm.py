"""Glue: simulate the patients of one cohort shard randomized to one arm.

Chunks of schedule.chunk_size patients are simulated and written one after the other
(streaming Parquet writes), so memory does not grow with the shard size.
"""

import sys

sys.stderr = open(snakemake.log[0], "w")

import numpy as np

from osteotrial import io
from osteotrial.config import config_from_dict
from osteotrial.simulate import iter_simulate_arm

trial = config_from_dict(snakemake.params.config)
arm = snakemake.wildcards.arm
cohort = io.read_cohort(snakemake.input.cohort)
patients = cohort.select(cohort.arm == arm)
patients = patients.select(np.argsort(patients.patient_id, kind="stable"))
chunks = iter_simulate_arm(patients, trial.arms[arm], trial.params, trial.schedule, record_pk=False)
meta = trial.provenance(shard=snakemake.wildcards.shard)
io.write_simulation_stream(chunks, snakemake.output.simulation, meta)
