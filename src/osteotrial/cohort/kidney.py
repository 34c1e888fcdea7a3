"""Kidney function of a patient: eGFR (CKD-EPI) and creatinine clearance (Cockcroft-Gault).

Zoledronic acid's dose follows creatinine clearance (its label), and the safety endpoints of
issue 26 will read kidney function. Both measures come from one serum creatinine per patient:

    log eGFR = log(median_70) + slope (age - 70) / 10 + sd z,  z ~ N(0, 1), stream
    "screening.kidney" (keyed by candidate id: the older covariates' draws do not change)

    CKD-EPI 2021 (Inker LA et al. N Engl J Med 2021;385:1737-49, race-free):
    eGFR = 142 min(S/k, 1)^a max(S/k, 1)^-1.200 0.9938^age (x 1.012 in women), S in mg/dL,
    k = 0.7 (women) / 0.9 (men), a = -0.241 / -0.302; solved for S given the eGFR

    Cockcroft-Gault (Cockcroft DW, Gault MH. Nephron 1976;16:31-41):
    CrCl = (140 - age) weight / (72 S) (x 0.85 in women), weight = BMI height^2

A given eGFR or creatinine clearance (a cohort table's column) fixes S, and the other measure
follows; with neither, eGFR is drawn. Parameters (``PopulationParams``, sources there):
median eGFR at 70, its slope per decade and log-SD, and a height per sex.

Kidney failure: the log-normal draw has no tail of people on dialysis. A population's
``kidney_failure_frac`` (0 by default: no draw, every existing cohort unchanged) puts a candidate
in kidney failure iff u < frac (u from stream "screening.kidney_failure", by candidate id); her
eGFR is then drawn around ``FAILURE_EGFR`` instead (the same z), kept below the dialysis
threshold of ``cohort.calcium``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from osteotrial import rng
from osteotrial.arrays import BoolArray, FloatArray, IntArray

if TYPE_CHECKING:  # population imports nothing of this module; the hint only
    from osteotrial.cohort.population import PopulationParams

KIDNEY_STREAM = "screening.kidney"
FAILURE_STREAM = "screening.kidney_failure"
# eGFR in kidney failure: median and log-SD (A: as the dialysis preset, config/populations)
FAILURE_EGFR = (10.0, 0.15)
EGFR_LIMITS = (5.0, 200.0)  # mL/min/1.73 m2: the table's allowed range and the draw's clip
CRCL_LIMITS = (5.0, 250.0)  # mL/min


def egfr_ckd_epi(creatinine_mg_dl: FloatArray, age_years: FloatArray, male: BoolArray):
    """Return eGFR in mL/min/1.73 m2 (CKD-EPI 2021) from serum creatinine in mg/dL."""
    kappa, alpha = np.where(male, 0.9, 0.7), np.where(male, -0.302, -0.241)
    ratio = np.asarray(creatinine_mg_dl) / kappa
    sex_factor = np.where(male, 1.0, 1.012)
    low, high = np.minimum(ratio, 1.0), np.maximum(ratio, 1.0)
    return 142.0 * low**alpha * high**-1.200 * 0.9938 ** np.asarray(age_years) * sex_factor


def creatinine_from_egfr(egfr: FloatArray, age_years: FloatArray, male: BoolArray):
    """Return the serum creatinine (mg/dL) whose CKD-EPI 2021 eGFR is ``egfr`` (exact inverse:
    the equation falls monotonically in creatinine and equals its age term at S = k)."""
    kappa, alpha = np.where(male, 0.9, 0.7), np.where(male, -0.302, -0.241)
    sex_factor = np.where(male, 1.0, 1.012)
    g = np.asarray(egfr) / (142.0 * 0.9938 ** np.asarray(age_years) * sex_factor)
    return kappa * np.where(g >= 1.0, g ** (1.0 / alpha), g ** (1.0 / -1.200))


def weight_kg(bmi_kg_m2: FloatArray, male: BoolArray, height_female_m: float, height_male_m: float):
    """Return body weight in kg from BMI and a height per sex (no height in the cohort)."""
    height = np.where(male, height_male_m, height_female_m)
    return np.asarray(bmi_kg_m2) * height**2


def crcl_cockcroft_gault(
    creatinine_mg_dl: FloatArray, age_years: FloatArray, weight: FloatArray, male: BoolArray
):
    """Return creatinine clearance in mL/min (Cockcroft-Gault; x 0.85 in women)."""
    crcl = (140.0 - np.asarray(age_years)) * weight / (72.0 * np.asarray(creatinine_mg_dl))
    return crcl * np.where(male, 1.0, 0.85)


def kidney_normals(seed: int, candidate_ids: IntArray) -> FloatArray:
    """Return each candidate's standard normal of stream "screening.kidney", shape (n,)."""
    return rng.normals(seed, KIDNEY_STREAM, np.asarray(candidate_ids, dtype=np.int64))[0]


def kidney_failure(seed: int, candidate_ids: IntArray, frac: float) -> BoolArray:
    """Return whether each candidate is in kidney failure (u < frac; no draw when frac is 0)."""
    ids = np.asarray(candidate_ids, dtype=np.int64)
    if frac <= 0.0:
        return np.zeros(ids.shape, dtype=bool)
    return rng.uniforms(seed, FAILURE_STREAM, ids)[0] < frac


def kidney_covariates(
    z: FloatArray,
    covariates: Mapping[str, np.ndarray],
    pop: PopulationParams,
    given: Mapping[str, FloatArray] | None = None,
    failure: BoolArray | None = None,
) -> dict[str, FloatArray]:
    """Return ``egfr_ml_min_1_73m2`` and ``creatinine_clearance_ml_min``, shape (n,).

    ``covariates``: age_years, bmi_kg_m2 and sex ("female"/"male"); ``pop`` a
    ``PopulationParams``; ``given``: the table's columns of either measure (NaN = missing);
    ``failure``: candidates in kidney failure (``kidney_failure``), drawn around FAILURE_EGFR.
    A given eGFR fixes the creatinine, else a given clearance does, else eGFR is drawn.
    """
    age, male = np.asarray(covariates["age_years"]), np.asarray(covariates["sex"]) == "male"
    weight = weight_kg(covariates["bmi_kg_m2"], male, pop.height_female_m, pop.height_male_m)
    log_median = np.log(pop.egfr_median_at_70_ml_min_1_73m2)
    drawn = np.exp(log_median + pop.egfr_log_per_decade * (age - 70.0) / 10.0 + pop.egfr_log_sd * z)
    if failure is not None and failure.any():
        failed = FAILURE_EGFR[0] * np.exp(FAILURE_EGFR[1] * np.asarray(z))
        failed = np.minimum(failed, 0.99 * pop.dialysis_below_egfr_ml_min_1_73m2)  # on dialysis
        drawn = np.where(failure, failed, drawn)
    drawn = np.clip(drawn, *EGFR_LIMITS)
    given = given or {}
    nan = np.full(age.shape, np.nan)
    egfr_given = np.asarray(given.get("egfr_ml_min_1_73m2", nan), dtype=float)
    crcl_given = np.asarray(given.get("creatinine_clearance_ml_min", nan), dtype=float)
    from_crcl = (140.0 - age) * weight / (72.0 * crcl_given) * np.where(male, 1.0, 0.85)
    creatinine = np.where(
        ~np.isnan(egfr_given),
        creatinine_from_egfr(egfr_given, age, male),
        np.where(~np.isnan(crcl_given), from_crcl, creatinine_from_egfr(drawn, age, male)),
    )
    egfr = np.where(np.isnan(egfr_given), egfr_ckd_epi(creatinine, age, male), egfr_given)
    crcl = crcl_cockcroft_gault(creatinine, age, weight, male)
    crcl = np.where(np.isnan(crcl_given), crcl, crcl_given)
    return {"egfr_ml_min_1_73m2": egfr, "creatinine_clearance_ml_min": crcl}
