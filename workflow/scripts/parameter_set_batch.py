"""Glue: draw a batch of parameter sets and compute each one's expected endpoints."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import polars as pl

from osteotrial import io
from osteotrial.calibration import parameter_sets
from osteotrial.model.params import ModelParams
from osteotrial.storage import check_inputs
from osteotrial.trial.config import job_config
from osteotrial.trial.jobs import expected_endpoints

trial = job_config(snakemake.params.config, snakemake.config)
check_inputs(snakemake.input.cohort, trial.config_hash)
cohort = io.read_cohort(snakemake.input.cohort)
drawn, tables = [], []
for pset in snakemake.params.sets:
    result = parameter_sets.trial_parameter_set(trial, int(pset[1:]), snakemake.input.covariance)
    drawn.append(result)
    table = expected_endpoints(cohort, trial, ModelParams.from_dict(result.model))
    tables.append(table.with_columns(parameter_set=pl.lit(pset)))
    print(f"parameter set {pset}: drawn, expected endpoints computed", file=sys.stderr)
metadata = trial.provenance()
parameter_sets.write_parameter_sets(
    drawn, trial.raw["model"], snakemake.output.parameters, metadata
)
io.write_parquet(pl.concat(tables).to_arrow(), snakemake.output.expected, metadata)
