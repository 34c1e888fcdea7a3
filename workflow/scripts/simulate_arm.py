"""Glue: simulate one cohort shard under one arm, streaming the chunks (trial.jobs.simulate_shard).

``population`` "randomized" simulates the patients randomized to the arm; "counterfactual" and
"power" simulate every patient of the shard under the arm (the counterfactual twins).
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
simulate_shard(trial, cohort, arm, trial.params, snakemake.params.population, output, shard)
print(f"wrote {output}", file=sys.stderr)
