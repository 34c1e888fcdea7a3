"""Reference integration with scipy's LSODA, one patient at a time, of the same equations.

The reference integrates the full ODE of one patient (PK of both drugs with their saturable
elimination inside the right-hand side, bone cells, BMD per site) with
``scipy.integrate.solve_ivp(method="LSODA")``, restarted at every dose. Its right-hand side
``full_rhs`` is compiled from the model's own functions (``model.pk.pk_rhs``,
``model.bone.bone_rhs``): the very equations the fixed-step engines step, so a difference
between the two is the integrator's (Strang splitting, RK4, step size), never a second copy of
the model. ``reference_events`` applies the loop's own event code (``engine.loop``: hazards,
trapezoid cumulative hazards, threshold crossings; serum calcium, ``engine.loop_records``) to
the LSODA states on the step grid.
Parameters per patient as in ``engine.simulate.simulate_arm``: ``params`` one ``ModelParams``
or a sequence of sets with ``param_index``; patient i is integrated with its own set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import ArrayLike
from scipy.integrate import solve_ivp

from osteotrial.arrays import FloatArray
from osteotrial.cohort.sampling import Cohort
from osteotrial.engine import inputs, model_cache
from osteotrial.engine.cpu import new_work
from osteotrial.engine.loop import (
    advance_events,
    record_states,
)
from osteotrial.engine.loop import start_patient as start_lane
from osteotrial.model import bisphosphonate, bone, exposure, metastasis, pk, remodeling
from osteotrial.model.bone import (
    N_BONE_STATES,
    N_COMPARTMENTS,
    N_SITE_CONSTANTS,
    N_SITES,
    RENAL,
    TUMOUR,
)
from osteotrial.model.params import ModelParams
from osteotrial.model.pk import CENTRAL, N_PK_STATES
from osteotrial.model.records import FRACTURE_TYPES, ModelRecords, records_of
from osteotrial.trial.schedules import ArmSpec, Schedule

N_STATES = 2 * N_PK_STATES + N_BONE_STATES  # PK denosumab, PK romosozumab, bone
BONE = slice(2 * N_PK_STATES, N_STATES)
REC_HAZARDS = slice(inputs.REC_CUM, inputs.REC_TUMOUR)  # the fracture and death rows of rec


@njit(cache=model_cache.ENABLED, error_model="numpy")
def _conc_nm(y, d, p, volume_mult) -> float:
    """Return drug d's central concentration (nM) from the reference state y."""
    vc = pk.central_volume_l(p, volume_mult)
    return pk.concentration_nm(y[d * N_PK_STATES + CENTRAL], vc, p)


@njit(cache=model_cache.ENABLED, error_model="numpy")
def full_rhs(
    t, y, drugs, r, sites, clearance_mult, volume_mult, sensitivity, site_const, levels, dy
):
    """Write dy/dt of one patient's whole model; y = (PK den 4, PK rom 4, bone N_BONE_STATES).

    The bone sees each drug's concentration times the patient's sensitivity (as engine.loop)
    and the exposure channels ``levels`` of the step (constant over an integration interval).
    """
    for d in range(2):
        lo = d * N_PK_STATES
        pk.pk_rhs(y[lo : lo + N_PK_STATES], drugs[d], clearance_mult[d], volume_mult[d], dy[lo:])
    den_nm = _conc_nm(y, 0, drugs[0], volume_mult[0]) * sensitivity[0]
    rom_nm = _conc_nm(y, 1, drugs[1], volume_mult[1]) * sensitivity[1]
    wnt = remodeling.wnt_raw(rom_nm, r)
    bone_y, bone_dy = y[2 * N_PK_STATES :], dy[2 * N_PK_STATES :]
    bone.bone_rhs(bone_y, den_nm, wnt, math.log(wnt), levels, r, sites, site_const, bone_dy)


@njit(cache=model_cache.ENABLED, error_model="numpy")
def bmd_rel_of_states(states, sites, site_const, out) -> None:
    """Write BMD relative to baseline (3, n_days) of one patient's bone states (51, n_days)."""
    for t in range(states.shape[1]):
        for j in range(N_SITES):
            out[j, t] = bone.bmd_rel(states[:, t], j, sites, site_const)


@njit(cache=model_cache.ENABLED, error_model="numpy")
def events_from_states(states, pat, plan, table, out) -> None:
    """Run the loop's event and record code on given bone states (n, n_steps + 1, 51).

    Fills out.days, out.death_day and out.rec (BMD, markers and cumulative hazards at the
    record steps) exactly as engine.loop does for its own states.
    """
    w = new_work(1)
    for i in range(states.shape[0]):
        start_lane(i, 0, pat, plan, table, w)
        r_next = record_states(0, 0, i, 1, pat, plan, table, out, w)
        for s in range(plan.n_steps):
            for j in range(N_BONE_STATES):
                w.y[0, j] = states[i, s + 1, j]
            t = s * plan.dt_days
            advance_events(i, 1, t, t + plan.dt_days, pat, plan, table, out, w)
            r_next = record_states(s + 1, r_next, i, 1, pat, plan, table, out, w)


@dataclass(frozen=True)
class ReferenceEvents:
    """Event days and end-of-run cumulative hazards of the reference, per fracture type."""

    days: dict[str, FloatArray]  # (n_events, n) per type, nan where none
    death_day: FloatArray  # (n,)
    cum: dict[str, FloatArray]  # (n_record_days, n) per type and "death", as ArmResult
    calcium: dict[str, FloatArray]  # (n_record_days, n) per engine.inputs.CALCIUM name


def reference_bmd_rel(
    cohort: Cohort,
    arm: ArmSpec,
    params: ModelParams | Sequence[ModelParams],
    schedule: Schedule,
    rtol: float = 1e-8,
    atol: float = 1e-10,
    param_index: ArrayLike | None = None,
) -> FloatArray:
    """Return relative BMD (LS, TH, FN) at the record days, shape (3, n_times, n_patients).

    Doses are applied on the same grid as the fixed-step engines (ArmSpec.doses_on_grid).
    ``params``, ``param_index``: as in ``simulate_arm``.
    """
    days = schedule.record_steps() * schedule.dt_days
    bone_states = reference_bone(cohort, arm, params, schedule, days, rtol, atol, param_index)
    pat, table = inputs.patients_and_table(cohort, params, param_index)
    out = np.empty((N_SITES, days.size, cohort.n_patients))
    for i in range(cohort.n_patients):
        par = records_of(table, pat.param_index[i])
        states = np.ascontiguousarray(bone_states[:, :, i])
        bmd_rel_of_states(states, par.sites, _site_constants(pat, i, par), out[:, :, i])
    return out


def reference_bone(
    cohort: Cohort,
    arm: ArmSpec,
    params: ModelParams | Sequence[ModelParams],
    schedule: Schedule,
    days: FloatArray,
    rtol: float = 1e-8,
    atol: float = 1e-10,
    param_index: ArrayLike | None = None,
) -> FloatArray:
    """Return the bone state (N_BONE_STATES rows, model.bone) at ``days``, (rows, n_days, n).

    ``params``, ``param_index``: as in ``simulate_arm``.
    """
    pat, table = inputs.patients_and_table(cohort, params, param_index)
    plan = inputs.plan_of(arm, schedule, record_pk=False)
    out = np.empty((N_BONE_STATES, days.size, cohort.n_patients))
    for i in range(cohort.n_patients):
        par = records_of(table, pat.param_index[i])
        out[:, :, i] = _one_patient(i, pat, plan, par, days, rtol, atol)
    return out


def reference_events(
    cohort: Cohort,
    arm: ArmSpec,
    params: ModelParams | Sequence[ModelParams],
    schedule: Schedule,
    rtol: float = 1e-6,
    atol: float = 1e-10,
    param_index: ArrayLike | None = None,
) -> ReferenceEvents:
    """Return event days and cumulative hazards of the loop's event rule on LSODA states.

    Cumulative hazards are recorded at the schedule's record days, as in ArmResult.
    ``params``, ``param_index``: as in ``simulate_arm``.
    """
    dt, n_steps = schedule.dt_days, schedule.n_steps
    grid = np.arange(n_steps + 1) * dt
    states = reference_bone(cohort, arm, params, schedule, grid, rtol, atol, param_index)
    plan = inputs.plan_of(arm, schedule, record_pk=False)
    out = inputs.empty_outputs(plan, cohort.n_patients)
    pat, table = inputs.patients_and_table(cohort, params, param_index)
    events_from_states(np.ascontiguousarray(states.transpose(2, 1, 0)), pat, plan, table, out)
    return ReferenceEvents(
        days={t: out.days[a, : plan.n_thresholds[a]] for a, t in enumerate(FRACTURE_TYPES)},
        death_day=out.death_day,
        cum=dict(zip((*FRACTURE_TYPES, "death"), out.rec[REC_HAZARDS], strict=True)),
        calcium=dict(zip(inputs.CALCIUM, out.rec[inputs.REC_CALCIUM :], strict=True)),
    )


def _site_constants(pat: inputs.Patients, i: int, par: ModelRecords) -> FloatArray:
    """Return patient i's site constants (model.bone), 1 / M(0) included."""
    const = np.empty((N_SITE_CONSTANTS, N_COMPARTMENTS))
    bmd0 = np.ascontiguousarray(pat.bmd0_g_cm2[:, i])
    bone.site_constants(
        par.sites,
        par.remodeling[0],
        pat.turnover_mult[i],
        pat.loss_mult[i],
        pat.mineral_mult[i],
        bmd0,
        pat.age_years[i],
        const,
    )
    burden0, lytic = pat.tumour_burden0_rel[i], pat.lesion_lytic_frac[i]
    death, prior = pat.cancer_death_per_year[i], pat.prior_skeletal_event[i]
    metastasis.patient_constants(burden0, lytic, death, prior, const[TUMOUR])
    bone.initial_bone(np.empty(N_BONE_STATES), par.sites, const)
    crcl = pat.creatinine_clearance_ml_min[i]
    bisphosphonate.patient_constants(crcl, par.remodeling[0], const[RENAL])
    return const


def _one_patient(
    i: int,
    pat: inputs.Patients,
    plan: inputs.Plan,
    par: ModelRecords,
    days: FloatArray,
    rtol: float,
    atol: float,
) -> FloatArray:
    dt = plan.dt_days
    doses, bp_doses = plan.doses_mg, plan.bisphosphonate_doses_mg
    dosed = doses.sum(axis=0) + bp_doses.sum(axis=0)
    bone_levels = plan.exposure[:, : exposure.GC_MG + 1]  # what the bone sees (not the hazards)
    changes = np.flatnonzero(np.any(np.diff(bone_levels, axis=0) != 0.0, axis=1)) + 1
    starts = sorted({0, *np.flatnonzero(dosed).tolist(), *changes.tolist()})
    bounds = [s * dt for s in starts] + [plan.n_steps * dt]
    y = np.zeros(N_STATES)
    site_const = _site_constants(pat, i, par)
    bone.initial_bone(y[BONE], par.sites, site_const)
    args = (
        par.drugs,
        par.remodeling[0],
        par.sites,
        np.ascontiguousarray(pat.clearance_mult[:, i]),
        np.ascontiguousarray(pat.volume_mult[:, i]),
        np.ascontiguousarray(pat.sensitivity[:, i]),
        site_const,
    )
    out = np.full((N_BONE_STATES, days.size), np.nan)
    out[:, days == 0.0] = y[BONE][:, np.newaxis]
    for k, start in enumerate(starts):
        for d in range(2):
            y[d * N_PK_STATES] += pk.absorbed_dose_mg(doses[d, start], par.drugs[d])
        _dose_bisphosphonates(y[BONE], bp_doses[:, start], pat.creatinine_clearance_ml_min[i], par)
        t0, t1 = bounds[k], bounds[k + 1]
        inside = (days > t0) & (days <= t1)
        t_eval = np.append(days[inside & (days < t1)], t1)
        step_args = (*args, np.ascontiguousarray(plan.exposure[start]))
        sol = solve_ivp(
            _rhs, (t0, t1), y, method="LSODA", rtol=rtol, atol=atol, t_eval=t_eval, args=step_args
        )
        if not sol.success:
            raise RuntimeError(f"LSODA failed: {sol.message}")
        out[:, inside] = sol.y[BONE][:, : int(inside.sum())]
        y = sol.y[:, -1].copy()
    return out


def _dose_bisphosphonates(y: FloatArray, nominal: FloatArray, crcl: float, par) -> None:
    """Give the bisphosphonate doses of one step to the bone state y, as engine.loop does."""
    r = par.remodeling[0]
    for d in range(bisphosphonate.N_DRUGS):
        if nominal[d] > 0.0:
            given = bisphosphonate.given_dose_mg(d, nominal[d], crcl)
            renal = bisphosphonate.renal_frac(d, crcl, r)
            bisphosphonate.dose(y, d, given, renal, r)


def _rhs(t: float, y: FloatArray, *args: object) -> FloatArray:
    dy = np.empty(N_STATES)
    full_rhs(t, y, *args, dy)
    return dy
