"""The bone state of one patient and its right-hand side: cells (model.remodeling), then BMD.

State layout (``N_BONE_STATES`` = 8): the five cell states of ``remodeling.CELL_STATES``, then
BMD relative to baseline at LS, TH and FN (``BMD_ROWS``, in model.records.SITES order). Drugs
enter as concentrations: denosumab (nM) binds RANKL, romosozumab (nM, via the Wnt activity it
gives) binds sclerostin.
"""

from __future__ import annotations

import math

from osteotrial.model import bmd, remodeling
from osteotrial.model.compiled import equation
from osteotrial.model.remodeling import N_CELL_STATES, OBA, OCA

N_SITES = 3
BMD_ROWS = (N_CELL_STATES, N_CELL_STATES + 1, N_CELL_STATES + 2)
N_BONE_STATES = N_CELL_STATES + N_SITES


@equation
def initial_bone(y) -> None:
    """Write the untreated steady state into y (8): cells at baseline, BMD 1 at every site."""
    remodeling.baseline_cells(y)
    for j in range(N_SITES):
        y[N_CELL_STATES + j] = 1.0


@equation
def site_constants(sites, turnover_mult: float, loss_mult: float, k, loss, inv_k) -> None:
    """Write the patient's k, lambda and 1 / k per site (3 each): loop invariants of bone_rhs."""
    for j in range(N_SITES):
        k[j] = bmd.site_rate_per_day(sites[j], turnover_mult)
        loss[j] = bmd.site_loss_per_day(sites[j], loss_mult)
        inv_k[j] = 1.0 / k[j]


@equation(inline=True)
def bone_rhs(y, t_days, denosumab_nm, wnt_raw, log_wnt_raw, r, sites, k, loss, inv_k, dy) -> None:
    """Write d(bone)/dt per day into dy (8); wnt_raw = remodeling.wnt_raw(romosozumab nM)."""
    remodeling.cell_rhs(y, wnt_raw, log_wnt_raw, denosumab_nm, r, dy)
    log_oba = math.log(y[OBA])
    log_oca = math.log(y[OCA])
    for j in range(N_SITES):
        row = N_CELL_STATES + j
        dy[row] = bmd.bmd_rhs(y[row], log_oba, log_oca, t_days, sites[j], k[j], loss[j], inv_k[j])
