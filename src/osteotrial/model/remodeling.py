"""Bone cell population model (Lemaire 2004 / Pivonka 2008 family) with sclerostin/Wnt.

All cell pools are scaled to 1 at baseline: p responding osteoblasts (OBp), b active
osteoblasts (OBa), c active osteoclasts (OCa), q osteoclast precursors. TGF-beta is released
by resorption, so its level is proportional to c (Pivonka: TGFb = alpha k_res OCa / D_TGFb).
Relative Hill terms (ratio to their baseline value, so that baseline is a steady state):

    rho_obu(c) = c (1 + K1) / (c + K1)     TGF-b activates commitment of uncommitted OB
    m_f                                     share of commitment not coupled to resorption
    rho_obp(c) = (1 + K2) / (c + K2)       TGF-b represses OBp -> OBa differentiation
    rho_oca(c) = c (1 + K3) / (c + K3)     TGF-b drives osteoclast apoptosis

Free RANKL (rapid binding equilibrium with OPG, RANK and denosumab; Pivonka's RANKL
equation, Martinez-Reina 2019 for the drug term):

    L = L_prod (1 + a_O + a_R) / (1 + a_O o + a_R + Ka chi D),  L_prod = f_ocy + (1 - f_ocy) p
    o = b w_raw^g_opg  (OPG is made by active osteoblasts, raised by Wnt/beta-catenin)
    phi(L) = L (1 + K_L) / (L + K_L)  (osteoclastogenic RANK signal)

Sclerostin (total, relative; Eudy 2015 extended indirect response): the drug-bound complex is
cleared more slowly than free sclerostin, so total sclerostin rises on romosozumab while free
sclerostin falls:

    dS/dt = kout (1 - S [f + r (1 - f)]),  f = Kd / (Kd + C_romo) (free fraction), r = k0 / kout

Sclerostin turns over in about an hour (kout = 25/day), far faster than anything it drives, so
S is taken at its quasi-steady state S = 1 / (f + r (1 - f)); free sclerostin is S f and

    w_raw = (1 + kw) / (kw + S f),  kw = 1 / (wnt_max_fold - 1)

Tolerance (Eudy 2015 idea: continued Wnt activation raises its own inhibitors, e.g. DKK1):
dT/dt = k (g_tol (w_raw - 1) - T), and the osteoblast lineage sees the attenuated excess
w = 1 + (w_raw - 1) / (1 + T): the anabolic response wanes under continued romosozumab, and
tolerance never pushes Wnt below its untreated level once the drug is gone. k is the fitted
k_tol (e-fold about 280 days: the P1NP course of FRAME's year) while the drug acts, and
k_off = ``tolerance_off_per_day`` once it is gone (Wnt excess below ``TOLERANCE_GATE_FRAC`` of
its maximum, about two months after the last monthly dose) and T falls: the induced
inhibitors are no longer made and clear within weeks (assumption), so tolerance does not
outlast the drug by the months it took to build. Between monthly doses the excess stays far
above the gate (a third of its maximum at the typical trough), so the on-treatment course is
that of k_tol alone (in FRAME's romosozumab arm, 3 % of patients, those with the deepest
troughs, see their BMD at month 12 move by at most 0.1 %).

    dp/dt = k_p (w^g_c [m_f + (1 - m_f) rho_obu(c)] - w^g_d rho_obp(c) p)

m_f is modeling-based formation: osteoblasts that form bone on quiescent surfaces without prior
resorption (seen in biopsies of women on denosumab, Dempster 2018, R). It keeps formation
(P1NP) above resorption (CTX) when an antiresorptive silences remodeling, and with it the slow
BMD gain of long-term denosumab.
    db/dt = k_b (w^g_d rho_obp(c) p - b)
    dc/dt = k_c (q phi(L) - rho_oca(c) c)
    dq/dt = k_q (1 - q) + k_u (1 - q phi(L))   (precursors accumulate while RANKL is blocked)

Remodeling space (relative to baseline): cavities opened by osteoclasts and refilled over the
formation period T_rs (Parfitt 1983; Heaney 1994 remodeling transient: the space is the
activation frequency times the duration of a remodeling cycle, R; Eriksen 1994 for T_rs, R),

    ds/dt = (c - b^theta s) / T_rs

At theta = 0 the space follows activation (resorption, c) with the lag of the formation
period and is proportional to it at steady state (Heaney): each open cavity is refilled by its
own team of osteoblasts in the formation period, whatever the number of osteoblasts elsewhere.
At theta = 1 it tends to c / b (the model before issue 24), under which resorption and
formation suppressed equally give no benefit. For 0 <= theta < 1, equal suppression closes the
space (s = lambda^(1 - theta)) and protects, a formation excess (romosozumab) speeds the
refilling, and the resorption overshoot after stopping denosumab reopens the space beyond
baseline while it lasts. theta (``remodeling_space_refill_exponent``) is an interim
assumption, 0.9: at theta = 0 the FRAME fit must put romosozumab's whole benefit beyond BMD into
a vertebral exponent of 3 on a space that romosozumab closes only a third, which makes
denosumab, which closes it by 80 %, six times too protective (docs/model.md); the structural
gain of formation belongs to bone strength (issue 24, item 2), after which theta goes to 0. It
carries the part of fracture risk that BMD does not (model.fracture).

Drugs enter only through their concentrations (denosumab binds RANKL, romosozumab binds
sclerostin) and, for bisphosphonates, through the drug bound to the bone surface, read from the
bone state (model.bisphosphonate: it raises osteoclast apoptosis); nothing here knows an arm.
``r`` is a remodeling record (model.records.REMODELING_RECORD); every function is a compiled
scalar function of one patient (``model.compiled.equation``), called alike by the CPU loop, the
CUDA kernel and the reference.
Powers are written exp(y log x) with one log per base (``pow_log``): x ** y costs three times an
exp, and x = 1 gives exactly 1 (the untreated steady state).
"""

from __future__ import annotations

import math

from osteotrial.model import bisphosphonate, exposure, metastasis
from osteotrial.model.compiled import equation

CELL_STATES: tuple[str, ...] = (
    "obp",
    "oba",
    "oca",
    "precursor",
    "tolerance",
    "remodeling_space",
)
N_CELL_STATES = len(CELL_STATES)
OBP, OBA, OCA, PRECURSOR, TOLERANCE, REMODELING_SPACE = range(N_CELL_STATES)
# Wnt excess (w_raw - 1) below this fraction of its maximum counts as "the drug is gone" for the
# tolerance (tolerance_rhs): romosozumab's typical monthly trough keeps a third of the maximum,
# and the excess falls below 0.2 % about two months after the last dose.
TOLERANCE_GATE_FRAC = 0.002


@equation
def baseline_cells(cells) -> None:
    """Write the untreated steady state into cells (6): p = b = c = q = s = 1, tolerance 0."""
    for j in range(N_CELL_STATES):
        cells[j] = 1.0
    cells[TOLERANCE] = 0.0


@equation
def pow_log(log_x: float, y: float) -> float:
    """Return x ** y from log(x): exactly 1 at x = 1 (the untreated steady state)."""
    if log_x == 0.0:
        return 1.0
    return math.exp(y * log_x)


@equation
def hill_rel(x: float, kd_rel: float) -> float:
    """Return a Hill term relative to its baseline value (1 at x = 1)."""
    return x * (1.0 + kd_rel) / (x + kd_rel)


@equation
def sclerostin_free_frac(romosozumab_nm: float, r) -> float:
    """Return the fraction of sclerostin not bound to romosozumab."""
    kd = r.romosozumab_sclerostin_kd_nm
    return kd / (kd + romosozumab_nm)


@equation
def free_sclerostin_rel(romosozumab_nm: float, r) -> float:
    """Return free sclerostin relative to baseline at quasi-steady state."""
    free = sclerostin_free_frac(romosozumab_nm, r)
    ratio = r.sclerostin_complex_kout_per_day / r.sclerostin_kout_per_day
    return free / (free + ratio * (1.0 - free))


@equation
def total_sclerostin_rel(romosozumab_nm: float, r) -> float:
    """Return total (free + drug-bound) sclerostin relative to baseline at quasi-steady state."""
    free = sclerostin_free_frac(romosozumab_nm, r)
    ratio = r.sclerostin_complex_kout_per_day / r.sclerostin_kout_per_day
    return 1.0 / (free + ratio * (1.0 - free))


@equation
def wnt_signal(sclerostin_free_rel: float, r) -> float:
    """Return Wnt activity relative to baseline (1 at baseline, wnt_max_fold with no sclerostin)."""
    kw = 1.0 / (r.wnt_max_fold - 1.0)
    return (1.0 + kw) / (kw + sclerostin_free_rel)


@equation
def wnt_raw(romosozumab_nm: float, r) -> float:
    """Return the Wnt activity a romosozumab concentration gives, before tolerance."""
    return wnt_signal(free_sclerostin_rel(romosozumab_nm, r), r)


@equation
def free_rankl_rel(obp: float, opg_rel: float, denosumab_nm: float, rankl_mult: float, r) -> float:
    """Return free RANKL relative to baseline (binding equilibrium with OPG, RANK, denosumab);
    ``rankl_mult``: the factor on its production (1 + sex-steroid withdrawal, model.exposure)."""
    a_opg, a_rank = r.rankl_opg_binding_rel, r.rankl_rank_binding_rel
    f_ocy = r.rankl_osteocyte_frac
    production = (f_ocy + (1.0 - f_ocy) * obp) * rankl_mult
    drug = r.denosumab_rankl_ka_per_nm * r.denosumab_rankl_access_frac * denosumab_nm
    return production * (1.0 + a_opg + a_rank) / (1.0 + a_opg * opg_rel + a_rank + drug)


@equation
def tolerance_rhs(wnt_raw_now: float, tolerance: float, r) -> float:
    """Return dT/dt: towards g_tol (w_raw - 1) at k_tol, or back at up to k_off once the drug is
    gone (module docstring). The switch is a steep Hill function of the Wnt excess around
    ``TOLERANCE_GATE_FRAC`` of its maximum, acting only while T falls. The gate sits far below
    the monthly trough: at 1 % the deepest troughs crossed it, and their tolerance then hung on
    the sub-day timing of each dose (the fixed step and LSODA differed by 0.8 % of BMD)."""
    excess = wnt_raw_now - 1.0
    target = r.tolerance_gain * excess
    rate = r.tolerance_per_day
    if target < tolerance:
        x = max(excess, 0.0) / (TOLERANCE_GATE_FRAC * (r.wnt_max_fold - 1.0))
        x2 = x * x
        rate += (r.tolerance_off_per_day - r.tolerance_per_day) / (1.0 + x2 * x2)
    return rate * (target - tolerance)


@equation
def cell_rhs(y, wnt_raw_now, log_wnt_raw, log_oba, denosumab_nm, withdrawal, gc, r, dy) -> None:
    """Write d(cells)/dt per day into dy[0:6]; y[0:6] holds the cells (CELL_STATES order), y
    the whole bone state (model.bone: its bisphosphonate slots set osteoclast apoptosis, its
    tumour slots raise RANKL and osteoblast differentiation, model.metastasis).

    log_wnt_raw = log(wnt_raw_now), computed once per concentration by the caller; log_oba =
    log(y[OBA]), computed once per state by the caller (model.bone reads it too);
    ``withdrawal`` (sex steroids) and ``gc`` (glucocorticoid effect): the exposures of the
    step (model.exposure.withdrawal, glucocorticoid_effect; 0 and 0 without any).
    """
    obp, oba, oca, precursor, tolerance = y[OBP], y[OBA], y[OCA], y[PRECURSOR], y[TOLERANCE]
    log_gc_wnt = exposure.log_wnt_factor(gc, r)
    log_wnt = math.log(1.0 + (wnt_raw_now - 1.0) / (1.0 + tolerance)) + log_gc_wnt
    coupled = hill_rel(oca, r.tgfb_kd_obu_rel)
    modeling = r.modeling_formation_frac
    wnt_commitment = pow_log(log_wnt, r.wnt_commitment_exponent)
    commitment = wnt_commitment * (modeling + (1.0 - modeling) * coupled)
    differentiation = (
        pow_log(log_wnt, r.wnt_differentiation_exponent)
        * exposure.differentiation_factor(gc, r)
        * metastasis.formation_factor(y, r)
        * (1.0 + r.tgfb_kd_obp_rel)
        / (oca + r.tgfb_kd_obp_rel)
        * obp
    )
    opg_rel = (
        oba
        * pow_log(log_wnt_raw + log_gc_wnt, r.wnt_opg_exponent)
        * exposure.opg_factor(withdrawal, gc, r)
    )
    rankl_mult = exposure.rankl_factor(withdrawal, gc, r) * metastasis.rankl_factor(y, r)
    rankl = free_rankl_rel(obp, opg_rel, denosumab_nm, rankl_mult, r)
    recruitment = precursor * hill_rel(rankl, r.rank_activation_kd_rel)
    apoptosis = exposure.oba_apoptosis_factor(withdrawal, gc, r)
    dy[OBP] = r.obp_differentiation_per_day * (commitment - differentiation)
    dy[OBA] = r.oba_apoptosis_per_day * (differentiation - apoptosis * oba)
    surviving = recruitment * bisphosphonate.osteoclast_survival_frac(y, r)
    dy[OCA] = r.oca_apoptosis_per_day * (surviving - hill_rel(oca, r.tgfb_kd_oca_rel) * oca)
    dy[PRECURSOR] = r.precursor_renewal_per_day * (1.0 - precursor) + r.precursor_use_per_day * (
        1.0 - recruitment
    )
    dy[TOLERANCE] = tolerance_rhs(wnt_raw_now, tolerance, r)
    refill = pow_log(log_oba, r.remodeling_space_refill_exponent)
    dy[REMODELING_SPACE] = (oca - refill * y[REMODELING_SPACE]) / r.remodeling_space_days
