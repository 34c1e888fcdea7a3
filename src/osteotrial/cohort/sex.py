"""The sex of a sampled candidate: a uniform of stream "screening.sex" below the population's
share of men (``PopulationParams.male_frac``), and ``sex: female|male`` as that share."""

from __future__ import annotations

from typing import Any

import numpy as np

from osteotrial.arrays import FloatArray


def male_frac_of_sex(sex: Any, male_frac: Any) -> float:
    """Return the ``male_frac`` of ``sex: female|male``; ValueError if it contradicts one given."""
    if sex not in ("female", "male"):
        raise ValueError(f"population.sex = {sex!r}; allowed: female, male (or use male_frac)")
    frac = 1.0 if sex == "male" else 0.0
    if male_frac is not None and float(male_frac) != frac:
        raise ValueError(f"population.sex = {sex!r} contradicts male_frac = {male_frac}")
    return frac


def sex_from_uniform(u_sex: FloatArray, male_frac: float) -> np.ndarray:
    """Return "male" where u < ``male_frac``, else "female", shape (n,)."""
    return np.where(np.asarray(u_sex) < male_frac, "male", "female")
