"""Glue: prediction intervals of every endpoint from the nominal and the K sets' tables."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from osteotrial.analyses.prediction import write_prediction_intervals
from osteotrial.calibration.parameter_sets import posterior_likelihoods
from osteotrial.storage import check_inputs
from osteotrial.trial.config import job_config

trial = job_config(snakemake.params.config, snakemake.config)
inputs = snakemake.input
check_inputs([inputs.nominal, inputs.expected, inputs.parameters], trial.config_hash)
drawn_under = posterior_likelihoods(trial.uncertainty["covariance_file"])  # the draws' meaning
write_prediction_intervals(
    snakemake.input.nominal,
    snakemake.input.expected,
    snakemake.input.parameters,
    level=float(trial.uncertainty["level"]),
    output=snakemake.output,
    metadata={**trial.provenance(), "posterior_likelihood": drawn_under},
)
print(f"wrote {snakemake.output.intervals}", file=sys.stderr)
