"""Bone cell population model (Lemaire 2004 / Pivonka 2008 family) with sclerostin/Wnt.

All cell pools are scaled to 1 at baseline: p responding osteoblasts (OBp), b active
osteoblasts (OBa), c active osteoclasts (OCa), q osteoclast precursors. TGF-beta is released
by resorption, so its level is proportional to c (Pivonka: TGFb = alpha k_res OCa / D_TGFb).
Relative Hill terms (ratio to their baseline value, so that baseline is a steady state):

    rho_obu(c) = c (1 + K1) / (c + K1)     TGF-b activates commitment of uncommitted OB
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
dT/dt = k_tol (g_tol (w_raw - 1) - T), and the osteoblast lineage sees the attenuated excess
w = 1 + (w_raw - 1) / (1 + T): the anabolic response wanes under continued romosozumab, and
tolerance never pushes Wnt below its untreated level once the drug is gone.

    dp/dt = k_p (w^g_c rho_obu(c) - w^g_d rho_obp(c) p)
    db/dt = k_b (w^g_d rho_obp(c) p - b)
    dc/dt = k_c (q phi(L) - rho_oca(c) c)
    dq/dt = k_q (1 - q) + k_u (1 - q phi(L))   (precursors accumulate while RANKL is blocked)

Drugs enter only through their concentrations (denosumab binds RANKL, romosozumab binds
sclerostin); nothing here knows an arm.
"""

from __future__ import annotations

import numpy as np

from osteotrial.arrays import FloatArray
from osteotrial.model.params import RemodelingParams

CELL_STATES: tuple[str, ...] = ("obp", "oba", "oca", "precursor", "tolerance")
N_CELL_STATES = len(CELL_STATES)


def baseline_cells(n_patients: int) -> FloatArray:
    """Return the untreated steady state, shape (5, n_patients): p=b=c=q=1, tolerance 0."""
    cells = np.ones((N_CELL_STATES, n_patients), dtype=np.float64)
    cells[4] = 0.0
    return cells


def sclerostin_free_frac(romosozumab_nm: FloatArray, params: RemodelingParams) -> FloatArray:
    """Return the fraction of sclerostin not bound to romosozumab, shape (n_patients,)."""
    kd = params.romosozumab_sclerostin_kd_nm
    return kd / (kd + romosozumab_nm)


def free_sclerostin_rel(romosozumab_nm: FloatArray, params: RemodelingParams) -> FloatArray:
    """Return free sclerostin relative to baseline at quasi-steady state, shape (n_patients,)."""
    free = sclerostin_free_frac(romosozumab_nm, params)
    ratio = params.sclerostin_complex_kout_per_day / params.sclerostin_kout_per_day
    return free / (free + ratio * (1.0 - free))


def total_sclerostin_rel(romosozumab_nm: FloatArray, params: RemodelingParams) -> FloatArray:
    """Return total (free + drug-bound) sclerostin relative to baseline at quasi-steady state."""
    free = sclerostin_free_frac(romosozumab_nm, params)
    ratio = params.sclerostin_complex_kout_per_day / params.sclerostin_kout_per_day
    return 1.0 / (free + ratio * (1.0 - free))


def wnt_signal(sclerostin_free_rel: FloatArray, params: RemodelingParams) -> FloatArray:
    """Return Wnt activity relative to baseline (1 at baseline, wnt_max_fold with no sclerostin)."""
    kw = 1.0 / (params.wnt_max_fold - 1.0)
    return (1.0 + kw) / (kw + sclerostin_free_rel)


def _hill_rel(x: FloatArray, kd_rel: float) -> FloatArray:
    return x * (1.0 + kd_rel) / (x + kd_rel)


def free_rankl_rel(
    obp: FloatArray, opg_rel: FloatArray, denosumab_nm: FloatArray, params: RemodelingParams
) -> FloatArray:
    """Return free RANKL relative to baseline, shape (n_patients,)."""
    a_opg, a_rank = params.rankl_opg_binding_rel, params.rankl_rank_binding_rel
    f_ocy = params.rankl_osteocyte_frac
    production = f_ocy + (1.0 - f_ocy) * obp
    drug = params.denosumab_rankl_ka_per_nm * params.denosumab_rankl_access_frac * denosumab_nm
    return production * (1.0 + a_opg + a_rank) / (1.0 + a_opg * opg_rel + a_rank + drug)


def cell_rhs(
    cells: FloatArray, wnt_raw: FloatArray, denosumab_nm: FloatArray, params: RemodelingParams
) -> FloatArray:
    """Return d(cells)/dt per day, shape (5, n_patients); inputs are not modified."""
    obp, oba, oca, precursor, tolerance = cells
    wnt = 1.0 + (wnt_raw - 1.0) / (1.0 + tolerance)
    commitment = wnt**params.wnt_commitment_exponent * _hill_rel(oca, params.tgfb_kd_obu_rel)
    differentiation = (
        wnt**params.wnt_differentiation_exponent
        * (1.0 + params.tgfb_kd_obp_rel)
        / (oca + params.tgfb_kd_obp_rel)
        * obp
    )
    opg_rel = oba * wnt_raw**params.wnt_opg_exponent
    rankl = free_rankl_rel(obp, opg_rel, denosumab_nm, params)
    rank_signal = _hill_rel(rankl, params.rank_activation_kd_rel)
    recruitment = precursor * rank_signal
    return np.stack(
        [
            params.obp_differentiation_per_day * (commitment - differentiation),
            params.oba_apoptosis_per_day * (differentiation - oba),
            params.oca_apoptosis_per_day
            * (recruitment - _hill_rel(oca, params.tgfb_kd_oca_rel) * oca),
            params.precursor_renewal_per_day * (1.0 - precursor)
            + params.precursor_use_per_day * (1.0 - recruitment),
            params.tolerance_per_day * (params.tolerance_gain * (wnt_raw - 1.0) - tolerance),
        ]
    )
