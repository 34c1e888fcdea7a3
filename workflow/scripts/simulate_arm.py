"""Glue: simulate the patients of one cohort shard randomized to one arm."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from osteotrial import io
from osteotrial.config import config_from_dict
from osteotrial.simulate import simulate_arm

trial = config_from_dict(snakemake.params.config)
arm = snakemake.wildcards.arm
cohort = io.read_cohort(snakemake.input.cohort)
patients = cohort.select(cohort.arm == arm)
result = simulate_arm(patients, trial.arms[arm], trial.params, trial.schedule, record_pk=False)
meta = trial.provenance(shard=snakemake.wildcards.shard)
io.write_simulation(result, snakemake.output.simulation, meta)
