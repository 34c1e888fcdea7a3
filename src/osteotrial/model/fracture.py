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
from osteotrial.cohort.sampling import Cohort
from osteotrial.engine.results import FRACTURE_TYPES
from osteotrial.model.params import FractureParams, FractureTypeParams
from osteotrial.units import DAYS_PER_YEAR

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


class EventTracker:
    """Cumulative hazards, thresholds and event days of one chunk (mutated only by the loop)."""

    def __init__(self, cohort: Cohort, params: FractureParams) -> None:
        n = cohort.n_patients
        self.params = params
        self.cohort = cohort
        prevalent = cohort.prevalent_vertebral_fracture_count > 0
        prior_nvf = cohort.prior_nonvertebral_fracture | cohort.prior_hip_fracture
        self.static = {
            t: static_log_risk(
                self.params, t, cohort.mult_fracture_frailty, cohort.bmi_kg_m2, prevalent, prior_nvf
            )
            for t in FRACTURE_TYPES
        }
        self.thresholds = {t: cohort.thresholds(t) for t in FRACTURE_TYPES}
        self.cum = {t: np.zeros(n) for t in (*FRACTURE_TYPES, "death")}
        self.prev_h = {t: np.zeros(n) for t in (*FRACTURE_TYPES, "death")}
        self.days = {t: np.full(self.thresholds[t].shape, np.nan) for t in FRACTURE_TYPES}
        self.death_day = np.full(n, np.nan)
        self.alive = np.ones(n, dtype=bool)

    def hazards(
        self, t_days: float, tscores: dict[str, FloatArray], ctx: FloatArray
    ) -> dict[str, FloatArray]:
        """Return hazards per year of every event type at time t_days (0 after death)."""
        age = self.cohort.age_years + t_days / DAYS_PER_YEAR
        incident = np.zeros(self.cohort.n_patients, dtype=bool)
        for days in self.days.values():
            incident |= (days <= t_days).any(axis=0)
        out = {}
        for t in FRACTURE_TYPES:
            site = self.params.of(t).bmd_site
            out[t] = fracture_hazard_per_year(
                self.params, t, age, tscores[site], ctx, self.static[t], incident
            )
        hip = (self.days["hip"] <= t_days).any(axis=0) | self.cohort.prior_hip_fracture
        out["death"] = death_hazard_per_year(self.params, age, hip)
        return {k: np.where(self.alive, v, 0.0) for k, v in out.items()}

    def advance(self, t_days: float, dt_days: float, hazards: dict[str, FloatArray]) -> None:
        """Accumulate hazards over [t, t + dt] (trapezoid) and record threshold crossings."""
        for name, h in hazards.items():
            before = self.cum[name]
            after = before + 0.5 * (self.prev_h[name] + h) * dt_days / DAYS_PER_YEAR
            if name == "death":
                hit = (before < self.cohort.threshold_death) & (
                    after >= self.cohort.threshold_death
                )
                day = crossing_day(before, after, self.cohort.threshold_death, t_days, dt_days)
                self.death_day[hit] = day[hit]
                self.alive &= ~hit
            else:
                for k, thr in enumerate(self.thresholds[name]):
                    hit = (before < thr) & (after >= thr)
                    day = crossing_day(before, after, thr, t_days, dt_days)
                    self.days[name][k, hit] = day[hit]
            self.cum[name] = after
            self.prev_h[name] = h


def _tscores(y: FloatArray, cohort: Cohort) -> dict[str, FloatArray]:
    """Return current T-scores per site from baseline T-score and relative BMD."""
