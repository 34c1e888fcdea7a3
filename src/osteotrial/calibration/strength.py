"""Remodeling-stage targets of bone strength: FREEDOM's QCT finite-element substudy.

The ``bone_strength`` block of config/targets.yaml (Keaveny 2014: hip and spine strength of
the denosumab and placebo arms at months 12 and 36) is emulated with FREEDOM's design and
typical patient (``objective.typical_patient``) through the strength index of the simulation
(``model.bone.strength_rel``: compartments' apparent density and cortical porosity, relative to
the patient's baseline). Hip is read at the total hip (TH), spine at the lumbar spine (LS).
Scale: a tolerance on a mean read as two standard errors (tol / 2), as for BMD.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from osteotrial.calibration.objective import Target, simulate_sets, trial_design, typical_patient
from osteotrial.cohort.sampling import Cohort
from osteotrial.model.params import ModelParams
from osteotrial.trial.schedules import Schedule
from osteotrial.units import DAYS_PER_MONTH

STRENGTH = "bone_strength"  # the targets.yaml block (under trials)
TRIAL = "freedom"  # the trial file whose design and typical patient it reuses
SITE_OF = {"hip": "th", "spine": "ls"}
TOL_SCALE = 0.5


def strength_targets(data: Mapping[str, Any]) -> list[Target]:
    """Return the strength targets: probe ("strength", arm, site, month)."""
    entries = data["trials"][STRENGTH]["strength_pct_change"]
    return [
        Target(
            f"trials.{STRENGTH}.strength_pct_change[{n}]",
            t["value"],
            t["tol"] * TOL_SCALE,
            ("strength", t["arm"], SITE_OF[t["site"]], float(t["month"])),
        )
        for n, t in enumerate(entries)
    ]


def strength_emulated(
    sets: Sequence[ModelParams],
    data: Mapping[str, Any],
    patient_of: Callable[[str], Cohort] = typical_patient,
) -> np.ndarray:
    """Return the emulated percent change of each ``strength_targets`` entry, (n_targets,
    n_sets): every parameter set a patient of one engine call per arm (``patient_of``: as in
    ``calibration.denosumab.denosumab_emulated``)."""
    goals = strength_targets(data)
    design = trial_design(TRIAL)
    months = tuple(sorted({g.probe[3] for g in goals}))
    schedule = Schedule(design.schedule.dt_days, months[-1] * DAYS_PER_MONTH, months, (), ())
    patient = patient_of(TRIAL)
    arms = sorted({g.probe[1] for g in goals})
    runs = {a: simulate_sets(patient, design.arms[a], sets, schedule, False) for a in arms}
    out = []
    for g in goals:
        _, arm, site, month = g.probe
        result = runs[arm]
        k = int(np.argmin(np.abs(result.record_days - month * DAYS_PER_MONTH)))
        out.append((result.structure[f"strength_rel_{site}"][k] - 1.0) * 100.0)
    return np.asarray(out, dtype=float)
