"""The bone state of one patient and its right-hand side: cells (model.remodeling), then BMD.

State layout (``N_BONE_STATES`` = 24): the six cell states of ``remodeling.CELL_STATES``, then
for LS, TH and FN (model.records.SITES order) the six states of ``bmd.SITE_STATES`` (bone
volume in the osteoid, primary and secondary stages and the secondary mineral), starting at
``SITE_ROWS[j]``. Drugs enter as concentrations: denosumab (nM) binds RANKL, romosozumab (nM,
via the Wnt activity it gives) binds sclerostin.

Per-patient site constants (``site_constants``, four per site): the remodeling rate a, the
formation rate a - lambda, 1 / M(0), the inverse of the baseline mineral mass, so that BMD
relative to baseline is ``bmd_rel`` = M(t) / M(0), and the patient's secondary mineralization
rate.
"""

from __future__ import annotations

import math

from osteotrial.model import bmd, remodeling
from osteotrial.model.bmd import N_SITE_STATES
from osteotrial.model.compiled import equation
from osteotrial.model.remodeling import N_CELL_STATES, OBA, OCA

N_SITES = 3
SITE_ROWS = tuple(N_CELL_STATES + N_SITE_STATES * j for j in range(N_SITES))
N_BONE_STATES = N_CELL_STATES + N_SITE_STATES * N_SITES
N_SITE_CONSTANTS = 4
REMODELING, FORMATION, INV_MINERAL, SECONDARY_RATE = 0, 1, 2, 3  # rows of the site constants


@equation(inline=True)
def site_row(j: int) -> int:
    """Return the first state row of site j."""
    return N_CELL_STATES + N_SITE_STATES * j


@equation
def site_constants(sites, turnover_mult, loss_mult, mineral_mult, bmd0_g_cm2, const) -> None:
    """Write the patient's a, a - lambda and secondary mineralization rate per site into
    const[REMODELING], const[FORMATION] and const[SECONDARY_RATE].

    ``bmd0_g_cm2`` (3): the patient's baseline BMD per site (sets the remodeling surface).
    """
    for j in range(N_SITES):
        const[SECONDARY_RATE, j] = sites[j].secondary_per_day * mineral_mult
        surface = bmd.surface_factor(sites[j], bmd0_g_cm2[j])
        a = bmd.remodeling_per_day(sites[j], turnover_mult, surface)
        const[REMODELING, j] = a
        const[FORMATION, j] = a - bmd.loss_per_day(sites[j], loss_mult, surface)


@equation
def initial_bone(y, sites, const) -> None:
    """Write the untreated state at baseline into y (24) and 1 / M(0) into const[INV_MINERAL].

    Needs const[REMODELING] and const[FORMATION] (``site_constants``).
    """
    remodeling.baseline_cells(y)
    for j in range(N_SITES):
        row = site_row(j)
        m0 = bmd.initial_site(y, row, sites[j], const[FORMATION, j], const[SECONDARY_RATE, j])
        const[INV_MINERAL, j] = 1.0 / m0


@equation(inline=True)
def bmd_rel(y, j: int, sites, const) -> float:
    """Return BMD of site j relative to the patient's baseline: M(t) / M(0)."""
    return bmd.mineral(y, site_row(j), sites[j]) * const[INV_MINERAL, j]


@equation(inline=True)
def bone_rhs(y, denosumab_nm, wnt_raw, log_wnt_raw, r, sites, const, dy) -> None:
    """Write d(bone)/dt per day into dy (24); wnt_raw = remodeling.wnt_raw(romosozumab nM)."""
    remodeling.cell_rhs(y, wnt_raw, log_wnt_raw, denosumab_nm, r, dy)
    log_oba = math.log(y[OBA])
    log_oca = math.log(y[OCA])
    for j in range(N_SITES):
        bmd.site_rhs(
            y,
            site_row(j),
            log_oba,
            log_oca,
            sites[j],
            const[REMODELING, j],
            const[FORMATION, j],
            const[SECONDARY_RATE, j],
            dy,
        )
