"""The files of a trial's report folder and their figures' sizes: what the workflow declares as
a run's outputs, importable without matplotlib or the statistics (the Snakefile imports these at
every snakemake start and in every SLURM job; tests/test_imports.py)."""

from __future__ import annotations

# The trial's figures (report.figures_trial), width x height in inches at its DPI.
FIGURE_SIZES_IN: dict[str, tuple[float, float]] = {
    "bmd_pct_change": (14.0, 5.0),
    "markers_pct_change": (13.0, 5.0),
    "cumulative_incidence": (15.0, 6.0),
    "new_vertebral_incidence": (8.0, 5.0),
    "forest": (13.0, 7.0),
    "structure": (14.0, 8.0),
}
FIGURES: tuple[str, ...] = tuple(f"{name}.png" for name in FIGURE_SIZES_IN)
TABLES: tuple[str, ...] = (
    "table1.html",
    "efficacy.html",
    "endpoint_tables.html",
    "calibration.html",
    "calibration.parquet",
    "validation.html",
    "validation.parquet",
)
REPORT_FILES: tuple[str, ...] = FIGURES + TABLES  # report.build.write_report
# The skeletal-related events page of a bone-metastasis trial (report.sre).
SRE_FIGURE_SIZES_IN: dict[str, tuple[float, float]] = {
    "sre_incidence": (14.0, 5.0),
    "sre_mcf": (14.0, 5.0),
}
SRE_REPORT_FILES: tuple[str, ...] = ("sre.html", *(f"{n}.png" for n in SRE_FIGURE_SIZES_IN))
