# The randomized patients of one shard under their arm. The same pass carries each patient's
# event-free hazards to the last fracture target (engine.loop) and writes the arm's exact sums
# of the expected fracture incidences (analyses.expected_sums; an empty table without fracture
# targets): expected_fractures adds them, the same table whatever the number of shards.
rule simulate_arm:
    input:
        cohort="results/{trial}/cohort/{shard}.parquet",
    output:
        simulation="results/{trial}/simulations/{arm}/{shard}.parquet",
        sums="results/{trial}/expected_sums/{arm}/{shard}.parquet",
    log:
        "logs/{trial}/simulate_arm/{arm}/{shard}.log",
    benchmark:
        "benchmarks/{trial}/simulate_arm/{arm}/{shard}.tsv"
    conda:
        CONDA_ENV
    params:
        config=SCIENCE,
        population="randomized",
        last_month=EXPECTED_MONTHS,
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
