"""Named, counter-based random streams keyed by (seed, stream, patient).

Every latent draw of a patient is a pure function of (root_seed, stream name, patient key,
draw index): a SplitMix64 hash of those integers, mapped to a uniform in (0, 1). This is a
counter-based generator (the idea of Philox/Threefry, Salmon et al. SC 2011) vectorized
over patients with numpy, so a patient's draws never depend on how the cohort is sharded,
on the order in which streams are used, or on how many other patients were drawn.

Whole-cohort decisions that are not per patient (the randomized allocation) use an ordinary
``numpy.random.Generator`` from ``make_generator``.
"""

from __future__ import annotations

import hashlib

import numpy as np
from scipy import special

from osteotrial.arrays import FloatArray, IntArray

STREAM_NAMES: tuple[str, ...] = (
    "screening.covariates",
    "screening.prevalent_fracture",
    "screening.prior_fracture",
    "screening.conditional",
    "screening.table_row",
    "iiv",
    "threshold.vertebral",
    "threshold.hip",
    "threshold.nonvertebral",
    "threshold.death",
    "threshold.dropout",
    "vertebral.clinical_recognition",
    "allocation",
    "power.replicate",
    "power.super_cohort",
    "parameter_set",
    "measurement.dxa",
    "measurement.markers",
    "prediction.cohort",
    "hip_source",
    "screening.kidney",
    "screening.sex",
    "stratum",
    "screening.tumour",
    "sre.pathologic_fracture",
    "sre.radiation_to_bone",
    "sre.surgery_to_bone",
    "sre.spinal_cord_compression",
    "sre.cancer_death",
    "sre.entry",
    "screening.prior_sre",
    # safety (analyses.safety_frames, issue 27 safe): covariates, procedures, first events
    "safety.prior_cardiovascular",
    "safety.dental_propensity",
    "safety.dental_procedures",
    "safety.osteonecrosis_of_the_jaw",
    "safety.atypical_femoral_fracture",
    "safety.mace",
    # issue 27 (calcium): serum calcium at entry (cohort.calcium)
    "screening.calcium",
    # issue 27: the share of a source population in kidney failure (cohort.kidney)
    "screening.kidney_failure",
    "screening.vitamin_d",  # issue 27: vitamin D deficiency (cohort.calcium)
)

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def stream_key(name: str) -> int:
    """Return a stable 64-bit key for a stream name (built-in hash() is salted per process)."""
    if name not in STREAM_NAMES:
        raise KeyError(f"Unknown random stream {name!r}; registered streams are {STREAM_NAMES}")
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """Return the SplitMix64 finalizer of uint64 array x (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def uniforms(root_seed: int, name: str, patient_keys: IntArray, n_draws: int = 1) -> FloatArray:
    """Return uniforms in (0, 1), shape (n_draws, n_patients), for one named stream.

    Row j is draw j of each patient; the value depends only on (root_seed, name, key, j).
    """
    if root_seed < 0:
        raise ValueError(f"root_seed must be >= 0, got {root_seed}")
    keys = np.asarray(patient_keys, dtype=np.int64)
    if np.any(keys < 0):
        raise ValueError("patient keys must be >= 0")
    base = _splitmix64(np.array([root_seed], dtype=np.uint64))
    base = _splitmix64(base ^ np.uint64(stream_key(name)))
    patient_state = _splitmix64(base ^ keys.astype(np.uint64))
    draws = np.arange(n_draws, dtype=np.uint64)[:, np.newaxis]
    with np.errstate(over="ignore"):
        bits = _splitmix64(patient_state[np.newaxis, :] + draws * _GOLDEN)
    # 53 high bits -> (0, 1): add half an ulp so that 0 never occurs.
    return ((bits >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53


def normals(root_seed: int, name: str, patient_keys: IntArray, n_draws: int = 1) -> FloatArray:
    """Return standard normals, shape (n_draws, n_patients), by inverse-CDF of ``uniforms``."""
    return special.ndtri(uniforms(root_seed, name, patient_keys, n_draws))


def exponentials(root_seed: int, name: str, patient_keys: IntArray, n_draws: int = 1) -> FloatArray:
    """Return Exp(1) draws, shape (n_draws, n_patients), by inverse-CDF of ``uniforms``."""
    return -np.log(uniforms(root_seed, name, patient_keys, n_draws))


def make_generator(root_seed: int, name: str, *counters: int) -> np.random.Generator:
    """Return a numpy Generator for a whole-cohort decision (e.g. the allocation).

    ``counters`` (integers >= 0, e.g. the index k of a parameter set) are appended to the
    entropy, so draw k of a stream does not depend on how many draws there are.
    """
    seed_seq = np.random.SeedSequence([root_seed, stream_key(name), *counters])
    return np.random.Generator(np.random.PCG64(seed_seq))
