# Parameter uncertainty (docs/analyses.md): K parameter sets drawn from the calibration's
# uncertainty (uncertainty.covariance_file), each simulated on the trial's own cohort, and
# prediction intervals next to every endpoint.
PARAMETER_SETS = [f"p{k:03d}" for k in range(TRIAL.uncertainty["n_parameter_sets"])]
PI_TABLES = ("bmd", "markers", "fractures", "comparisons")


rule draw_parameter_set:
    input:
        covariance=TRIAL.uncertainty["covariance_file"],
    output:
        parameters="results/{trial}/uncertainty/{pset}/parameters.parquet",
    log:
        "logs/{trial}/draw_parameter_set/{pset}.log",
    benchmark:
        "benchmarks/{trial}/draw_parameter_set/{pset}.tsv"
    conda:
        CONDA_ENV
    params:
        config=TRIAL.raw,
    script:
        "../scripts/draw_parameter_set.py"


# The trial's own cohort (same patients and latent draws): sets differ by parameters only. One
# job per set writes every arm and shard (the per-shard files of a nominal run).
rule simulate_parameter_set:
    input:
        cohort=expand("results/{{trial}}/cohort/{shard}.parquet", shard=SHARDS),
        parameter_set="results/{trial}/uncertainty/{pset}/parameters.parquet",
    output:
        simulations=expand(
            "results/{{trial}}/uncertainty/{{pset}}/simulations/{arm}/{shard}.parquet",
            arm=ARMS,
            shard=SHARDS,
        ),
    log:
        "logs/{trial}/simulate_parameter_set/{pset}.log",
    benchmark:
        "benchmarks/{trial}/simulate_parameter_set/{pset}.tsv"
    conda:
        CONDA_ENV
    params:
        config=TRIAL.raw,
    script:
        "../scripts/simulate_parameter_set.py"


rule parameter_set_endpoints:
    input:
        cohort=expand("results/{{trial}}/cohort/{shard}.parquet", shard=SHARDS),
        simulations=expand(
            "results/{{trial}}/uncertainty/{{pset}}/simulations/{arm}/{shard}.parquet",
            arm=ARMS,
            shard=SHARDS,
        ),
    output:
        **{
            table: f"results/{{trial}}/uncertainty/{{pset}}/endpoints/{table}.parquet"
            for table in ENDPOINT_TABLES
        },
    log:
        "logs/{trial}/parameter_set_endpoints/{pset}.log",
    benchmark:
        "benchmarks/{trial}/parameter_set_endpoints/{pset}.tsv"
    conda:
        CONDA_ENV
    params:
        config=TRIAL.raw,
    script:
        "../scripts/compute_endpoints.py"


rule prediction_intervals:
    input:
        nominal=expand("results/{{trial}}/endpoints/{table}.parquet", table=PI_TABLES),
        sets=expand(
            "results/{{trial}}/uncertainty/{pset}/endpoints/{table}.parquet",
            pset=PARAMETER_SETS,
            table=PI_TABLES,
        ),
        parameters=expand(
            "results/{{trial}}/uncertainty/{pset}/parameters.parquet", pset=PARAMETER_SETS
        ),
    output:
        intervals="results/{trial}/endpoints/prediction_intervals.parquet",
        parameter_sets="results/{trial}/uncertainty/parameter_sets.parquet",
    log:
        "logs/{trial}/prediction_intervals/prediction_intervals.log",
    benchmark:
        "benchmarks/{trial}/prediction_intervals/prediction_intervals.tsv"
    conda:
        CONDA_ENV
    params:
        config=TRIAL.raw,
    script:
        "../scripts/prediction_intervals.py"


rule uncertainty_report:
    input:
        intervals="results/{trial}/endpoints/prediction_intervals.parquet",
    output:
        figure=report(
            "results/{trial}/report/prediction_intervals.png",
            caption="../report/prediction_intervals.rst",
            category="8. Uncertainty",
        ),
    log:
        "logs/{trial}/uncertainty_report/uncertainty_report.log",
    benchmark:
        "benchmarks/{trial}/uncertainty_report/uncertainty_report.tsv"
    conda:
        CONDA_ENV
    params:
        config=TRIAL.raw,
    script:
        "../scripts/uncertainty_report.py"
