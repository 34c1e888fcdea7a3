"""Glue: one cohort shard's exact sums of the expected fracture incidences (trial.jobs)."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from osteotrial import io
from osteotrial.analyses.expected_sums import sums_table
from osteotrial.calibration.targets import last_fracture_month, load_targets
from osteotrial.storage import check_inputs
from osteotrial.trial.config import job_config
from osteotrial.trial.jobs import trial_expected_fracture_sums

trial = job_config(snakemake.params.config, snakemake.config)
check_inputs([snakemake.input.cohort], trial.config_hash)
cohort = io.read_cohort(snakemake.input.cohort)
last = last_fracture_month(load_targets(snakemake.input.targets, trial.name) or {})
shard = snakemake.wildcards.shard
sums = trial_expected_fracture_sums(cohort, trial, trial.params, last, progress_label=shard)
io.write_parquet(sums_table(sums), snakemake.output.sums, trial.provenance(shard=shard))
print(f"wrote {snakemake.output.sums} (to month {last:g})", file=sys.stderr)
