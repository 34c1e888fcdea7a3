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
