"""A patient's tumour in bone at entry (model.metastasis): burden, lesion character, mortality.

The source population (``cohort.population.PopulationParams``, set per tumour type by a preset
in config/populations/) gives the median skeletal tumour burden at entry (relative to the
typical burden of the trials' populations; 0: no tumour, every osteoporosis population), its
log-normal spread, the lytic share of the lesions (lesion character: breast mostly lytic or
mixed, prostate blastic, myeloma purely lytic) and the death rate from the cancer at the
typical burden, and the share of patients with a skeletal-related event before entry (from the
trial's baseline table: a design input; its own stream ``screening.prior_sre``). Each
candidate's burden is drawn from its own stream ``screening.tumour``
(keyed by candidate id, as every covariate), so it does not depend on the cohort's size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from osteotrial import rng
from osteotrial.arrays import FloatArray, IntArray
from osteotrial.validation import check_range

FIELDS: tuple[str, ...] = (
    "tumour_burden_median_rel",
    "tumour_burden_log_sd",
    "lesion_lytic_frac",
    "cancer_death_per_year",
    "prior_skeletal_event_frac",
)


def check_population(pop: Any) -> None:
    """Raise a ValueError naming the tumour field of a source population out of its range."""
    check_range("tumour_burden_median_rel", pop.tumour_burden_median_rel, 0.0, 10.0)
    check_range("lesion_lytic_frac", pop.lesion_lytic_frac, 0.0, 1.0)
    check_range("cancer_death_per_year", pop.cancer_death_per_year, 0.0, 10.0)
    check_range("prior_skeletal_event_frac", pop.prior_skeletal_event_frac, 0.0, 1.0)


def tumour_covariates(seed: int, candidate_ids: IntArray, pop: Any) -> dict[str, FloatArray]:
    """Return the tumour fields of ``Cohort`` for candidates, each (n,): burden at entry
    (log-normal around the population's median; all 0 without a tumour), lytic share and
    death rate (the population's), a prior skeletal event (a Bernoulli draw of the
    population's share; none without a tumour)."""
    ids = np.asarray(candidate_ids, dtype=np.int64)
    n = ids.size
    median = pop.tumour_burden_median_rel
    if median > 0.0:
        z = rng.normals(seed, "screening.tumour", ids)[0]
        burden = median * np.exp(pop.tumour_burden_log_sd * z)
        prior = rng.uniforms(seed, "screening.prior_sre", ids)[0] < pop.prior_skeletal_event_frac
    else:
        burden, prior = np.zeros(n), np.zeros(n, dtype=bool)
    return {
        "tumour_burden0_rel": burden,
        "lesion_lytic_frac": np.full(n, pop.lesion_lytic_frac),
        "cancer_death_per_year": np.full(n, pop.cancer_death_per_year),
        "prior_skeletal_event": prior,
    }
