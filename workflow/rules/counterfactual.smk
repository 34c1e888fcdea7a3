rule counterfactual_effects:
    input:
        cohort=expand("results/{{trial}}/cohort/{shard}.parquet", shard=SHARDS),
        simulations=every_arm_simulations("counterfactual"),
    output:
        individual_effects="results/{trial}/endpoints/individual_effects.parquet",
        subgroups="results/{trial}/endpoints/subgroups.parquet",
    log:
        "logs/{trial}/counterfactual_effects/effects.log",
    benchmark:
        "benchmarks/{trial}/counterfactual_effects/effects.tsv"
    conda:
        CONDA_ENV
    params:
        config=SCIENCE,
    script:
        "../scripts/counterfactual_effects.py"


rule counterfactual_report:
    input:
        subgroups="results/{trial}/endpoints/subgroups.parquet",
        comparisons="results/{trial}/endpoints/comparisons.parquet",
        bmd="results/{trial}/endpoints/bmd.parquet",
    output:
        forest=report(
            "results/{trial}/report/subgroup_forest.png",
            caption="../report/subgroup_forest.rst",
            category="9. Counterfactual twins",
        ),
        versus=report(
            "results/{trial}/report/randomized_vs_counterfactual.png",
            caption="../report/randomized_vs_counterfactual.rst",
            category="9. Counterfactual twins",
        ),
    log:
        "logs/{trial}/counterfactual_report/report.log",
    benchmark:
        "benchmarks/{trial}/counterfactual_report/report.tsv"
    conda:
        CONDA_ENV
    params:
        config=SCIENCE,
    script:
        "../scripts/counterfactual_report.py"
