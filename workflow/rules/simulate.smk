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
        config=SCIENCE,
        population="randomized",
    script:
        "../scripts/simulate_arm.py"


# Counterfactual twins: every patient of a shard under one arm, for the trial's own cohort
# ("counterfactual") or the power super-cohort ("power").
rule simulate_every_arm:
    input:
        cohort=lambda w: cohort_shard(w.population, w.shard),
    output:
        simulation="results/{trial}/{population}/simulations/{arm}/{shard}.parquet",
    log:
        "logs/{trial}/simulate_every_arm/{population}/{arm}/{shard}.log",
    benchmark:
        "benchmarks/{trial}/simulate_every_arm/{population}/{arm}/{shard}.tsv"
    conda:
        CONDA_ENV
    params:
        config=SCIENCE,
        population=lambda w: w.population,
    script:
        "../scripts/simulate_arm.py"
