"""Glue: the SRE endpoint tables (io.SRE_TABLES) of a bone-metastasis trial from every
simulation shard (analyses.sre_endpoints)."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from osteotrial import io
from osteotrial.analyses.sre_endpoints import sre_endpoint_tables
from osteotrial.storage import check_inputs
from osteotrial.trial.config import job_config

trial = job_config(snakemake.params.config, snakemake.config)
check_inputs(snakemake.input.simulations, trial.config_hash)
tables = sre_endpoint_tables(trial, snakemake.input.simulations)
for name, table in tables.items():
    io.write_endpoint_table(name, table, snakemake.output[name], trial.provenance())
    print(f"wrote {snakemake.output[name]}", file=sys.stderr)
