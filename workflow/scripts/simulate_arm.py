"""Glue: simulate the patients of one cohort shard randomized to one arm."""

import os
import sys

sys.stderr = open(snakemake.log[0], "w")

from osteotrial import io
from osteotrial.config import config_from_dict
from osteotrial.simulate import simulate_arm

trial = config_from_dict(snakemake.params.config)
arm = snakemake.wildcards.arm
cohort = io.read_cohort(snakemake.input.cohort)
patients = cohort.select(cohort.arm == arm)
result = simulate_arm(patients, trial.arms[arm], trial.params, trial.schedule, record_pk=False)
# Fault injection for tests/cluster (retry test): if OSTEOTRIAL_FAIL_ONCE names a file that does
# not exist yet, the first simulation job to get here creates it and fails, before any output.
fail_once = os.environ.get("OSTEOTRIAL_FAIL_ONCE")
if fail_once:
    try:
        marker = os.open(fail_once, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        pass
    else:
        message = f"injected failure of {arm}/{snakemake.wildcards.shard} ({fail_once})"
        os.write(marker, message.encode())
        os.close(marker)
        print(message, file=sys.__stderr__)  # the job's (SLURM) log; the rule log is rewritten
        raise RuntimeError(message)
meta = trial.provenance(shard=snakemake.wildcards.shard)
io.write_simulation(result, snakemake.output.simulation, meta)
