"""Glue: write the report folder (figures, Table 1, efficacy, endpoint, calibration and
validation tables)."""

import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

from osteotrial.io import ENDPOINT_TABLES, SAFETY_TABLES, SRE_TABLES
from osteotrial.report.build import write_report
from osteotrial.storage import check_inputs
from osteotrial.trial.config import job_config

trial = job_config(snakemake.params.config, snakemake.config)
tables = {name: snakemake.input[name] for name in (*ENDPOINT_TABLES, *SAFETY_TABLES, "expected")}
tables |= {name: snakemake.input[name] for name in SRE_TABLES if name in snakemake.input.keys()}
check_inputs([*tables.values(), snakemake.input.simulations], trial.config_hash)
out_dir = Path(snakemake.output.calibration).parent
written = write_report(
    trial,
    tables,
    snakemake.input.simulations,
    snakemake.input.targets,
    out_dir,
    validation_file=snakemake.input.validation,
)
print("\n".join(f"wrote {path}" for path in written), file=sys.stderr)
