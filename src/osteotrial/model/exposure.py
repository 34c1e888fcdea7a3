"""Background exposures: sex-steroid withdrawal and glucocorticoids, through the cell model.

An exposure is data of the trial file (``trial.exposures``): a kind, the arms it applies to,
a start and a stop. The plan carries, per step, one level per channel (``CHANNELS``); every
engine reads them (``engine.loop``, the CUDA kernel, the LSODA reference) and hands the two
effects below to ``model.remodeling.cell_rhs``; nothing here knows an arm.

Sex-steroid withdrawal (menopause, androgen deprivation, aromatase inhibition: the same lever,
pulled to different depths at different speeds). Estrogen and testosterone (through its
aromatization to estradiol) hold RANKL down and OPG up and keep osteoblasts alive (Khosla
2012; Manolagas 2000; R). The plan's level of kind k rises from 0 towards 1 after its start and
falls back after its stop, first order with the kind's time constant (``ONSET_DAYS``,
``OFFSET_DAYS``: how fast the hormone falls and returns; literature, not fitted), times the
adaptation exp(-time since the phase's start / ``ADAPTATION_DAYS``) (the rapid phase of loss
after a withdrawal subsides over years). The
withdrawal is the sum over kinds of depth_k x level_k (``withdrawal``; depth: the fitted
``<kind>_rankl_rise_frac`` of the ``exposure`` block) and acts as

    RANKL production x (1 + w),  OPG production / (1 + w),  OBa apoptosis x (1 + k_ob w)

(``sex_steroid_oba_apoptosis_gain``). An exposure is a change from the patient's own state
at randomization (a woman in a trial of postmenopausal women is already postmenopausal: her
steady state and untreated loss hold it), so depths add. Stopping (intermittent androgen
deprivation) lowers the level again and the same equations let the bone recover.

Glucocorticoids, by prednisone-equivalent dose D (mg/day): effect g = D^h / (D^h + D50^h)
in [0, 1) (``glucocorticoid_effect``), acting within the day (the hormone reaches its
receptors within hours) as

    OBp -> OBa differentiation x (1 - f_diff g),  OBa apoptosis x (1 + k_apo g)
    free sclerostin x (1 + k_scl g)  (Wnt falls),  OPG production x (1 - f_opg g),
    RANKL production x (1 + k_rankl g)

(glucocorticoids raise RANKL and suppress OPG in osteoblastic cells, Hofbauer 1999, R). More
RANKL and less OPG while osteoblasts fall give the early, transient rise in resorption
(precursors are used up, TGF-beta from resorption recruits osteoblasts back). The fracture
risk beyond BMD (van Staa 2000, P6) multiplies the hazards by the relative rate of the
current dose class (< 2.5, 2.5-7.5, >= 7.5 mg/day) while the drug is taken, fading as
exp(-days off / tau) after the last course stops (``glucocorticoid_fracture_log_rr``).
"""

from __future__ import annotations

import math

from osteotrial.model.compiled import equation

KINDS: tuple[str, ...] = (
    "menopause",
    "androgen_deprivation",
    "aromatase_inhibitor",
    "glucocorticoid",
    "calcium_vitamin_d",
)
SEX_STEROID_KINDS: tuple[str, ...] = KINDS[:3]
# plan channels, one row of Plan.exposure each: the three withdrawal levels (0..1), the
# glucocorticoid dose now (mg/day), the dose of the latest course (mg/day) and the days since
# it stopped at the end of the step (0 while it is taken)
CHANNELS: tuple[str, ...] = (
    *SEX_STEROID_KINDS,
    "glucocorticoid_mg_per_day",
    "glucocorticoid_last_mg_per_day",
    "glucocorticoid_days_off",
    # calcium and vitamin D supplements (kind calcium_vitamin_d; model.calcium), per day
    "calcium_supplement_mg_per_day",
    "vitamin_d_supplement_iu_per_day",
)
N_CHANNELS = len(CHANNELS)
MENOPAUSE, ANDROGEN_DEPRIVATION, AROMATASE_INHIBITOR, GC_MG, GC_LAST_MG, GC_DAYS_OFF = range(6)
CALCIUM_MG, VITAMIN_D_IU = 6, 7
# How fast each withdrawal sets in and wears off (first-order time constants, days; R/A):
# menopause: bone loss starts about a year before the final menstrual period and is fastest
# over the following two to three years (SWAN, Greendale 2012, R): about a year (A);
# androgen deprivation: castrate testosterone 2-4 weeks after a GnRH agonist (labels, R), and
# testosterone comes back over months once it is stopped (intermittent ADT trials, R);
# aromatase inhibitors: estradiol suppressed within days, back within days after (labels, R).
ONSET_DAYS: dict[str, float] = {
    "menopause": 365.25,
    "androgen_deprivation": 14.0,
    "aromatase_inhibitor": 7.0,
}
OFFSET_DAYS: dict[str, float] = {
    "menopause": 365.25,
    "androgen_deprivation": 90.0,
    "aromatase_inhibitor": 7.0,
}
# The bone adapts to a lasting withdrawal: the rapid phase of loss after menopause subsides
# over 4-8 years to the slow, age-related phase (Riggs 1998, R; the slow phase is the model's
# untreated loss), so a withdrawal's effect falls off with the time since its start,
# exp(-t / ADAPTATION_DAYS) (A: e-fold 3 years, 5 % left after 9). A patient long on an
# exposure at randomization (men in HALT, on androgen deprivation before it) is therefore at
# the steady state of the model's baseline.
ADAPTATION_DAYS = 3 * 365.25
# van Staa 2000 dose classes (prednisolone mg/day): below LOW_MG, LOW_MG to HIGH_MG, above
GC_LOW_MG, GC_HIGH_MG = 2.5, 7.5


@equation
def withdrawal(levels, r) -> float:
    """Return the sex-steroid withdrawal w: the sum of each kind's depth times its level in
    the plan (``levels``: the step's channels; r: the remodeling record, exposure fields)."""
    return (
        r.menopause_rankl_rise_frac * levels[MENOPAUSE]
        + r.androgen_deprivation_rankl_rise_frac * levels[ANDROGEN_DEPRIVATION]
        + r.aromatase_inhibitor_rankl_rise_frac * levels[AROMATASE_INHIBITOR]
    )


@equation
def cortical_activation_factor(levels, r) -> float:
    """Return the factor on the cortical compartments' remodeling rate of a sex-steroid
    withdrawal: 1 + ``sex_steroid_cortical_activation_gain`` x L, L the sum of the step's
    withdrawal levels (``levels``: the plan's channels; 0..1 each), at most 1.

    Sex-steroid deficiency raises intracortical remodeling beyond the rise of the cells that
    the model's compartments share: after menopause most bone is lost from the cortex, by
    intracortical remodeling that enlarges and merges the pores (Zebaze 2010; Riggs 2008;
    Bjornerem 2011; Seeman 2013; R). The cortical rate a and its refilling a - lambda are both
    multiplied: more remodeling units, each with its deficit and its unmineralized young bone.
    It reads the level of estradiol deficiency, not the fitted RANKL depths (which also carry
    the men's lower turnover): androgen deprivation, an aromatase inhibitor and menopause all
    take estradiol down by about 90 % or more (Khosla 2012, R). 1 without a withdrawal, so a
    trial whose menopause is no exposure (FRAME, FREEDOM) does not move.
    """
    level = levels[MENOPAUSE] + levels[ANDROGEN_DEPRIVATION] + levels[AROMATASE_INHIBITOR]
    return 1.0 + r.sex_steroid_cortical_activation_gain * min(level, 1.0)


@equation
def glucocorticoid_effect(dose_mg_per_day: float, r) -> float:
    """Return the glucocorticoid effect g in [0, 1) of a prednisone-equivalent daily dose."""
    if dose_mg_per_day <= 0.0:
        return 0.0
    x = math.exp(
        r.glucocorticoid_hill * math.log(dose_mg_per_day / r.glucocorticoid_half_effect_mg_per_day)
    )
    return x / (1.0 + x)


@equation
def rankl_factor(w: float, g: float, r) -> float:
    """Return the factor on RANKL production of withdrawal w and glucocorticoid effect g."""
    return 1.0 + w + r.glucocorticoid_rankl_rise_frac * g


@equation
def oba_apoptosis_factor(w: float, g: float, r) -> float:
    """Return the factor on active-osteoblast apoptosis of withdrawal w and glucocorticoid g."""
    return 1.0 + r.sex_steroid_oba_apoptosis_gain * w + r.glucocorticoid_oba_apoptosis_gain * g


@equation
def differentiation_factor(g: float, r) -> float:
    """Return the factor on OBp -> OBa differentiation of glucocorticoid effect g."""
    return 1.0 - r.glucocorticoid_differentiation_fall_frac * g


@equation
def opg_factor(w: float, g: float, r) -> float:
    """Return the factor on OPG production of withdrawal w and glucocorticoid effect g."""
    return (1.0 - r.glucocorticoid_opg_fall_frac * g) / (1.0 + w)


@equation
def log_wnt_factor(g: float, r) -> float:
    """Return log of the Wnt activity left when glucocorticoid effect g raises free sclerostin
    by 1 + k_scl g (model.remodeling.wnt_signal at romosozumab 0; 0 without glucocorticoid)."""
    if g == 0.0:
        return 0.0
    kw = 1.0 / (r.wnt_max_fold - 1.0)
    return math.log((1.0 + kw) / (kw + 1.0 + r.glucocorticoid_sclerostin_rise_frac * g))


@equation
def glucocorticoid_class_rr(r, fracture_type: int, dose_mg_per_day: float) -> float:
    """Return van Staa's relative rate of a fracture type (0 vertebral, 1 hip, 2 other
    nonvertebral: model.records.FRACTURE_TYPES) for a daily dose's class."""
    if dose_mg_per_day <= 0.0:
        return 1.0
    if fracture_type == 0:
        low, medium, high = r.gc_vertebral_rr_low, r.gc_vertebral_rr_medium, r.gc_vertebral_rr_high
    elif fracture_type == 1:
        low, medium, high = r.gc_hip_rr_low, r.gc_hip_rr_medium, r.gc_hip_rr_high
    else:
        low, medium = r.gc_nonvertebral_rr_low, r.gc_nonvertebral_rr_medium
        high = r.gc_nonvertebral_rr_high
    if dose_mg_per_day < GC_LOW_MG:
        return low
    return medium if dose_mg_per_day < GC_HIGH_MG else high


@equation
def glucocorticoid_fracture_log_rr(r, fracture_type: int, last_mg: float, days_off: float):
    """Return the log hazard ratio beyond BMD of glucocorticoids: the log relative rate of the
    latest course's dose class, times exp(-days off / ``gc_fracture_offset_days``)."""
    if last_mg <= 0.0:
        return 0.0
    fade = math.exp(-days_off / r.gc_fracture_offset_days)
    return math.log(glucocorticoid_class_rr(r, fracture_type, last_mg)) * fade
