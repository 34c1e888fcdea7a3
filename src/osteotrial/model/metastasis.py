"""Tumour in bone: a skeletal tumour burden, its vicious cycle with resorption, and the
cumulative hazards of skeletal-related events (SREs) and of death from the cancer.

Burden. A patient's skeletal tumour burden T (relative to the typical burden at entry of the
trials' populations; 0: no tumour) is held as two parts, its osteolytic part T_L and its
osteoblastic part T_B (T = T_L + T_B; lesion character = the lytic share T_L / T, set per
tumour type by the population, ``cohort.population``). Both parts grow alike, so the share
stays what it was at entry:

    dT_x/dt = T_x (g_int + g_res c) (1 - T / K)

with c the active osteoclasts relative to a healthy skeleton (``model.remodeling``). g_res c is
the vicious cycle (growth factors, TGF-beta and IGF, released from resorbed matrix feed tumour
cells; Mundy 2002, R); g_int the growth that does not need resorption, so that blocking
resorption slows the tumour but does not eradicate it (Araujo 2014's caution: an anti-RANKL
model at full efficacy eradicated metastases, which no trial shows); K a carrying capacity.
The structure follows the bone-metastasis models of Coelho et al. 2016 (PTHrP, vicious cycle)
and Ayati et al. 2010 (tumour growth with a resorption-dependent term), written here for the
model's relative cell pools.

Coupling to the remodeling model (``remodeling.cell_rhs``): lytic tumour cells secrete PTHrP,
which raises RANKL on osteoblast-lineage cells (Guise 1996, R):
RANKL production x (1 + k_L T_L); blastic tumour cells secrete osteoblast factors (endothelin-1,
Wnt; Logothetis & Lin 2005, R): osteoblast differentiation x (1 + k_B T_B). At T = 0 both
factors are exactly 1 and the model is the osteoporosis model unchanged.

Events. Each SRE type k (``SRE_TYPES``) has the hazard (per year)

    h_k = base_k T^a c^(b_k) (1 + (RR - 1) P)

tumour burden (to the power a, ``sre_burden_exponent``: a < 1 when the events follow the
burden less than in proportion, e.g. because the lesions that cause them are present from entry)
times bone destruction (resorption, c, to a type's power: radiation for pain
follows osteolysis more closely than a fracture through a weakened bone, which the
anti-resorptive does not undo); P is 1 for a patient with a skeletal event before entry (a
cohort covariate, its share from the trial's baseline table) and RR the literature's relative
risk of a further SRE after one (``prior_event_factor``). Death from the cancer:
h_d = d_0 T^(e_d), d_0 the patient's rate (``cohort``: by tumour type, median survival about
two years). Their cumulative hazards are states, integrated by every engine like the bone;
event times are drawn afterwards by inverting them (``analyses.sre_frames``).

State: ``N_STATES`` = 7 slots appended after the bisphosphonate slots, from ``FIRST_ROW`` = 51:
T_L, T_B, the four SRE cumulative hazards (``SRE_TYPES`` order), the cancer death cumulative
hazard. Parameters: block ``metastasis`` of config/model.yaml (``MetastasisParams``), carried
in the remodeling record (``model.records.METASTASIS_FIELDS``). Patient constants: row
``model.bone.TUMOUR`` of the site constants (``patient_constants``).
"""

from __future__ import annotations

import math

from osteotrial.model.compiled import equation

SRE_TYPES: tuple[str, ...] = (
    "pathologic_fracture",
    "radiation_to_bone",
    "surgery_to_bone",
    "spinal_cord_compression",
)
N_SRE_TYPES = len(SRE_TYPES)
FIRST_ROW = 51  # after the bisphosphonate slots (model.bone checks)
LYTIC, BLASTIC = FIRST_ROW, FIRST_ROW + 1
SRE_ROW = FIRST_ROW + 2  # cumulative hazard of SRE type k at SRE_ROW + k
DEATH_ROW = SRE_ROW + N_SRE_TYPES
N_STATES = DEATH_ROW + 1 - FIRST_ROW
# columns of the patient's tumour constants (row model.bone.TUMOUR of the site constants)
BURDEN0, LYTIC_FRAC, DEATH_PER_DAY, PRIOR_SRE = range(4)
DAYS_PER_YEAR = 365.25


@equation
def patient_constants(
    burden0: float, lytic_frac: float, death_per_year: float, prior_sre: float, out
) -> None:
    """Write the patient's baseline burden, lytic share, cancer death rate (per day) and prior
    skeletal event (1 or 0) into out[0:4] (``BURDEN0``, ``LYTIC_FRAC``, ``DEATH_PER_DAY``,
    ``PRIOR_SRE``)."""
    out[BURDEN0] = burden0
    out[LYTIC_FRAC] = lytic_frac
    out[DEATH_PER_DAY] = death_per_year / DAYS_PER_YEAR
    out[PRIOR_SRE] = prior_sre


@equation
def baseline(y, const) -> None:
    """Write the burden at entry (split by lesion character) and zero cumulative hazards."""
    burden0 = const[BURDEN0]
    y[LYTIC] = const[LYTIC_FRAC] * burden0
    y[BLASTIC] = (1.0 - const[LYTIC_FRAC]) * burden0
    for k in range(N_SRE_TYPES + 1):
        y[SRE_ROW + k] = 0.0


@equation
def burden(y) -> float:
    """Return the skeletal tumour burden T = T_L + T_B (relative; 0 without tumour)."""
    return y[LYTIC] + y[BLASTIC]


@equation
def rankl_factor(y, r) -> float:
    """Return the factor on RANKL production of the lytic burden (PTHrP): 1 + k_L T_L."""
    return 1.0 + r.tumour_rankl_gain_per_burden * y[LYTIC]


@equation
def formation_factor(y, r) -> float:
    """Return the factor on osteoblast differentiation of the blastic burden: 1 + k_B T_B."""
    return 1.0 + r.tumour_formation_gain_per_burden * y[BLASTIC]


@equation
def growth_per_day(oca: float, total: float, r) -> float:
    """Return the tumour's per-capita growth rate (per day) at osteoclasts c and burden T."""
    rate = r.tumour_intrinsic_growth_per_year + r.tumour_resorption_growth_per_year * oca
    return rate / DAYS_PER_YEAR * (1.0 - total / r.tumour_capacity_rel)


@equation
def sre_base_per_year(k: int, r) -> float:
    """Return SRE type k's hazard per year at T = 1 and healthy resorption (c = 1)."""
    if k == 0:
        return r.sre_pathologic_fracture_per_year
    if k == 1:
        return r.sre_radiation_to_bone_per_year
    if k == 2:
        return r.sre_surgery_to_bone_per_year
    return r.sre_spinal_cord_compression_per_year


@equation
def sre_resorption_exponent(k: int, r) -> float:
    """Return SRE type k's exponent on resorption (c^b_k, bone destruction)."""
    if k == 0:
        return r.sre_pathologic_fracture_resorption_exponent
    if k == 1:
        return r.sre_radiation_to_bone_resorption_exponent
    if k == 2:
        return r.sre_surgery_to_bone_resorption_exponent
    return r.sre_spinal_cord_compression_resorption_exponent


@equation
def sre_hazard_per_year(k: int, total: float, log_oca: float, r) -> float:
    """Return SRE type k's hazard per year: base_k T^a c^b_k (0 without tumour)."""
    if total <= 0.0:
        return 0.0
    exponent = r.sre_burden_exponent * math.log(total) + sre_resorption_exponent(k, r) * log_oca
    return sre_base_per_year(k, r) * math.exp(exponent)


@equation
def prior_event_factor(prior_sre: float, r) -> float:
    """Return the factor on every SRE hazard of a patient with a skeletal event before entry
    (``prior_sre`` 1) or without (0): 1 + (RR - 1) prior, RR the literature's relative risk."""
    return 1.0 + (r.sre_prior_event_hazard_ratio - 1.0) * prior_sre


@equation
def death_hazard_per_day(total: float, death_per_day: float, r) -> float:
    """Return the hazard of death from the cancer per day: d_0 T^e_d (0 without tumour)."""
    if total <= 0.0:
        return 0.0
    return death_per_day * math.exp(r.cancer_death_burden_exponent * math.log(total))


@equation
def rhs(y, oca: float, log_oca: float, const, r, dy) -> None:
    """Write d/dt (per day) of both burden parts and of the cumulative hazards into dy.

    ``const``: the patient's tumour constants (``patient_constants``). Without tumour every
    derivative is 0 (the slots stay at their baseline).
    """
    total = burden(y)
    if total <= 0.0:
        for j in range(N_STATES):
            dy[FIRST_ROW + j] = 0.0
        return
    g = growth_per_day(oca, total, r)
    dy[LYTIC] = g * y[LYTIC]
    dy[BLASTIC] = g * y[BLASTIC]
    prior = prior_event_factor(const[PRIOR_SRE], r) / DAYS_PER_YEAR
    for k in range(N_SRE_TYPES):
        dy[SRE_ROW + k] = sre_hazard_per_year(k, total, log_oca, r) * prior
    dy[DEATH_ROW] = death_hazard_per_day(total, const[DEATH_PER_DAY], r)
