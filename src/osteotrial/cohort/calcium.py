"""A patient's calcium status at entry (model.calcium): dialysis and serum calcium.

Dialysis: a candidate whose eGFR (``cohort.kidney``) is below the source population's
``dialysis_below_egfr_ml_min_1_73m2`` (15: kidney failure, CKD stage G5) is on dialysis (A:
every patient in kidney failure is; the dialysis preset draws eGFR there). Serum calcium at
entry: a standard normal ``serum_calcium_z`` from its own stream ``screening.calcium`` (keyed
by candidate id, as every covariate); the model turns it into mmol/L with the mean and SD of
the patient's kidney status (config/model.yaml, block ``calcium``), so the share of patients
below a hypocalcemia threshold has the spread of the population's calcium.

Vitamin D deficiency (serum 25-hydroxyvitamin D below about 27.5-30 nmol/L): a candidate with a
uniform from her own stream ``screening.vitamin_d`` below the population's
``vitamin_d_deficient_frac`` is deficient. Her kidney's calcitriol synthesis is then short of
substrate (``model.calcium``: capacity x ``calcium.deficient_calcitriol_synthesis_frac``), so
when denosumab stops the bone's calcium release her PTH-driven compensation falls short, the
mechanism case reports give for severe hypocalcemia with normal kidneys. Trials screen
deficiency out and supplement (FREEDOM excluded 25(OH)D below 12 ng/mL, R), so the share is 0
unless a population sets it (the observational older adults' trial file: 4 %, CHMS).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from osteotrial import rng
from osteotrial.arrays import FloatArray, IntArray
from osteotrial.validation import check_range

CALCIUM_STREAM = "screening.calcium"
VITAMIN_D_STREAM = "screening.vitamin_d"  # issue 27: vitamin D deficiency
# the optional calcium fields of Cohort and their value for a cohort without them (a table, an
# older file): not on dialysis, serum calcium at the population's mean, vitamin D replete
DEFAULTS: dict[str, Any] = {
    "dialysis": False,
    "serum_calcium_z": 0.0,
    "vitamin_d_deficient": False,
}


def check_population(pop: Any) -> None:
    """Raise a ValueError naming the kidney field of a source population out of its range
    (the eGFR draw of ``cohort.kidney``, the dialysis threshold)."""
    check_range("egfr_median_at_70_ml_min_1_73m2", pop.egfr_median_at_70_ml_min_1_73m2, 10, 150)
    check_range("egfr_log_per_decade", pop.egfr_log_per_decade, -1.0, 1.0)
    check_range("dialysis_below_egfr_ml_min_1_73m2", pop.dialysis_below_egfr_ml_min_1_73m2, 0, 60)
    check_range("kidney_failure_frac", pop.kidney_failure_frac, 0, 1)
    check_range("vitamin_d_deficient_frac", pop.vitamin_d_deficient_frac, 0, 1)


def calcium_covariates(
    seed: int, candidate_ids: IntArray, egfr: FloatArray, pop: Any
) -> dict[str, np.ndarray]:
    """Return the calcium fields of ``Cohort`` for candidates, each (n,): dialysis (eGFR
    below the population's threshold), the standard normal of serum calcium and vitamin D
    deficiency (a uniform of its own stream below the population's share)."""
    ids = np.asarray(candidate_ids, dtype=np.int64)
    deficient = rng.uniforms(seed, VITAMIN_D_STREAM, ids)[0] < pop.vitamin_d_deficient_frac
    return {
        "dialysis": np.asarray(egfr) < pop.dialysis_below_egfr_ml_min_1_73m2,
        "serum_calcium_z": rng.normals(seed, CALCIUM_STREAM, ids)[0],
        "vitamin_d_deficient": deficient,
    }
