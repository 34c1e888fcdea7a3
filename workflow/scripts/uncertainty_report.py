"""Glue: the prediction-interval figure of the parameter-uncertainty analysis."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import polars as pl

from osteotrial.report.figures_trial import arm_colors
from osteotrial.report.figures_uncertainty import prediction_figure
from osteotrial.trial.config import config_from_dict

trial = config_from_dict(snakemake.params.config)
colors = arm_colors(trial.arm_names, trial.control_arm)
prediction_figure(pl.read_parquet(snakemake.input.intervals), colors, snakemake.output.figure)
print(f"wrote {snakemake.output.figure}", file=sys.stderr)
