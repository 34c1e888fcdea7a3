"""Reference integration with scipy's LSODA, one patient at a time.

This is the model written the way a modeller would write it first: the full ODE (PK of both
drugs, bone cells, sclerostin as an ordinary state, BMD per site) for one patient, integrated
by ``scipy.integrate.solve_ivp(method="LSODA")`` and restarted at every dose. It exists to
check the fixed-step kernel of ``simulate`` (tests) and to time it (benchmarks); it does not
compute fracture events.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from osteotrial import simulate
from osteotrial.arrays import FloatArray
from osteotrial.cohort import Cohort
from osteotrial.params import ModelParams
from osteotrial.schedules import ArmSpec, Schedule


def _full_rhs(t: float, y_full: FloatArray, ch: simulate._Chunk, params: ModelParams) -> FloatArray:
    y = y_full[:-1, np.newaxis]
    sclerostin = y_full[-1:]
    dy = simulate._rhs(y, t, sclerostin, ch, params, saturable=True)[:, 0]
    rom_nm = simulate.pk.concentration_nm(y[simulate.ROM], ch.rom)
    p = params.remodeling
    free = simulate.remodeling.sclerostin_free_frac(rom_nm, p)
    ratio = p.sclerostin_complex_kout_per_day / p.sclerostin_kout_per_day
    d_scl = p.sclerostin_kout_per_day * (1.0 - sclerostin * (free + ratio * (1.0 - free)))
    return np.concatenate([dy, d_scl])


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
    days = schedule.record_days()
    out = np.empty((3, days.size, cohort.n_patients))
    for i in range(cohort.n_patients):
        one = cohort.select(np.array([i]))
        out[:, :, i] = _one_patient(one, arm, params, schedule, days, rtol, atol)
    return out


def _one_patient(
    one: Cohort,
    arm: ArmSpec,
    params: ModelParams,
    schedule: Schedule,
    days: FloatArray,
    rtol: float,
    atol: float,
) -> FloatArray:
    ch = simulate._Chunk(
        den=simulate.pk.individualize(
            params.denosumab, one.mult_denosumab_clearance, one.mult_denosumab_volume
        ),
        rom=simulate.pk.individualize(
            params.romosozumab, one.mult_romosozumab_clearance, one.mult_romosozumab_volume
        ),
        turnover=one.mult_bone_turnover,
        loss=one.mult_bmd_loss_rate,
    )
    dt, n_steps = schedule.dt_days, schedule.n_steps
    doses = {d: arm.doses_on_grid(d, dt, n_steps) for d in ("denosumab", "romosozumab")}
    dose_steps = np.flatnonzero(doses["denosumab"] + doses["romosozumab"])
    y = np.concatenate([simulate._initial_state(1)[:, 0], [1.0]])
    starts = sorted(set([0, *dose_steps.tolist()]))
    bounds = [s * dt for s in starts] + [n_steps * dt]
    out = np.empty((3, days.size))
    for k, step in enumerate(starts):
        y[0] += ch.den.bioavailability_frac * doses["denosumab"][step]
        y[4] += ch.rom.bioavailability_frac * doses["romosozumab"][step]
        t0, t1 = bounds[k], bounds[k + 1]
        inside = (days >= t0) & (days < t1) | ((days == t1) & (k == len(starts) - 1))
        t_eval = np.append(days[inside & (days < t1)], t1)
        sol = solve_ivp(
            _full_rhs,
            (t0, t1),
            y,
            method="LSODA",
            rtol=rtol,
            atol=atol,
            t_eval=t_eval,
            args=(ch, params),
        )
        if not sol.success:
            raise RuntimeError(f"LSODA failed: {sol.message}")
        n_in = int(np.count_nonzero(inside & (days < t1)))
        out[:, inside & (days < t1)] = sol.y[simulate.BMD, :n_in]
        if inside[-1] and days[-1] == t1:
            out[:, -1] = sol.y[simulate.BMD, -1]
        y = sol.y[:, -1].copy()
    return out
