# Replicate trials of n per arm drawn from the super-cohort simulated under every arm.
rule power_analysis:
    input:
        cohort=expand("results/{{trial}}/power/cohort/{shard}.parquet", shard=SHARDS),
        simulations=every_arm_simulations("power"),
    output:
        power="results/{trial}/power/power.parquet",
    log:
        "logs/{trial}/power_analysis/power.log",
    benchmark:
        "benchmarks/{trial}/power_analysis/power.tsv"
    conda:
        CONDA_ENV
    params:
        config=SCIENCE,
    script:
        "../scripts/power_analysis.py"


rule power_report:
    input:
        power="results/{trial}/power/power.parquet",
        targets=TRIAL.targets_file,
    output:
        figure=report(
            "results/{trial}/report/power.png",
            caption="../report/power.rst",
            category="7. Power",
        ),
    log:
        "logs/{trial}/power_report/power.log",
    benchmark:
        "benchmarks/{trial}/power_report/power.tsv"
    conda:
        CONDA_ENV
    params:
        config=SCIENCE,
    script:
        "../scripts/power_report.py"
