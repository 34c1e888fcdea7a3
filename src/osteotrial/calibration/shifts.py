"""Log-shifts of named model values: their allowed box, applying them, and a stability screen.

The parameter space that ``calibration.parameter_sets`` draws sets in and
``calibration.posterior`` samples: a name is (block, key) of the model mapping, a shift a
factor exp(shift) on the trial's value. Kept here, below both, so that neither imports the
other.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from osteotrial.calibration import calibrate, uncertainty

# Validity bounds of drawn values narrower than the fit's (calibrate.BOUNDS); none at present.
EXTRA_BOUNDS: dict[str, tuple[float, float]] = {}
STABILITY_TURNOVER_MULT = 3.0  # the fast tail of the cohort (log-normal IIV, CV 25 %)
Name = tuple[str, str]


def draw_bounds(key: str) -> tuple[float, float]:
    """Return the bounds of a drawn value: the fit's bounds, narrowed by ``EXTRA_BOUNDS``."""
    low, high = uncertainty.fit_bounds(key)
    extra_low, extra_high = EXTRA_BOUNDS.get(key, (low, high))
    return max(low, extra_low), min(high, extra_high)


def model_node(model: dict[str, Any], block: str) -> dict[str, Any]:
    """Return the block (dotted path, e.g. "remodeling" or "bmd.ls") of a model mapping."""
    node = model
    for part in block.split("."):
        node = node[part]
    return node


def log_box(model: Mapping[str, Any], names: Sequence[Name]) -> tuple[np.ndarray, np.ndarray]:
    """Return the allowed log shifts (low, high) of ``names``: draw_bounds widened to 0."""
    values = calibrate.initial_values(dict(model), names)
    low = np.log([draw_bounds(key)[0] for _, key in names]) - np.log(values)
    high = np.log([draw_bounds(key)[1] for _, key in names]) - np.log(values)
    return np.minimum(low, 0.0), np.maximum(high, 0.0)


def apply_shifts(
    model: Mapping[str, Any],
    names: Sequence[Name],
    shifts: np.ndarray,
    box: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict:
    """Return a copy of ``model`` with each named value times exp(shift), shifts clipped to
    ``log_box``. ``calibration.parameter_sets``' docstring explains the ``scale`` names.
    ``box``: ``log_box(model, names)`` when the caller has it (the sampler: computing it costs
    as much as the rest)."""
    low, high = log_box(model, names) if box is None else box
    factors = dict(zip(names, np.exp(np.clip(shifts, low, high)), strict=True))
    out = copy.deepcopy(dict(model))
    for (block, key), factor in factors.items():
        node = model_node(out, block)
        if key != "scale":
            node[key] = float(node[key] * factor)
            continue
        for gamma in ("gamma_ob", "gamma_oc"):
            node[gamma] = float(node[gamma] * factor * factors.get(("bmd.th", gamma), 1.0))
    return out


def stable(model: Mapping[str, Any], dt_days: float) -> bool:
    """Return whether a model mapping integrates at step ``dt_days`` (a cheap screen).

    Two typical FRAME patients (``objective.typical_patient``; bone-turnover multiplier 1 and
    ``STABILITY_TURNOVER_MULT``) take the treated arm of config/trials/frame.yaml (romosozumab
    for 12 months, denosumab for 12) and nothing for 12 more; the set passes if every state
    stays finite. Wide values (e.g. a large Wnt exponent on OBp differentiation) can make the
    explicit step unstable where the fitted values are not.
    """
    from osteotrial.calibration import objective
    from osteotrial.engine.simulate import simulate_arm
    from osteotrial.model.params import ModelParams
    from osteotrial.trial.schedules import Schedule

    month = calibrate.MONTH
    arm = objective.trial_design("frame").arms[objective.treated_arm("frame")]
    schedule = Schedule(dt_days, 36 * month, (12.0, 24.0, 36.0), (), ())
    patient = objective.typical_patient("frame")
    try:
        params = ModelParams.from_dict(model)
        for mult in (1.0, STABILITY_TURNOVER_MULT):
            cohort = dataclasses.replace(patient, mult_bone_turnover=np.array([mult]))
            with np.errstate(all="ignore"):
                result = simulate_arm(cohort, arm, params, schedule, False)
            states = (result.bmd_ls_g_cm2, result.bmd_th_g_cm2, result.p1np_rel, result.ctx_rel)
            if not all(np.isfinite(state).all() for state in states):
                return False
    except (FloatingPointError, ValueError):
        return False
    return True
