# Safety tables of every trial (analyses.safety_endpoints; no model switch): ONJ, AFF and MACE
# drawn from the simulations' safety exposures (analyses.safety_frames), hypocalcemia by grade
# and the serum calcium course from their calcium records (analyses.calcium_frames).
rule safety_endpoints:
    input:
        cohort=expand("results/{{trial}}/cohort/{shard}.parquet", shard=SHARDS),
        simulations=expand(
            "results/{{trial}}/simulations/{arm}/{shard}.parquet", arm=ARMS, shard=SHARDS
        ),
    output:
        **{table: f"results/{{trial}}/endpoints/{table}.parquet" for table in SAFETY_TABLES},
    log:
        "logs/{trial}/safety_endpoints/safety.log",
    benchmark:
        "benchmarks/{trial}/safety_endpoints/safety.tsv"
    conda:
        CONDA_ENV
    params:
        config=SCIENCE,
    script:
        "../scripts/safety_endpoints.py"
