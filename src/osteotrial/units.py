"""Unit conventions and the only place where conversion constants live.

Time runs in days inside the model; hazards are rates per year; one trial month is
30.4375 days (365.25 / 12), the convention of targets.yaml.
"""

from __future__ import annotations

import numpy as np

from osteotrial.arrays import FloatArray

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12.0  # 30.4375
NG_PER_MG = 1.0e6
NG_ML_PER_MG_L = 1.0e3  # 1 mg/L = 1000 ng/mL


def months_to_days(months: float | FloatArray) -> float | FloatArray:
    """Convert trial months to days (1 month = 30.4375 days)."""
    return (
        np.asarray(months, dtype=np.float64) * DAYS_PER_MONTH
        if np.ndim(months)
        else float(months) * DAYS_PER_MONTH
    )


def days_to_years(days: float | FloatArray) -> float | FloatArray:
    """Convert days to years (365.25 days per year)."""
    return days / DAYS_PER_YEAR


def hazard_to_probability(rate_per_year: FloatArray, dt_days: float) -> FloatArray:
    """Return the probability of at least one event in dt_days at a constant rate per year.

    Uses 1 - exp(-h dt), never the clipped linear h dt.
    """
    return -np.expm1(-np.asarray(rate_per_year) * (dt_days / DAYS_PER_YEAR))
