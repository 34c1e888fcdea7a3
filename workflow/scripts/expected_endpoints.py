"""Glue: the expected endpoints of a batch of parameter sets on the prediction cohort."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

import polars as pl

from osteotrial import io
from osteotrial.analyses.expected import expected_endpoints
from osteotrial.calibration.parameter_sets import read_parameter_set
from osteotrial.model.params import ModelParams
from osteotrial.trial.config import config_from_dict

trial = config_from_dict(snakemake.params.config)
cohort = io.read_cohort(snakemake.input.cohort)
tables = []
for path in snakemake.input.parameter_sets:
    params = ModelParams.from_dict(read_parameter_set(path, trial.raw["model"]))
    pset = Path(path).parent.name
    table = expected_endpoints(cohort, trial, params)
    tables.append(table.with_columns(parameter_set=pl.lit(pset)))
    print(f"expected endpoints of {pset}", file=sys.stderr)
io.write_parquet(pl.concat(tables).to_arrow(), snakemake.output.expected, trial.provenance())
