"""Glue: compute the five endpoint tables from every cohort and simulation shard."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from osteotrial import io
from osteotrial.analyses import endpoints
from osteotrial.analyses.measurement import Measurement
from osteotrial.storage import check_inputs
from osteotrial.trial.config import job_config
from osteotrial.trial.scope_check import run_scope_metadata

trial = job_config(snakemake.params.config, snakemake.config)
check_inputs([snakemake.input.cohort, snakemake.input.simulations], trial.config_hash)
tables = endpoints.compute_endpoint_tables(
    snakemake.input.cohort,
    snakemake.input.simulations,
    control_arm=trial.control_arm,
    visit_months=trial.schedule.visit_months,
    imaging_months=trial.schedule.imaging_months,
    measurement=Measurement.from_dict(trial.measurement, trial.seed),
    strata=trial.strata,
    seed=trial.seed,
)
meta = trial.provenance() | run_scope_metadata(trial, snakemake.input.cohort)
for name, table in tables.items():
    io.write_endpoint_table(name, table, snakemake.output[name], meta)
