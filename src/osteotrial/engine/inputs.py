"""What every engine receives: the patients, the time plan and the outputs, as arrays by name.

``Patients`` holds one array per quantity with the patient on the last axis (structure of
arrays, the GPU's coalesced layout); ``Plan`` the time grid and the doses; ``Outputs`` the
arrays the loop fills. ``patients_of`` and ``plan_of`` build them from a cohort, an arm and a
schedule; the parameters come as a ``model.records.ParameterTable`` (K parameter sets) and
each patient's row in it is ``Patients.param_index`` (``parameter_sets`` turns what
``simulate_arm`` accepts into both). These are NamedTuples, so the compiled loop reads
``pat.age_years[i]``, never a position in an argument list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from osteotrial.cohort.sampling import MAX_EVENTS, Cohort
from osteotrial.model import bisphosphonate
from osteotrial.model.calcium import N_GRADES
from osteotrial.model.fracture import static_log_risk
from osteotrial.model.metastasis import SRE_TYPES
from osteotrial.model.params import ModelParams
from osteotrial.model.records import DRUGS, FRACTURE_TYPES, SITES, ParameterTable, pack_table
from osteotrial.model.sex import params_for_sex
from osteotrial.trial.exposures import levels_on_grid
from osteotrial.trial.schedules import ArmSpec, Schedule
from osteotrial.units import DAYS_PER_MONTH

MAX_THRESHOLDS = max(MAX_EVENTS.values())
# Bone structure per site recorded beside BMD (model.bone): trabecular BV/TV, cortical porosity
# and the strength index relative to baseline; names as in ArmResult.structure.
STRUCTURE: tuple[str, ...] = tuple(
    f"{kind}_{site.lower()}"
    for kind in ("trabecular_bvtv", "cortical_porosity", "strength_rel")
    for site in SITES
)
# Tumour in bone (model.metastasis): the burden and the cumulative hazards of the SREs and of
# death from the cancer; names as in ArmResult.metastasis.
METASTASIS: tuple[str, ...] = ("tumour_burden", *SRE_TYPES, "cancer_death")
# Safety exposures (model.safety, issue 27 safe): deep-suppression exposure E (years x
# log-depth), its integral (years^2), the antiresorptive-duration memory D (years); names as in
# ArmResult.safety.
SAFETY: tuple[str, ...] = (
    "deep_suppression_years", "deep_suppression_integral", "antiresorptive_duration_years"
)  # fmt: skip
# Calcium (model.calcium, engine.loop_records): serum calcium at the record step, its nadir so
# far and the first day below each hypocalcemia grade threshold (nan: not yet).
CALCIUM: tuple[str, ...] = (
    "serum_calcium_mmol_l", "calcium_nadir_mmol_l",
    *(f"hypocalcemia_grade_{g}_day" for g in range(1, N_GRADES + 1)),
)  # fmt: skip
RECORDED: tuple[str, ...] = (
    "LS", "TH", "FN", "p1np", "ctx", *STRUCTURE, *FRACTURE_TYPES, "death", *METASTASIS,
    *SAFETY,  # issue 27, safety
    *CALCIUM,  # issue 27, calcium
)  # fmt: skip
# first row of each kind in Outputs.rec
REC_BMD, REC_P1NP, REC_CTX, REC_BVTV, REC_POROSITY, REC_STRENGTH, REC_CUM = 0, 3, 4, 5, 8, 11, 14
REC_TUMOUR = 18  # then the SRE cumulative hazards (SRE_TYPES order) and the cancer death's
REC_SAFETY = REC_TUMOUR + len(METASTASIS)  # the safety slots (model.safety), SAFETY order
REC_CALCIUM = RECORDED.index("serum_calcium_mmol_l")  # then the rest of CALCIUM
# rows of Patients.calcium_inputs
CALCIUM_INPUTS = ("egfr_ml_min_1_73m2", "dialysis", "serum_calcium_z", "vitamin_d_deficient")
EGFR, DIALYSIS, CALCIUM_Z, VITAMIN_D_DEFICIENT = range(4)


class Patients(NamedTuple):
    """Per-patient inputs, last axis the patient: drug rows in DRUGS order, sites in SITES."""

    age_years: np.ndarray  # (n,)
    turnover_mult: np.ndarray  # (n,) IIV of the BMD rate constants
    loss_mult: np.ndarray  # (n,) IIV of the untreated loss rate
    clearance_mult: np.ndarray  # (2, n) IIV of CL, Q and Vmax per drug
    volume_mult: np.ndarray  # (2, n) IIV of Vc and Vp per drug
    sensitivity: np.ndarray  # (2, n) IIV of the bone's sensitivity to each drug's concentration
    mineral_mult: np.ndarray  # (n,) IIV of the secondary mineralization rate
    bmd0_g_cm2: np.ndarray  # (3, n) baseline BMD per site
    tscore0: np.ndarray  # (3, n) baseline T-score per site
    static_log_risk: np.ndarray  # (3, n) time-invariant log hazard factors per fracture type
    prevalent_vertebral: np.ndarray  # (n,) number of prevalent vertebral fractures
    thresholds: np.ndarray  # (3, MAX_THRESHOLDS, n) Exp(1) cumulative thresholds, inf if unused
    threshold_death: np.ndarray  # (n,)
    param_index: np.ndarray  # (n,) int64: the patient's parameter set, a row of ParameterTable
    creatinine_clearance_ml_min: np.ndarray  # (n,) Cockcroft-Gault (bisphosphonate PK, dosing)
    tumour_burden0_rel: np.ndarray  # (n,) skeletal tumour burden at entry (0: none)
    lesion_lytic_frac: np.ndarray  # (n,) lytic share of the burden (model.metastasis)
    cancer_death_per_year: np.ndarray  # (n,) death rate from the cancer at burden 1
    prior_skeletal_event: np.ndarray  # (n,) 1.0 with a skeletal event before entry, else 0.0
    # issue 27, calcium (model.calcium): eGFR (CKD-EPI), 1.0 on dialysis else 0.0, the
    # standard normal of serum calcium at entry, 1.0 if vitamin D deficient; one array (each
    # array of Patients costs every call of a compiled loop function some words of arguments)
    calcium_inputs: np.ndarray  # (4, n): rows CALCIUM_INPUTS


class Plan(NamedTuple):
    """The time grid: step, substeps, doses per drug and step, steps at which to record,
    background exposure levels per step (model.exposure)."""

    dt_days: float
    n_steps: int
    pk_substeps: int
    event_free_steps: int  # steps 0 .. this - 1 also accumulate the event-free hazards (0: none)
    doses_mg: np.ndarray  # (2, n_steps) dose given at the start of each step, per drug
    record_steps: np.ndarray  # (n_rec,) int64, sorted
    pk_steps: np.ndarray  # (n_pk,) int64, sorted: the daily concentration grid
    n_thresholds: np.ndarray  # (3,) int64: thresholds per fracture type
    bisphosphonate_doses_mg: np.ndarray  # (3, n_steps) nominal dose per bisphosphonate and step
    exposure: np.ndarray  # (n_steps, model.exposure.N_CHANNELS) background exposures per step


class Outputs(NamedTuple):
    """What the loop writes, last axis the patient."""

    rec: np.ndarray  # (len(RECORDED), n_rec, n): RECORDED rows (BMD, P1NP, CTX, structure, cum.
    # hazards, tumour burden and its cumulative hazards, safety exposures, calcium)
    conc: np.ndarray  # (2, n_pk, n) ng/mL per drug
    days: np.ndarray  # (3, MAX_THRESHOLDS, n) event days per fracture type (nan: none)
    death_day: np.ndarray  # (n,) (nan: alive at the end)
    finite: np.ndarray  # (n,) bool: the state stayed finite
    cum_free: np.ndarray  # (4, n_rec_free, n): event-free cumulative hazards (fracture types,
    # death) at the first n_rec_free record steps, those up to Plan.event_free_steps


def _f64(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64)


def parameter_sets(
    params: ModelParams | Sequence[ModelParams], param_index: ArrayLike | None, n: int
) -> tuple[tuple[ModelParams, ...], np.ndarray]:
    """Return the distinct parameter sets and each of the n patients' index into them.

    ``params`` one ``ModelParams``: every patient uses it (index all zeros; ``param_index``
    must be None). A sequence of K sets with ``param_index`` (n ints in [0, K)): patient i
    uses ``params[param_index[i]]``. A sequence without ``param_index``: one set per patient
    (K = n, index the identity).
    """
    if isinstance(params, ModelParams):
        if param_index is not None:
            raise ValueError("param_index needs a sequence of parameter sets, not one ModelParams")
        return (params,), np.zeros(n, dtype=np.int64)
    sets = tuple(params)
    if param_index is None:
        if len(sets) != n:
            raise ValueError(
                f"{len(sets)} parameter sets for {n} patients: give one set per patient, or "
                "param_index (each patient's set)"
            )
        return sets, np.arange(n, dtype=np.int64)
    index = np.asarray(param_index)
    if index.shape != (n,) or index.dtype.kind not in "iu":
        raise ValueError(f"param_index must be {n} integers (one per patient), got {index!r}")
    if n and not (0 <= index.min() and index.max() < len(sets)):
        raise ValueError(f"param_index must lie in [0, {len(sets)}) (the parameter sets)")
    return sets, index.astype(np.int64)


def sets_by_sex(
    sets: tuple[ModelParams, ...], index: np.ndarray, sex: np.ndarray
) -> tuple[tuple[ModelParams, ...], np.ndarray]:
    """Return the parameter sets and index with each man on the men's version of his set.

    Without men, ``sets`` and ``index`` unchanged (a women's run packs what it packed before);
    with men, the K sets are followed by their K men's sets (``model.sex.params_for_sex``) and
    a man's index moves by K, so a mixed cohort gives each patient his or her set.
    """
    male = np.asarray(sex) == "male"
    if not male.any():
        return sets, index
    men = tuple(params_for_sex(p, "male") for p in sets)
    return sets + men, index + len(sets) * male.astype(np.int64)


def patients_of(
    cohort: Cohort, table: ParameterTable, param_index: np.ndarray | None = None
) -> Patients:
    """Return the per-patient inputs of a cohort (static risks and thresholds included).

    ``param_index``: each patient's row of ``table`` (default: row 0 for every patient); the
    static fracture risks use that row's coefficients.
    """
    n = cohort.n_patients
    index = np.zeros(n, dtype=np.int64) if param_index is None else param_index
    prevalent = cohort.prevalent_vertebral_fracture_count > 0
    prior_nvf = cohort.prior_nonvertebral_fracture | cohort.prior_hip_fracture
    thresholds = np.full((len(FRACTURE_TYPES), MAX_THRESHOLDS, n), np.inf)
    for a, kind in enumerate(FRACTURE_TYPES):
        mine = cohort.thresholds(kind)
        thresholds[a, : mine.shape[0]] = mine
    return Patients(
        age_years=_f64(cohort.age_years),
        turnover_mult=_f64(cohort.mult_bone_turnover),
        loss_mult=_f64(cohort.mult_bmd_loss_rate),
        clearance_mult=_f64([getattr(cohort, f"mult_{d}_clearance") for d in DRUGS]),
        volume_mult=_f64([getattr(cohort, f"mult_{d}_volume") for d in DRUGS]),
        sensitivity=_f64([getattr(cohort, f"mult_{d}_sensitivity") for d in DRUGS]),
        mineral_mult=_f64(cohort.mult_mineralization_rate),
        bmd0_g_cm2=_f64([cohort.bmd_g_cm2(s) for s in SITES]),
        tscore0=_f64([getattr(cohort, f"tscore_{s.lower()}") for s in SITES]),
        static_log_risk=_f64(
            [
                static_log_risk(
                    table.fracture_types[index, a],
                    cohort.mult_fracture_frailty,
                    cohort.bmi_kg_m2,
                    prevalent,
                    prior_nvf,
                )
                for a in range(len(FRACTURE_TYPES))
            ]
        ),
        prevalent_vertebral=_f64(cohort.prevalent_vertebral_fracture_count),
        thresholds=thresholds,
        threshold_death=_f64(cohort.threshold_death),
        param_index=np.ascontiguousarray(index, dtype=np.int64),
        creatinine_clearance_ml_min=_f64(cohort.creatinine_clearance_ml_min),
        tumour_burden0_rel=_f64(cohort.tumour_burden0_rel),
        lesion_lytic_frac=_f64(cohort.lesion_lytic_frac),
        cancer_death_per_year=_f64(cohort.cancer_death_per_year),
        prior_skeletal_event=_f64(cohort.prior_skeletal_event),
        calcium_inputs=_f64([getattr(cohort, name) for name in CALCIUM_INPUTS]),
    )


def patients_and_table(
    cohort: Cohort, params: ModelParams | Sequence[ModelParams], param_index: ArrayLike | None
) -> tuple[Patients, ParameterTable]:
    """Return a cohort's per-patient inputs and the table of its parameter sets, from what
    ``simulate_arm`` accepts (``parameter_sets``): for callers that run one engine call."""
    sets, index = parameter_sets(params, param_index, cohort.n_patients)
    sets, index = sets_by_sex(sets, index, cohort.sex)
    table = pack_table(sets)
    return patients_of(cohort, table, index), table


def daily_pk_days(schedule: Schedule, record_pk: bool) -> np.ndarray:
    """Return the days of the daily concentration grid (empty if concentrations are not kept)."""
    if not record_pk:
        return np.zeros(0)
    return np.arange(0.0, schedule.n_steps * schedule.dt_days + 1e-9, 1.0)


def plan_of(arm: ArmSpec, schedule: Schedule, record_pk: bool, event_free_steps: int = 0) -> Plan:
    """Return the time plan of an arm on a schedule's grid; ``event_free_steps``: how many
    steps also carry the event-free hazards (``event_free_steps``; 0: none)."""
    dt, n_steps = schedule.dt_days, schedule.n_steps
    pk_days = daily_pk_days(schedule, record_pk)
    if not 0 <= event_free_steps <= n_steps:
        raise ValueError(f"event_free_steps={event_free_steps} is outside [0, {n_steps}]")
    return Plan(
        dt_days=float(dt),
        n_steps=int(n_steps),
        pk_substeps=int(schedule.pk_substeps),
        event_free_steps=int(event_free_steps),
        doses_mg=_f64([arm.doses_on_grid(d, dt, n_steps) for d in DRUGS]),
        record_steps=np.ascontiguousarray(schedule.record_steps(), dtype=np.int64),
        pk_steps=np.rint(pk_days / dt).astype(np.int64),
        n_thresholds=np.array([MAX_EVENTS[k] for k in FRACTURE_TYPES], dtype=np.int64),
        bisphosphonate_doses_mg=_f64(
            [arm.doses_on_grid(d, dt, n_steps) for d in bisphosphonate.DRUGS]
        ),
        exposure=_f64(levels_on_grid(arm.exposures, dt, n_steps)),
    )


def event_free_steps(schedule: Schedule, months: float) -> int:
    """Return the steps of ``schedule`` that carry the event-free hazards to ``months`` (0:
    none): those of ``schedule.until(months)``, whose record days are the first of the
    schedule's own (checked), so the event-free records are a prefix of the trial's."""
    if months <= 0:
        return 0
    cut = schedule.until(months)
    days, own = cut.record_days(), schedule.record_days()
    if cut.n_steps > schedule.n_steps or not np.array_equal(days, own[: days.size]):
        raise ValueError(
            f"event-free hazards to month {months:g}: the trial's schedule ends at month "
            f"{schedule.duration_days / DAYS_PER_MONTH:g}; the last fracture target must lie "
            "within the trial's duration"
        )
    return int(cut.n_steps)


def n_event_free_records(plan: Plan) -> int:
    """Return how many record steps carry event-free hazards (those up to the plan's
    ``event_free_steps``)."""
    if plan.event_free_steps == 0:
        return 0
    return int(np.count_nonzero(plan.record_steps <= plan.event_free_steps))


def empty_outputs(plan: Plan, n: int) -> Outputs:
    """Return output arrays for n patients (event days nan, nothing finite yet)."""
    return Outputs(
        rec=np.zeros((len(RECORDED), plan.record_steps.size, n)),
        conc=np.zeros((len(DRUGS), plan.pk_steps.size, n)),
        days=np.full((len(FRACTURE_TYPES), MAX_THRESHOLDS, n), np.nan),
        death_day=np.full(n, np.nan),
        finite=np.zeros(n, dtype=np.bool_),
        cum_free=np.zeros((len(FRACTURE_TYPES) + 1, n_event_free_records(plan), n)),
    )
