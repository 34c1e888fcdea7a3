"""Table 1: baseline characteristics of each arm of a trial's cohort."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from osteotrial.io import ENDPOINT_SCHEMAS

BASELINE_CONTINUOUS: tuple[str, ...] = (
    "age_years",
    "bmi_kg_m2",
    "tscore_ls",
    "tscore_th",
    "tscore_fn",
    "bmd_ls_g_cm2",
    "bmd_th_g_cm2",
    "bmd_fn_g_cm2",
    "prevalent_vertebral_fracture_count",
)
BASELINE_BINARY: dict[str, pl.Expr] = {
    "prevalent_vertebral_fracture": pl.col("prevalent_vertebral_fracture_count") > 0,
    "prevalent_vertebral_fracture_2_or_more": pl.col("prevalent_vertebral_fracture_count") >= 2,
    "prior_nonvertebral_fracture": pl.col("prior_nonvertebral_fracture"),
    "prior_hip_fracture": pl.col("prior_hip_fracture"),
}


def baseline_table(cohort: pl.DataFrame) -> pl.DataFrame:
    """Return Table 1: per arm, n, mean and sd of continuous variables, fractions of binary ones.

    ``month`` is 0 on every row (randomization), as every table carries ``month``.
    """
    rows = []
    frame = cohort.with_columns(**BASELINE_BINARY).sort("arm", "patient_id")
    for (arm,), group in frame.group_by("arm", maintain_order=True):
        rows.append({"arm": arm, "variable": "patients", "statistic": "n", "value": group.height})
        for variable in BASELINE_CONTINUOUS:
            values = group[variable].to_numpy().astype(np.float64)
            for statistic, value in (("mean", np.mean(values)), ("sd", np.std(values, ddof=1))):
                rows.append(
                    {
                        "arm": arm,
                        "variable": variable,
                        "statistic": statistic,
                        "value": float(value),
                    }
                )
        for variable in BASELINE_BINARY:
            value = float(np.mean(group[variable].to_numpy()))
            rows.append({"arm": arm, "variable": variable, "statistic": "frac", "value": value})
    rows = [{**row, "month": 0.0} for row in rows]
    return pl.from_arrow(pa.Table.from_pylist(rows, schema=ENDPOINT_SCHEMAS["baseline"]))
