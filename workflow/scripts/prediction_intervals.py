"""Glue: prediction intervals of every endpoint from the nominal and the K sets' tables."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from osteotrial.analyses.prediction import write_prediction_intervals
from osteotrial.storage import check_inputs
from osteotrial.trial.config import job_config

trial = job_config(snakemake.params.config, snakemake.config)
inputs = snakemake.input
check_inputs([inputs.nominal, inputs.expected, inputs.parameters], trial.config_hash)
write_prediction_intervals(
    snakemake.input.nominal,
    snakemake.input.expected,
    snakemake.input.parameters,
    level=float(trial.uncertainty["level"]),
    output=snakemake.output,
    metadata=trial.provenance(),
)
print(f"wrote {snakemake.output.intervals}", file=sys.stderr)
