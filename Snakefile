# osteotrial workflow index: sample a cohort, simulate every arm per shard, compute endpoints,
# write the report (results/{trial}/report/; HTML: snakemake --report results/{trial}/report.html).
# Usage: snakemake --cores all [--config trial=freedom n_per_arm=2000 seed=7 n_shards=8]
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/cohort.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/endpoints.smk"
include: "workflow/rules/safety.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/counterfactual.smk"
include: "workflow/rules/power.smk"
include: "workflow/rules/uncertainty.smk"


# Before the first job (real runs only): remove shards of other layouts and stale temporary
# files, stop, naming the file, if a Parquet file in results/{trial}/ cannot be read, and check
# every shard the jobs will read (configuration, checksum, patient count); failing here keeps
# good outputs, which Snakemake would delete when their job starts (osteotrial.storage).
# A trial outside what the model was calibrated on is said here, once (osteotrial.trial.scope_check).
onstart:
    tidy_results(f"results/{TRIAL.name}", shard_outputs())
    check_shards(shard_specs(), TRIAL.config_hash, files_read_not_written())
    log_outside(check_scope(TRIAL))


rule all:
    input:
        final_outputs(),
