"""Glue: draw a batch of parameter sets and compute each one's expected endpoints."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import polars as pl

from osteotrial import io
from osteotrial.calibration import parameter_sets
from osteotrial.model.params import ModelParams
from osteotrial.storage import check_inputs
from osteotrial.trial.config import job_config
from osteotrial.trial.jobs import expected_endpoints_of_sets

trial = job_config(snakemake.params.config, snakemake.config)
check_inputs(snakemake.input.cohort, trial.config_hash)
cohort = io.read_cohort(snakemake.input.cohort)
names, covariance = snakemake.params.sets, snakemake.input.covariance
drawn = [parameter_sets.trial_parameter_set(trial, int(p[1:]), covariance) for p in names]
print(f"parameter sets {', '.join(names)}: drawn", file=sys.stderr)
sets = [ModelParams.from_dict(result.model) for result in drawn]
expected = expected_endpoints_of_sets(cohort, trial, sets)  # all sets in one run per arm
tables = [t.with_columns(parameter_set=pl.lit(p)) for t, p in zip(expected, names, strict=True)]
print("expected endpoints computed", file=sys.stderr)
metadata = trial.provenance()
parameter_sets.write_parameter_sets(
    drawn, trial.raw["model"], snakemake.output.parameters, metadata
)
io.write_parquet(pl.concat(tables).to_arrow(), snakemake.output.expected, metadata)
