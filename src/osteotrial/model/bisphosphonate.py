"""Bisphosphonates (alendronate, risedronate, zoledronic acid): one drug class, bound to bone.

A mechanistic PK-PD after the alendronate model of Martinez-Reina, Pivonka and colleagues
(Calvo-Gallego JL et al. Front Bioeng Biotechnol 2022;10:940620: plasma, bone surface and
buried-in-matrix compartments, release by resorption), written for a daily step.

Dose. An oral dose (alendronate, risedronate) is absorbed with its bioavailability F (below
1 %), an IV dose (zoledronic acid) entirely. The plasma phase lasts hours (alendronate's
plasma half-life about 1-2 h; Lin JH, Bone 1996;18:75-85), so on a daily step it is taken as
instantaneous: of the absorbed amount F D the renal share f_r leaves in urine, the rest binds
the bone surface. The renal share follows the patient's creatinine clearance (Cockcroft-
Gault; ``cohort.kidney``): renal clearance is proportional to CrCl and bone uptake is not, so

    f_r(CrCl) = CrCl / (CrCl + CrCl_ref (1 - f_ref) / f_ref)

with f_ref the drug's urinary share at the reference clearance CrCl_ref.

Bone (per drug d, amounts in mg for the whole skeleton; c, b: active osteoclasts and
osteoblasts relative to baseline, ``model.remodeling``):

    dS/dt = -(k_res c + k_bur b) S + (1 - f_r) (k_res c S + k_turn c B)   surface
    dB/dt = k_bur b S - k_turn c B                                        buried in matrix
    dU/dt = f_r (k_res c S + k_turn c B)                                  urine (cumulative)

Resorption releases surface drug (k_res c S) and buried drug (k_turn c B, the skeleton's
turnover) back to plasma, where the renal share leaves and the rest binds again; formation
buries surface drug under new matrix (k_bur b S). The buried store released over the
skeleton's turnover of about 10 % a year is the long tail after stopping (terminal urinary
half-life above 10 years; Khan SA et al. JBMR 1997;12:1700-7). d(S + B + U)/dt = 0: every
absorbed milligram is on the surface, buried or in urine (mass balance, tests).

Effect. Osteoclasts take up the drug from the surface they start to resorb and die by
apoptosis within hours (nitrogen-containing bisphosphonates inhibit farnesyl pyrophosphate
synthase; Russell RGG, Osteoporos Int 2008;19:733-59). With X = sum_d potency_d S_d (mg of
alendronate-equivalent on the surface), a share E / (1 + E) of the newly recruited osteoclasts
dies at once, E = E_max X / (X + EC50):

    dc/dt = k_c (recruitment / (1 + E) - apoptosis(c) c)

At quasi-steady state this equals raising osteoclast apoptosis by (1 + E); written as death
at recruitment it does not speed up the osteoclast pool, which at E ~ 3 would put the fixed
daily RK4 step beyond its stability limit (h lambda ~ 3 > 2.79) and cost the engines their
agreement with the reference. ``remodeling.cell_rhs`` reads the survival from the state
vector (``osteoclast_survival_frac``); nothing else of the model knows the drug.

State: ``N_STATES`` = 9 slots appended at the END of the bone state (``model.bone``), at
``FIRST_ROW`` = 42: for each drug in ``DRUGS`` order its surface, buried and urine amounts.
Parameters: the ``bisphosphonate`` block of config/model.yaml (``BisphosphonateParams``),
copied into the remodeling record (``model.records``) so that ``cell_rhs`` reads them by name.
"""

from __future__ import annotations

import math

import numpy as np

from osteotrial.arrays import BoolArray, FloatArray
from osteotrial.model.compiled import equation

DRUGS: tuple[str, ...] = ("alendronate", "risedronate", "zoledronic_acid")
N_DRUGS = len(DRUGS)
ALENDRONATE, RISEDRONATE, ZOLEDRONIC_ACID = range(N_DRUGS)
SURFACE, BURIED, URINE = range(3)
N_PER_DRUG = 3
N_STATES = N_PER_DRUG * N_DRUGS
# the first row after the 6 cell states and the 6 compartments x 6 states of model.bone
# (model.bone checks that it equals its count of the states before it)
FIRST_ROW = 42
# Zoledronic acid 4 mg (oncology label, Zometa; config/targets.yaml bone_metastases_breast
# zoledronic_acid_dosing): dose by creatinine clearance (zoledronic_dose_mg).
ZOLEDRONIC_ONCOLOGY_MG = 4.0
ZOLEDRONIC_ONCOLOGY_MIN_CRCL = 30.0  # below: not recommended (Zometa label)
ZOLEDRONIC_OSTEOPOROSIS_MIN_CRCL = 35.0  # 5 mg: contraindicated below (Reclast label)


@equation
def row(d: int, kind: int) -> int:
    """Return the bone-state row of drug d's surface, buried or urine amount."""
    return FIRST_ROW + N_PER_DRUG * d + kind


@equation
def baseline(y) -> None:
    """Write 'no drug yet' into the bisphosphonate slots of a bone state."""
    for j in range(N_STATES):
        y[FIRST_ROW + j] = 0.0


@equation
def zoledronic_dose_mg(nominal_mg: float, crcl_ml_min: float) -> float:
    """Return the zoledronic acid dose a patient receives for a nominal dose.

    A nominal 4 mg (the oncology regimen) follows the Zometa label's table by creatinine
    clearance, and is withheld (0) below 30 mL/min ("not recommended"); any other nominal dose
    (5 mg yearly for osteoporosis) is given unchanged, withheld below 35 mL/min (Reclast label:
    contraindicated). A patient whose dose is withheld is flagged (``engine.simulate``).
    """
    if nominal_mg == ZOLEDRONIC_ONCOLOGY_MG:
        if crcl_ml_min > 60.0:
            return 4.0
        if crcl_ml_min >= 50.0:
            return 3.5
        if crcl_ml_min >= 40.0:
            return 3.3
        if crcl_ml_min >= ZOLEDRONIC_ONCOLOGY_MIN_CRCL:
            return 3.0
        return 0.0
    if crcl_ml_min < ZOLEDRONIC_OSTEOPOROSIS_MIN_CRCL:
        return 0.0
    return nominal_mg


def withheld(nominal_mg: FloatArray, crcl_ml_min: FloatArray) -> BoolArray:
    """Return which patients (by creatinine clearance) get no zoledronic acid under an arm whose
    zoledronic acid doses are ``nominal_mg`` (every patient False if there are none): their
    clearance is below the label's cut-off of some dose (``zoledronic_dose_mg``)."""
    crcl = np.asarray(crcl_ml_min, dtype=np.float64)
    out = np.zeros(crcl.shape, dtype=bool)
    for nominal in np.unique(np.asarray(nominal_mg, dtype=np.float64)):
        if nominal > 0.0:
            oncology = nominal == ZOLEDRONIC_ONCOLOGY_MG
            cut = ZOLEDRONIC_ONCOLOGY_MIN_CRCL if oncology else ZOLEDRONIC_OSTEOPOROSIS_MIN_CRCL
            out |= crcl < cut
    return out


@equation
def given_dose_mg(d: int, nominal_mg: float, crcl_ml_min: float) -> float:
    """Return the dose of drug d a patient receives for a nominal dose (the plan's):
    zoledronic acid follows creatinine clearance (``zoledronic_dose_mg``), the oral drugs
    are given as prescribed."""
    if d == ZOLEDRONIC_ACID:
        return zoledronic_dose_mg(nominal_mg, crcl_ml_min)
    return nominal_mg


@equation
def bioavailability(d: int, r) -> float:
    """Return drug d's absorbed fraction of a dose (r: remodeling record)."""
    if d == ALENDRONATE:
        return r.bp_alendronate_bioavailability_frac
    if d == RISEDRONATE:
        return r.bp_risedronate_bioavailability_frac
    return r.bp_zoledronic_acid_bioavailability_frac


@equation
def urine_frac_at_reference(d: int, r) -> float:
    """Return drug d's urinary share of an absorbed dose at the reference clearance."""
    if d == ALENDRONATE:
        return r.bp_alendronate_urine_frac
    if d == RISEDRONATE:
        return r.bp_risedronate_urine_frac
    return r.bp_zoledronic_acid_urine_frac


@equation
def renal_frac(d: int, crcl_ml_min: float, r) -> float:
    """Return the renal share f_r of drug d in plasma at a creatinine clearance (mL/min)."""
    f_ref = urine_frac_at_reference(d, r)
    bone_equivalent = r.bp_reference_crcl_ml_min * (1.0 - f_ref) / f_ref
    return crcl_ml_min / (crcl_ml_min + bone_equivalent)


@equation
def patient_constants(crcl_ml_min: float, r, out) -> None:
    """Write the patient's renal share of each drug into out[0:3] (``DRUGS`` order)."""
    for d in range(N_DRUGS):
        out[d] = renal_frac(d, crcl_ml_min, r)


@equation
def dose(y, d: int, dose_mg: float, renal: float, r) -> None:
    """Add a dose of drug d (mg given) to the bone state y: the absorbed amount's renal share
    to urine, the rest to the bone surface (the plasma phase is instantaneous on a day)."""
    absorbed = bioavailability(d, r) * dose_mg
    y[row(d, URINE)] += renal * absorbed
    y[row(d, SURFACE)] += (1.0 - renal) * absorbed


@equation
def surface_equivalent_mg(y, r) -> float:
    """Return the potency-weighted drug on the bone surface (mg of alendronate-equivalent)."""
    return (
        r.bp_alendronate_potency_rel * y[row(ALENDRONATE, SURFACE)]
        + r.bp_risedronate_potency_rel * y[row(RISEDRONATE, SURFACE)]
        + r.bp_zoledronic_acid_potency_rel * y[row(ZOLEDRONIC_ACID, SURFACE)]
    )


@equation
def osteoclast_survival_frac(y, r) -> float:
    """Return the share of newly recruited osteoclasts that survive the drug on the surface
    they start to resorb, 1 / (1 + E), E = E_max X / (X + EC50) (1 without drug)."""
    x = surface_equivalent_mg(y, r)
    if x <= 0.0:
        return 1.0
    return 1.0 / (1.0 + r.bp_apoptosis_max_rel * x / (x + r.bp_surface_ec50_mg))


@equation
def rhs(y, oca: float, oba: float, renal, r, dy) -> None:
    """Write d/dt of every drug's surface, buried and urine amounts into dy (per day).

    ``renal`` (3): the patient's renal share per drug (``patient_constants``).
    """
    k_res = r.bp_surface_resorption_per_day * oca
    k_bur = r.bp_surface_burial_per_day * oba
    k_turn = r.bp_buried_release_per_year / 365.25 * oca
    for d in range(N_DRUGS):
        surface, buried = y[row(d, SURFACE)], y[row(d, BURIED)]
        released = k_res * surface + k_turn * buried
        dy[row(d, SURFACE)] = (1.0 - renal[d]) * released - (k_res + k_bur) * surface
        dy[row(d, BURIED)] = k_bur * surface - k_turn * buried
        dy[row(d, URINE)] = renal[d] * released


@equation
def tail_half_life_years(renal: float, r) -> float:
    """Return the terminal urinary half-life (years) of the buried store at baseline turnover:
    each release of buried drug ends in urine with probability f_r + (1 - f_r) p_s, p_s the
    share of surface drug that is resorbed (and re-released) before it is buried."""
    k_res, k_bur = r.bp_surface_resorption_per_day, r.bp_surface_burial_per_day
    p_surface = renal * k_res / (renal * k_res + k_bur)
    to_urine = renal + (1.0 - renal) * p_surface
    return math.log(2.0) / (r.bp_buried_release_per_year * to_urine)
