"""Between-patient variability of model parameters: the IIV multipliers of a cohort.

Each patient carries one multiplier per name of ``IIV_NAMES`` (cohort columns ``mult_<name>``),
read by the engines as a factor on the parameter (``engine.inputs``)::

    multiplier = typical_rel x exp(omega z),  omega = sqrt(log(1 + CV^2))  (median typical_rel)

z is draw j of stream "iiv" for name j (counter-based, keyed on seed and candidate id). The
untreated BMD loss rate (``NORMAL_IIV``) is normal instead, 1 + CV z (mean 1): women differ in
the sign of their untreated change too (Melton 2000: femoral neck change -1.0 %/yr on average,
from -10 to +13 %/yr, no subset of fast losers), which a positive log-normal cannot give.

``typical_rel`` is the population's typical value relative to the model's (population key
``<name>_typical_rel``, where the population has one; 1 otherwise): a population whose own
population-PK analysis found other typical values, e.g. patients with bone metastases
(Gibiansky 2012, S36) beside the osteoporosis model's (OpenBoneMin, S45). The CVs are the
population's ``iiv_cv_<name>_frac``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from osteotrial import rng
from osteotrial.arrays import FloatArray, IntArray

IIV_NAMES: tuple[str, ...] = (
    "denosumab_clearance",
    "denosumab_volume",
    "romosozumab_clearance",
    "romosozumab_volume",
    "bone_turnover",
    "bmd_loss_rate",
    "fracture_frailty",
    "denosumab_sensitivity",
    "romosozumab_sensitivity",
    "mineralization_rate",
)
NORMAL_IIV: frozenset[str] = frozenset({"bmd_loss_rate"})  # normal, mean 1 (may be negative)


def iiv_multipliers(seed: int, candidate_ids: IntArray, pop: Any) -> dict[str, FloatArray]:
    """Return the IIV multipliers ``mult_<name>``, each shape (n,): log-normal with median
    the population's typical value (1 unless it has ``<name>_typical_rel``), or normal with
    mean 1 for ``NORMAL_IIV`` (module docstring). ``pop``: a ``PopulationParams``."""
    z = rng.normals(seed, "iiv", candidate_ids, len(IIV_NAMES))
    out = {}
    for j, name in enumerate(IIV_NAMES):
        cv = getattr(pop, f"iiv_cv_{name}_frac")
        if name in NORMAL_IIV:
            out[f"mult_{name}"] = 1.0 + cv * z[j]
            continue
        typical = getattr(pop, f"{name}_typical_rel", 1.0)
        out[f"mult_{name}"] = typical * np.exp(np.sqrt(np.log1p(cv**2)) * z[j])
    return out
