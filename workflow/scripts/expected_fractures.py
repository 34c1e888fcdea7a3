"""Glue: the expected fracture incidences of the trial's own cohort (trial.jobs)."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from osteotrial import io
from osteotrial.calibration.targets import last_fracture_month, load_targets
from osteotrial.storage import check_inputs
from osteotrial.trial.config import job_config
from osteotrial.trial.jobs import trial_expected_fractures

trial = job_config(snakemake.params.config, snakemake.config)
check_inputs(snakemake.input.cohort, trial.config_hash)
cohort = io.read_cohort(snakemake.input.cohort)
last = last_fracture_month(load_targets(snakemake.input.targets, trial.name) or {})
table = trial_expected_fractures(cohort, trial, trial.params, last)
io.write_parquet(table.to_arrow(), snakemake.output.expected, trial.provenance())
print(f"wrote {snakemake.output.expected} (to month {last:g})", file=sys.stderr)
