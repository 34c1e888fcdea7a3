"""Glue: simulate one cohort shard under one arm, streaming the chunks.

``population`` "randomized" simulates the patients randomized to the arm; "counterfactual" and
"power" simulate every patient of the shard under the arm (the counterfactual twins).
"""

import sys

sys.stderr = open(snakemake.log[0], "w")

import numpy as np

from osteotrial import io
from osteotrial.config import config_from_dict
from osteotrial.faults import maybe_fail_once
from osteotrial.progress import chunk_logger
from osteotrial.simulate import iter_simulate_arm

trial = config_from_dict(snakemake.params.config)
arm, shard = snakemake.wildcards.arm, snakemake.wildcards.shard
population = snakemake.params.population
maybe_fail_once(f"{arm}/{shard}")  # tests/cluster retry test only (env OSTEOTRIAL_FAIL_ONCE)
patients = io.read_cohort(snakemake.input.cohort)
if population == "randomized":
    patients = patients.select(patients.arm == arm)
patients = patients.select(np.argsort(patients.patient_id, kind="stable"))
label = f"{arm}/{shard}" if population == "randomized" else f"{population}/{arm}/{shard}"
progress = chunk_logger(f"{trial.name}/{label}")
chunks = iter_simulate_arm(
    patients, trial.arms[arm], trial.params, trial.schedule, record_pk=False, progress=progress
)
io.write_simulation_stream(chunks, snakemake.output.simulation, trial.provenance(shard=shard))
print(f"wrote {snakemake.output.simulation}", file=sys.stderr)
