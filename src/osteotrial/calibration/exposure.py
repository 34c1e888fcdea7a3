"""Calibration stage ``exposure``: the background-exposure parameters, every other value fixed.

Fits only ``EXPOSURE_FIT`` (block ``exposure`` of config/model.yaml) to targets.yaml:

- ``androgen_deprivation.untreated_bmd_pct_change_first_year_of_adt`` (LS, TH at month 12):
  the companion arm ``untreated`` of config/trials/androgen_deprivation.yaml (men starting
  androgen deprivation, no bone drug), mean over ``COHORT_SIZE`` men of the trial's cohort;
- ``aromatase_inhibitor.untreated_bmd_pct_change`` (anastrozole LS, letrozole TH at month 24):
  the placebo arm of config/trials/aromatase_inhibitor.yaml, mean over its cohort;
- ``glucocorticoid.remodeling_inputs``: serum osteocalcin (the model's formation marker, the
  active osteoblasts) by prednisone dose at ``OSTEOCALCIN_DAY`` of a course (P4), and in the
  patients of P5, osteocalcin at day 3 and urinary NTX (resorption marker, the osteoclasts) at
  day 7 at ``P5_DOSE_MG`` (A: the source gives no dose; Japanese patients starting
  glucocorticoids for autoimmune disease take about 30-60 mg/day prednisolone, R).

The shared values (remodeling, bmd, drugs, fracture) are read from the model file and held
fixed, so the stage can be re-run in one command after they change:
``python -m osteotrial.calibration.calibrate --stage exposure --write``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from osteotrial.calibration.objective import Target, pct, trial_cohort, trial_design, typical_cohort
from osteotrial.calibration.targets import read_targets
from osteotrial.engine.simulate import simulate_arm
from osteotrial.model.params import ModelParams
from osteotrial.trial.exposures import ExposurePhase
from osteotrial.trial.schedules import ArmSpec, RegimenPhase, Schedule
from osteotrial.units import DAYS_PER_MONTH

EXPOSURE_FIT: list[tuple[str, str]] = [
    ("exposure", "androgen_deprivation_rankl_rise_frac"),
    ("exposure", "aromatase_inhibitor_rankl_rise_frac"),
    ("exposure", "sex_steroid_cortical_activation_gain"),
    ("exposure", "glucocorticoid_half_effect_mg_per_day"),
    ("exposure", "glucocorticoid_hill"),
    ("exposure", "glucocorticoid_oba_apoptosis_gain"),
    ("exposure", "glucocorticoid_rankl_rise_frac"),
]
COHORT_SIZE = 300  # patients of each trial's cohort whose mean change is fitted
OSTEOCALCIN_DAY = 4.0  # P4: the 60 mg value is the nadir at 48-96 h; short courses (A: day 4)
P5_DOSE_MG = 40.0  # A (module docstring)
COURSE_DAYS = 14.0  # the marker courses (the P4 and P5 values are of the first week; A)
MARKER_SCALE_PCT = 10.0  # targets.MARKER_TOL_PCT: the P4 values come without a tolerance
UNTREATED = {
    "androgen_deprivation": ("untreated_bmd_pct_change_first_year_of_adt", "untreated"),
    "aromatase_inhibitor": ("untreated_bmd_pct_change", "placebo"),
}


def exposure_targets(data: Mapping[str, Any] | None = None) -> list[Target]:
    """Return the stage's targets, each read from targets.yaml (module docstring)."""
    data = (read_targets() if data is None else data)["trials"]
    out = []
    for trial, (section, arm) in UNTREATED.items():
        for i, t in enumerate(data[trial][section]):
            probe = ("bmd", trial, arm, t["site"], float(t["month"]))
            out.append(Target(f"{trial}.{section}[{i}]", t["value"], t["tol"], probe))
    inputs = data["glucocorticoid"]["remodeling_inputs"]
    osteocalcin, ntx = inputs[0], inputs[1]
    for dose, value in zip(osteocalcin["dose_mg_per_day"], osteocalcin["value"], strict=True):
        probe = ("p1np", float(dose), OSTEOCALCIN_DAY)
        source = f"glucocorticoid.remodeling_inputs[0] {dose} mg"
        out.append(Target(source, value, MARKER_SCALE_PCT, probe))
    # "serum osteocalcin -41% at day 3 in the same patients" (P5): read from the note's text
    drop, day = re.search(r"osteocalcin -(\d+(?:\.\d+)?)% at day (\d+)", ntx["note"]).groups()
    out.append(Target("glucocorticoid.remodeling_inputs[1] note", 100.0 - float(drop),
                      MARKER_SCALE_PCT, ("p1np", P5_DOSE_MG, float(day))))  # fmt: skip
    out.append(Target("glucocorticoid.remodeling_inputs[1]", 100.0 + ntx["value"], ntx["tol"],
                      ("ctx", P5_DOSE_MG, 7.0)))  # fmt: skip
    return out


def glucocorticoid_course(dose_mg: float, days: float = COURSE_DAYS) -> ArmSpec:
    """Return an arm without a bone drug taking ``dose_mg`` prednisone a day for ``days``."""
    placebo = RegimenPhase("placebo", 0.0, 28.0, 0.0, 2 * days)
    course = ExposurePhase("glucocorticoid", 0.0, days, dose_mg)
    return ArmSpec("glucocorticoid", (placebo,), (course,))


def marker_course(params: ModelParams, dose_mg: float) -> dict[str, dict[float, float]]:
    """Return P1NP and CTX (% of baseline) by day of a typical patient on a short course."""
    schedule = Schedule(1.0, 14.0, (), (3.0, OSTEOCALCIN_DAY, 7.0), ())
    run = simulate_arm(typical_cohort(70.0, {}), glucocorticoid_course(dose_mg), params,
                       schedule, False)  # fmt: skip
    days = run.record_days
    return {
        "p1np": dict(zip(days, 100.0 * run.p1np_rel[:, 0], strict=True)),
        "ctx": dict(zip(days, 100.0 * run.ctx_rel[:, 0], strict=True)),
    }


def untreated_change(params: ModelParams, trial: str, arm: str, month: float) -> dict[str, float]:
    """Return the mean % change of LS, TH and FN at ``month`` of a trial arm's cohort."""
    design = trial_design(trial)
    run = simulate_arm(trial_cohort(trial, COHORT_SIZE), design.arms[arm], params,
                       design.schedule.until(month), False)  # fmt: skip
    last = int(np.argmin(np.abs(run.record_days - month * DAYS_PER_MONTH)))
    return {
        site: float(pct(getattr(run, f"bmd_{site.lower()}_g_cm2"))[last].mean())
        for site in ("LS", "TH", "FN")
    }


def exposure_residuals(model: Mapping[str, Any]) -> np.ndarray:
    """Return the weighted residuals of the stage's targets for a model mapping."""
    params = ModelParams.from_dict(model)
    out, cache = [], {}
    for target in exposure_targets():
        kind, *where = target.probe
        if kind == "bmd":
            trial, arm, site, month = where
            key = (trial, arm, month)
            if key not in cache:
                cache[key] = untreated_change(params, trial, arm, month)
            out.append(target.residual(cache[key][site]))
        else:
            dose, day = where
            if dose not in cache:
                cache[dose] = marker_course(params, dose)
            out.append(target.residual(cache[dose][kind][day]))
    return np.asarray(out)
