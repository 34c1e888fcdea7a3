rule report:
    input:
        **{table: f"results/{{trial}}/endpoints/{table}.parquet" for table in ENDPOINT_TABLES},
        **sre_tables(),
        **{table: f"results/{{trial}}/endpoints/{table}.parquet" for table in SAFETY_TABLES},
        simulations=expand(
            "results/{{trial}}/simulations/{arm}/{shard}.parquet", arm=ARMS, shard=SHARDS
        ),
        expected="results/{trial}/endpoints/expected.parquet",
        targets=TRIAL.targets_file,
        validation=str(repo_path("config/validation.yaml")),
    output:
        **sre_report_files(flagged=True),
        bmd=report(
            "results/{trial}/report/bmd_pct_change.png",
            caption="../report/bmd.rst",
            category="1. Bone mineral density",
        ),
        markers=report(
            "results/{trial}/report/markers_pct_change.png",
            caption="../report/markers.rst",
            category="2. Bone turnover markers",
        ),
        incidence=report(
            "results/{trial}/report/cumulative_incidence.png",
            caption="../report/cumulative_incidence.rst",
            category="3. Fractures",
        ),
        vertebral=report(
            "results/{trial}/report/new_vertebral_incidence.png",
            caption="../report/new_vertebral.rst",
            category="3. Fractures",
        ),
        forest=report(
            "results/{trial}/report/forest.png",
            caption="../report/forest.rst",
            category="4. Treatment effects",
        ),
        structure=report(
            "results/{trial}/report/structure.png",
            caption="../report/structure.rst",
            category="1. Bone mineral density",
        ),
        table1=report(
            "results/{trial}/report/table1.html",
            caption="../report/table1.rst",
            category="5. Tables",
        ),
        efficacy=report(
            "results/{trial}/report/efficacy.html",
            caption="../report/efficacy.rst",
            category="5. Tables",
        ),
        endpoint_tables=report(
            "results/{trial}/report/endpoint_tables.html",
            caption="../report/endpoint_tables.rst",
            category="5. Tables",
        ),
        calibration_html=report(
            "results/{trial}/report/calibration.html",
            caption="../report/calibration.rst",
            category="6. Calibration and validation",
        ),
        calibration="results/{trial}/report/calibration.parquet",
        validation_html=report(
            "results/{trial}/report/validation.html",
            caption="../report/validation.rst",
            category="6. Calibration and validation",
        ),
        validation="results/{trial}/report/validation.parquet",
        safety_html=report(
            "results/{trial}/report/safety.html",
            caption="../report/safety.rst",
            category="7. Safety",
        ),
        safety_png=report(
            "results/{trial}/report/safety.png",
            caption="../report/safety_figure.rst",
            category="7. Safety",
        ),
    log:
        "logs/{trial}/report/report.log",
    benchmark:
        "benchmarks/{trial}/report/report.tsv"
    conda:
        CONDA_ENV
    params:
        config=SCIENCE,
    script:
        "../scripts/write_report.py"
