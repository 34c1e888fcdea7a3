"""Glue: the subgroup forest and the randomized-vs-counterfactual figure."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import polars as pl

from osteotrial.report import figures_trial as figures
from osteotrial.report.figures_counterfactual import (
    randomized_vs_counterfactual_figure,
    subgroup_forest_figure,
)
from osteotrial.trial.config import config_from_dict

trial = config_from_dict(snakemake.params.config)
subgroups = pl.read_parquet(snakemake.input.subgroups)
colors = figures.arm_colors(trial.arm_names, trial.control_arm)
first_month = min(subgroups["month"].to_list())
subgroup_forest_figure(subgroups, first_month, colors, snakemake.output.forest)
randomized_vs_counterfactual_figure(
    subgroups,
    pl.read_parquet(snakemake.input.comparisons),
    pl.read_parquet(snakemake.input.bmd),
    colors,
    snakemake.output.versus,
)
