rule sample_cohort:
    output:
        cohort=expand("results/{{trial}}/cohort/{shard}.parquet", shard=SHARDS),
    log:
        "logs/{trial}/sample_cohort/cohort.log",
    benchmark:
        "benchmarks/{trial}/sample_cohort/cohort.tsv"
    conda:
        CONDA_ENV
    params:
        config=TRIAL.raw,
    script:
        "../scripts/sample_cohort.py"
