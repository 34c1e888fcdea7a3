"""Fracture hazards (vertebral, hip, other nonvertebral) and competing mortality.

Hazard of fracture type k, per year:

    h_k = base_k * frailty * exp(age_k (age - 70) + bmi_k (BMI - 25))
          * rr_sd_k ^ -(T_site(t) - T_ref)                 current BMD, RR per SD (S30, S31)
          * rr_prevalent_vertebral_k ^ [prevalent VF] * rr_prior_nonvertebral_k ^ [prior NVF]
          * rr_incident ^ [a new fracture of any type earlier in the trial]
          * (1 - m_k (1 - x) / (|1 - x| + x50_k)),  x = CTX relative to baseline

The last factor is the turnover effect: suppressed resorption (fewer resorption cavities)
lowers risk beyond BMD, raised resorption increases it; it saturates (x50 small).
Death: Gompertz, h = d70 exp(g (age - 70)), times rr_death_after_hip_fracture after a hip
fracture. An event happens when the cumulative hazard reaches the patient's stored
threshold, so two arms differ only through their hazards. No function here sees an arm or a
drug: treatment acts only through BMD and CTX.
"""

from __future__ import annotations

import numpy as np

from osteotrial.arrays import BoolArray, FloatArray
from osteotrial.params import FractureParams, FractureTypeParams

BMI_REFERENCE_KG_M2 = 25.0


def turnover_multiplier(ctx_rel: FloatArray, params: FractureTypeParams) -> FloatArray:
    """Return the saturating hazard multiplier of bone turnover (1 at baseline CTX)."""
    gap = 1.0 - ctx_rel
    return 1.0 - params.turnover_effect_max_frac * gap / (
        np.abs(gap) + params.turnover_effect_half_frac
    )


def fracture_hazard_per_year(
    params: FractureParams,
    fracture_type: str,
    age_years: FloatArray,
    tscore_now: FloatArray,
    ctx_rel: FloatArray,
    static_log_risk: FloatArray,
    incident_fracture: BoolArray,
) -> FloatArray:
    """Return the hazard per year of one fracture type, shape (n_patients,).

    static_log_risk holds the log of the time-invariant factors (frailty, BMI, prior
    fractures) from ``static_log_risk``.
    """
    p = params.of(fracture_type)
    log_h = (
        np.log(p.base_per_year)
        + static_log_risk
        + p.age_log_per_year * (age_years - params.reference_age_years)
        - np.log(p.rr_per_sd) * (tscore_now - params.reference_tscore)
        + np.log(params.rr_incident_fracture) * incident_fracture
    )
    return np.exp(log_h) * turnover_multiplier(ctx_rel, p)


def static_log_risk(
    params: FractureParams,
    fracture_type: str,
    frailty: FloatArray,
    bmi_kg_m2: FloatArray,
    prevalent_vertebral: BoolArray,
    prior_nonvertebral: BoolArray,
) -> FloatArray:
    """Return the log of the time-invariant hazard factors of one type, shape (n_patients,)."""
    p = params.of(fracture_type)
    return (
        np.log(frailty)
        + p.bmi_log_per_kg_m2 * (bmi_kg_m2 - BMI_REFERENCE_KG_M2)
        + np.log(p.rr_prevalent_vertebral) * prevalent_vertebral
        + np.log(p.rr_prior_nonvertebral) * prior_nonvertebral
    )


def death_hazard_per_year(
    params: FractureParams, age_years: FloatArray, hip_fractured: BoolArray
) -> FloatArray:
    """Return the all-cause death hazard per year (Gompertz), shape (n_patients,)."""
    log_h = np.log(params.death_per_year_at_70) + params.death_age_log_per_year * (
        age_years - params.reference_age_years
    )
    return np.exp(log_h) * np.where(hip_fractured, params.rr_death_after_hip_fracture, 1.0)


def crossing_day(
    h_before: FloatArray,
    h_after: FloatArray,
    threshold: FloatArray,
    t_before_days: float,
    dt_days: float,
) -> FloatArray:
    """Return the day at which cumulative hazard reaches threshold, linear within the step.

    Valid where h_before < threshold <= h_after; elsewhere the result is meaningless.
    """
    span = np.maximum(h_after - h_before, 1e-300)
    return t_before_days + dt_days * np.clip((threshold - h_before) / span, 0.0, 1.0)
