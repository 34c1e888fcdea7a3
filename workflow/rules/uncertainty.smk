# Parameter uncertainty (docs/analyses.md): K parameter sets drawn from the calibration's
# uncertainty (uncertainty.covariance_file and the posterior draws it names), the expected
# endpoints of each on a prediction cohort of its own, and prediction intervals for a future
# trial next to every endpoint.
from osteotrial.plan import PARAMETER_SETS_PER_JOB as SETS_PER_JOB

PARAMETER_SETS = [f"p{k:03d}" for k in range(TRIAL.uncertainty["n_parameter_sets"])]
SET_BATCHES = {
    f"b{j:03d}": PARAMETER_SETS[j * SETS_PER_JOB : (j + 1) * SETS_PER_JOB]
    for j in range((len(PARAMETER_SETS) + SETS_PER_JOB - 1) // SETS_PER_JOB)
}
PI_TABLES = ("bmd", "markers", "fractures", "comparisons", "safety_events")


# The prediction cohort: uncertainty.expected_cohort_per_arm patients per arm, the trial's
# screening, a root seed of its own (TrialConfig.cohort_seed), independent of the trial cohort.
rule sample_prediction_cohort:
    input:
        table=cohort_table(),
    output:
        cohort="results/{trial}/uncertainty/cohort.parquet",
    log:
        "logs/{trial}/sample_prediction_cohort/cohort.log",
    benchmark:
        "benchmarks/{trial}/sample_prediction_cohort/cohort.tsv"
    conda:
        CONDA_ENV
    params:
        config=SCIENCE,
        population="prediction",
    script:
        "../scripts/sample_cohort.py"


# A batch of SETS_PER_JOB sets per job (a job's start-up, Python and the compiled engine, costs
# about one set): each set drawn (parameters) and its expected endpoints (analyses.expected), the
# prediction cohort simulated event-free under every arm.
rule parameter_set_batch:
    input:
        covariance=str(repo_path(TRIAL.uncertainty["covariance_file"])),
        posterior=uncertainty_posterior_files(),
        cohort="results/{trial}/uncertainty/cohort.parquet",
    output:
        parameters="results/{trial}/uncertainty/parameters/{batch}.parquet",
        expected="results/{trial}/uncertainty/expected/{batch}.parquet",
    log:
        "logs/{trial}/parameter_set_batch/{batch}.log",
    benchmark:
        "benchmarks/{trial}/parameter_set_batch/{batch}.tsv"
    conda:
        CONDA_ENV
    params:
        config=SCIENCE,
        sets=lambda w: SET_BATCHES[w.batch],
    script:
        "../scripts/parameter_set_batch.py"


rule prediction_intervals:
    input:
        nominal=expand("results/{{trial}}/endpoints/{table}.parquet", table=PI_TABLES),
        expected=expand("results/{{trial}}/uncertainty/expected/{batch}.parquet", batch=SET_BATCHES),
        parameters=expand(
            "results/{{trial}}/uncertainty/parameters/{batch}.parquet", batch=SET_BATCHES
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
        config=SCIENCE,
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
        config=SCIENCE,
    script:
        "../scripts/uncertainty_report.py"
