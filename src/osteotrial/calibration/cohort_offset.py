"""Typical-to-cohort offsets: the remodeling stage fits trial means, not a typical woman.

The remodeling stage emulates each target with a trial's typical patient (mean age and
T-scores, no between-patient variability: ``objective.typical_patient``), which is fast enough
for the fit and the posterior. A published BMD or strength change is the mean over a trial's
women, who differ in T-score (so in BV/TV, porosity and surface: ``model.bmd.volume_frac``) and
in drug clearance, sensitivity, turnover and mineralization (the multipliers of
``cohort.population``). The response is not linear in these, so the cohort mean differs from
the typical woman's value, and the more so the longer the treatment: at the parameters of
2026-12-06 (exponents fitted at their bounds) the FREEDOM extension's month-60 LS change was
12.7 % for the typical woman and 11.6 % for the mean of its cohort (published 13.7 +- 1.5),
DEFEND's LS on-treatment difference 0.5 points lower, FRAME's month-12 LS 0.2 lower.

So each mean row (BMD % change, BMD points versus placebo, strength % change) is compared as
typical value + offset, the offset being the cohort mean minus the typical value, both
simulated at the *anchor* parameters (config/model.yaml: the fit's start, the posterior's
point fit) for ``N_PATIENTS`` women of the trial's own cohort. The offset is held fixed while
the fit moves (a first-order correction: re-running the fit from its result recomputes it at
the new anchor, a fixed-point iteration). Marker, PK and hinge rows have no offset: markers are
read as medians or ratios of figure points, PK from one-dose studies of a few dozen people.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from osteotrial.calibration.objective import Target, trial_cohort
from osteotrial.calibration.targets import CONFIG_DIR
from osteotrial.model.params import ModelParams, load_model_params

N_PATIENTS = 1000  # women of a trial's cohort per offset (SE of a mean BMD change ~0.1 point)
SAMPLED = 1200  # sampled per trial (split over its arms), of which the first N_PATIENTS are used
ANCHOR = CONFIG_DIR / "model.yaml"


def has_offset(target: Target) -> bool:
    """Return whether a remodeling target is a trial mean that gets a cohort offset: BMD %
    change, BMD points versus placebo, strength % change."""
    kind = target.probe[0]
    if kind == "vs_placebo":
        return target.probe[1].endswith("_bmd_pct_points")
    return kind in ("bmd", "strength")


def cohort_of(trial: str):
    """Return ``N_PATIENTS`` women of a trial's own cohort (``objective.trial_cohort``)."""
    return trial_cohort(trial, SAMPLED).select(np.arange(N_PATIENTS))


def cohort_offsets(
    params: ModelParams,
    data: Mapping[str, Any],
    goals: Sequence[Target],
    emulate: Callable[..., tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """Return the offset of each target (cohort mean - typical value at ``params``; 0 for a row
    without one), (n_targets,). ``emulate(sets, data, patient_of)``: the stage's emulator
    (``remodeling.typical_emulated``)."""
    typical, _ = emulate([params], data)
    cohort, _ = emulate([params], data, cohort_of)
    mask = np.array([has_offset(g) for g in goals])
    return np.where(mask, np.mean(cohort, axis=1) - typical[:, 0], 0.0)


def anchored_offsets(
    data: Mapping[str, Any],
    goals: Sequence[Target],
    emulate: Callable[..., tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """Return ``cohort_offsets`` at the anchor parameters (config/model.yaml), computed once
    per content of the anchor file and of the targets."""
    key = hashlib.blake2b(ANCHOR.read_bytes(), digest_size=16).hexdigest()
    key += hashlib.blake2b(
        json.dumps(data, sort_keys=True, default=str).encode(), digest_size=16
    ).hexdigest()
    return _offsets(key, data, tuple(goals), emulate)


_CACHE: dict[str, np.ndarray] = {}  # the offsets of the last anchor and targets


def _offsets(key: str, data, goals, emulate) -> np.ndarray:
    """Return the offsets of ``key`` (anchor and targets content), computing them on a miss."""
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = cohort_offsets(load_model_params(str(ANCHOR)), data, goals, emulate)
    return _CACHE[key]
