"""Glue: sample the trial's cohort once and write it as shards of consecutive patient_id."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from osteotrial import io
from osteotrial.cohort import CohortSpec, sample_cohort
from osteotrial.config import config_from_dict

trial = config_from_dict(snakemake.params.config)
cohort = sample_cohort(CohortSpec.from_dict(trial.cohort_spec), trial.allocation, trial.seed)
io.write_cohort_shards(cohort, snakemake.output.cohort, trial.provenance())
