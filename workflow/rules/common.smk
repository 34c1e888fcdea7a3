import re

from snakemake.utils import validate

from osteotrial.trial.config import has_sre, load_config
from osteotrial.trial.locate import repo_path
from osteotrial.plan import expected_fracture_months
from osteotrial.io import ENDPOINT_TABLES, SAFETY_TABLES, SRE_TABLES, shard_sizes
from osteotrial.report.files import REPORT_FILES, SRE_REPORT_FILES
from osteotrial.storage import ShardSpec, check_shards, tidy_results
from osteotrial.trial.scope_check import check_scope, log_outside

# Merge config/model.yaml, config/trials/{trial}.yaml and the --config overrides, validate them
# with config/config.schema.json and the checks of osteotrial.trial.config; an invalid configuration
# stops here, before any job, with a message naming the field, the value and what is allowed.
TRIAL = load_config(config["trial"], overrides=config)
config.update(TRIAL.raw)
validate(config, schema="../../config/config.schema.json")

ARMS = TRIAL.arm_names
# Shard names carry the layout (s000-of-004): files of another n_shards are never mistaken for
# this one's, so n_shards and schedule.chunk_size stay out of the rules' tracked params
# (SCIENCE, TrialConfig.scientific); jobs read them from the workflow's config (job_config).
SHARDS = TRIAL.shards
# The last fracture target's month (0: none): simulate_arm carries the event-free hazards to it
# and writes the expected incidences' sums (expected_fractures).
EXPECTED_MONTHS = expected_fracture_months(TRIAL)
SCIENCE = TRIAL.scientific
CONDA_ENV = "../envs/osteotrial.yaml"


wildcard_constraints:
    trial=re.escape(TRIAL.name),
    arm="|".join(re.escape(arm) for arm in ARMS),
    shard=r"s\d{3}-of-\d{3}",
    population="counterfactual|power",
    batch=r"b\d{3}",


def cohort_table():
    """Return the trial's baseline table (``cohort.table``) as a list of inputs, or none."""
    table = TRIAL.raw["cohort"].get("table")
    return [] if table is None else [table]


def cohort_shard(population, shard):
    """Return the cohort shard simulated under every arm: the trial's or the super-cohort's."""
    if population == "power":
        return f"results/{TRIAL.name}/power/cohort/{shard}.parquet"
    return f"results/{TRIAL.name}/cohort/{shard}.parquet"


def every_arm_simulations(population):
    """Return the simulation files of every patient of ``population`` under every arm."""
    return expand(
        "results/{trial}/{population}/simulations/{arm}/{shard}.parquet",
        trial=TRIAL.name,
        population=population,
        arm=ARMS,
        shard=SHARDS,
    )


def shard_outputs():
    """Return every shard file of this configuration's layout (cohorts, simulations and the
    simulations' expected sums): the run's start removes every other shard file."""
    cohorts = [cohort_shard(p, s) for p in ("randomized", "power") for s in SHARDS]
    simulations = expand(
        "results/{trial}/{kind}/{arm}/{shard}.parquet",
        trial=TRIAL.name,
        kind=("simulations", "expected_sums"),
        arm=ARMS,
        shard=SHARDS,
    )
    twins = every_arm_simulations("counterfactual") + every_arm_simulations("power")
    return cohorts + simulations + twins


def shard_specs():
    """Return what each cohort and simulation shard must hold: path -> ShardSpec (the cohort
    size split into shards; a simulation, the patients of its cohort shard it simulates)."""
    specs, name = {}, TRIAL.name
    for population in ("randomized", "power"):
        n_patients = sum(TRIAL.cohort_allocation(population).values())
        for shard, size in zip(SHARDS, shard_sizes(n_patients, len(SHARDS))):
            cohort = cohort_shard(population, shard)
            specs[cohort] = ShardSpec(patients=size)
            twins = "counterfactual" if population == "randomized" else "power"
            for arm in ARMS:
                path = f"results/{name}/{twins}/simulations/{arm}/{shard}.parquet"
                specs[path] = ShardSpec(cohort=cohort)
                if population == "randomized":
                    path = f"results/{name}/simulations/{arm}/{shard}.parquet"
                    specs[path] = ShardSpec(cohort=cohort, arm=arm)
                    sums = f"results/{name}/expected_sums/{arm}/{shard}.parquet"
                    specs[sums] = ShardSpec(cohort=cohort, arm=arm, patient_rows=False)
    prediction = sum(TRIAL.cohort_allocation("prediction").values())
    specs[f"results/{name}/uncertainty/cohort.parquet"] = ShardSpec(patients=prediction)
    return specs


def files_read_not_written():
    """Return the input files of the jobs this run executes that none of them writes: the
    files to check before the first job (onstart; the DAG is built by then)."""
    jobs = list(workflow.dag.needrun_jobs())
    written = {str(path) for job in jobs for path in job.output}
    return {str(path) for job in jobs for path in job.input} - written


def final_outputs():
    """Return the endpoint tables, the report folder and the outputs of enabled analyses."""
    standard = expand(
        "results/{trial}/endpoints/{table}.parquet", trial=TRIAL.name, table=ENDPOINT_TABLES
    ) + expand("results/{trial}/report/{file}", trial=TRIAL.name, file=REPORT_FILES)
    return (
        standard
        + sre_outputs()
        + counterfactual_outputs()
        + power_outputs()
        + uncertainty_outputs()
    )


def sre_tables(trial="{trial}"):
    """Return the SRE endpoint tables by name when the trial draws SREs, else none
    (``trial``: the wildcard in rules, the trial's name in the final outputs)."""
    if not has_sre(TRIAL):
        return {}
    return {t: f"results/{trial}/endpoints/{t}.parquet" for t in SRE_TABLES}


def sre_report_files(trial="{trial}", flagged=False):
    """Return the SRE page and its figures by name (report.sre) when the trial draws SREs;
    ``flagged``: as the report rule's outputs, in the HTML report with their captions."""
    if not has_sre(TRIAL):
        return {}
    files = {f: f"results/{trial}/report/{f}" for f in SRE_REPORT_FILES}
    if not flagged:
        return {name.replace(".", "_"): path for name, path in files.items()}
    return {
        name.replace(".", "_"): report(
            path,
            caption=f"../report/{name.split('.')[0]}.rst",
            category="10. Skeletal-related events",
        )
        for name, path in files.items()
    }


def sre_outputs():
    """Return the SRE tables and page of a bone-metastasis trial (none for any other)."""
    files = {**sre_tables(TRIAL.name), **sre_report_files(TRIAL.name)}
    return list(files.values())


def counterfactual_outputs():
    """Return the counterfactual tables and figures when ``counterfactual.enabled``."""
    if not TRIAL.counterfactual["enabled"]:
        return []
    return [
        f"results/{TRIAL.name}/endpoints/{table}.parquet"
        for table in ("individual_effects", "subgroups")
    ] + [
        f"results/{TRIAL.name}/report/{figure}.png"
        for figure in ("subgroup_forest", "randomized_vs_counterfactual")
    ]


def power_outputs():
    """Return the power table and figure when ``power.enabled``."""
    if not TRIAL.power["enabled"]:
        return []
    return [f"results/{TRIAL.name}/power/power.parquet", f"results/{TRIAL.name}/report/power.png"]


def uncertainty_outputs():
    """Return the files of the uncertainty analysis (uncertainty.smk) when it is enabled."""
    if not TRIAL.uncertainty["enabled"]:
        return []
    return expand(
        [
            "results/{trial}/endpoints/prediction_intervals.parquet",
            "results/{trial}/uncertainty/parameter_sets.parquet",
            "results/{trial}/report/prediction_intervals.png",
        ],
        trial=TRIAL.name,
    )


def uncertainty_posterior_files():
    """Return the posterior draws the uncertainty file names (none when the analysis is off)."""
    if not TRIAL.uncertainty["enabled"]:
        return []
    from osteotrial.calibration.parameter_sets import posterior_files

    return posterior_files(TRIAL.uncertainty["covariance_file"])
