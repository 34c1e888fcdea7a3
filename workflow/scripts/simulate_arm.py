"""Glue: simulate one cohort shard under one arm, streaming the chunks (trial.jobs.simulate_shard).

``population`` "randomized" simulates the patients randomized to the arm, and writes the exact
sums of their expected fracture incidences from the same pass (output ``sums``); "counterfactual"
and "power" simulate every patient of the shard under the arm (the counterfactual twins).
"""

import sys

sys.stderr = open(snakemake.log[0], "w")

from osteotrial import io
from osteotrial.storage import check_inputs
from osteotrial.testing import maybe_fail_once
from osteotrial.trial.config import job_config
from osteotrial.trial.jobs import simulate_shard

trial = job_config(snakemake.params.config, snakemake.config)
check_inputs(snakemake.input.cohort, trial.config_hash)
arm, shard = snakemake.wildcards.arm, snakemake.wildcards.shard
maybe_fail_once(f"{arm}/{shard}")  # tests/cluster retry test only (env OSTEOTRIAL_FAIL_ONCE)
cohort = io.read_cohort(snakemake.input.cohort)
output = snakemake.output.simulation
sums = snakemake.output.get("sums")  # the randomized patients: the expected incidences' sums
last = snakemake.params.get("last_month", 0.0)
population = snakemake.params.population
simulate_shard(trial, cohort, arm, trial.params, population, output, shard, sums, last)
print(f"wrote {output}" + (f" and {sums} (to month {last:g})" if sums else ""), file=sys.stderr)
