"""simulate_arm: the one documented time loop, vectorized over patients.

Each step of length dt_days, in this order (all arrays have shape (n_patients,)):

1. dose events: doses scheduled at this step are added (F * dose) to the SC depots;
2. PK of both drugs advances by one step (pk.PKStepper: Strang splitting, linear part and
   stiff saturable elimination each solved exactly, schedule.pk_substeps per half step),
   giving concentrations at the start, middle and end of the step; PK does not depend on the
   bone state;
3. bone cells and BMD advance by one classical Runge-Kutta (RK4) step driven by those
   concentrations: denosumab binds RANKL, romosozumab binds sclerostin; nothing below this
   module sees an arm or a drug name;
4. hazards of vertebral, hip and other nonvertebral fracture and of death are evaluated from
   the new state (age, current BMD T-score, CTX, prior and incident fractures);
5. cumulative hazards grow by the trapezoid rule; an event happens when a cumulative hazard
   reaches the patient's stored threshold (day interpolated within the step); hazards stop
   at death;
6. states are recorded at visit and marker days, concentrations on a daily grid.

The loop draws no randomness: every latent draw is in the cohort. Patients are processed in
chunks of schedule.chunk_size so that memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields

import numpy as np

from osteotrial.arrays import FloatArray
from osteotrial.cohort.sampling import Cohort
from osteotrial.engine.results import FRACTURE_TYPES, ArmResult
from osteotrial.model import bmd, pk, remodeling
from osteotrial.model.fracture import EventTracker
from osteotrial.model.params import ModelParams
from osteotrial.model.tscore import YOUNG_ADULT_SD_G_CM2
from osteotrial.trial.schedules import ArmSpec, Schedule

SITES = ("LS", "TH", "FN")
CELLS, BMD = slice(0, 5), slice(5, 8)  # rows of the bone state
OBA, OCA = 1, 2
N_BONE_STATES = 8


@dataclass(frozen=True)
class Drivers:
    """Per-chunk constants: individual PK of both drugs and the IIV multipliers of bone."""

    den: pk.IndividualPK
    rom: pk.IndividualPK
    turnover: FloatArray
    loss: FloatArray

    @classmethod
    def of(cls, cohort: Cohort, params: ModelParams) -> Drivers:
        """Return the drivers of a cohort's patients."""
        return cls(
            den=pk.individualize(
                params.denosumab, cohort.mult_denosumab_clearance, cohort.mult_denosumab_volume
            ),
            rom=pk.individualize(
                params.romosozumab,
                cohort.mult_romosozumab_clearance,
                cohort.mult_romosozumab_volume,
            ),
            turnover=cohort.mult_bone_turnover,
            loss=cohort.mult_bmd_loss_rate,
        )


@dataclass(frozen=True)
class Steppers:
    """PK steppers of both drugs for the chunk's patients and the schedule's step."""

    den: pk.PKStepper
    rom: pk.PKStepper

    @classmethod
    def of(cls, drv: Drivers, schedule: Schedule) -> Steppers:
        """Build the steppers (one matrix exponential per patient and drug)."""
        n_sub = schedule.pk_substeps
        return cls(
            den=pk.PKStepper.build(drv.den, schedule.dt_days, n_sub),
            rom=pk.PKStepper.build(drv.rom, schedule.dt_days, n_sub),
        )


def bone_rhs(
    bone: FloatArray,
    t_days: float,
    denosumab_nm: FloatArray,
    romosozumab_nm: FloatArray,
    drv: Drivers,
    params: ModelParams,
) -> FloatArray:
    """Return d(bone)/dt per day, shape (8, n_patients): cells (5 rows), then BMD LS, TH, FN."""
    free_sclerostin = remodeling.free_sclerostin_rel(romosozumab_nm, params.remodeling)
    wnt_raw = remodeling.wnt_signal(free_sclerostin, params.remodeling)
    d_bone = np.empty_like(bone)
    d_bone[CELLS] = remodeling.cell_rhs(bone[CELLS], wnt_raw, denosumab_nm, params.remodeling)
    for j, site in enumerate(SITES):
        d_bone[5 + j] = bmd.bmd_rhs(
            bone[5 + j],
            bone[OBA],
            bone[OCA],
            t_days,
            params.bmd.site(site),
            drv.turnover,
            drv.loss,
        )
    return d_bone


def step(
    bone: FloatArray,
    pk_den: FloatArray,
    pk_rom: FloatArray,
    t_days: float,
    dt_days: float,
    drv: Drivers,
    steppers: Steppers,
    params: ModelParams,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Advance PK and bone by one step (doses already applied); return new arrays.

    PK does not depend on bone, so it advances first and hands the bone RK4 step the
    concentrations at the start, the middle and the end of the step.
    """
    den_mid, den_end = steppers.den.advance(pk_den)
    rom_mid, rom_end = steppers.rom.advance(pk_rom)
    conc = [
        (pk.concentration_nm(d, drv.den), pk.concentration_nm(r, drv.rom))
        for d, r in ((pk_den, pk_rom), (den_mid, rom_mid), (den_end, rom_end))
    ]
    h = dt_days
    k1 = bone_rhs(bone, t_days, *conc[0], drv, params)
    k2 = bone_rhs(bone + 0.5 * h * k1, t_days + 0.5 * h, *conc[1], drv, params)
    k3 = bone_rhs(bone + 0.5 * h * k2, t_days + 0.5 * h, *conc[1], drv, params)
    k4 = bone_rhs(bone + h * k3, t_days + h, *conc[2], drv, params)
    return bone + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4), den_end, rom_end


def initial_bone(n_patients: int) -> FloatArray:
    """Return the untreated steady state of the bone model, shape (8, n_patients)."""
    bone = np.ones((N_BONE_STATES, n_patients))
    bone[CELLS] = remodeling.baseline_cells(n_patients)
    return bone


def tscores_now(bone: FloatArray, cohort: Cohort) -> dict[str, FloatArray]:
    """Return current T-scores per site from baseline T-score and relative BMD."""
    out = {}
    for j, site in enumerate(SITES):
        gain_g_cm2 = cohort.bmd_g_cm2(site) * (bone[5 + j] - 1.0)
        baseline = getattr(cohort, f"tscore_{site.lower()}")
        out[site] = baseline + gain_g_cm2 / YOUNG_ADULT_SD_G_CM2[site]
    return out


class _Recorder:
    """Arrays of the recorded states (record days) and concentrations (daily grid)."""

    def __init__(self, schedule: Schedule, n: int, record_pk: bool) -> None:
        self.record_steps = schedule.record_steps()
        self.pk_days = (
            np.arange(0.0, schedule.n_steps * schedule.dt_days + 1e-9, 1.0)
            if record_pk
            else np.zeros(0)
        )
        self.pk_steps = np.rint(self.pk_days / schedule.dt_days).astype(np.int64)
        names = ("LS", "TH", "FN", "p1np", "ctx", *FRACTURE_TYPES, "death")
        self.rec = {k: np.zeros((self.record_steps.size, n)) for k in names}
        self.conc = {k: np.zeros((self.pk_days.size, n)) for k in ("den", "rom")}

    def take(
        self,
        step_index: int,
        bone: FloatArray,
        pk_den: FloatArray,
        pk_rom: FloatArray,
        cohort: Cohort,
        drv: Drivers,
        events: EventTracker,
    ) -> None:
        """Store the state if step_index is a record step or a daily-grid step."""
        for r in np.flatnonzero(self.record_steps == step_index):
            for name, cum in events.cum.items():
                self.rec[name][r] = cum
            for j, site in enumerate(SITES):
                self.rec[site][r] = bone[5 + j] * cohort.bmd_g_cm2(site)
            self.rec["p1np"][r] = bmd.p1np_rel(bone[OBA])
            self.rec["ctx"][r] = bmd.ctx_rel(bone[OCA])
        for r in np.flatnonzero(self.pk_steps == step_index):
            self.conc["den"][r] = pk.concentration_ng_ml(pk_den, drv.den)
            self.conc["rom"][r] = pk.concentration_ng_ml(pk_rom, drv.rom)


def _simulate_chunk(
    cohort: Cohort, arm: ArmSpec, params: ModelParams, schedule: Schedule, record_pk: bool
) -> ArmResult:
    if schedule.engine == "numba":
        return _simulate_chunk_numba(cohort, arm, params, schedule, record_pk)
    n, dt, n_steps = cohort.n_patients, schedule.dt_days, schedule.n_steps
    drv = Drivers.of(cohort, params)
    steppers = Steppers.of(drv, schedule)
    doses = {d: arm.doses_on_grid(d, dt, n_steps) for d in ("denosumab", "romosozumab")}
    bone = initial_bone(n)
    pk_den, pk_rom = np.zeros((pk.N_PK_STATES, n)), np.zeros((pk.N_PK_STATES, n))
    events = EventTracker(cohort, params.fracture)
    recorder = _Recorder(schedule, n, record_pk)
    recorder.take(0, bone, pk_den, pk_rom, cohort, drv, events)
    for i in range(n_steps):
        pk_den[0] += pk.absorbed_dose_mg(doses["denosumab"][i], drv.den)
        pk_rom[0] += pk.absorbed_dose_mg(doses["romosozumab"][i], drv.rom)
        bone, pk_den, pk_rom = step(bone, pk_den, pk_rom, i * dt, dt, drv, steppers, params)
        hazards = events.hazards((i + 1) * dt, tscores_now(bone, cohort), bmd.ctx_rel(bone[OCA]))
        events.advance(i * dt, dt, hazards)
        recorder.take(i + 1, bone, pk_den, pk_rom, cohort, drv, events)
    if not np.all(np.isfinite(bone)):
        raise FloatingPointError(
            f"integration became unstable (non-finite state) with dt_days={dt}; "
            "use a smaller schedule.dt_days"
        )
    return _result(arm, cohort, schedule, recorder, events, params)


@dataclass
class _Events:
    """Event days of a chunk as the numba engine returns them (the EventTracker's outputs)."""

    days: dict[str, FloatArray]
    death_day: FloatArray


def _simulate_chunk_numba(
    cohort: Cohort, arm: ArmSpec, params: ModelParams, schedule: Schedule, record_pk: bool
) -> ArmResult:
    """The same loop as _simulate_chunk, compiled per patient (osteotrial.engine.cpu)."""
    from osteotrial.engine import cpu as kn

    n, dt, n_steps = cohort.n_patients, schedule.dt_days, schedule.n_steps
    drv = Drivers.of(cohort, params)
    recorder = _Recorder(schedule, 0, record_pk)
    n_rec, n_pk = recorder.record_steps.size, recorder.pk_steps.size
    doses = {d: arm.doses_on_grid(d, dt, n_steps) for d in ("denosumab", "romosozumab")}
    h_half = 0.5 * dt / (2 * schedule.pk_substeps)
    drugs = (drv.den, drv.rom)
    prop, prop_full = (
        np.stack(
            [
                kn.propagators(d.ka_per_day, d.vc_l, d.vp_l, d.q_l_per_day, d.cl_l_per_day, h)
                for d in drugs
            ]
        )
        for h in (h_half, 2.0 * h_half)
    )
    pk_scalars = np.array([[d.bioavailability_frac, d.km_mg_l, d.molar_mass_kda] for d in drugs])
    rp = np.array([getattr(params.remodeling, f.name) for f in fields(params.remodeling)])
    bp = np.array(
        [
            [s.k_per_day, s.gamma_ob, s.gamma_oc, s.untreated_loss_pct_per_year]
            for s in (params.bmd.site(site) for site in SITES)
        ]
    )
    fp = params.fracture
    fr_type = np.array(
        [
            [
                np.log(fp.of(t).base_per_year),
                fp.of(t).age_log_per_year,
                np.log(fp.of(t).rr_per_sd),
                SITES.index(fp.of(t).bmd_site),
                fp.of(t).turnover_effect_max_frac,
                fp.of(t).turnover_effect_half_frac,
            ]
            for t in FRACTURE_TYPES
        ]
    )
    fr_glob = np.array(
        [
            fp.reference_age_years,
            fp.reference_tscore,
            np.log(fp.rr_incident_fracture),
            np.log(fp.death_per_year_at_70),
            fp.death_age_log_per_year,
            fp.rr_death_after_hip_fracture,
        ]
    )
    tracker = EventTracker(cohort, fp)  # static risks and thresholds, as the numpy engine
    static = np.stack([tracker.static[t] for t in FRACTURE_TYPES])
    thresholds = np.full((3, 3, n), np.inf)
    n_thr = np.zeros(3, dtype=np.int64)
    for a, t in enumerate(FRACTURE_TYPES):
        n_thr[a] = tracker.thresholds[t].shape[0]
        thresholds[a, : n_thr[a]] = tracker.thresholds[t]
    rec = np.zeros((9, n_rec, n))
    conc = np.zeros((2, n_pk, n))
    days = np.zeros((3, 3, n))
    death_day = np.zeros(n)
    finite = np.zeros(n, dtype=np.bool_)
    kn.simulate_chunk(
        n_steps,
        dt,
        schedule.pk_substeps,
        doses["denosumab"],
        doses["romosozumab"],
        pk_scalars,
        np.stack([drv.den.vc_l, drv.rom.vc_l]),
        np.stack([drv.den.vmax_mg_per_day, drv.rom.vmax_mg_per_day]),
        prop,
        prop_full,
        rp,
        bp,
        np.ascontiguousarray(drv.turnover, dtype=np.float64),
        np.ascontiguousarray(drv.loss, dtype=np.float64),
        np.stack([cohort.bmd_g_cm2(site) for site in SITES]).astype(np.float64),
        np.stack([getattr(cohort, f"tscore_{site.lower()}") for site in SITES]).astype(np.float64),
        np.array([YOUNG_ADULT_SD_G_CM2[site] for site in SITES]),
        fr_type,
        fr_glob,
        static,
        np.ascontiguousarray(cohort.age_years, dtype=np.float64),
        np.ascontiguousarray(cohort.prior_hip_fracture, dtype=np.bool_),
        thresholds,
        n_thr,
        np.ascontiguousarray(cohort.threshold_death, dtype=np.float64),
        recorder.record_steps,
        recorder.pk_steps,
        rec,
        conc,
        days,
        death_day,
        finite,
    )
    if not finite.all():
        raise FloatingPointError(
            f"integration became unstable (non-finite state) with dt_days={dt}; "
            "use a smaller schedule.dt_days"
        )
    names = ("LS", "TH", "FN", "p1np", "ctx", *FRACTURE_TYPES, "death")
    recorder.rec = dict(zip(names, rec, strict=True))
    recorder.conc = {"den": conc[0], "rom": conc[1]}
    events = _Events(
        days={t: days[a, : n_thr[a]] for a, t in enumerate(FRACTURE_TYPES)}, death_day=death_day
    )
    return _result(arm, cohort, schedule, recorder, events, params)


def _result(
    arm: ArmSpec,
    cohort: Cohort,
    schedule: Schedule,
    recorder: _Recorder,
    events: EventTracker,
    params: ModelParams,
) -> ArmResult:
    rec = recorder.rec
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
        pk_days=recorder.pk_days,
        denosumab_ng_ml=recorder.conc["den"],
        romosozumab_ng_ml=recorder.conc["rom"],
        vertebral_fracture_days=events.days["vertebral"],
        vertebral_fracture_clinical=clinical,
        hip_fracture_days=events.days["hip"],
        nonvertebral_fracture_days=events.days["nonvertebral"],
        death_day=events.death_day,
        dropout_day=cohort.dropout_day.astype(np.float64),
        cumulative_hazard={k: rec[k] for k in (*FRACTURE_TYPES, "death")},
    )


def simulate_arm(
    cohort: Cohort,
    arm: ArmSpec,
    params: ModelParams,
    schedule: Schedule,
    record_pk: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> ArmResult:
    """Simulate every patient of ``cohort`` under ``arm`` and return an ArmResult.

    The caller chooses the patients (e.g. ``cohort.select(cohort.arm == arm.name)``); the same
    patient gives the same result in any cohort and any chunking, because every patient's
    trajectory depends only on its own row of the cohort. ``progress(n_done, n_total)``, if
    given, is called after each chunk of ``schedule.chunk_size`` patients.
    """
    chunks = iter_simulate_arm(cohort, arm, params, schedule, record_pk, progress)
    return ArmResult.concatenate(list(chunks))


def iter_simulate_arm(
    cohort: Cohort,
    arm: ArmSpec,
    params: ModelParams,
    schedule: Schedule,
    record_pk: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[ArmResult]:
    """Yield the results of consecutive chunks of schedule.chunk_size patients (streaming).

    ``progress(n_done, n_total)``, if given, is called after each chunk.
    """
    n, size = cohort.n_patients, schedule.chunk_size
    for lo in range(0, max(n, 1), size):
        hi = min(lo + size, n)
        yield _simulate_chunk(cohort.select(np.arange(lo, hi)), arm, params, schedule, record_pk)
        if progress is not None:
            progress(hi, n)
