"""The bone state of one patient and its right-hand side: cells (model.remodeling), then BMD.

State layout (``N_BONE_STATES`` = 61): the six cell states of ``remodeling.CELL_STATES``, then
for LS, TH and FN (model.records.SITES order) and within each site the trabecular and the
cortical compartment (``bmd.TISSUES``), the six states of ``bmd.COMPARTMENT_STATES`` (bone
volume in the osteoid, primary and secondary stages and the secondary mineral): compartment
c = 2 j + tissue starts at ``compartment_row(c)``; last, from row 42, the nine bisphosphonate
amounts (``model.bisphosphonate``: surface, buried, urine per drug); last, from row 51, the
seven tumour slots (``model.metastasis``: lytic and blastic burden, the cumulative hazards of
the four skeletal-related events and of death from the cancer); last, from row 58, the three
safety slots (``model.safety``: deep-suppression exposure, its integral, the antiresorptive
duration memory). Drugs enter as
concentrations: denosumab (nM) binds RANKL, romosozumab (nM, via the Wnt activity it gives)
binds sclerostin; bisphosphonates as the amount bound to the bone surface.

Per-patient compartment constants (``site_constants``, six per compartment): the remodeling
rate a, the formation rate a - lambda, 1 / M(0) (the inverse of the compartment's baseline
mineral mass), the patient's secondary mineralization rate, her baseline volume fraction
(trabecular BV/TV, cortical 1 - porosity) and the modeling capacity (bmd.modeling_capacity);
a seventh row, ``RENAL``, holds the patient's renal share of each bisphosphonate (columns 0-2,
``bisphosphonate.patient_constants``, set by the engines from her creatinine clearance); an
eighth, ``TUMOUR``, her tumour constants (columns 0-3, ``metastasis.patient_constants``); a
ninth, ``SAFETY``, her safety constants (column 0, ``safety.patient_constants``, written by
``site_constants``: the logarithm of a threshold, once a patient, not at every evaluation).
BMD relative to baseline (``bmd_rel``) is the aBMD-share-weighted sum of the compartments'
M(t) / M(0); ``trabecular_bvtv``, ``cortical_porosity`` and ``strength_rel`` read the
structure the same state gives.
"""

from __future__ import annotations

import math

from osteotrial.model import bisphosphonate, bmd, exposure, metastasis, remodeling, safety
from osteotrial.model.bmd import N_COMPARTMENT_STATES
from osteotrial.model.compiled import equation
from osteotrial.model.remodeling import N_CELL_STATES, OBA, OCA

N_SITES = 3
N_TISSUES = 2
N_COMPARTMENTS = N_SITES * N_TISSUES
N_BEFORE_BISPHOSPHONATE = N_CELL_STATES + N_COMPARTMENT_STATES * N_COMPARTMENTS
if bisphosphonate.FIRST_ROW != N_BEFORE_BISPHOSPHONATE:  # pragma: no cover - a layout change
    raise ImportError("model.bisphosphonate.FIRST_ROW must follow the compartments of model.bone")
N_BEFORE_METASTASIS = N_BEFORE_BISPHOSPHONATE + bisphosphonate.N_STATES
if metastasis.FIRST_ROW != N_BEFORE_METASTASIS:  # pragma: no cover - a layout change
    raise ImportError("model.metastasis.FIRST_ROW must follow the bisphosphonate slots")
N_BEFORE_SAFETY = N_BEFORE_METASTASIS + metastasis.N_STATES
if safety.FIRST_ROW != N_BEFORE_SAFETY:  # pragma: no cover - a layout change
    raise ImportError("model.safety.FIRST_ROW must follow the tumour slots")
N_BONE_STATES = N_BEFORE_SAFETY + safety.N_STATES
N_SITE_CONSTANTS = 9
# rows of the compartment constants; RENAL: the patient's renal share of each bisphosphonate
# (columns in bisphosphonate.DRUGS order; model.bisphosphonate.patient_constants); TUMOUR: her
# tumour constants (model.metastasis.patient_constants); SAFETY: her safety constants
# (model.safety.patient_constants)
REMODELING, FORMATION, INV_MINERAL, SECONDARY_RATE, VOLUME_FRAC, CAPACITY = range(6)
RENAL, TUMOUR, SAFETY = 6, 7, 8


@equation
def compartment_row(c: int) -> int:
    """Return the first state row of compartment c (= 2 x site + tissue)."""
    return N_CELL_STATES + N_COMPARTMENT_STATES * c


@equation
def site_constants(
    sites, r, turnover_mult, loss_mult, mineral_mult, bmd0_g_cm2, age_years, const
) -> None:
    """Write the patient's a, a - lambda, secondary mineralization rate, baseline volume
    fraction and modeling capacity per compartment into const[REMODELING], const[FORMATION],
    const[SECONDARY_RATE], const[VOLUME_FRAC] and const[CAPACITY], and her safety constants
    into const[SAFETY].

    ``r``: the remodeling record (modeling capacity, activation by years since menopause);
    ``bmd0_g_cm2`` (3): the patient's baseline BMD per site (sets the volume fractions);
    ``age_years``: her baseline age (sets the activation, ``bmd.activation_age_factor``).
    """
    turnover_mult = turnover_mult * bmd.activation_age_factor(r, age_years)
    for j in range(N_SITES):
        for tissue in range(N_TISSUES):
            c = N_TISSUES * j + tissue
            frac = bmd.volume_frac(sites[j], tissue, bmd0_g_cm2[j])
            a = bmd.remodeling_per_day(sites[j], turnover_mult, frac)
            const[VOLUME_FRAC, c] = frac
            const[SECONDARY_RATE, c] = sites[j].secondary_per_day * mineral_mult
            const[REMODELING, c] = a
            const[FORMATION, c] = a - bmd.loss_per_day(sites[j], loss_mult, tissue, frac)
            const[CAPACITY, c] = bmd.modeling_capacity(r.modeling_capacity_frac, tissue, frac)
    safety.patient_constants(r, const[SAFETY])


@equation
def initial_bone(y, sites, const) -> None:
    """Write the untreated state at baseline into y (N_BONE_STATES) and 1 / M(0) into
    const[INV_MINERAL].

    Needs const[REMODELING], const[FORMATION] and const[SECONDARY_RATE] (``site_constants``)
    and const[TUMOUR] (``metastasis.patient_constants``: the burden at entry).
    """
    remodeling.baseline_cells(y)
    bisphosphonate.baseline(y)
    metastasis.baseline(y, const[TUMOUR])
    safety.baseline(y)
    for c in range(N_COMPARTMENTS):
        site = sites[c // N_TISSUES]
        m0 = bmd.initial_compartment(
            y, compartment_row(c), site, const[FORMATION, c], const[SECONDARY_RATE, c]
        )
        const[INV_MINERAL, c] = 1.0 / m0


@equation
def mineral_rel(y, c: int, sites, const) -> float:
    """Return compartment c's mineral mass relative to the patient's baseline."""
    site = sites[c // N_TISSUES]
    return bmd.mineral(y, compartment_row(c), site) * const[INV_MINERAL, c]


@equation
def bmd_rel(y, j: int, sites, const) -> float:
    """Return areal BMD of site j relative to the patient's baseline: the compartments'
    mineral masses relative to baseline, weighted by their baseline shares of aBMD."""
    total = 0.0
    for tissue in range(N_TISSUES):
        c = N_TISSUES * j + tissue
        total += bmd.bmd_share(sites[j], tissue) * mineral_rel(y, c, sites, const)
    return total


@equation
def trabecular_bvtv(y, j: int, const) -> float:
    """Return the trabecular bone volume fraction BV/TV of site j now (envelope fixed)."""
    c = N_TISSUES * j + bmd.TRABECULAR
    return const[VOLUME_FRAC, c] * bmd.bone_volume(y, compartment_row(c))


@equation
def cortical_porosity(y, j: int, const) -> float:
    """Return the cortical porosity of site j now: 1 - baseline (1 - p) x volume relative."""
    c = N_TISSUES * j + bmd.CORTICAL
    return 1.0 - const[VOLUME_FRAC, c] * bmd.bone_volume(y, compartment_row(c))


@equation
def strength_rel(y, j: int, sites, const) -> float:
    """Return the strength index of site j relative to the patient's baseline.

    Sum over the compartments of the site's baseline strength share times the compartment's
    stiffness relative to baseline: trabecular (apparent density rel)^n_trab (Carter & Hayes
    1977, Keller 1994: modulus ~ apparent density^~2); cortical ((1 - p) / (1 - p0))^n_por
    (Schaffler & Burr 1988: modulus ~ (1 - porosity)^~10) x (tissue mineral density rel)^n_trab.
    """
    site = sites[j]
    trab = mineral_rel(y, N_TISSUES * j + bmd.TRABECULAR, sites, const)
    c = N_TISSUES * j + bmd.CORTICAL
    volume = bmd.bone_volume(y, compartment_row(c))
    tissue_density = mineral_rel(y, c, sites, const) / volume
    share = site.strength_trabecular_share_frac
    return share * trab**site.trabecular_strength_exponent + (1.0 - share) * (
        volume**site.cortical_porosity_exponent * tissue_density**site.trabecular_strength_exponent
    )


@equation
def bone_rhs(y, denosumab_nm, wnt_raw, log_wnt_raw, levels, r, sites, const, dy) -> None:
    """Write d(bone)/dt per day into dy (N_BONE_STATES); wnt_raw = remodeling.wnt_raw(romo nM);
    ``levels``: the step's exposure channels (model.exposure.CHANNELS, a row of Plan.exposure);
    a withdrawal also raises the cortical remodeling rate (exposure.cortical_activation_factor)."""
    withdrawal = exposure.withdrawal(levels, r)
    gc = exposure.glucocorticoid_effect(levels[exposure.GC_MG], r)
    log_oba = math.log(y[OBA])
    log_oca = math.log(y[OCA])
    remodeling.cell_rhs(y, wnt_raw, log_wnt_raw, log_oba, denosumab_nm, withdrawal, gc, r, dy)
    bisphosphonate.rhs(y, y[OCA], y[OBA], const[RENAL], r, dy)
    metastasis.rhs(y, y[OCA], log_oca, const[TUMOUR], r, dy)
    safety.rhs(y, y[OCA], log_oca, const[SAFETY], r, dy)
    cortical = exposure.cortical_activation_factor(levels, r)
    for j in range(N_SITES):
        oba_g = bmd.oba_power(log_oba, sites[j])
        oca_g = bmd.oca_power(log_oca, sites[j])
        for tissue in range(N_TISSUES):
            c = N_TISSUES * j + tissue
            activation = cortical if tissue == bmd.CORTICAL else 1.0
            bmd.compartment_rhs(
                y,
                compartment_row(c),
                oba_g,
                oca_g,
                sites[j],
                activation * const[REMODELING, c],
                activation * const[FORMATION, c],
                const[SECONDARY_RATE, c],
                const[CAPACITY, c],
                dy,
            )
