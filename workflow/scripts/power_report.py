"""Glue: the power figure (power and risk ratio against patients per arm) of the power table."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from osteotrial.analyses.power import design_power
from osteotrial.calibration.targets import load_targets
from osteotrial.io import read_frame
from osteotrial.report.figures_power import power_figure
from osteotrial.storage import check_inputs
from osteotrial.trial.config import job_config

trial = job_config(snakemake.params.config, snakemake.config)
check_inputs(snakemake.input.power, trial.config_hash)
months = sorted({*trial.schedule.imaging_months, trial.schedule.visit_months[-1]})
sizes = {arm: n for arm, n in trial.allocation.items() if arm != trial.control_arm}
targets = load_targets(snakemake.input.targets, trial.name)
design = design_power(targets, trial.control_arm, float(trial.power["alpha"]))
table = read_frame(snakemake.input.power)
power_figure(table, sizes, months, snakemake.output.figure, design)
print(f"wrote {snakemake.output.figure}", file=sys.stderr)
