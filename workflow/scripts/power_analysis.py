"""Glue: power and risk-ratio distribution of replicate trials drawn from the super-cohort."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from osteotrial.analyses import power
from osteotrial.storage import check_inputs
from osteotrial.trial.config import job_config

trial = job_config(snakemake.params.config, snakemake.config)
check_inputs([snakemake.input.cohort, snakemake.input.simulations], trial.config_hash)
table = power.compute_power_table(snakemake.input.cohort, snakemake.input.simulations, trial)
power.write_power_table(table, snakemake.output.power, trial.provenance())
print(f"wrote {snakemake.output.power}: {table.height} rows", file=sys.stderr)
