"""Glue: simulate one cohort shard under one arm, streaming the chunks.

``population`` "randomized" simulates the patients randomized to the arm; "counterfactual" and
"power" simulate every patient of the shard under the arm (the counterfactual twins). With an
input ``parameter_set`` (rule simulate_parameter_set) the model is that set's.
"""

import sys

sys.stderr = open(snakemake.log[0], "w")

import numpy as np

from osteotrial import io
from osteotrial.calibration.parameter_sets import read_parameter_set
from osteotrial.engine.progress import chunk_logger
from osteotrial.engine.simulate import iter_simulate_arm
from osteotrial.model.params import ModelParams
from osteotrial.testing import maybe_fail_once
from osteotrial.trial.config import config_from_dict

trial = config_from_dict(snakemake.params.config)
arm, shard = snakemake.wildcards.arm, snakemake.wildcards.shard
population = snakemake.params.population
maybe_fail_once(f"{arm}/{shard}")  # tests/cluster retry test only (env OSTEOTRIAL_FAIL_ONCE)
patients = io.read_cohort(snakemake.input.cohort)
if population == "randomized":
    patients = patients.select(patients.arm == arm)
patients = patients.select(np.argsort(patients.patient_id, kind="stable"))
params = trial.params
if hasattr(snakemake.input, "parameter_set"):
    params = ModelParams.from_dict(
        read_parameter_set(snakemake.input.parameter_set, trial.raw["model"])
    )
label = f"{arm}/{shard}" if population == "randomized" else f"{population}/{arm}/{shard}"
progress = chunk_logger(f"{trial.name}/{label}")
chunks = iter_simulate_arm(
    patients, trial.arms[arm], params, trial.schedule, record_pk=False, progress=progress
)
io.write_simulation_stream(chunks, snakemake.output.simulation, trial.provenance(shard=shard))
print(f"wrote {snakemake.output.simulation}", file=sys.stderr)
