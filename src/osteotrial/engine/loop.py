"""The one time loop, written once for every fixed-step engine (CPU and GPU).

``simulate_block`` advances a block of ``m`` consecutive patients (``lo`` ... ``lo + m - 1``)
from day 0 to the end of the plan. The CPU engine calls it with blocks of ``LANES`` patients
(independent work for the out-of-order core), the GPU engine with one patient per thread; both
hand it their own work arrays (``Work``: heap arrays on the CPU, thread-local arrays on the
GPU), so the loop itself allocates nothing. Each step of length dt, in this order:

1. dose events: doses scheduled at this step are added (F x dose) to the SC depots; a
   bisphosphonate dose (``plan.bisphosphonate_doses_mg``, zoledronic acid by the patient's
   creatinine clearance) goes straight to urine and bone surface (model.bisphosphonate);
2. PK of both drugs advances by one step (model.pk: Strang splitting, linear part and stiff
   saturable elimination each solved exactly, ``pk_substeps`` per half step), giving
   concentrations at the start, middle and end of the step; PK does not depend on bone;
3. bone cells and BMD advance by one classical Runge-Kutta (RK4) step driven by those
   concentrations (model.bone; engine.loop_bone): denosumab binds RANKL, romosozumab binds
   sclerostin. A patient whose step is too stiff for RK4 (``stage_stiff``: some stage moves a
   state by more than ``MAX_STAGE_CHANGE`` times its value, e.g. a fast osteoclast pool as a
   denosumab dose shuts off recruitment) redoes that step as 2, 4, ... ``MAX_SUBSTEPS``
   sub-steps (``restep_lane``), the drug concentrations within the step interpolated by the
   quadratic through their start, middle and end values; steps that are not stiff are
   untouched;
4. hazards of vertebral, hip and other nonvertebral fracture and of death are evaluated from
   the new state (age, current T-score, remodeling space, prior and incident fractures;
   model.fracture);
5. cumulative hazards grow by the trapezoid rule; an event happens when a cumulative hazard
   reaches the patient's stored threshold (day interpolated within the step); hazards stop
   at death. For the first ``plan.event_free_steps`` steps the same state also drives the
   *event-free* hazards (a status no sampled event changes: no imminent-risk rise, no stop at
   death), the path of the expected incidences (analyses.expected); the bone never depends
   on events, so one pass gives both, and until a patient's first event the two hazards are
   the same numbers (copied, not computed twice);
6. serum calcium follows the new state (its nadir, the first day below each hypocalcemia
   threshold: engine.loop_records); states are recorded at record steps, concentrations on a
   daily grid.

The loop draws no randomness: every latent draw is in the cohort, so a patient's result
depends only on its own inputs, never on its block or its neighbours. Its parameters too are
its own: ``table`` holds K parameter sets (``model.records.ParameterTable``) and patient i
reads set ``pat.param_index[i]`` (``records_of``), so the lanes of one block may run different
sets. Every equation lives in ``osteotrial.model``; this module only orders the calls.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from osteotrial.engine.inputs import (
    REC_BMD,
    REC_BVTV,
    REC_CTX,
    REC_CUM,
    REC_P1NP,
    REC_POROSITY,
    REC_STRENGTH,
)
from osteotrial.engine.loop_bone import advance_bone
from osteotrial.engine.loop_records import (
    record_calcium,
    record_concentrations,
    record_slots,
    start_calcium,
    track_calcium,
)
from osteotrial.model import bisphosphonate, bmd, bone, fracture, metastasis, pk
from osteotrial.model.bone import N_BONE_STATES, N_SITES, RENAL, TUMOUR
from osteotrial.model.compiled import equation
from osteotrial.model.fracture import N_HAZARDS
from osteotrial.model.pk import CENTRAL, N_PK_STATES, VC
from osteotrial.model.records import records_of
from osteotrial.model.remodeling import OBA, OCA, REMODELING_SPACE
from osteotrial.model.tscore import tscore_now
from osteotrial.units import DAYS_PER_YEAR

N_DRUGS = 2


class Work(NamedTuple):
    """Work arrays of one block of L patients (L = LANES on the CPU, 1 on the GPU)."""

    y: np.ndarray  # (L, 58) bone state (model.bone layout)
    ks: np.ndarray  # (4, L, 58) RK4 stage derivatives
    tmp: np.ndarray  # (L, 58) RK4 stage state
    amounts: np.ndarray  # (2, L, 4) PK amounts per drug (mg)
    conc_nm: np.ndarray  # (2, 3, L) concentration at start, middle, end of the step (nM; the
    # denosumab row times the patient's sensitivity once advance_bone has run)
    wnt: np.ndarray  # (3, L) Wnt activity of romosozumab at start, middle, end
    log_wnt: np.ndarray  # (3, L) its log
    prop_half: np.ndarray  # (2, L, 3, 3) exp(A h / 2) per drug
    prop_full: np.ndarray  # (2, L, 3, 3) exp(A h)
    scratch: np.ndarray  # (3, 3, 3) matrix-exponential scratch
    pk_const: np.ndarray  # (2, L, 3) per drug: Vc (L), Km Vc (mg), Vmax h (mg)
    site_const: np.ndarray  # (L, 8, 6): model.bone compartment constants (a, a - lambda, ...)
    cum: np.ndarray  # (L, 4) cumulative hazards
    prev_h: np.ndarray  # (L, 4) hazards at the start of the step
    haz: np.ndarray  # (L, 4) hazards at the end of the step
    status: np.ndarray  # (L, 5) event status (model.fracture N_STATUS: ALIVE, ...)
    tscores: np.ndarray  # (3,) current T-score per site
    y_start: np.ndarray  # (L, 58) bone state at the start of a step being re-stepped
    calcium: np.ndarray  # (L, calcium.N_WORK): model.calcium work row (constants, calcium, ...)
    # the event-free path's hazards (Plan.event_free_steps): cumulative, at the step's start
    # and end, and its status (alive, no fracture since baseline: it never changes)
    cum_free: np.ndarray  # (L, 4)
    prev_free: np.ndarray  # (L, 4)
    haz_free: np.ndarray  # (L, 4)
    status_free: np.ndarray  # (L, 5)


@equation
def start_patient(i, q, pat, plan, table, w) -> None:
    """Set lane q to patient i at day 0: steady state, no drug, PK and site constants."""
    par = records_of(table, pat.param_index[i])
    burden0, lytic = pat.tumour_burden0_rel[i], pat.lesion_lytic_frac[i]
    death, prior = pat.cancer_death_per_year[i], pat.prior_skeletal_event[i]
    metastasis.patient_constants(burden0, lytic, death, prior, w.site_const[q, TUMOUR])
    bone.site_constants(
        par.sites,
        par.remodeling[0],
        pat.turnover_mult[i],
        pat.loss_mult[i],
        pat.mineral_mult[i],
        pat.bmd0_g_cm2[:, i],
        pat.age_years[i],
        w.site_const[q],
    )
    start_calcium(i, q, pat, plan.dt_days, par.remodeling[0], w)
    bone.initial_bone(w.y[q], par.sites, w.site_const[q])
    crcl = pat.creatinine_clearance_ml_min[i]
    bisphosphonate.patient_constants(crcl, par.remodeling[0], w.site_const[q, RENAL])
    h_sub = plan.dt_days / (2 * plan.pk_substeps)
    for d in range(N_DRUGS):
        p = par.drugs[d]
        cl, v = pat.clearance_mult[d, i], pat.volume_mult[d, i]
        for j in range(N_PK_STATES):
            w.amounts[d, q, j] = 0.0
        pk.step_constants(p, cl, v, h_sub, w.pk_const[d, q])
        pk.propagator(p, cl, v, 0.5 * h_sub, w.prop_half[d, q], w.scratch)
        pk.propagator(p, cl, v, h_sub, w.prop_full[d, q], w.scratch)
    for a in range(N_HAZARDS):
        w.cum[q, a] = 0.0
        w.prev_h[q, a] = 0.0
        w.cum_free[q, a] = 0.0
        w.prev_free[q, a] = 0.0
    fracture.reset_status(w.status[q], pat.prevalent_vertebral[i])
    fracture.reset_status(w.status_free[q], pat.prevalent_vertebral[i])


@equation
def _conc_nm(amounts, pk_const, p) -> float:
    return pk.concentration_nm(amounts[CENTRAL], pk_const[VC], p)


@equation
def advance_pk(s, lo, m, pat, plan, table, w) -> None:
    """Dose at step s, then advance both drugs by one step; store start/middle/end nM."""
    for d in range(N_DRUGS):
        dose = plan.doses_mg[d, s]
        for q in range(m):
            p = table.drugs[pat.param_index[lo + q], d]
            w.amounts[d, q, 0] += pk.absorbed_dose_mg(dose, p)
            w.conc_nm[d, 0, q] = _conc_nm(w.amounts[d, q], w.pk_const[d, q], p)
        for half in range(2):
            pk.advance_half_step(
                w.amounts[d], w.prop_half[d], w.prop_full[d], w.pk_const[d], plan.pk_substeps, m
            )
            for q in range(m):
                p = table.drugs[pat.param_index[lo + q], d]
                w.conc_nm[d, 1 + half, q] = _conc_nm(w.amounts[d, q], w.pk_const[d, q], p)


@equation(inline=True)
def dose_bisphosphonates(s, lo, m, pat, plan, table, w) -> None:
    """Give the bisphosphonate doses of step s (model.bisphosphonate.dose): each patient's
    dose follows her creatinine clearance where the label says so (``given_dose_mg``).

    Inlined into the step loop: a call of a compiled function passes every array of ``pat``,
    ``plan``, ``table`` and ``w`` (some 400 machine words), and this one runs every step for
    a dose on a few of them (the call alone made the whole kernel 1.3 times slower).
    """
    for d in range(bisphosphonate.N_DRUGS):
        nominal = plan.bisphosphonate_doses_mg[d, s]
        if nominal > 0.0:
            for q in range(m):
                i = lo + q
                r = table.remodeling[pat.param_index[i], 0]
                given = bisphosphonate.given_dose_mg(d, nominal, pat.creatinine_clearance_ml_min[i])
                bisphosphonate.dose(w.y[q], d, given, w.site_const[q, RENAL, d], r)


@equation
def advance_events(lo, m, t, t_end, pat, plan, table, out, w) -> None:
    """Hazards of the block's patients at the end of the step, then the event rule over it."""
    for q in range(m):
        _advance_events_of(lo + q, q, t, t_end, pat, plan, table, out, w)


@equation(inline=True)
def _advance_events_of(i, q, t, t_end, pat, plan, table, out, w) -> None:
    par = records_of(table, pat.param_index[i])
    age = pat.age_years[i] + t_end / DAYS_PER_YEAR
    step = int(t / plan.dt_days + 0.5)
    levels = plan.exposure[step]
    track_calcium(w.y[q], t, plan.dt_days, levels, par.remodeling[0], w.calcium[q])
    for j in range(N_SITES):
        sd = par.sites[j].young_adult_sd_g_cm2
        bmd_rel = bone.bmd_rel(w.y[q], j, par.sites, w.site_const[q])
        w.tscores[j] = tscore_now(pat.tscore0[j, i], pat.bmd0_g_cm2[j, i], bmd_rel, sd)
    _hazards(i, q, age, t_end, levels, par, pat, w, w.status[q], w.haz[q])
    event_free = step < plan.event_free_steps
    if event_free:
        _event_free_hazards(i, q, age, t_end, levels, par, pat, w)
    fracture.advance_events(
        i,
        t,
        plan.dt_days,
        w.haz[q],
        w.cum[q],
        w.prev_h[q],
        pat.thresholds,
        plan.n_thresholds,
        pat.threshold_death,
        out,
        w.status[q],
    )
    if event_free:
        fracture.advance_cumulative(plan.dt_days, w.haz_free[q], w.cum_free[q], w.prev_free[q])


@equation(inline=True)
def _event_free_hazards(i, q, age, t_end, levels, par, pat, w) -> None:
    """Set the event-free path's hazards at the end of the step: the same state and T-scores,
    a status that no sampled event changes (no imminent-risk rise, no stop at death). The
    expected incidences need them (analyses.expected); the trial's own path cannot give them
    after a patient's first event, and a second simulation would redo the whole step. Until
    her first event the two statuses are equal, and so are the hazards (the same function of
    the same inputs): they are copied, not computed again (run before the step's event rule,
    which may change her status)."""
    same = True
    for k in range(fracture.N_STATUS):
        if w.status[q, k] != w.status_free[q, k]:
            same = False
    if same:
        for a in range(N_HAZARDS):
            w.haz_free[q, a] = w.haz[q, a]
        return
    _hazards(i, q, age, t_end, levels, par, pat, w, w.status_free[q], w.haz_free[q])


@equation(inline=True)
def _hazards(i, q, age, t_end, levels, par, pat, w, status, haz) -> None:
    """Write lane q's hazards at the end of the step into haz, for an event status (the
    trial's or the event-free path's), from the T-scores in w.tscores."""
    fracture.hazards_per_year(
        par.fracture_types,
        par.fracture[0],
        pat.static_log_risk,
        i,
        age,
        w.tscores,
        w.y[q, REMODELING_SPACE],
        status,
        t_end,
        levels,
        par.remodeling[0],
        haz,
    )


@equation
def record_states(step, r_next, lo, m, pat, plan, table, out, w) -> int:
    """Store BMD, markers, bone structure and cumulative hazards if step is a record step;
    return the next index."""
    while r_next < plan.record_steps.shape[0] and plan.record_steps[r_next] == step:
        for q in range(m):
            i = lo + q
            par = records_of(table, pat.param_index[i])
            for j in range(N_SITES):
                bmd_rel = bone.bmd_rel(w.y[q], j, par.sites, w.site_const[q])
                out.rec[REC_BMD + j, r_next, i] = bmd_rel * pat.bmd0_g_cm2[j, i]
                out.rec[REC_BVTV + j, r_next, i] = bone.trabecular_bvtv(w.y[q], j, w.site_const[q])
                porosity = bone.cortical_porosity(w.y[q], j, w.site_const[q])
                out.rec[REC_POROSITY + j, r_next, i] = porosity
                strength = bone.strength_rel(w.y[q], j, par.sites, w.site_const[q])
                out.rec[REC_STRENGTH + j, r_next, i] = strength
            out.rec[REC_P1NP, r_next, i] = bmd.p1np_rel(w.y[q, OBA])
            out.rec[REC_CTX, r_next, i] = bmd.ctx_rel(w.y[q, OCA])
            for a in range(N_HAZARDS):
                out.rec[REC_CUM + a, r_next, i] = w.cum[q, a]
            if r_next < out.cum_free.shape[1]:
                for a in range(N_HAZARDS):
                    out.cum_free[a, r_next, i] = w.cum_free[q, a]
            record_slots(r_next, i, w.y[q], out)
            record_calcium(r_next, i, q, out, w)
        r_next += 1
    return r_next


@equation
def simulate_block(lo, m, pat, plan, table, out, w) -> None:
    """Simulate patients lo ... lo + m - 1 over the whole plan; fills their outputs.

    ``table``: the parameter sets (model.records.ParameterTable); patient i runs set
    ``pat.param_index[i]``.
    """
    for q in range(m):
        start_patient(lo + q, q, pat, plan, table, w)
    r_next = record_states(0, 0, lo, m, pat, plan, table, out, w)
    p_next = record_concentrations(0, 0, lo, m, plan, out, w)
    for s in range(plan.n_steps):
        t = s * plan.dt_days
        advance_pk(s, lo, m, pat, plan, table, w)
        dose_bisphosphonates(s, lo, m, pat, plan, table, w)
        advance_bone(s, lo, m, pat, plan, table, w)
        t_end = (s + 1) * plan.dt_days
        advance_events(lo, m, t, t_end, pat, plan, table, out, w)
        r_next = record_states(s + 1, r_next, lo, m, pat, plan, table, out, w)
        p_next = record_concentrations(s + 1, p_next, lo, m, plan, out, w)
    for q in range(m):
        ok = True
        for j in range(N_BONE_STATES):
            if not math.isfinite(w.y[q, j]):
                ok = False
        out.finite[lo + q] = ok
