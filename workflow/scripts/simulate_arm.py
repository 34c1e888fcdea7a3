"""Glue: simulate the patients of one cohort shard randomized to one arm."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from osteotrial import io
from osteotrial.config import config_from_dict
from osteotrial.faults import maybe_fail_once
from osteotrial.progress import chunk_logger
from osteotrial.simulate import simulate_arm

trial = config_from_dict(snakemake.params.config)
arm, shard = snakemake.wildcards.arm, snakemake.wildcards.shard
cohort = io.read_cohort(snakemake.input.cohort)
patients = cohort.select(cohort.arm == arm)
progress = chunk_logger(f"{trial.name}/{arm}/{shard}")
result = simulate_arm(
    patients, trial.arms[arm], trial.params, trial.schedule, record_pk=False, progress=progress
)
maybe_fail_once(f"{arm}/{shard}")  # tests/cluster retry test only (env OSTEOTRIAL_FAIL_ONCE)
io.write_simulation(result, snakemake.output.simulation, trial.provenance(shard=shard))
print(f"wrote {snakemake.output.simulation}", file=sys.stderr)
