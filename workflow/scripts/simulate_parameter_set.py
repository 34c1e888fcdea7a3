"""Glue: simulate every arm and shard of the trial's own cohort under one drawn parameter set.

One job per set (not per arm and shard): the simulations are short and the start-up of a job
(Python, the compiled engine) cost as much as the work. Each output is the file a per-shard job
would write (io.simulate_shard, the randomized patients of the arm), so results do not change.
"""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

from osteotrial import io
from osteotrial.calibration.parameter_sets import read_parameter_set
from osteotrial.model.params import ModelParams
from osteotrial.trial.config import config_from_dict

trial = config_from_dict(snakemake.params.config)
model = read_parameter_set(snakemake.input.parameter_set, trial.raw["model"])
params = ModelParams.from_dict(model)
cohorts = {Path(path).stem: path for path in snakemake.input.cohort}
for output in snakemake.output.simulations:
    arm, shard = Path(output).parent.name, Path(output).stem
    cohort = io.read_cohort(cohorts[shard])
    io.simulate_shard(trial, cohort, arm, params, "randomized", output, shard)
    print(f"wrote {output}", file=sys.stderr)
