"""Glue: sample a cohort once (the trial's, the power super-cohort or the prediction cohort)
and write it as shards."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from osteotrial import io
from osteotrial.cohort.sampling import CohortSpec, sample_cohort
from osteotrial.trial.config import job_config
from osteotrial.trial.scope_check import check_scope, log_outside

trial = job_config(snakemake.params.config, snakemake.config)
population = snakemake.params.population
allocation = trial.cohort_allocation(population)
seed = trial.cohort_seed(population)
spec = CohortSpec.from_dict(trial.cohort_spec)  # a cohort.table is taken in order, or resampled
cohort = sample_cohort(spec, allocation, seed, resample_table=population != "randomized")
log_outside(check_scope(trial, cohort))  # outside the calibrated scope: said in this log
paths = snakemake.output.cohort
paths = [paths] if isinstance(paths, str) else list(paths)  # one file: the prediction cohort
io.write_cohort_shards(cohort, paths, trial.provenance())
