rule simulate_arm:
    input:
        cohort="results/{trial}/cohort/{shard}.parquet",
    output:
        simulation="results/{trial}/simulations/{arm}/{shard}.parquet",
    log:
        "logs/{trial}/simulate_arm/{arm}/{shard}.log",
    benchmark:
        "benchmarks/{trial}/simulate_arm/{arm}/{shard}.tsv"
    conda:
        CONDA_ENV
    params:
        config=TRIAL.raw,
    script:
        "../scripts/simulate_arm.py"
