"""Fracture stage of the calibration: hazard scales and remodeling-space effects, FRAME year 1.

Targets (``fracture_targets``, read from config/targets.yaml trials.frame through the one
loader): every ``fracture_incidence`` entry (scale: the binomial standard error of the
published proportion at the published arm size n) and every ``relative_risk_reduction`` entry
(scale ``RRR_SCALE``, a weight: targets.yaml gives no spread for them). The cohort, arms and
schedule are those of config/trials/frame.yaml (its own randomized women: the published arm
sizes and the trial's seed), simulated event-free to the last target month. Incidences are
*expected* values (``analyses.expected``: each woman's cumulative hazard, death competing,
new vertebral fractures among the women imaged), not sampled events, so the fit is smooth and
free of Monte Carlo noise; they are computed by the very function that centres the
workflow's calibration check (``trial.jobs.trial_expected_fractures``), so what is fitted is
what is checked. A reduction the trial reported as a hazard ratio (``targets.ratio_measure``:
FRAME's clinical and nonvertebral) is compared with 1 - HR, the HR of expected incidences
log(1 - p1) / log(1 - p0) (exact under proportional hazards); a relative risk with 1 - p1 / p0.

``expected_incidences`` (1 - exp(-H) of a result's cumulative hazards by endpoint) is kept for
``calibration.meta_regression``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from osteotrial.analyses.expected import cumulative_at
from osteotrial.calibration.estimates import pick
from osteotrial.calibration.objective import Target, trial_design
from osteotrial.calibration.targets import (
    TARGET_KEYS,
    last_fracture_month,
    ratio_measure,
    read_targets,
)
from osteotrial.cohort.sampling import CohortSpec, sample_cohort
from osteotrial.engine.results import ArmResult
from osteotrial.model.params import ModelParams
from osteotrial.trial.jobs import trial_expected_fractures

FRACTURE_FIT: tuple[tuple[str, str], ...] = (
    ("fracture.vertebral", "base_per_year"),
    ("fracture.nonvertebral", "base_per_year"),
    ("fracture.vertebral", "remodeling_space_log_hr"),
    ("fracture.nonvertebral", "remodeling_space_log_hr"),
    ("fracture.hip", "remodeling_space_log_hr"),
)
FRAME = "frame"  # the trial file (config/trials) of this stage
RRR_SCALE = 0.08  # weight of a relative risk reduction residual (not a published value)
_CACHE: dict[str, Any] = {}


def _frame_setup() -> tuple[dict[str, Any], Any]:
    """Return the arms of config/trials/frame.yaml and its screened cohort: the trial file's
    allocation (the published arm sizes) and seed, so the women whose expected incidences are
    fitted are those whose events the workflow draws (tests/test_calibration.py), and the fit
    and that check differ only by the events drawn, not by the cohort."""
    if "frame" not in _CACHE:
        design = trial_design(FRAME)
        allocation, seed = design.cohort_allocation("randomized"), design.cohort_seed("randomized")
        cohort = sample_cohort(CohortSpec.from_dict(design.cohort_spec), allocation, seed)
        _CACHE["frame"] = (design.arms, cohort)
    return _CACHE["frame"]


def _hazard_at(result: ArmResult, name: str, days: np.ndarray) -> np.ndarray:
    """Return each patient's cumulative hazard at its own day (linear in record days)."""
    return cumulative_at(result, result.cumulative_hazard[name], days)  # type: ignore[index]


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
        "hip": float(np.mean(-np.expm1(-ho["hip"]))),
        "clinical": float(
            np.mean(-np.expm1(-(ho["hip"] + ho["nonvertebral"] + f * ho["vertebral"])))
        ),
    }


def fracture_targets(targets: Mapping[str, Any] | None = None) -> list[Target]:
    """Return the targets of the fracture stage, in the order of its residuals.

    Every ``fracture_incidence`` entry of FRAME (probe ``("incidence", arm, endpoint, month)``,
    scale sqrt(p (1 - p) / n)), then every ``relative_risk_reduction`` entry (probe
    ``("rrr", endpoint, month)``, 1 - treated / control, scale ``RRR_SCALE``).
    """
    data = read_targets() if targets is None else targets
    key = TARGET_KEYS[FRAME]
    block = data["trials"][key]
    out = []
    for n, t in enumerate(block["fracture_incidence"]):
        scale = float(np.sqrt(t["value"] * (1 - t["value"]) / t["n"]))
        probe = ("incidence", t["arm"], t["endpoint"], float(t["month"]))
        out.append(Target(f"trials.{key}.fracture_incidence[{n}]", t["value"], scale, probe))
    for n, t in enumerate(block["relative_risk_reduction"]):
        probe = ("rrr", t["endpoint"], float(t["month"]))
        source = f"trials.{key}.relative_risk_reduction[{n}]"
        out.append(Target(source, t["value"], RRR_SCALE, probe))
    return out


def fracture_residuals(
    model: dict[str, Any], targets: Mapping[str, Any] | None = None
) -> np.ndarray:
    """Return weighted residuals of the FRAME fracture targets (``fracture_targets``).

    ``targets``: the content of a targets file (default: config/targets.yaml).
    """
    goals = fracture_targets(targets)
    emulated = fracture_emulated(model, targets)
    return np.asarray([g.residual(value) for g, value in zip(goals, emulated, strict=True)])


def fracture_emulated(
    model: dict[str, Any], targets: Mapping[str, Any] | None = None
) -> np.ndarray:
    """Return the emulated value of each ``fracture_targets`` entry: the expected incidences of
    FRAME's own cohort (``_frame_setup``) and 1 - the ratio of the arms' expected incidences,
    exactly the centre of the workflow's calibration check (``trial.jobs
    .trial_expected_fractures``, ``calibration.comparison``): the fit and the check read the
    same numbers, and differ from the emulated trial only by its one draw of events."""
    goals = fracture_targets(targets)
    block = (read_targets() if targets is None else targets)["trials"][TARGET_KEYS[FRAME]]
    params = ModelParams.from_dict(model)
    _, cohort = _frame_setup()
    design = trial_design(FRAME)
    table = trial_expected_fractures(cohort, design, params, last_fracture_month(block))
    emulated = []
    for g in goals:
        if g.probe[0] == "incidence":
            _, arm, endpoint, month = g.probe
            part, where = "fractures", {"arm": arm, "statistic": "incidence_frac"}
        else:  # ("rrr", endpoint, month)
            _, endpoint, month = g.probe
            part, where = "comparisons", {"statistic": ratio_measure(block, endpoint)}
        rows = table.filter(pl.col("table") == part)
        row = pick(rows, **where, endpoint=endpoint, time=month)
        value = row["value"] if g.probe[0] == "incidence" else 1.0 - row["value"]
        emulated.append(value)
    return np.asarray(emulated, dtype=float)
