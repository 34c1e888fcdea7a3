"""Glue: the expected fracture incidences of the trial's own cohort from every shard's exact
sums (trial.jobs.expected_fractures_from_sums)."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import pyarrow.parquet as pq

from osteotrial import io
from osteotrial.calibration.targets import last_fracture_month, load_targets
from osteotrial.storage import check_inputs
from osteotrial.trial.config import job_config
from osteotrial.trial.jobs import expected_fractures_from_sums

trial = job_config(snakemake.params.config, snakemake.config)
check_inputs(snakemake.input.sums, trial.config_hash)
last = last_fracture_month(load_targets(snakemake.input.targets, trial.name) or {})
parts = [pq.read_table(path) for path in snakemake.input.sums]
table = expected_fractures_from_sums(parts, trial, last)
io.write_parquet(table.to_arrow(), snakemake.output.expected, trial.provenance())
print(f"wrote {snakemake.output.expected} (to month {last:g})", file=sys.stderr)
