"""A patient's covariates of the rare harms (analyses.safety_frames): prior cardiovascular
disease and the propensity for invasive dental procedures.

The source population (``cohort.population.PopulationParams``) gives the prevalence of prior
cardiovascular disease (``prior_cardiovascular_disease_frac``: it multiplies the MACE rate by
``safety.mace_prior_cardiovascular_rr``) and the shape k of the gamma-distributed procedure
propensity (``dental_procedure_gamma_shape``: mean 1, variance 1 / k; a patient's rate of
invasive dental procedures is ``safety.dental_procedures_per_year`` times it, so with k = 0.5
many never have one). Each is drawn from its own stream (``safety.prior_cardiovascular``,
``safety.dental_propensity``: the names the safety frames used before the covariates became
cohort columns), keyed by candidate id as every covariate, so a patient's values do not depend
on the cohort's size, its sharding or the arm.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from osteotrial import rng
from osteotrial.arrays import FloatArray, IntArray
from osteotrial.validation import check_range

PRIOR_STREAM = "safety.prior_cardiovascular"
PROPENSITY_STREAM = "safety.dental_propensity"
FIELDS: tuple[str, ...] = ("prior_cardiovascular_disease_frac", "dental_procedure_gamma_shape")
# the optional fields of Cohort and their value for a cohort without them (a table, an older
# file): no prior cardiovascular disease, the mean procedure propensity
DEFAULTS: dict[str, Any] = {"prior_cardiovascular_disease": False, "dental_propensity": 1.0}


def check_population(pop: Any) -> None:
    """Raise a ValueError naming the safety field of a source population out of its range."""
    check_range("prior_cardiovascular_disease_frac", pop.prior_cardiovascular_disease_frac, 0, 1)
    check_range("dental_procedure_gamma_shape", pop.dental_procedure_gamma_shape, 0.01, 100.0)


def safety_covariates(seed: int, candidate_ids: IntArray, pop: Any) -> dict[str, FloatArray]:
    """Return the safety fields of ``Cohort`` for candidates, each (n,): prior cardiovascular
    disease (u < the population's prevalence) and the dental procedure propensity (the gamma
    quantile of a uniform, shape k and mean 1)."""
    from scipy import stats  # lazily: tests/test_imports.py

    ids = np.asarray(candidate_ids, dtype=np.int64)
    prior = rng.uniforms(seed, PRIOR_STREAM, ids)[0] < pop.prior_cardiovascular_disease_frac
    k = pop.dental_procedure_gamma_shape
    propensity = stats.gamma.ppf(rng.uniforms(seed, PROPENSITY_STREAM, ids)[0], k, scale=1.0 / k)
    return {"prior_cardiovascular_disease": prior, "dental_propensity": propensity}
