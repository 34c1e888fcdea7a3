"""Glue: the subgroup forest and the randomized-vs-counterfactual figure."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import polars as pl

from osteotrial.report import figures_trial as figures
from osteotrial.report.figures_counterfactual import (
    randomized_vs_counterfactual_figure,
    subgroup_forest_figure,
)
from osteotrial.storage import check_inputs
from osteotrial.trial.config import job_config

trial = job_config(snakemake.params.config, snakemake.config)
check_inputs(snakemake.input, trial.config_hash)
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
