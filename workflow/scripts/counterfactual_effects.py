"""Glue: individual effects and subgroup effects from the counterfactual twins."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

from osteotrial import io
from osteotrial.analyses.counterfactual import SCHEMAS, counterfactual_tables, effect_months
from osteotrial.storage import check_inputs
from osteotrial.trial.config import job_config

trial = job_config(snakemake.params.config, snakemake.config)
check_inputs([snakemake.input.cohort, snakemake.input.simulations], trial.config_hash)
by_arm = {arm: [] for arm in trial.arms}
for path in snakemake.input.simulations:  # results/T/counterfactual/simulations/{arm}/{shard}
    by_arm[Path(path).parent.name].append(path)
tables = counterfactual_tables(
    snakemake.input.cohort,
    by_arm,
    trial.control_arm,
    effect_months(trial.schedule),
    trial.counterfactual,
)
for name, table in tables.items():
    io.write_parquet(
        table.to_arrow().cast(SCHEMAS[name]), snakemake.output[name], trial.provenance()
    )
    print(f"wrote {snakemake.output[name]}: {table.height} rows", file=sys.stderr)
