"""The bone step of the time loop (``engine.loop``, step 3): one classical Runge-Kutta (RK4)
step of the block's bone states, driven by the drug concentrations at the start, middle and
end of the step, redone in sub-steps where it is too stiff.

A stage that moves a cell state by more than ``MAX_STAGE_CHANGE`` times its value at the start
of the step (or is not finite) makes the step stiff; a stiff step is redone as n = 2, 4, ...
``MAX_SUBSTEPS`` sub-steps (``restep_lane``), the first n whose every sub-step passes kept.
A stiff step's work before the test is thrown away, so the test runs stage by stage and what
it makes useless is skipped, with results bit-identical to computing every stage first:
- a lane is dropped from the step's later stages at its first stiff stage;
- the first stage of the step (k1: the derivative at its start state and concentrations) is
  also the first stage of every split's first sub-step, so ``restep_lane`` takes it as is and
  starts at the first n whose first stage passes, where the splits before it would each have
  computed a first sub-step to throw away;
- within the sub-steps, stages 2 and 3 (both at the sub-step's middle) share one
  concentration, Wnt activity and logarithm.
"""

from __future__ import annotations

import math

from osteotrial.model import bone, remodeling
from osteotrial.model.bone import N_BONE_STATES
from osteotrial.model.compiled import equation
from osteotrial.model.records import records_of
from osteotrial.model.remodeling import N_CELL_STATES, TOLERANCE

RK4_TIME = (0.0, 0.5, 0.5, 1.0)  # stage time offsets (fraction of the step)
RK4_CONC = (0, 1, 1, 2)  # concentration of each stage: start, middle, end of the step
# A stage may move a state by at most this multiple of its value at the start of the step:
# below 1 every RK4 stage value of a decaying pool stays positive, and RK4 is within 2 % of
# the exact decay (e^-1 against 0.375 at h lambda = 1).
MAX_STAGE_CHANGE = 1.0
MAX_SUBSTEPS = 64  # the finest split of one step (powers of two); beyond it the state is NaN


@equation
def advance_bone(s, lo, m, pat, plan, table, w) -> None:
    """Advance bone cells and BMD of the block by one classical RK4 step (step s: its exposure
    levels ``plan.exposure[s]``, model.exposure).

    The bone sees each drug's concentration times the patient's sensitivity to it (IIV). A
    lane whose step is stiff (``stage_stiff``) is re-stepped in sub-steps (``restep_lane``);
    ``stiff`` holds one bit per lane (m <= 64).
    """
    h = plan.dt_days
    drug_signals(lo, m, pat, table, w)
    stiff = 0
    for stage in range(4):
        c = RK4_CONC[stage]
        for q in range(m):
            if stiff & (1 << q):
                continue
            par = records_of(table, pat.param_index[lo + q])
            denosumab_nm, wnt, log_wnt = w.conc_nm[0, c, q], w.wnt[c, q], w.log_wnt[c, q]
            r = par.remodeling[0]
            rk4_stage(stage, q, h, denosumab_nm, wnt, log_wnt, plan.exposure[s], r, par, w)
            if stage_stiff(w.y[q], w.ks, stage, q, h):
                stiff |= 1 << q
    for q in range(m):
        if stiff & (1 << q):
            restep_lane(s, lo + q, q, pat, plan, table, w)
        else:
            rk4_update(w.y[q], w.ks, q, h)


@equation
def drug_signals(lo, m, pat, table, w) -> None:
    """Set the block's drug signals at the step's three RK4 concentration points: denosumab's
    concentration times the patient's sensitivity (in place), and romosozumab's Wnt signal
    and its logarithm (from its concentration times her sensitivity)."""
    for c in range(3):
        for q in range(m):
            r = table.remodeling[pat.param_index[lo + q], 0]
            w.conc_nm[0, c, q] *= pat.sensitivity[0, lo + q]
            romosozumab = w.conc_nm[1, c, q] * pat.sensitivity[1, lo + q]
            w.wnt[c, q] = remodeling.wnt_raw(romosozumab, r)
            w.log_wnt[c, q] = math.log(w.wnt[c, q])


@equation(inline=True)
def next_stage_state(stage, q, h, w) -> None:
    """Write the state of RK4 stage ``stage + 1`` of lane q into w.tmp (from w.y, w.ks)."""
    for j in range(N_BONE_STATES):
        w.tmp[q, j] = w.y[q, j] + RK4_TIME[stage + 1] * h * w.ks[stage, q, j]


@equation(inline=True)
def rk4_stage(stage, q, h, denosumab_nm, wnt, log_wnt, levels, r, par, w) -> None:
    """Write lane q's derivative of RK4 stage ``stage`` into w.ks (from w.y at stage 0, else
    from w.tmp) and, before the last stage, the state of the next stage into w.tmp."""
    src = w.y if stage == 0 else w.tmp
    const, k = w.site_const[q], w.ks[stage, q]
    bone.bone_rhs(src[q], denosumab_nm, wnt, log_wnt, levels, r, par.sites, const, k)
    if stage < 3:
        next_stage_state(stage, q, h, w)


@equation(inline=True)
def rk4_update(y, ks, q, h) -> None:
    """y += h/6 (k1 + 2 k2 + 2 k3 + k4), the stage derivatives of lane q in ks."""
    for j in range(N_BONE_STATES):
        y[j] = y[j] + h / 6.0 * (ks[0, q, j] + 2.0 * ks[1, q, j] + 2.0 * ks[2, q, j] + ks[3, q, j])


@equation(inline=True)
def stage_stiff(y, ks, stage, q, h) -> bool:
    """Return whether RK4 stage ``stage`` of lane q (derivative in ks, step h from state y)
    moves a cell state by more than MAX_STAGE_CHANGE of its value (or is not finite).

    Only the cell states can be stiff: the BMD states decay slowly (at most 1/6 per day, the
    osteoid stages) and are driven by the cells. The Wnt tolerance (0 at baseline, not a
    pool) is not checked.
    """
    for j in range(N_CELL_STATES):
        if j == TOLERANCE:
            continue
        if not h * abs(ks[stage, q, j]) <= MAX_STAGE_CHANGE * y[j]:  # also true for nan
            return True
    return False


@equation(inline=True)
def quadratic(values, tau: float) -> float:
    """Return the quadratic through (0, v0), (1/2, v1), (1, v2) at tau, floored at 0."""
    v0, v1, v2 = values[0], values[1], values[2]
    v = v0 + tau * (-3.0 * v0 + 4.0 * v1 - v2) + tau * tau * (2.0 * v0 - 4.0 * v1 + 2.0 * v2)
    return max(v, 0.0)


@equation
def first_split(y, ks, q, dt) -> int:
    """Return the first n = 2, 4, ... at which the step's first stage (w.ks[0]: the first stage
    of every split's first sub-step) is not stiff over dt / n; 2 x MAX_SUBSTEPS if none is."""
    n = 2
    while n <= MAX_SUBSTEPS and stage_stiff(y, ks, 0, q, dt / n):
        n *= 2
    return n


@equation
def restep_lane(s, i, q, pat, plan, table, w) -> None:
    """Redo lane q's bone step s (patient i, state in w.y[q], the step's first stage in
    w.ks[0, q]) as n = 2, 4, ... sub-steps.

    The first n whose every sub-step is not stiff is kept; if none up to MAX_SUBSTEPS is,
    the state becomes NaN and the caller stops with its non-finite-state error.
    """
    par = records_of(table, pat.param_index[i])
    r = par.remodeling[0]
    for j in range(N_BONE_STATES):
        w.y_start[q, j] = w.y[q, j]
    n = first_split(w.y[q], w.ks, q, plan.dt_days)
    reuse = True  # w.ks[0, q] still holds the step's first stage
    while n <= MAX_SUBSTEPS:
        h = plan.dt_days / n
        ok = True
        denosumab, wnt, log_wnt = 0.0, 1.0, 0.0
        for k in range(n):
            for stage in range(4):
                first = reuse and k == 0 and stage == 0
                if stage != 2 and not first:  # stage 2 is at the time of stage 1
                    tau = (k + RK4_TIME[stage]) / n
                    denosumab = quadratic(w.conc_nm[0, :, q], tau)
                    romosozumab = quadratic(w.conc_nm[1, :, q], tau) * pat.sensitivity[1, i]
                    wnt = remodeling.wnt_raw(romosozumab, r)
                    log_wnt = math.log(wnt)
                if first:
                    next_stage_state(0, q, h, w)
                else:
                    levels = plan.exposure[s]
                    rk4_stage(stage, q, h, denosumab, wnt, log_wnt, levels, r, par, w)
                if stage_stiff(w.y[q], w.ks, stage, q, h):
                    ok = False
                    break
            if not ok:
                break
            rk4_update(w.y[q], w.ks, q, h)
        if ok:
            return
        for j in range(N_BONE_STATES):
            w.y[q, j] = w.y_start[q, j]
        reuse = False
        n *= 2
    for j in range(N_BONE_STATES):
        w.y[q, j] = math.nan
