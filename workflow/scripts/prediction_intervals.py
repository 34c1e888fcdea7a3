"""Glue: prediction intervals of every endpoint from the nominal and the K sets' tables."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from osteotrial.analyses.prediction import write_prediction_intervals
from osteotrial.trial.config import config_from_dict

trial = config_from_dict(snakemake.params.config)
write_prediction_intervals(
    snakemake.input.nominal,
    snakemake.input.expected,
    snakemake.input.parameters,
    level=float(trial.uncertainty["level"]),
    output=snakemake.output,
    metadata=trial.provenance(),
)
print(f"wrote {snakemake.output.intervals}", file=sys.stderr)
