rule compute_endpoints:
    input:
        cohort=expand("results/{{trial}}/cohort/{shard}.parquet", shard=SHARDS),
        simulations=expand(
            "results/{{trial}}/simulations/{arm}/{shard}.parquet", arm=ARMS, shard=SHARDS
        ),
    output:
        **{table: f"results/{{trial}}/endpoints/{table}.parquet" for table in ENDPOINT_TABLES},
    log:
        "logs/{trial}/compute_endpoints/endpoints.log",
    benchmark:
        "benchmarks/{trial}/compute_endpoints/endpoints.tsv"
    conda:
        CONDA_ENV
    params:
        config=SCIENCE,
    script:
        "../scripts/compute_endpoints.py"


# Skeletal-related events of a bone-metastasis trial (trial key skeletal_events): drawn from
# the tumour's cumulative hazards in every simulation shard (analyses.sre_endpoints).
rule sre_endpoints:
    input:
        simulations=expand(
            "results/{{trial}}/simulations/{arm}/{shard}.parquet", arm=ARMS, shard=SHARDS
        ),
    output:
        **{table: f"results/{{trial}}/endpoints/{table}.parquet" for table in SRE_TABLES},
    log:
        "logs/{trial}/sre_endpoints/sre.log",
    benchmark:
        "benchmarks/{trial}/sre_endpoints/sre.tsv"
    conda:
        CONDA_ENV
    params:
        config=SCIENCE,
    script:
        "../scripts/sre_endpoints.py"


# The model's expected fracture incidences for the trial's own randomized women (event-free,
# same parameters), up to the last fracture target: the centre of the calibration check of an
# event-count row (calibration.comparison); empty for a trial without fracture targets. Each
# simulate_arm job writes its arm and shard's exact sums from the event-free hazards of its own
# pass (no second simulation); this job adds them exactly (analyses.expected_sums).
rule expected_fractures:
    input:
        sums=expand("results/{{trial}}/expected_sums/{arm}/{shard}.parquet", arm=ARMS, shard=SHARDS),
        targets=TRIAL.targets_file,
    output:
        expected="results/{trial}/endpoints/expected.parquet",
    log:
        "logs/{trial}/expected_fractures/expected.log",
    benchmark:
        "benchmarks/{trial}/expected_fractures/expected.tsv"
    conda:
        CONDA_ENV
    params:
        config=SCIENCE,
    script:
        "../scripts/expected_fractures.py"
