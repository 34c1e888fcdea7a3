"""Fracture stage of the calibration: hazard scales and turnover effects from FRAME year 1.

Targets (config/targets.yaml, trials.frame): placebo 12-month incidences of new vertebral,
clinical vertebral, nonvertebral and clinical fractures, the romosozumab arm's incidences and
the 12-month relative risk reductions. Incidences are *expected* values computed from each
patient's cumulative hazard (1 - exp(-H)), not sampled events, so the fit is smooth and free
of Monte Carlo noise; the workflow's sampled events are then checked against the targets.

Expected incidence of a patient by day d: new vertebral 1 - exp(-H_v(d)) among patients imaged
at d; clinical vertebral 1 - exp(-f H_v) with f the clinically recognized share (independent
thinning); nonvertebral 1 - exp(-(H_hip + H_nv)); clinical adds f H_v. Clinical endpoints use
H at min(dropout day, d), as only events before loss to follow-up are observed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import yaml

from osteotrial.cohort.sampling import CohortSpec, sample_cohort
from osteotrial.engine.results import ArmResult
from osteotrial.engine.simulate import simulate_arm
from osteotrial.model.params import ModelParams
from osteotrial.trial.schedules import ArmSpec, Schedule
from osteotrial.units import DAYS_PER_MONTH

FRACTURE_FIT: tuple[tuple[str, str], ...] = (
    ("fracture.vertebral", "base_per_year"),
    ("fracture.nonvertebral", "base_per_year"),
    ("fracture.vertebral", "turnover_effect_max_frac"),
    ("fracture.nonvertebral", "turnover_effect_max_frac"),
    ("fracture.hip", "turnover_effect_max_frac"),
)
N_PER_ARM_FIT = 1500
_CACHE: dict[str, Any] = {}


def _frame_setup() -> tuple[dict[str, Any], Any]:
    if "frame" not in _CACHE:
        with open("config/trials/frame.yaml", encoding="utf-8") as handle:
            trial = yaml.safe_load(handle)
        arms = {name: ArmSpec.from_dict(name, phases) for name, phases in trial["arms"].items()}
        allocation = dict.fromkeys(arms, N_PER_ARM_FIT)
        cohort = sample_cohort(CohortSpec.from_dict(trial["cohort"]), allocation, trial["seed"])
        _CACHE["frame"] = (arms, cohort)
    return _CACHE["frame"]


def _hazard_at(result: ArmResult, name: str, days: np.ndarray) -> np.ndarray:
    """Return each patient's cumulative hazard at its own day (linear in record days)."""
    cum = result.cumulative_hazard[name]  # type: ignore[index]
    idx = np.clip(np.searchsorted(result.record_days, days), 1, result.record_days.size - 1)
    t0, t1 = result.record_days[idx - 1], result.record_days[idx]
    cols = np.arange(days.size)
    w = np.clip((days - t0) / (t1 - t0), 0.0, 1.0)
    return cum[idx - 1, cols] * (1 - w) + cum[idx, cols] * w


def expected_incidences(result: ArmResult, params: ModelParams, day: float) -> dict[str, float]:
    """Return expected incidences of the FRAME endpoints by ``day`` for one arm."""
    f = params.fracture.vertebral_clinical_frac
    observed = np.minimum(result.dropout_day, day)
    imaged = result.dropout_day > day
    h = {k: _hazard_at(result, k, np.full(result.n_patients, day)) for k in ("vertebral",)}
    ho = {k: _hazard_at(result, k, observed) for k in ("vertebral", "hip", "nonvertebral")}
    return {
        "new_vertebral": float(np.mean(-np.expm1(-h["vertebral"][imaged]))),
        "clinical_vertebral": float(np.mean(-np.expm1(-f * ho["vertebral"]))),
        "nonvertebral": float(np.mean(-np.expm1(-(ho["hip"] + ho["nonvertebral"])))),
        "clinical": float(
            np.mean(-np.expm1(-(ho["hip"] + ho["nonvertebral"] + f * ho["vertebral"])))
        ),
    }


def fracture_residuals(model: dict[str, Any]) -> np.ndarray:
    """Return weighted residuals of the FRAME year-1 fracture targets."""
    params = ModelParams.from_dict(model)
    arms, cohort = _frame_setup()
    schedule = Schedule(1.0, 12 * DAYS_PER_MONTH, (1, 3, 6, 9, 12), (), (12,))
    inc = {}
    for name, arm in arms.items():
        result = simulate_arm(cohort.select(cohort.arm == name), arm, params, schedule, False)
        inc[name] = expected_incidences(result, params, 12 * DAYS_PER_MONTH)
    pbo, rom = inc["placebo_then_denosumab"], inc["romosozumab_then_denosumab"]
    targets = [
        (pbo["new_vertebral"], 0.018, 3322),
        (rom["new_vertebral"], 0.005, 3321),
        (pbo["clinical"], 0.025, 3591),
        (rom["clinical"], 0.016, 3589),
        (pbo["nonvertebral"], 0.021, 3591),
        (rom["nonvertebral"], 0.016, 3589),
        (pbo["clinical_vertebral"], 0.005, 3591),
    ]
    res = [(got - want) / np.sqrt(want * (1 - want) / n) for got, want, n in targets]
    for endpoint, rrr in (("new_vertebral", 0.73), ("clinical", 0.36), ("nonvertebral", 0.25)):
        res.append((1 - rom[endpoint] / pbo[endpoint] - rrr) / 0.08)
    return np.asarray(res)
