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
# event-count row (calibration.comparison); empty for a trial without fracture targets. One job
# per cohort shard simulates its randomized women event-free, chunk by chunk, and writes each
# arm's exact partial sums (analyses.expected_sums); expected_fractures adds them exactly: the
# same table whatever the number of shards, memory bounded by schedule.chunk_size. A trial
# without fracture targets runs no simulate_event_free job (EVENT_FREE_SHARDS).
rule simulate_event_free:
    input:
        cohort="results/{trial}/cohort/{shard}.parquet",
        targets=TRIAL.targets_file,
    output:
        sums="results/{trial}/expected_sums/{shard}.parquet",
    log:
        "logs/{trial}/simulate_event_free/{shard}.log",
    benchmark:
        "benchmarks/{trial}/simulate_event_free/{shard}.tsv"
    conda:
        CONDA_ENV
    params:
        config=SCIENCE,
    script:
        "../scripts/expected_fracture_sums.py"


rule expected_fractures:
    input:
        sums=expand("results/{{trial}}/expected_sums/{shard}.parquet", shard=EVENT_FREE_SHARDS),
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
