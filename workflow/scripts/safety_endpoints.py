"""Glue: the safety tables of every trial (analyses.safety_endpoints: ONJ, AFF, MACE from the
simulation shards' safety exposures, hypocalcemia by grade and the serum calcium course from
their calcium records)."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from osteotrial import io
from osteotrial.analyses.safety_endpoints import safety_endpoint_tables
from osteotrial.analyses.safety_frames import PatientCovariates
from osteotrial.storage import check_inputs
from osteotrial.trial.config import job_config

trial = job_config(snakemake.params.config, snakemake.config)
check_inputs([snakemake.input.cohort, snakemake.input.simulations], trial.config_hash)
covariates = PatientCovariates.from_files(snakemake.input.cohort)  # four columns, not the cohort
tables = safety_endpoint_tables(trial, covariates, snakemake.input.simulations)
meta = trial.provenance()
for name, table in tables.items():
    io.write_endpoint_table(name, table, snakemake.output[name], meta)
