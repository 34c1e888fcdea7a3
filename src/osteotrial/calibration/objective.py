"""What the calibration objectives are built from: targets.yaml entries and trial designs.

A ``Target`` is one term of an objective, built from an entry of config/targets.yaml (read
through ``targets.read_targets``, the one loader). Designs (arms, doses, schedules) come from
config/trials/*.yaml (``trial_design``); the typical patient of a trial has the mean baseline
age and T-scores of the trial's emulated cohort. Used by the two stages of the calibration,
``calibration.remodeling`` and ``calibration.fracture``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from osteotrial.calibration.targets import CONFIG_DIR
from osteotrial.cohort.sampling import TUMOUR_DEFAULTS, Cohort, CohortSpec, sample_cohort
from osteotrial.engine.results import ArmResult
from osteotrial.engine.simulate import simulate_arm
from osteotrial.model.params import ModelParams
from osteotrial.model.records import SITES
from osteotrial.model.tscore import tscore_to_bmd_g_cm2
from osteotrial.trial.config import TrialConfig, load_config
from osteotrial.trial.schedules import ArmSpec, Schedule

TYPICAL_COHORT_SIZE = 4000  # patients whose mean baseline makes a trial's typical patient


@dataclass(frozen=True)
class Target:
    """One term of a calibration objective, built from an entry of targets.yaml.

    ``source``: where the value is in targets.yaml; ``probe``: what the stage reads off its
    simulations (e.g. ``("bmd", "freedom", "denosumab", "TH", 12.0)``). The residual is
    (emulated - value) / scale, or max(0, emulated - value + scale) / scale for a ``hinge`` (a
    target that is a bound: "at least" a reduction; the hinge starts one scale inside the bound,
    so that the fit lands on the right side of it).
    """

    source: str
    value: float
    scale: float
    probe: tuple[Any, ...]
    hinge: bool = False

    def residual(self, emulated: Any) -> Any:
        """Return the weighted residual of an emulated value (a number, or an array of one
        value per parameter set: the residual of each)."""
        diff = emulated - self.value
        return (positive_part(diff + self.scale) if self.hinge else diff) / self.scale


def positive_part(x: Any) -> Any:
    """Return x where x > 0, else 0.0: builtin ``max(0.0, x)``'s rule (NaN gives 0.0), for a
    number (a float back) or elementwise for an array of one value per parameter set, so that
    a batch of sets gives each set's value exactly."""
    out = np.where(np.asarray(x) > 0.0, x, 0.0)
    return out if out.ndim else float(out)


def simulate_sets(
    patient: Cohort,
    arm: ArmSpec,
    sets: Sequence[ModelParams],
    schedule: Schedule,
    record_pk: bool = True,
) -> ArmResult:
    """Simulate the one-patient cohort ``patient`` under ``arm`` once per parameter set, all
    sets as patients of the same engine calls; column w of every trajectory is set w's. A
    cohort of several patients runs under one set, column i patient i's.

    A batch of sets (sampler walkers, finite-difference shifts) costs the packing and the
    Python around the engine once instead of once per set; each column equals the set
    simulated alone exactly (``simulate_arm``: a patient's result depends only on its row and
    its set).
    """
    if patient.n_patients > 1:  # a trial's cohort under one set (calibration.cohort_offset)
        (one,) = sets
        return simulate_arm(patient, arm, one, schedule, record_pk)
    tiled = patient.select(np.zeros(len(sets), dtype=np.int64))
    return simulate_arm(tiled, arm, tuple(sets), schedule, record_pk)


def per_set(trajectory: np.ndarray) -> np.ndarray:
    """Return a (n_times, n_sets) trajectory of ``simulate_sets`` as (n_sets, n_times),
    contiguous, so that a reduction over time runs per set as on one set's 1-D series (the
    same summation order: bit-identical to the set alone)."""
    return np.ascontiguousarray(trajectory.T)


def phase(drug: str, dose_mg: float, interval_days: float, start: float, stop: float) -> dict:
    """Return a regimen-phase mapping."""
    return {
        "drug": drug,
        "dose_mg": dose_mg,
        "interval_days": interval_days,
        "start_day": start,
        "stop_day": stop,
    }


def typical_cohort(age_years: float, tscores: Mapping[str, float]) -> Cohort:
    """Return a one-patient cohort with the given age and T-scores and no variability.

    A site without a T-score gets T-score 0 (the young-adult mean): the remodeling stage does
    not depend on T-scores (BMD is followed relative to baseline; T-scores and age enter only
    the fracture hazards).
    """
    columns: dict[str, np.ndarray] = {f.name: np.ones(1) for f in fields(Cohort)}
    columns.update({name: np.full(1, value) for name, value in TUMOUR_DEFAULTS.items()})
    columns.update(
        patient_id=np.zeros(1, np.int64),
        candidate_id=np.zeros(1, np.int64),
        arm=np.array(["typical"]),
        sex=np.array(["female"]),
        age_years=np.array([age_years]),
        bmi_kg_m2=np.array([25.0]),
        prevalent_vertebral_fracture_count=np.zeros(1, np.int64),
        prevalent_vertebral_fracture_max_grade=np.zeros(1, np.int64),
        prior_nonvertebral_fracture=np.zeros(1, bool),
        prior_hip_fracture=np.zeros(1, bool),
        dropout_day=np.array([np.inf]),
        threshold_death=np.array([1e9]),
    )
    for site in SITES:
        t = float(tscores.get(site, 0.0))
        columns[f"tscore_{site.lower()}"] = np.array([t])
        columns[f"bmd_{site.lower()}_g_cm2"] = np.array([tscore_to_bmd_g_cm2(t, site)])
    return Cohort(**columns)


def typical_patient(trial: str) -> Cohort:
    """Return the typical patient of a trial: the mean baseline age and T-scores of its emulated
    cohort (``cohort_means``), no variability.

    The cohort is the trial file's own screened population, whose baseline is fitted to
    targets.yaml (cohort.fit, checked by tests/test_cohort.py); a site's T-score sets the
    patient's volume fractions and remodeling surfaces (model.bmd.volume_frac): every site
    needs one.
    """
    age, tscores = cohort_means(trial)
    return typical_cohort(age, dict(tscores))


@functools.lru_cache(maxsize=16)
def trial_cohort(trial: str, n_patients: int = TYPICAL_COHORT_SIZE) -> Cohort:
    """Return ``n_patients`` of a trial's emulated cohort (its screened population, sampled
    with the trial's seed and split evenly across its arms): the women whose mean baseline
    makes the typical patient."""
    design = trial_design(trial)
    per_arm = max(1, n_patients // len(design.arms))
    allocation = dict.fromkeys(design.arms, per_arm)
    return sample_cohort(CohortSpec.from_dict(design.cohort_spec), allocation, design.seed)


@functools.lru_cache(maxsize=16)
def cohort_means(trial: str, n_patients: int = TYPICAL_COHORT_SIZE) -> tuple:
    """Return (mean age, ((site, mean T-score), ...)) of ``n_patients`` of a trial's cohort,
    sampled with the trial's seed and split evenly across its arms."""
    cohort = trial_cohort(trial, n_patients)
    tscores = tuple(
        (site, float(np.mean(getattr(cohort, f"tscore_{site.lower()}")))) for site in SITES
    )
    return float(np.mean(cohort.age_years)), tscores


@functools.lru_cache(maxsize=8)
def trial_design(trial: str) -> TrialConfig:
    """Return the validated configuration of ``config/trials/{trial}.yaml`` (its design)."""
    return load_config(trial, config_dir=CONFIG_DIR)


def treated_arm(trial: str) -> str:
    """Return the one arm of a two-arm trial file that is not its control arm."""
    design = trial_design(trial)
    (arm,) = [name for name in design.arms if name != design.control_arm]
    return arm


def arm_until(trial: str, arm: str, day: float) -> ArmSpec:
    """Return an arm of a trial file, keeping only the phases that start before ``day``."""
    spec = trial_design(trial).arms[arm]
    return ArmSpec(arm, tuple(p for p in spec.phases if p.start_day < day))


def pct(traj: np.ndarray) -> np.ndarray:
    """Return percent change from the first row, (n_times, n): each column (a patient, or a
    parameter set of ``simulate_sets``) from its own baseline."""
    return (traj / traj[0] - 1.0) * 100.0
