rule sample_cohort:
    input:
        table=cohort_table(),
    output:
        cohort=expand("results/{{trial}}/cohort/{shard}.parquet", shard=SHARDS),
    log:
        "logs/{trial}/sample_cohort/cohort.log",
    benchmark:
        "benchmarks/{trial}/sample_cohort/cohort.tsv"
    conda:
        CONDA_ENV
    params:
        config=SCIENCE,
        population="randomized",
    script:
        "../scripts/sample_cohort.py"


# The power super-cohort: power.super_cohort_per_arm patients per arm, the trial's screening, a
# root seed of its own (TrialConfig.cohort_seed), independent of the trial cohort.
rule sample_super_cohort:
    input:
        table=cohort_table(),
    output:
        cohort=expand("results/{{trial}}/power/cohort/{shard}.parquet", shard=SHARDS),
    log:
        "logs/{trial}/sample_super_cohort/cohort.log",
    benchmark:
        "benchmarks/{trial}/sample_super_cohort/cohort.tsv"
    conda:
        CONDA_ENV
    params:
        config=SCIENCE,
        population="power",
    script:
        "../scripts/sample_cohort.py"
