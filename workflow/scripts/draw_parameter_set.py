"""Glue: draw parameter set k (wildcard pset = p{k:03d}) and write its values."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from osteotrial.calibration import parameter_sets
from osteotrial.trial.config import config_from_dict

trial = config_from_dict(snakemake.params.config)
pset = snakemake.wildcards.pset
drawn = parameter_sets.trial_parameter_set(trial, int(pset[1:]), snakemake.input.covariance)
parameter_sets.write_parameter_set(
    drawn, trial.raw["model"], snakemake.output.parameters, trial.provenance(parameter_set=pset)
)
print(f"wrote {snakemake.output.parameters}", file=sys.stderr)
