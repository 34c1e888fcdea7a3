"""Glue: the subgroup forest and the randomized-vs-counterfactual figure."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from osteotrial.io import read_frame
from osteotrial.report import figures_trial as figures
from osteotrial.report.figures_counterfactual import (
    randomized_vs_counterfactual_figure,
    subgroup_forest_figure,
)
from osteotrial.storage import check_inputs
from osteotrial.trial.config import job_config

trial = job_config(snakemake.params.config, snakemake.config)
check_inputs(snakemake.input, trial.config_hash)
subgroups = read_frame(snakemake.input.subgroups)
colors = figures.arm_colors(trial.arm_names, trial.control_arm)
first_month = min(subgroups["month"].to_list())
subgroup_forest_figure(subgroups, first_month, colors, snakemake.output.forest)
randomized_vs_counterfactual_figure(
    subgroups,
    read_frame(snakemake.input.comparisons),
    read_frame(snakemake.input.bmd),
    colors,
    snakemake.output.versus,
)
