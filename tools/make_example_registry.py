"""Write config/cohorts/example_registry.csv: 200 synthetic women of an osteoporosis clinic.

Run `python tools/make_example_registry.py` from the repository root; the output is the same
byte for byte each time. No real patient is in it. The women are candidates of the project's
source population (``draw_candidates``, seed 20261128) with a total hip or femoral neck T-score
of -2.0 or lower, as a clinic that measures hips sees them, written as a registry extract:

- ``source_id`` 1001, 1002, ...; ``sex`` F (the model covers postmenopausal women);
  ``age_years`` and ``bmi_kg_m2`` to 0.1 (BMI missing in every 7th row); hip and neck BMD
  in g/cm2 to 0.001 (as a DXA report gives them), the spine as a T-score to 0.1 (missing in
  every 5th row: spine not measured);
- ``prevalent_vertebral_fracture_count`` (missing in every 4th row: no spine radiograph);
- ``prior_nonvertebral_fracture`` and ``prior_hip_fracture`` as yes/no (missing in every 9th
  row), so every kind of gap the cohort fills is present.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from osteotrial.cohort.population import PopulationParams
from osteotrial.cohort.sampling import draw_candidates

OUT = Path("config/cohorts/example_registry.csv")
N_ROWS = 200
SEED = 20261128
FIRST_ID = 1001


def registry_frame() -> pl.DataFrame:
    """Return the example registry (module docstring), N_ROWS rows."""
    c = draw_candidates(SEED, np.arange(20 * N_ROWS), PopulationParams())
    rows = np.flatnonzero(np.minimum(c["tscore_th"], c["tscore_fn"]) <= -2.0)[:N_ROWS]
    c = {name: column[rows] for name, column in c.items()}
    index = np.arange(N_ROWS)

    def gap(values: np.ndarray, every: int) -> list:
        return [None if i % every == every - 1 else v for i, v in zip(index, values, strict=True)]

    def yes_no(flags: np.ndarray) -> np.ndarray:
        return np.where(flags, "yes", "no")

    return pl.DataFrame(
        {
            "source_id": FIRST_ID + index,
            "sex": ["F"] * N_ROWS,
            "age_years": np.round(c["age_years"], 1),
            "bmi_kg_m2": gap(np.round(c["bmi_kg_m2"], 1), 7),
            "bmd_th_g_cm2": np.round(c["bmd_th_g_cm2"], 3),
            "bmd_fn_g_cm2": np.round(c["bmd_fn_g_cm2"], 3),
            "tscore_ls": gap(np.round(c["tscore_ls"], 1), 5),
            "prevalent_vertebral_fracture_count": gap(c["prevalent_vertebral_fracture_count"], 4),
            "prior_nonvertebral_fracture": gap(yes_no(c["prior_nonvertebral_fracture"]), 9),
            "prior_hip_fracture": gap(yes_no(c["prior_hip_fracture"]), 9),
        },
        strict=False,
    )


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    registry_frame().write_csv(OUT)
    print(f"wrote {OUT} ({N_ROWS} rows)")
