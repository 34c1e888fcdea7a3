# Parameter uncertainty (docs/analyses.md): K parameter sets drawn from the calibration's
# uncertainty (uncertainty.covariance_file), the expected endpoints of each on a prediction
# cohort of its own, and prediction intervals for a future trial next to every endpoint.
PARAMETER_SETS = [f"p{k:03d}" for k in range(TRIAL.uncertainty["n_parameter_sets"])]
SETS_PER_JOB = 10
SET_BATCHES = {
    f"b{j:03d}": PARAMETER_SETS[j * SETS_PER_JOB : (j + 1) * SETS_PER_JOB]
    for j in range((len(PARAMETER_SETS) + SETS_PER_JOB - 1) // SETS_PER_JOB)
}
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


# The prediction cohort: uncertainty.expected_cohort_per_arm patients per arm, the trial's
# screening, a root seed of its own (TrialConfig.cohort_seed), independent of the trial cohort.
rule sample_prediction_cohort:
    output:
        cohort="results/{trial}/uncertainty/cohort.parquet",
    log:
        "logs/{trial}/sample_prediction_cohort/cohort.log",
    benchmark:
        "benchmarks/{trial}/sample_prediction_cohort/cohort.tsv"
    conda:
        CONDA_ENV
    params:
        config=TRIAL.raw,
        population="prediction",
    script:
        "../scripts/sample_cohort.py"


# Expected endpoints of each set (analyses.expected): the prediction cohort simulated event-free
# under every arm. SETS_PER_JOB sets per job, as a job's start-up (Python, the compiled engine)
# costs about as much as one set's simulation.
rule expected_endpoints:
    input:
        cohort="results/{trial}/uncertainty/cohort.parquet",
        parameter_sets=lambda w: [
            f"results/{w.trial}/uncertainty/{pset}/parameters.parquet"
            for pset in SET_BATCHES[w.batch]
        ],
    output:
        expected="results/{trial}/uncertainty/expected/{batch}.parquet",
    log:
        "logs/{trial}/expected_endpoints/{batch}.log",
    benchmark:
        "benchmarks/{trial}/expected_endpoints/{batch}.tsv"
    conda:
        CONDA_ENV
    params:
        config=TRIAL.raw,
    script:
        "../scripts/expected_endpoints.py"


rule prediction_intervals:
    input:
        nominal=expand("results/{{trial}}/endpoints/{table}.parquet", table=PI_TABLES),
        expected=expand("results/{{trial}}/uncertainty/expected/{batch}.parquet", batch=SET_BATCHES),
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
