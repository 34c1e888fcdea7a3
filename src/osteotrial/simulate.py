"""simulate_arm: the one documented time loop, vectorized over patients.

Each step of length dt_days, in this order (all arrays have shape (n_patients,)):

1. dose events: doses scheduled at this step are added (F * dose) to the SC depots;
2. PK, bone cells and BMD advance together by one classical Runge-Kutta (RK4) step; the
   drugs act through their concentrations only (denosumab binds RANKL, romosozumab binds
   sclerostin), sclerostin itself advances by an exact exponential update (it is stiff);
3. hazards of vertebral, hip and other nonvertebral fracture and of death are evaluated from
   the new state (age, current BMD T-score, CTX, prior and incident fractures);
4. cumulative hazards grow by the trapezoid rule; an event happens when a cumulative hazard
   reaches the patient's stored threshold (day interpolated within the step); hazards stop
   at death;
5. states are recorded at visit and marker days, concentrations on a daily grid.

The loop draws no randomness: every latent draw is in the cohort. Patients are processed in
chunks of schedule.chunk_size so that memory stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from osteotrial import bmd, fracture, pk, remodeling
from osteotrial.arrays import FloatArray
from osteotrial.cohort import Cohort
from osteotrial.params import ModelParams
from osteotrial.reference import YOUNG_ADULT_SD_G_CM2
from osteotrial.results import FRACTURE_TYPES, ArmResult
from osteotrial.schedules import ArmSpec, Schedule
from osteotrial.units import DAYS_PER_YEAR

SITES = ("LS", "TH", "FN")

DEN, ROM, CELLS, BMD = slice(0, 4), slice(4, 8), slice(8, 13), slice(13, 16)
N_STATES = 16
OBA, OCA = 9, 10


@dataclass(frozen=True)
class _Chunk:
    """Per-chunk constants: individual PK, IIV multipliers and static risk factors."""

    den: pk.IndividualPK
    rom: pk.IndividualPK
    turnover: FloatArray
    loss: FloatArray


def _rhs(
    y: FloatArray,
    t_days: float,
    sclerostin_total: FloatArray,
    ch: _Chunk,
    params: ModelParams,
    saturable: bool = False,
) -> FloatArray:
    """Return dy/dt, shape (16, n_patients); saturable PK elimination only if asked.

    The kernel leaves the stiff saturable elimination out (it is split off, see pk.py); the
    reference solver includes it.
    """
    den_nm = pk.concentration_nm(y[DEN], ch.den)
    rom_nm = pk.concentration_nm(y[ROM], ch.rom)
    free = remodeling.sclerostin_free_frac(rom_nm, params.remodeling)
    wnt_raw = remodeling.wnt_signal(sclerostin_total * free, params.remodeling)
    dy = np.empty_like(y)
    dy[DEN] = pk.pk_rhs(y[DEN], ch.den, saturable)
    dy[ROM] = pk.pk_rhs(y[ROM], ch.rom, saturable)
    dy[CELLS] = remodeling.cell_rhs(y[CELLS], wnt_raw, den_nm, params.remodeling)
    for j, site in enumerate(SITES):
        dy[13 + j] = bmd.bmd_rhs(
            y[13 + j], y[OBA], y[OCA], t_days, params.bmd.site(site), ch.turnover, ch.loss
        )
    return dy


def _saturable_half_step(y: FloatArray, dt_days: float, ch: _Chunk) -> FloatArray:
    out = y.copy()
    out[DEN] = pk.saturable_elimination_step(y[DEN], ch.den, 0.5 * dt_days)
    out[ROM] = pk.saturable_elimination_step(y[ROM], ch.rom, 0.5 * dt_days)
    return out


def rk4_step(
    y: FloatArray,
    t_days: float,
    dt_days: float,
    sclerostin_total: FloatArray,
    ch: _Chunk,
    params: ModelParams,
) -> FloatArray:
    """Advance the state by one step: exact saturable-elimination half steps around an RK4 step.

    Returns a new array (Strang splitting, second order).
    """
    y = _saturable_half_step(y, dt_days, ch)
    k1 = _rhs(y, t_days, sclerostin_total, ch, params)
    k2 = _rhs(y + 0.5 * dt_days * k1, t_days + 0.5 * dt_days, sclerostin_total, ch, params)
    k3 = _rhs(y + 0.5 * dt_days * k2, t_days + 0.5 * dt_days, sclerostin_total, ch, params)
    k4 = _rhs(y + dt_days * k3, t_days + dt_days, sclerostin_total, ch, params)
    return _saturable_half_step(y + dt_days / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4), dt_days, ch)


class _EventTracker:
    """Cumulative hazards, thresholds and event days of one chunk (mutated only by the loop)."""

    def __init__(self, cohort: Cohort, params: ModelParams) -> None:
        n = cohort.n_patients
        self.params = params.fracture
        self.cohort = cohort
        prevalent = cohort.prevalent_vertebral_fracture_count > 0
        prior_nvf = cohort.prior_nonvertebral_fracture | cohort.prior_hip_fracture
        self.static = {
            t: fracture.static_log_risk(
                self.params, t, cohort.mult_fracture_frailty, cohort.bmi_kg_m2, prevalent, prior_nvf
            )
            for t in FRACTURE_TYPES
        }
        self.thresholds = {t: cohort.thresholds(t) for t in FRACTURE_TYPES}
        self.cum = {t: np.zeros(n) for t in (*FRACTURE_TYPES, "death")}
        self.prev_h = {t: np.zeros(n) for t in (*FRACTURE_TYPES, "death")}
        self.days = {t: np.full(self.thresholds[t].shape, np.nan) for t in FRACTURE_TYPES}
        self.death_day = np.full(n, np.nan)
        self.alive = np.ones(n, dtype=bool)

    def hazards(
        self, t_days: float, tscores: dict[str, FloatArray], ctx: FloatArray
    ) -> dict[str, FloatArray]:
        """Return hazards per year of every event type at time t_days (0 after death)."""
        age = self.cohort.age_years + t_days / DAYS_PER_YEAR
        incident = np.zeros(self.cohort.n_patients, dtype=bool)
        for days in self.days.values():
            incident |= (days <= t_days).any(axis=0)
        out = {}
        for t in FRACTURE_TYPES:
            site = self.params.of(t).bmd_site
            out[t] = fracture.fracture_hazard_per_year(
                self.params, t, age, tscores[site], ctx, self.static[t], incident
            )
        hip = (self.days["hip"] <= t_days).any(axis=0) | self.cohort.prior_hip_fracture
        out["death"] = fracture.death_hazard_per_year(self.params, age, hip)
        return {k: np.where(self.alive, v, 0.0) for k, v in out.items()}

    def advance(self, t_days: float, dt_days: float, hazards: dict[str, FloatArray]) -> None:
        """Accumulate hazards over [t, t + dt] (trapezoid) and record threshold crossings."""
        for name, h in hazards.items():
            before = self.cum[name]
            after = before + 0.5 * (self.prev_h[name] + h) * dt_days / DAYS_PER_YEAR
            if name == "death":
                hit = (before < self.cohort.threshold_death) & (
                    after >= self.cohort.threshold_death
                )
                day = fracture.crossing_day(
                    before, after, self.cohort.threshold_death, t_days, dt_days
                )
                self.death_day[hit] = day[hit]
                self.alive &= ~hit
            else:
                for k, thr in enumerate(self.thresholds[name]):
                    hit = (before < thr) & (after >= thr)
                    day = fracture.crossing_day(before, after, thr, t_days, dt_days)
                    self.days[name][k, hit] = day[hit]
            self.cum[name] = after
            self.prev_h[name] = h


def _tscores(y: FloatArray, cohort: Cohort) -> dict[str, FloatArray]:
    """Return current T-scores per site from baseline T-score and relative BMD."""
    out = {}
    for j, site in enumerate(SITES):
        baseline = cohort.bmd_g_cm2(site)
        out[site] = getattr(cohort, f"tscore_{site.lower()}") + (
            baseline * (y[13 + j] - 1.0) / YOUNG_ADULT_SD_G_CM2[site]
        )
    return out


def _initial_state(n: int) -> FloatArray:
    y = np.zeros((N_STATES, n))
    y[CELLS] = remodeling.baseline_cells(n)
    y[BMD] = 1.0
    return y


def _simulate_chunk(
    cohort: Cohort, arm: ArmSpec, params: ModelParams, schedule: Schedule, record_pk: bool
) -> ArmResult:
    n, dt, n_steps = cohort.n_patients, schedule.dt_days, schedule.n_steps
    ch = _Chunk(
        den=pk.individualize(
            params.denosumab, cohort.mult_denosumab_clearance, cohort.mult_denosumab_volume
        ),
        rom=pk.individualize(
            params.romosozumab, cohort.mult_romosozumab_clearance, cohort.mult_romosozumab_volume
        ),
        turnover=cohort.mult_bone_turnover,
        loss=cohort.mult_bmd_loss_rate,
    )
    doses = {d: arm.doses_on_grid(d, dt, n_steps) for d in ("denosumab", "romosozumab")}
    record_steps = schedule.record_steps()
    pk_days = np.arange(0.0, n_steps * dt + 1e-9, 1.0) if record_pk else np.zeros(0)
    pk_steps = np.rint(pk_days / dt).astype(np.int64)
    rec = {
        k: np.zeros((record_steps.size, n))
        for k in ("LS", "TH", "FN", "p1np", "ctx", *FRACTURE_TYPES, "death")
    }
    conc = {k: np.zeros((pk_days.size, n)) for k in ("den", "rom")}
    y = _initial_state(n)
    sclerostin = np.ones(n)
    events = _EventTracker(cohort, params)
    _record(rec, conc, y, 0, record_steps, pk_steps, cohort, ch, events)
    for i in range(n_steps):
        t = i * dt
        y[0] += pk.absorbed_dose_mg(doses["denosumab"][i], ch.den)
        y[4] += pk.absorbed_dose_mg(doses["romosozumab"][i], ch.rom)
        free_start = remodeling.sclerostin_free_frac(
            pk.concentration_nm(y[ROM], ch.rom), params.remodeling
        )
        y = rk4_step(y, t, dt, sclerostin, ch, params)
        free_end = remodeling.sclerostin_free_frac(
            pk.concentration_nm(y[ROM], ch.rom), params.remodeling
        )
        sclerostin = remodeling.sclerostin_step(
            sclerostin, 0.5 * (free_start + free_end), dt, params.remodeling
        )
        hazards = events.hazards(t + dt, _tscores(y, cohort), bmd.ctx_rel(y[OCA]))
        events.advance(t, dt, hazards)
        _record(rec, conc, y, i + 1, record_steps, pk_steps, cohort, ch, events)
    clinical = cohort.clinical_uniforms() < params.fracture.vertebral_clinical_frac
    clinical &= ~np.isnan(events.days["vertebral"])
    return ArmResult(
        arm=arm.name,
        patient_id=cohort.patient_id,
        record_days=schedule.record_days(),
        bmd_ls_g_cm2=rec["LS"],
        bmd_th_g_cm2=rec["TH"],
        bmd_fn_g_cm2=rec["FN"],
        p1np_rel=rec["p1np"],
        ctx_rel=rec["ctx"],
        pk_days=pk_days,
        denosumab_ng_ml=conc["den"],
        romosozumab_ng_ml=conc["rom"],
        vertebral_fracture_days=events.days["vertebral"],
        vertebral_fracture_clinical=clinical,
        hip_fracture_days=events.days["hip"],
        nonvertebral_fracture_days=events.days["nonvertebral"],
        death_day=events.death_day,
        dropout_day=cohort.dropout_day.astype(np.float64),
        cumulative_hazard={k: rec[k] for k in (*FRACTURE_TYPES, "death")},
    )


def _record(
    rec: dict[str, FloatArray],
    conc: dict[str, FloatArray],
    y: FloatArray,
    step: int,
    record_steps: np.ndarray,
    pk_steps: np.ndarray,
    cohort: Cohort,
    ch: _Chunk,
    events: _EventTracker,
) -> None:
    """Store the state at a record step and concentrations at a daily-grid step."""
    for r in np.flatnonzero(record_steps == step):
        for name, cum in events.cum.items():
            rec[name][r] = cum
        for j, site in enumerate(SITES):
            rec[site][r] = y[13 + j] * cohort.bmd_g_cm2(site)
        rec["p1np"][r] = bmd.p1np_rel(y[OBA])
        rec["ctx"][r] = bmd.ctx_rel(y[OCA])
    for r in np.flatnonzero(pk_steps == step):
        conc["den"][r] = pk.concentration_ng_ml(y[DEN], ch.den)
        conc["rom"][r] = pk.concentration_ng_ml(y[ROM], ch.rom)


def simulate_arm(
    cohort: Cohort, arm: ArmSpec, params: ModelParams, schedule: Schedule, record_pk: bool = True
) -> ArmResult:
    """Simulate every patient of ``cohort`` under ``arm`` and return an ArmResult.

    The caller chooses the patients (e.g. ``cohort.select(cohort.arm == arm.name)``); the same
    patient gives the same result in any cohort and any chunking, because every patient's
    trajectory depends only on its own row of the cohort.
    """
    n = cohort.n_patients
    bounds = range(0, max(n, 1), schedule.chunk_size)
    parts = [
        _simulate_chunk(
            cohort.select(np.arange(lo, min(lo + schedule.chunk_size, n))),
            arm,
            params,
            schedule,
            record_pk,
        )
        for lo in bounds
    ]
    return ArmResult.concatenate(parts)
