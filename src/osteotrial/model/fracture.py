"""Fracture hazards (vertebral, hip, other nonvertebral) and competing mortality.

Hazard of fracture type k, per year:

    h_k = base_k * frailty * exp(age_k (age - 70) + bmi_k (BMI - 25))
          * rr_sd_k ^ -(T_site(t) - T_ref)                 current BMD, RR per SD (S30, S31)
          * rr_prevalent_vertebral_k ^ [n_VF(t) >= 1] * rr_prior_nonvertebral_k ^ [prior NVF]
          * rr_two_or_more_vertebral ^ [n_VF(t) >= 2]       vertebral hazard only: the cascade
          * rr_incident ^ w(t - t_first)                    imminent risk after a new fracture
          * s(t) ^ beta_k                                   remodeling space (model.remodeling)

n_VF(t) is the number of vertebral fractures the woman has: her prevalent ones (the cohort's
``prevalent_vertebral_fracture_count``) plus the new ones of the trial so far. One vertebral
fracture raises the risk of the next several-fold and two or more raise it further (Ross 1991:
5-fold with one, 12-fold with two or more; Black 1999; Lindsay 2001: a fifth of women with a
new vertebral fracture have another within a year; R), so vertebral fractures cascade: after a
new one the vertebral hazard rises for good (rr_prevalent_vertebral, rr_two_or_more) and for a
while more (the imminent risk), and several new fractures can fall between two radiographs.
The ``multiple_new_vertebral`` endpoint counts them (analyses.vocabulary). A single event that
breaks several vertebrae at once is not drawn (it would need a per-event draw in the cohort).

w(u) = exp(-u / tau_imm) for u >= 0 (0 before any new fracture): the imminent risk after a
fracture wanes over 1-2 years (Johansson 2017, R). s is the remodeling space relative to
baseline, a state of the bone model (cavities opened by osteoclasts, refilled over the
formation period; proportional to activation, model.remodeling): it carries the part of the
risk that BMD does not, lags turnover by months, does not vanish the day CTX recovers, falls
when resorption is suppressed (with or without formation) and rises with a resorption
rebound. beta_k >= 0 (log hazard ratio per log remodeling space) is fitted to FRAME.
Death: Gompertz, h = d70 exp(g (age - 70)), times 1 + (rr_hip - 1) exp(-(t - t_hip) / tau_hip)
after a hip fracture in the trial: the excess mortality after a hip fracture is largest in the
first months and wanes over about a year (Haentjens 2010, R); a hip fracture before the trial
is already in the population's mortality. An event happens when the cumulative hazard reaches
the patient's stored threshold, so two arms differ only through their hazards. No function here
sees an arm or a drug: treatment acts only through BMD and the remodeling space.

The hazards and the event rule are compiled scalar functions of one patient
(``model.compiled.equation``), called alike by the CPU loop, the CUDA kernel and the
reference; ``ft`` is a fracture-type record, ``fp`` the global fracture record
(model.records). The time-invariant factors (``static_log_risk``) are computed once per
cohort, vectorized, from each patient's own records.
"""

from __future__ import annotations

import math

import numpy as np

from osteotrial.arrays import BoolArray, FloatArray
from osteotrial.model import exposure
from osteotrial.model.compiled import equation
from osteotrial.model.records import FRACTURE_TYPES
from osteotrial.units import DAYS_PER_YEAR

BMI_REFERENCE_KG_M2 = 25.0
N_FRACTURE_TYPES = len(FRACTURE_TYPES)
HIP = FRACTURE_TYPES.index("hip")
DEATH = N_FRACTURE_TYPES  # index of death among the hazards (after the fracture types)
N_HAZARDS = N_FRACTURE_TYPES + 1
VERTEBRAL = FRACTURE_TYPES.index("vertebral")
# slots of a patient's event status: alive, first fracture day, first hip fracture day, her
# prevalent vertebral fractures and her vertebral fractures now (prevalent + new in the trial)
ALIVE, FIRST_EVENT_DAY, FIRST_HIP_DAY, PREVALENT_VERTEBRAL, VERTEBRAL_COUNT = range(5)
N_STATUS = 5


def static_log_risk(
    ft: np.recarray,
    frailty: FloatArray,
    bmi_kg_m2: FloatArray,
    prevalent_vertebral: BoolArray,
    prior_nonvertebral: BoolArray,
) -> FloatArray:
    """Return the log of the time-invariant hazard factors of one type, shape (n_patients,).

    ``ft``: each patient's record of the fracture type (FRACTURE_TYPE_RECORD, shape (n,)), so
    that patients of different parameter sets get their own coefficients.
    """
    return (
        np.log(frailty)
        + ft.bmi_log_per_kg_m2 * (bmi_kg_m2 - BMI_REFERENCE_KG_M2)
        + ft.log_rr_prevalent_vertebral * prevalent_vertebral
        + ft.log_rr_prior_nonvertebral * prior_nonvertebral
    )


@equation
def waning(elapsed_days: float, waning_years: float) -> float:
    """Return exp(-elapsed / tau) for an event ``elapsed_days`` ago; 0 before it (or none)."""
    if not elapsed_days >= 0.0:  # no event yet: elapsed is -inf or nan
        return 0.0
    return math.exp(-elapsed_days / (waning_years * DAYS_PER_YEAR))


@equation
def vertebral_count_log_risk(ft, fp, is_vertebral: bool, count: float) -> float:
    """Return the log hazard factor of having ``count`` vertebral fractures (module docstring):
    rr_prevalent_vertebral from the first, rr_two_or_more_vertebral (vertebral hazard) from the
    second."""
    log_rr = 0.0
    if count >= 1.0:
        log_rr += ft.log_rr_prevalent_vertebral
    if is_vertebral and count >= 2.0:
        log_rr += fp.log_rr_two_or_more_vertebral
    return log_rr


@equation
def fracture_hazard_per_year(ft, fp, static_log: float, age, tscore_now, log_space, imminent):
    """Return the hazard per year of one fracture type.

    log_space: log of the remodeling space (relative to baseline); imminent: the waning weight
    of the imminent risk after a new fracture (``waning``).
    """
    log_h = (
        ft.log_base_per_year
        + static_log
        + ft.age_log_per_year * (age - fp.reference_age_years)
        - ft.log_rr_per_sd * (tscore_now - fp.reference_tscore)
        + fp.log_rr_incident_fracture * imminent
        + ft.remodeling_space_log_hr * log_space
    )
    return math.exp(log_h)


@equation
def death_hazard_per_year(fp, age_years: float, hip_excess: float) -> float:
    """Return the all-cause death hazard per year (Gompertz), times the waning excess after a
    hip fracture in the trial (``hip_excess``: the waning weight, 0 without one)."""
    log_h = fp.log_death_per_year_at_70 + fp.death_age_log_per_year * (
        age_years - fp.reference_age_years
    )
    return math.exp(log_h) * (1.0 + (fp.rr_death_after_hip_fracture - 1.0) * hip_excess)


@equation
def hazards_per_year(ftypes, fp, static, i, age, tscores, space, status, t_days, levels, r, haz):
    """Write the hazards per year of every fracture type and death into haz (4); 0 after death.

    static: (3, n) static log risks (with the prevalent vertebral fracture term at baseline);
    tscores: current T-score per site (3); space: remodeling space relative to baseline;
    status: the patient's event status (``N_STATUS`` slots): the vertebral fracture count
    adds what the fractures since baseline changed (``vertebral_count_log_risk``); levels:
    the step's exposure channels, r the remodeling record (glucocorticoid risk beyond BMD,
    model.exposure.glucocorticoid_fracture_log_rr).
    """
    if status[ALIVE] == 0.0:
        for a in range(N_HAZARDS):
            haz[a] = 0.0
        return
    imminent = waning(t_days - status[FIRST_EVENT_DAY], fp.incident_risk_waning_years)
    log_space = math.log(space)
    for a in range(N_FRACTURE_TYPES):
        ft = ftypes[a]
        tsc = tscores[int(ft.bmd_site_index)]
        count = vertebral_count_log_risk(ft, fp, a == VERTEBRAL, status[VERTEBRAL_COUNT])
        if status[PREVALENT_VERTEBRAL] >= 1.0:
            count -= ft.log_rr_prevalent_vertebral  # already in the static risk
        static_log = static[a, i] + count
        static_log += exposure.glucocorticoid_fracture_log_rr(
            r, a, levels[exposure.GC_LAST_MG], levels[exposure.GC_DAYS_OFF]
        )
        haz[a] = fracture_hazard_per_year(ft, fp, static_log, age, tsc, log_space, imminent)
    hip_excess = waning(t_days - status[FIRST_HIP_DAY], fp.hip_death_excess_waning_years)
    haz[DEATH] = death_hazard_per_year(fp, age, hip_excess)


@equation
def crossing_day(h_before, h_after, threshold, t_before_days, dt_days) -> float:
    """Return the day at which cumulative hazard reaches threshold, linear within the step.

    Valid where h_before < threshold <= h_after; elsewhere the result is meaningless.
    """
    span = max(h_after - h_before, 1e-300)
    frac = (threshold - h_before) / span
    return t_before_days + dt_days * min(max(frac, 0.0), 1.0)


@equation
def reset_status(status, prevalent_vertebral: float) -> None:
    """Write the event status of a patient at day 0: alive, no fracture in the trial yet,
    ``prevalent_vertebral`` vertebral fractures."""
    status[ALIVE] = 1.0
    status[FIRST_EVENT_DAY] = np.inf
    status[FIRST_HIP_DAY] = np.inf
    status[PREVALENT_VERTEBRAL] = prevalent_vertebral
    status[VERTEBRAL_COUNT] = prevalent_vertebral


@equation
def trapezoid(cum_before: float, h_before: float, h_after: float, dt_days: float) -> float:
    """Return a cumulative hazard after a step of dt days: the trapezoid rule of hazards per
    year at the step's start and end."""
    return cum_before + 0.5 * (h_before + h_after) * dt_days / DAYS_PER_YEAR


@equation
def advance_cumulative(dt_days, haz, cum, prev_h) -> None:
    """Accumulate hazards over a step (``trapezoid``) with no event rule: the event-free path
    of ``advance_events`` (no threshold is ever reached, so nothing but the sums moves)."""
    for a in range(N_HAZARDS):
        cum[a] = trapezoid(cum[a], prev_h[a], haz[a], dt_days)
        prev_h[a] = haz[a]


@equation
def advance_events(i, t_days, dt_days, haz, cum, prev_h, thresholds, n_thr, thr_death, out, status):
    """Accumulate hazards over [t, t + dt] (trapezoid) and record threshold crossings.

    An event happens when a cumulative hazard reaches one of the patient's Exp(1) thresholds
    (thresholds: (3, k, n), n_thr: thresholds per type; thr_death: (n,)); its day is linear
    within the step. out.days (3, k, n) and out.death_day (n,) receive the event days.
    """
    for a in range(N_HAZARDS):
        before = cum[a]
        after = trapezoid(before, prev_h[a], haz[a], dt_days)
        if a == DEATH:
            thr = thr_death[i]
            if before < thr and after >= thr:
                out.death_day[i] = crossing_day(before, after, thr, t_days, dt_days)
                status[ALIVE] = 0.0
        else:
            for k in range(n_thr[a]):
                thr = thresholds[a, k, i]
                if before < thr and after >= thr:
                    day = crossing_day(before, after, thr, t_days, dt_days)
                    out.days[a, k, i] = day
                    status[FIRST_EVENT_DAY] = min(status[FIRST_EVENT_DAY], day)
                    if a == HIP:
                        status[FIRST_HIP_DAY] = min(status[FIRST_HIP_DAY], day)
                    if a == VERTEBRAL:
                        status[VERTEBRAL_COUNT] += 1.0
        cum[a] = after
        prev_h[a] = haz[a]
