"""Glue: the prediction-interval figure of the parameter-uncertainty analysis."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from osteotrial.io import read_frame
from osteotrial.report.figures_trial import arm_colors
from osteotrial.report.figures_uncertainty import prediction_figure
from osteotrial.storage import check_inputs
from osteotrial.trial.config import job_config

trial = job_config(snakemake.params.config, snakemake.config)
check_inputs(snakemake.input.intervals, trial.config_hash)
colors = arm_colors(trial.arm_names, trial.control_arm)
prediction_figure(read_frame(snakemake.input.intervals), colors, snakemake.output.figure)
print(f"wrote {snakemake.output.figure}", file=sys.stderr)
