"""Reference integration with scipy's LSODA, one patient at a time.

This is the model written the way a modeller would write it first: the full ODE (PK of both
drugs with their saturable elimination inside the right-hand side, bone cells, BMD per site)
for one patient, integrated by ``scipy.integrate.solve_ivp(method="LSODA")`` and restarted at
every dose. It exists to check the fixed-step kernel of ``simulate`` (tests) and to time it
(benchmarks). ``reference_events`` applies the kernel's event rule (fracture.EventTracker:
trapezoid cumulative hazards, threshold crossings) to the LSODA states on the step grid, the
reference for fracture incidence.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from osteotrial.arrays import FloatArray
from osteotrial.cohort.sampling import Cohort
from osteotrial.engine.simulate import BMD, OCA, Drivers, bone_rhs, initial_bone, tscores_now
from osteotrial.model import pk
from osteotrial.model.fracture import EventTracker
from osteotrial.model.params import ModelParams
from osteotrial.trial.schedules import ArmSpec, Schedule

DEN, ROM, BONE = slice(0, 4), slice(4, 8), slice(8, 16)


def full_rhs(t: float, y: FloatArray, drv: Drivers, params: ModelParams) -> FloatArray:
    """Return dy/dt of the whole model for one patient; y = (PK den 4, PK rom 4, bone 8)."""
    col = y[:, np.newaxis]
    den_nm = pk.concentration_nm(col[DEN], drv.den)
    rom_nm = pk.concentration_nm(col[ROM], drv.rom)
    return np.concatenate(
        [
            pk.pk_rhs(col[DEN], drv.den)[:, 0],
            pk.pk_rhs(col[ROM], drv.rom)[:, 0],
            bone_rhs(col[BONE], t, den_nm, rom_nm, drv, params)[:, 0],
        ]
    )


def reference_bmd_rel(
    cohort: Cohort,
    arm: ArmSpec,
    params: ModelParams,
    schedule: Schedule,
    rtol: float = 1e-8,
    atol: float = 1e-10,
) -> FloatArray:
    """Return relative BMD (LS, TH, FN) at the record days, shape (3, n_times, n_patients).

    Doses are applied on the same grid as the fixed-step kernel (ArmSpec.doses_on_grid).
    """
    steps = schedule.record_steps()
    return reference_bone(cohort, arm, params, schedule, steps * schedule.dt_days, rtol, atol)[BMD]


def reference_bone(
    cohort: Cohort,
    arm: ArmSpec,
    params: ModelParams,
    schedule: Schedule,
    days: FloatArray,
    rtol: float = 1e-8,
    atol: float = 1e-10,
) -> FloatArray:
    """Return the bone state (8 rows, simulate.bone_rhs) at ``days``, shape (8, n_days, n)."""
    out = np.empty((8, days.size, cohort.n_patients))
    for i in range(cohort.n_patients):
        one = cohort.select(np.array([i]))
        out[:, :, i] = _one_patient(one, arm, params, schedule, days, rtol, atol)
    return out


def reference_events(
    cohort: Cohort,
    arm: ArmSpec,
    params: ModelParams,
    schedule: Schedule,
    rtol: float = 1e-6,
    atol: float = 1e-10,
) -> EventTracker:
    """Return the event tracker after the kernel's event rule ran on LSODA states.

    States come from ``reference_bone`` at every step end; hazards, trapezoid cumulative
    hazards and threshold crossings are those of ``simulate`` (fracture.EventTracker).
    """
    dt, n_steps = schedule.dt_days, schedule.n_steps
    bone = reference_bone(cohort, arm, params, schedule, np.arange(n_steps + 1) * dt, rtol, atol)
    events = EventTracker(cohort, params.fracture)
    for i in range(n_steps):
        state = bone[:, i + 1]
        hazards = events.hazards((i + 1) * dt, tscores_now(state, cohort), state[OCA].copy())
        events.advance(i * dt, dt, hazards)
    return events


def _one_patient(
    one: Cohort,
    arm: ArmSpec,
    params: ModelParams,
    schedule: Schedule,
    days: FloatArray,
    rtol: float,
    atol: float,
) -> FloatArray:
    drv = Drivers.of(one, params)
    dt, n_steps = schedule.dt_days, schedule.n_steps
    doses = {d: arm.doses_on_grid(d, dt, n_steps) for d in ("denosumab", "romosozumab")}
    starts = sorted({0, *np.flatnonzero(doses["denosumab"] + doses["romosozumab"]).tolist()})
    bounds = [s * dt for s in starts] + [n_steps * dt]
    y = np.concatenate([np.zeros(8), initial_bone(1)[:, 0]])
    out = np.full((8, days.size), np.nan)
    out[:, days == 0.0] = y[BONE][:, np.newaxis]
    for k, start in enumerate(starts):
        y[0] += drv.den.bioavailability_frac * doses["denosumab"][start]
        y[4] += drv.rom.bioavailability_frac * doses["romosozumab"][start]
        t0, t1 = bounds[k], bounds[k + 1]
        inside = (days > t0) & (days <= t1)
        t_eval = np.append(days[inside & (days < t1)], t1)
        sol = solve_ivp(
            full_rhs,
            (t0, t1),
            y,
            method="LSODA",
            rtol=rtol,
            atol=atol,
            t_eval=t_eval,
            args=(drv, params),
        )
        if not sol.success:
            raise RuntimeError(f"LSODA failed: {sol.message}")
        out[:, inside] = sol.y[BONE][:, : int(inside.sum())]
        y = sol.y[:, -1].copy()
    return out
