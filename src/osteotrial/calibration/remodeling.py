"""Remodeling stage of the calibration: PK, bone-cell, Wnt and BMD parameters.

Fitted on typical FRAME and FREEDOM patients (``objective.typical_patient``; a mean row is read
as typical value + typical-to-cohort offset, ``cohort_offset``) to, in this order
(``remodeling_targets``; every value, SD, tolerance or range from config/targets.yaml):

- single-dose PK (``pk`` block; the dose is the one in the block's name): denosumab tmax and
  terminal half-life (log-linear fit over days 30-120), romosozumab Cmax, AUC and tmax;
- the FRAME romosozumab-vs-placebo P1NP and CTX course (``targets.marker_points``);
- FRAME BMD of the romosozumab arm per site;
- denosumab's CTX suppression by day 5 (a one-sided hinge), read in FREEDOM's denosumab arm
  (its first dose is the single 60 mg dose of the target until the second, at day 183);
- FREEDOM total-hip BMD of the denosumab arm;

then two qualitative shapes of continued denosumab that carry no trial number
(``continued_treatment_shape``). Arms, doses and spans come from config/trials/frame.yaml and
freedom.yaml. The control arms' BMD targets are not fitted here (untreated loss is not fitted).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from osteotrial.calibration.cohort_offset import anchored_offsets
from osteotrial.calibration.denosumab import (
    DISCONTINUATION,
    DOSE_RANGING,
    EXTENSION,
    denosumab_emulated,
    denosumab_targets,
)
from osteotrial.calibration.objective import (
    Target,
    arm_until,
    pct,
    per_set,
    phase,
    positive_part,
    simulate_sets,
    treated_arm,
    trial_design,
    typical_patient,
)
from osteotrial.calibration.strength import STRENGTH, strength_emulated, strength_targets
from osteotrial.calibration.targets import TARGET_KEYS, marker_points, number_in_key, read_targets
from osteotrial.cohort.sampling import Cohort
from osteotrial.engine.results import ArmResult
from osteotrial.model import pk
from osteotrial.model.params import ModelParams
from osteotrial.trial.schedules import ArmSpec, Schedule
from osteotrial.units import DAYS_PER_MONTH

MONTH = DAYS_PER_MONTH
DENOSUMAB_BLOCKS = (EXTENSION, DISCONTINUATION, DOSE_RANGING)  # emulated by calibration.denosumab
OWN_MODULE_BLOCKS = (*DENOSUMAB_BLOCKS, STRENGTH)  # ... and calibration.strength
# The trial files (config/trials) of the remodeling stage: FRAME (romosozumab vs placebo) and
# FREEDOM (denosumab); their targets.yaml blocks are targets.TARGET_KEYS of these names.
FRAME, FREEDOM = "frame", "freedom"
# How a spread given in targets.yaml becomes the scale s of a residual (emulated - value) / s.
# A BMD tolerance is on a trial mean and read as two standard errors (s = tol / 2: landing on
# the edge of the tolerance costs 2 SD). A single-dose PK tolerance, SD or range is a spread
# between subjects, which the typical patient need only land within (s = tol, sd, range / 2).
BMD_SCALE_PER_TOL = 0.5
# A single-dose PK tolerance is a band the typical patient must land in (tests check it): read
# as two scale units, as for BMD, so that the fit does not settle on its edge.
PK_SCALE_PER_TOL = 0.5
# Scales of targets that targets.yaml gives without a spread. They are weights of the
# objective, not published values (the report judges these targets with
# targets.MARKER_TOL_PCT): the treated/placebo marker ratios (as fractions of the placebo
# level), and the CTX suppression by day N, a one-sided ("at least") hinge on CTX / baseline.
MARKER_SCALE: dict[tuple[str, str], float] = {
    ("P1NP", "peak_pct"): 0.15,
    ("P1NP", "back_to_placebo_month"): 0.08,
    ("P1NP", "month_12_pct"): 0.08,
    ("CTX", "nadir_pct"): 0.05,
    ("CTX", "month_12_pct"): 0.05,
}
CTX_SUPPRESSION_SCALE = 0.01
PK_SPAN_DAYS = 150.0  # simulated span after a single dose (the half-life window ends at 120)
# Romosozumab's effective half-life (targets.yaml gives no spread: a weight, in days) and the
# design it is read from: t1/2,eff = ln2 tau / ln(R / (R - 1)), R the AUC over the 6th dosing
# interval over the AUC over the 1st, doses every 28 days.
EFFECTIVE_HALF_LIFE_SCALE = 4.0
ACCUMULATION_INTERVAL_DAYS, ACCUMULATION_DOSES = 28, 6

# (block, key) fitted in the remodeling stage; BMD sites LS/FN are fitted as scales of TH.
REMODELING_FIT: tuple[tuple[str, str], ...] = (
    ("denosumab", "vmax_mg_per_day"),
    ("denosumab", "km_mg_l"),
    ("romosozumab", "vc_l"),
    ("romosozumab", "cl_l_per_day"),
    ("remodeling", "denosumab_rankl_access_frac"),
    ("remodeling", "precursor_use_per_day"),
    ("remodeling", "precursor_renewal_per_day"),
    ("remodeling", "modeling_formation_frac"),
    ("remodeling", "oca_apoptosis_per_day"),
    ("remodeling", "obp_differentiation_per_day"),
    ("remodeling", "wnt_max_fold"),
    ("remodeling", "wnt_commitment_exponent"),
    ("remodeling", "wnt_differentiation_exponent"),
    ("remodeling", "wnt_opg_exponent"),
    ("remodeling", "tolerance_gain"),
    ("remodeling", "tolerance_per_day"),
    ("bmd.ls", "turnover_um_per_year"),
    ("bmd.th", "turnover_um_per_year"),
    ("bmd.fn", "turnover_um_per_year"),
    ("bmd.ls", "cortical_loss_share_frac"),
    ("bmd.th", "cortical_loss_share_frac"),
    ("bmd.ls", "strength_trabecular_share_frac"),
    ("bmd.th", "strength_trabecular_share_frac"),
    ("bmd.th", "gamma_ob"),
    ("bmd.th", "gamma_oc"),
    ("bmd.ls", "scale"),
    ("bmd.fn", "scale"),
)


def single_dose_block(pk_block: Mapping[str, Any], drug: str) -> tuple[str, float, dict]:
    """Return (key, dose in mg, entries) of the ``<drug>_<dose>mg_single_dose`` block of ``pk``."""
    for key, entries in pk_block.items():
        if key.startswith(f"{drug}_") and key.endswith("_single_dose"):
            return key, number_in_key(key, drug), entries
    raise ValueError(f"targets.yaml has no pk block {drug}_<dose>mg_single_dose")


def treated_bmd_targets(trial: str, block: Mapping[str, Any]) -> list[Target]:
    """Return the BMD targets of a trial's treated arm (its control arm is not fitted here)."""
    arm, key = treated_arm(trial), TARGET_KEYS[trial]
    return [
        Target(
            f"trials.{key}.bmd_pct_change[{n}]",
            t["value"],
            t["tol"] * BMD_SCALE_PER_TOL,
            ("bmd", trial, arm, t["site"], float(t["month"])),
        )
        for n, t in enumerate(block["bmd_pct_change"])
        if t["arm"] == arm
    ]


def pk_targets_of_stage(pk_block: Mapping[str, Any]) -> list[Target]:
    """Return the single-dose PK targets: denosumab tmax and terminal half-life, romosozumab
    Cmax, AUC and tmax (scales: the tolerance, the SD, half the range)."""
    den_key, _, den = single_dose_block(pk_block, "denosumab")
    rom_key, _, rom = single_dose_block(pk_block, "romosozumab")
    low, high = rom["tmax_days"]["range"]
    return [
        Target(
            f"pk.{den_key}.tmax_days",
            den["tmax_days"]["value"],
            den["tmax_days"]["tol"] * PK_SCALE_PER_TOL,
            ("pk", "denosumab", "tmax"),
        ),
        Target(
            f"pk.{den_key}.terminal_half_life_days",
            den["terminal_half_life_days"]["value"],
            den["terminal_half_life_days"]["tol"] * PK_SCALE_PER_TOL,
            ("pk", "denosumab", "half_life"),
        ),
        Target(
            f"pk.{rom_key}.cmax_ug_per_ml",
            rom["cmax_ug_per_ml"]["value"],
            rom["cmax_ug_per_ml"]["sd"],
            ("pk", "romosozumab", "cmax"),
        ),
        Target(
            f"pk.{rom_key}.auc_ug_day_per_ml",
            rom["auc_ug_day_per_ml"]["value"],
            rom["auc_ug_day_per_ml"]["sd"],
            ("pk", "romosozumab", "auc"),
        ),
        Target(
            f"pk.{rom_key}.tmax_days",
            rom["tmax_days"]["value"],
            (high - low) / 2.0,
            ("pk", "romosozumab", "tmax"),
        ),
        Target(
            f"pk.{rom_key}.effective_half_life_days",
            rom["effective_half_life_days"]["value"],
            EFFECTIVE_HALF_LIFE_SCALE,
            ("pk", "romosozumab", "effective_half_life"),
        ),
    ]


def ctx_suppression_target(pk_block: Mapping[str, Any]) -> Target:
    """Return the hinge on denosumab's CTX suppression by day N (``ctx_reduction_by_day_N``),
    read in FREEDOM's denosumab arm: CTX / baseline at day N <= 1 + value_pct / 100."""
    den_key, dose, den = single_dose_block(pk_block, "denosumab")
    (key,) = [k for k in den if k.startswith("ctx_reduction_by_day_")]
    entry = den[key]
    if entry.get("comparator") != "at least":
        raise ValueError(
            f"pk.{den_key}.{key}: only an 'at least' reduction is a calibration target"
        )
    day = number_in_key(key, "day")
    arm = treated_arm(FREEDOM)
    first = trial_design(FREEDOM).arms[arm].phases[0]
    if (first.drug, first.dose_mg, first.start_day) != ("denosumab", dose, 0.0) or (
        first.interval_days <= day
    ):
        raise ValueError(f"{FREEDOM} arm {arm} does not start with the single dose of {den_key}")
    probe = ("ctx", FREEDOM, arm, day)
    source = f"pk.{den_key}.{key}"
    return Target(source, 1.0 + entry["value_pct"] / 100.0, CTX_SUPPRESSION_SCALE, probe, True)


def remodeling_targets(targets: Mapping[str, Any] | None = None) -> list[Target]:
    """Return the targets of the remodeling stage, in the order of its residuals.

    PK (6), FRAME romosozumab/placebo marker ratios (targets.marker_points), FRAME BMD of the
    romosozumab arm, the CTX suppression by day 5, FREEDOM BMD of the denosumab arm, then the
    denosumab blocks of ``calibration.denosumab`` (extension, discontinuation, dose-ranging),
    then FREEDOM's bone strength (``calibration.strength``).
    """
    data = read_targets() if targets is None else targets
    frame = data["trials"][TARGET_KEYS[FRAME]]
    freedom = data["trials"][TARGET_KEYS[FREEDOM]]
    markers = "markers_romosozumab_vs_placebo"
    out = pk_targets_of_stage(data["pk"])
    for marker, key, day, ratio_pct in marker_points(frame[markers]):
        source = f"trials.{TARGET_KEYS[FRAME]}.{markers}.{marker}.{key}"
        probe = ("marker_ratio", marker, day)
        out.append(Target(source, 1.0 + ratio_pct / 100.0, MARKER_SCALE[(marker, key)], probe))
    out += treated_bmd_targets(FRAME, frame)
    out.append(ctx_suppression_target(data["pk"]))
    out += treated_bmd_targets(FREEDOM, freedom)
    out += denosumab_targets(data)
    out += strength_targets(data)
    return out


def single_dose_pk(
    sets: Sequence[ModelParams], patient: Cohort, pk_block: Mapping[str, Any]
) -> dict:
    """Return {(drug, statistic): (n_sets,) values} of one dose of each drug (dose from
    targets.yaml), for each parameter set (``objective.simulate_sets``).

    Denosumab: tmax (day of the daily maximum) and the terminal half-life (log-linear fit over
    days 30-120); romosozumab: Cmax (ug/mL), AUC (ug.day/mL), tmax and the effective half-life
    (``effective_half_life``).
    """
    schedule = Schedule(1.0, PK_SPAN_DAYS, (), (), ())
    conc = {}
    for drug in ("denosumab", "romosozumab"):
        _, dose, _ = single_dose_block(pk_block, drug)
        arm = ArmSpec.from_dict(drug, [phase(drug, dose, 1e3, 0.0, 1.0)])
        result = simulate_sets(patient, arm, sets, schedule)
        conc[drug] = per_set(getattr(result, f"{drug}_ng_ml"))
    den, rom = conc["denosumab"], conc["romosozumab"] / 1e3
    with np.errstate(divide="ignore"):
        half_life = pk.terminal_half_life_days(den)
    return {
        ("romosozumab", "effective_half_life"): effective_half_life(sets, patient, pk_block),
        ("denosumab", "tmax"): np.argmax(den, axis=1).astype(float),
        ("denosumab", "half_life"): half_life,
        ("romosozumab", "cmax"): rom.max(axis=1),
        ("romosozumab", "auc"): np.trapezoid(rom, dx=1.0, axis=1),
        ("romosozumab", "tmax"): np.argmax(rom, axis=1).astype(float),
    }


def effective_half_life(
    sets: Sequence[ModelParams], patient: Cohort, pk_block: Mapping[str, Any]
) -> np.ndarray:
    """Return romosozumab's effective half-life (days) of each parameter set, from its
    accumulation under repeated doses (``ACCUMULATION_INTERVAL_DAYS``, ``ACCUMULATION_DOSES``;
    the dose of the pk block)."""
    _, dose, _ = single_dose_block(pk_block, "romosozumab")
    tau, n = ACCUMULATION_INTERVAL_DAYS, ACCUMULATION_DOSES
    arm = ArmSpec.from_dict("romosozumab", [phase("romosozumab", dose, tau, 0.0, n * tau)])
    conc = simulate_sets(patient, arm, sets, Schedule(1.0, n * tau, (), (), ()))
    rom = per_set(conc.romosozumab_ng_ml)
    last = np.trapezoid(rom[:, (n - 1) * tau : n * tau + 1], axis=1)
    ratio = last / np.trapezoid(rom[:, 0 : tau + 1], axis=1)
    return np.log(2.0) * tau / np.log(ratio / (ratio - 1.0))


def _nearest(days: np.ndarray, day: float) -> int:
    return int(np.argmin(np.abs(days - day)))


def remodeling_residuals(
    model: dict[str, Any], targets: Mapping[str, Any] | None = None
) -> np.ndarray:
    """Return weighted residuals of the remodeling-stage targets for a model mapping.

    ``remodeling_targets`` in order, then the two hinges of ``continued_treatment_shape``.
    ``targets``: the content of a targets file (default: config/targets.yaml). One row of
    ``remodeling_residuals_of_sets``.
    """
    return remodeling_residuals_of_sets([ModelParams.from_dict(model)], targets)[0]


def remodeling_residuals_of_sets(
    sets: Sequence[ModelParams], targets: Mapping[str, Any] | None = None
) -> np.ndarray:
    """Return the weighted residuals (``remodeling_residuals``) of each parameter set,
    (n_sets, n_residuals), every set a patient of the same engine calls (the posterior's
    walkers in one pass); row w equals set w alone exactly."""
    data = read_targets() if targets is None else targets
    goals = remodeling_targets(data)
    emulated, shape = emulated_of_sets(sets, data)
    residuals = [g.residual(value) for g, value in zip(goals, emulated, strict=True)]
    return np.ascontiguousarray(np.array([*residuals, *shape]).T)


def remodeling_emulated(
    model: dict[str, Any], targets: Mapping[str, Any] | None = None
) -> tuple[np.ndarray, list[float]]:
    """Return (the emulated value of each ``remodeling_targets`` entry, the shape residuals).

    The typical patients, the single doses and the record days come from ``targets``; the
    target values and scales do not enter. One column of ``emulated_of_sets``.
    """
    emulated, shape = emulated_of_sets([ModelParams.from_dict(model)], targets)
    return emulated[:, 0], [float(v) for v in shape[:, 0]]


def emulated_of_sets(
    sets: Sequence[ModelParams], targets: Mapping[str, Any] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return (emulated values (n_targets, n_sets), shape residuals (n_shapes, n_sets)) of
    ``remodeling_emulated`` for each parameter set: the typical patients' values
    (``typical_emulated``) plus each mean row's typical-to-cohort offset at the anchor
    parameters (``cohort_offset``)."""
    data = read_targets() if targets is None else targets
    values, shape = typical_emulated(sets, data)
    offsets = anchored_offsets(data, remodeling_targets(data), typical_emulated)
    return values + offsets[:, None], shape


def typical_emulated(
    sets: Sequence[ModelParams],
    data: Mapping[str, Any],
    patient_of: Callable[[str], Cohort] = typical_patient,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``emulated_of_sets`` without offsets, every set a patient of one engine call per
    arm and design; ``patient_of(trial)``: the typical patient or (one set) a trial's cohort."""
    goals = remodeling_targets(data)
    frame = patient_of(FRAME)
    freedom = patient_of(FREEDOM)
    probes = [g.probe for g in goals if g.source.split(".")[1] not in OWN_MODULE_BLOCKS]
    # FRAME: year 1, placebo vs romosozumab, recorded at every marker day and BMD month.
    marker_days = tuple(sorted({p[2] for p in probes if p[0] == "marker_ratio"}))
    frame_months = tuple(sorted({p[4] for p in probes if p[0] == "bmd" and p[1] == FRAME}))
    horizon = max(max(marker_days), max(frame_months) * MONTH)
    year = Schedule(trial_design(FRAME).schedule.dt_days, horizon, frame_months, marker_days, ())
    frame_arms = {
        name: arm_until(FRAME, name, horizon)
        for name in (trial_design(FRAME).control_arm, treated_arm(FRAME))
    }
    runs = {name: simulate_sets(frame, arm, sets, year, False) for name, arm in frame_arms.items()}
    pbo, rom = runs[trial_design(FRAME).control_arm], runs[treated_arm(FRAME)]
    # FREEDOM: the denosumab arm over the trial file's span, every month and the CTX day.
    design = trial_design(FREEDOM)
    n_months = round(design.schedule.duration_days / MONTH)
    months = tuple(float(m) for m in range(1, n_months + 1))
    ctx_days = tuple(p[3] for p in probes if p[0] == "ctx")
    span = Schedule(design.schedule.dt_days, months[-1] * MONTH, months, ctx_days, ())
    den = simulate_sets(freedom, design.arms[treated_arm(FREEDOM)], sets, span, False)
    single = single_dose_pk(sets, frame, data["pk"])
    emulated = [_probe_value(probe, single, pbo, rom, den) for probe in probes]
    shape = continued_treatment_shape(per_set(den.ctx_rel), per_set(pct(den.bmd_th_g_cm2)))
    more, hinges = denosumab_emulated(sets, data, patient_of)
    strength = strength_emulated(sets, data, patient_of)
    return np.vstack([np.asarray(emulated, dtype=float), more, strength]), np.array(shape + hinges)


def _probe_value(probe: tuple, single: dict, pbo: ArmResult, rom: ArmResult, den: ArmResult):
    """Return the (n_sets,) emulated values of one non-denosumab-block probe."""
    if probe[0] == "pk":
        return single[probe[1:]]
    if probe[0] == "marker_ratio":
        i = _nearest(rom.record_days, probe[2])
        marker = {"P1NP": "p1np_rel", "CTX": "ctx_rel"}[probe[1]]
        return getattr(rom, marker)[i] / getattr(pbo, marker)[i]
    if probe[0] == "bmd":
        result = rom if probe[1] == FRAME else den
        series = pct(getattr(result, f"bmd_{probe[3].lower()}_g_cm2"))
        return series[_nearest(result.record_days, probe[4] * MONTH)]
    return den.ctx_rel[_nearest(den.record_days, probe[3])]  # ("ctx", FREEDOM, arm, day)


def continued_treatment_shape(ctx_rel: np.ndarray, th_pct: np.ndarray) -> list[np.ndarray]:
    """Return hinge residuals of two qualitative facts of continued denosumab (no trial number).

    Resorption stays below its untreated level through every dosing interval, and total-hip
    BMD does not fall from one monthly visit to the next while treatment continues.
    ``ctx_rel``, ``th_pct``: (n_sets, n_times), a row per parameter set; each hinge (n_sets,).
    """
    return [
        positive_part(ctx_rel.max(axis=1) - 1.0) / 0.02,
        positive_part(-np.diff(th_pct, axis=1).min(axis=1)) / 0.05,
    ]
