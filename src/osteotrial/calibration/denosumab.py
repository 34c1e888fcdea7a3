"""Remodeling-stage targets of denosumab beyond FREEDOM's first three years.

Three blocks of config/targets.yaml, each emulated with the design of its trial file and the
typical patient of that trial (``objective.typical_patient``: the mean baseline of its emulated
cohort; T-scores set the remodeling surface, so DEFEND's osteopenic women respond less in
percent than FREEDOM's osteoporotic ones):

- ``freedom_extension`` (config/trials/freedom_extension.yaml): LS and TH BMD at month 60 of
  continued denosumab, and the shape "BMD does not fall from one yearly visit to the next";
- ``denosumab_discontinuation`` (config/trials/denosumab_discontinuation.yaml, DEFEND-like):
  the month-24 differences from placebo (LS, TH BMD points; CTX, P1NP percent) and the
  ``after_stopping`` shapes read by ``targets.AFTER_STOPPING`` (hinges);
- ``denosumab_dose_ranging`` (config/trials/denosumab_dose_ranging.yaml): CTX in percent of
  baseline by arm and day, and each arm's month-12 LS and TH BMD inside the published range
  (hinges), and a monotone dose response: month-12 BMD not lower on 210 mg than on 60 mg
  every 6 months (``dose_order_hinges``).

Scales: a tolerance on a mean is read as two standard errors (scale = tol / 2), as for BMD in
``calibration.remodeling``; a hinge costs one scale unit per ``HINGE_SCALE`` beyond its bound
(``WITHIN_MARGIN`` of the bound for a "within" shape).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from osteotrial.calibration.objective import (
    Target,
    pct,
    positive_part,
    simulate_sets,
    trial_design,
    typical_patient,
)
from osteotrial.calibration.targets import (
    after_stopping_rule,
    after_stopping_value,
    number_in_key,
    read_targets,
)
from osteotrial.cohort.sampling import Cohort
from osteotrial.engine.results import ArmResult
from osteotrial.model.params import ModelParams
from osteotrial.trial.schedules import ArmSpec, Schedule
from osteotrial.units import DAYS_PER_MONTH

EXTENSION, DISCONTINUATION, DOSE_RANGING = (
    "freedom_extension",
    "denosumab_discontinuation",
    "denosumab_dose_ranging",
)
TOL_SCALE = 0.5  # scale = tol / 2: a tolerance on a mean read as two standard errors
HINGE_SCALE = {"pct": 0.5, "points": 0.5}  # percent (markers) and BMD points per scale unit
# The typical patient must meet a "within" shape with room to spare: the trial's mean, over
# patients who differ in PK and turnover, lands farther out (LS at month 36 after stopping:
# typical 1.9, cohort mean 2.2 with the full bound).
WITHIN_MARGIN = 0.5
# Likewise an "above" shape must be passed by this much (median marker change in percent, BMD in
# points): the trial reports measured medians over patients who differ, which sat 5-10 points
# below the typical patient (P1NP and CTX at month 30 after stopping).
ABOVE_MARGIN = {"pct": 15.0, "points": 0.5}


def denosumab_targets(data: Mapping[str, Any]) -> list[Target]:
    """Return the point targets of the three blocks, in the order of their residuals."""
    trials = data["trials"]
    out = [
        Target(
            f"trials.{EXTENSION}.bmd_pct_change[{n}]",
            t["value"],
            t["tol"] * TOL_SCALE,
            ("bmd", EXTENSION, t["arm"], t["site"], float(t["month"])),
        )
        for n, t in enumerate(trials[EXTENSION]["bmd_pct_change"])
    ]
    for section, entries in trials[DISCONTINUATION].items():
        if section.startswith("on_treatment_month_"):
            month = number_in_key(section, "month")
            for t in entries:
                probe = ("vs_placebo", t["measure"], month)
                source = f"trials.{DISCONTINUATION}.{section}.{t['measure']}"
                out.append(Target(source, t["value"], t["tol"] * TOL_SCALE, probe))
    for n, t in enumerate(trials[DOSE_RANGING]["ctx_pct_of_baseline"]):
        probe = ("ctx_pct", t["arm"], float(t["day"]))
        source = f"trials.{DOSE_RANGING}.ctx_pct_of_baseline[{n}]"
        out.append(Target(source, t["value"], t["tol"] * TOL_SCALE, probe))
    return out


def _simulate(
    trial: str, patient: Cohort, sets: Sequence[ModelParams], days: tuple, skip: tuple = ()
) -> dict:
    """Return {arm: ArmResult} of a trial file's arms (but ``skip``) for one patient, recorded
    at ``days``: column w is parameter set w's (``objective.simulate_sets``)."""
    design = trial_design(trial)
    span = max(days)
    schedule = Schedule(design.schedule.dt_days, span, (), tuple(days), ())
    return {
        name: simulate_sets(patient, arm, sets, schedule, False)
        for name, arm in design.arms.items()
        if name not in skip
    }


def _at(result: ArmResult, day: float) -> int:
    return int(np.argmin(np.abs(result.record_days - day)))


def _bmd_pct(result: ArmResult, site: str, month: float) -> np.ndarray:
    """Return the % change of BMD at a month, (n_sets,)."""
    series = pct(getattr(result, f"bmd_{site.lower()}_g_cm2"))
    return series[_at(result, month * DAYS_PER_MONTH)]


def _marker_pct(result: ArmResult, marker: str, month: float) -> np.ndarray:
    """Return the % change of a marker at a month, (n_sets,)."""
    series = getattr(result, {"CTX": "ctx_rel", "P1NP": "p1np_rel"}[marker])
    return (series[_at(result, month * DAYS_PER_MONTH)] - 1.0) * 100.0


def _vs_placebo(runs: dict, measure: str, month: float) -> np.ndarray:
    """Return a month-M difference from placebo: BMD points or percent marker difference,
    (n_sets,)."""
    den, pbo = runs["denosumab"], runs["placebo"]
    if measure.endswith("_bmd_pct_points"):
        site = measure.split("_")[0]
        return _bmd_pct(den, site, month) - _bmd_pct(pbo, site, month)
    marker = measure.split("_")[0]
    ratio = (1 + _marker_pct(den, marker, month) / 100) / (
        1 + _marker_pct(pbo, marker, month) / 100
    )
    return (ratio - 1.0) * 100.0


def denosumab_emulated(
    sets: Sequence[ModelParams],
    data: Mapping[str, Any] | None = None,
    patient_of: Callable[[str], Cohort] = typical_patient,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Return (the emulated value of each ``denosumab_targets`` entry, (n_targets, n_sets);
    the hinge residuals, each (n_sets,)) of each parameter set. ``patient_of(trial)``: whom
    to simulate (default the typical patient; a cohort under one set: calibration.cohort_offset)."""
    data = read_targets() if data is None else data
    goals = denosumab_targets(data)
    month = DAYS_PER_MONTH
    years = tuple(m * 12 * month for m in range(6))
    ext = _simulate(EXTENSION, patient_of(EXTENSION), sets, years, ("placebo",))
    stop_days = tuple(m * month for m in (24.0, 30.0, 36.0, 48.0))
    stop = _simulate(DISCONTINUATION, patient_of(DISCONTINUATION), sets, stop_days)
    probes_days = sorted({g.probe[2] for g in goals if g.probe[0] == "ctx_pct"})
    record = (*probes_days, 12 * month)
    doses = _simulate(DOSE_RANGING, patient_of(DOSE_RANGING), sets, record, ("placebo",))
    emulated = []
    for g in goals:
        kind = g.probe[0]
        if kind == "bmd":
            emulated.append(_bmd_pct(ext[g.probe[2]], g.probe[3], g.probe[4]))
        elif kind == "vs_placebo":
            emulated.append(_vs_placebo(stop, g.probe[1], g.probe[2]))
        else:
            result = doses[g.probe[1]]
            emulated.append(100.0 * result.ctx_rel[_at(result, g.probe[2])])
    hinges = extension_shape(ext["denosumab"])
    hinges += after_stopping_hinges(data, stop)
    hinges += range_hinges(data, doses)
    hinges += dose_order_hinges(doses["denosumab_60mg_q6m"], sets, record, patient_of)
    return np.asarray(emulated, dtype=float), hinges


def extension_shape(den: ArmResult) -> list[np.ndarray]:
    """Return hinges: LS and TH BMD do not fall from one yearly visit to the next."""
    out = []
    for site in ("LS", "TH"):
        yearly = np.array([_bmd_pct(den, site, 12.0 * y) for y in range(6)])  # (6, n_sets)
        out.append(positive_part(-np.diff(yearly, axis=0).min(axis=0)) / HINGE_SCALE["points"])
    return out


def after_stopping_hinges(data: Mapping[str, Any], runs: dict) -> list[np.ndarray]:
    """Return a hinge per ``after_stopping`` shape of the discontinuation block."""
    out = []
    for t in data["trials"][DISCONTINUATION]["after_stopping"]:
        measure, month, rule, bound = after_stopping_rule(t["what"])
        value = after_stopping_value(
            measure,
            month,
            lambda arm, marker, m: _marker_pct(runs[arm], marker, m),
            lambda arm, site, m: _bmd_pct(runs[arm], site, m),
        )
        unit_is_pct = measure in ("CTX", "P1NP", "CTX+P1NP")
        unit = HINGE_SCALE["pct" if unit_is_pct else "points"]
        if rule == "above":
            miss = bound + ABOVE_MARGIN["pct" if unit_is_pct else "points"] - value
        else:
            miss = abs(value) - WITHIN_MARGIN * bound
        out.append(positive_part(miss) / unit)
    return out


# A higher dose than the trial's 60 mg every 6 months (McClung 2006's highest arm, 210 mg; its
# result is validation, only the order is asked): more drug never gives less BMD.
HIGHER_DOSE_MG = 210.0
ORDER_SCALE_POINTS = 0.05  # an order, not a published number: a tenth of HINGE_SCALE's points


def dose_order_hinges(
    den60: ArmResult,
    sets: Sequence[ModelParams],
    days: tuple,
    patient_of: Callable[[str], Cohort] = typical_patient,
) -> list:
    """Return hinges: month-12 LS and TH BMD of the dose-ranging typical patient are not lower
    on ``HIGHER_DOSE_MG`` every 6 months than on 60 mg (a monotone dose response, the shape
    McClung 2006 reports: gains rise with dose, then plateau)."""
    arm = trial_design(DOSE_RANGING).arms["denosumab_60mg_q6m"]
    higher_arm = ArmSpec("denosumab_higher", (replace(arm.phases[0], dose_mg=HIGHER_DOSE_MG),))
    schedule = Schedule(trial_design(DOSE_RANGING).schedule.dt_days, max(days), (), days, ())
    higher = simulate_sets(patient_of(DOSE_RANGING), higher_arm, sets, schedule, False)
    out = []
    for site in ("LS", "TH"):
        lower_dose_gain = _bmd_pct(den60, site, 12.0) - _bmd_pct(higher, site, 12.0)
        out.append(positive_part(lower_dose_gain) / ORDER_SCALE_POINTS)
    return out


def range_hinges(data: Mapping[str, Any], runs: dict) -> list[np.ndarray]:
    """Return hinges: every dose-ranging arm's month-12 BMD inside the published range."""
    out = []
    for key, block in data["trials"][DOSE_RANGING].items():
        if not key.startswith("bmd_pct_change_month_"):
            continue
        month = number_in_key(key, "month")
        for site, entry in block.items():
            if site == "placebo":
                continue
            for arm, result in runs.items():
                if arm == "placebo":
                    continue
                x = _bmd_pct(result, site, month)
                below, above = entry["low"] - x, x - entry["high"]
                larger = np.where(above > below, above, below)  # max(below, above, 0.0)'s rule
                miss = np.where(0.0 > larger, 0.0, larger)
                out.append(miss / HINGE_SCALE["points"])
    return out
