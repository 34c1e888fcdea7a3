"""Shared fixtures: synthetic cohorts and arm results, and a snakemake runner on a temp copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from osteotrial.calibration.objective import typical_patient
from osteotrial.calibration.targets import read_targets
from osteotrial.cohort.sampling import MAX_EVENTS, Cohort, CohortSpec, sample_cohort
from osteotrial.engine.results import ArmResult
from osteotrial.io import COHORT_SCHEMA
from osteotrial.model.params import load_model_params
from osteotrial.trial.phase_units import normalize_arms

ROOT = Path(__file__).resolve().parents[1]
MONTH_12_DAY = 365.25


def synthetic_cohort(arms: list[str]) -> Cohort:
    """Return a cohort with one patient per entry of ``arms``: BMD 1 g/cm2, no fractures."""
    n = len(arms)
    columns = {}
    for field in COHORT_SCHEMA:
        kind = {"int64": np.int64, "bool": bool, "double": np.float64}.get(str(field.type))
        columns[field.name] = np.ones(n, dtype=kind) if kind else np.array(arms, dtype=object)
    columns["patient_id"] = columns["candidate_id"] = np.arange(n, dtype=np.int64)
    columns["sex"] = np.full(n, "female", dtype=object)
    return Cohort.from_columns(columns)


def synthetic_result(arm: str, patient_id: list[int], **overrides: np.ndarray) -> ArmResult:
    """Return an ArmResult recorded at days 0 and 365.25 with constant BMD and no events."""
    n, days = len(patient_id), np.array([0.0, MONTH_12_DAY])
    ones = np.ones((days.size, n))
    values = {
        "arm": arm, "patient_id": np.asarray(patient_id, dtype=np.int64), "record_days": days,
        "bmd_ls_g_cm2": ones, "bmd_th_g_cm2": ones, "bmd_fn_g_cm2": ones,
        "p1np_rel": ones, "ctx_rel": ones, "pk_days": np.zeros(0),
        "denosumab_ng_ml": np.zeros((0, n)), "romosozumab_ng_ml": np.zeros((0, n)),
        "vertebral_fracture_clinical": np.zeros((MAX_EVENTS["vertebral"], n), dtype=bool),
        "death_day": np.full(n, np.nan), "dropout_day": np.full(n, np.inf),
    }  # fmt: skip
    for kind, n_events in MAX_EVENTS.items():
        values[f"{kind}_fracture_days"] = np.full((n_events, n), np.nan)
    values.update(overrides)
    return ArmResult(**values)


# --config values that switch off the analyses of docs/analyses.md (for runs of the trial only).
NO_ANALYSES: tuple[str, ...] = (
    "counterfactual={enabled: false}",
    "power={enabled: false}",
    "uncertainty={enabled: false}",
)


def run_workflow(workdir: Path, *args: str, copy: bool = True) -> subprocess.CompletedProcess:
    """Copy the workflow (plus tests/data/smoke.yaml as trial "smoke") to workdir; run snakemake.

    ``copy=False`` runs again in a workdir that already holds the copy (and its results).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    for item in ("Snakefile", "workflow", "config") if copy else ():
        copy_item = shutil.copytree if (ROOT / item).is_dir() else shutil.copy
        copy_item(ROOT / item, workdir / item)
    if copy:
        shutil.copy(ROOT / "tests" / "data" / "smoke.yaml", workdir / "config" / "trials")
    command = [sys.executable, "-m", "snakemake", "--cores", "2", "--directory", str(workdir)]
    command += ["--snakefile", str(workdir / "Snakefile"), *args]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=workdir)


def dead_pid() -> int:
    """Return the pid of a process that has ended (a stale temporary file's writer)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(done.stdout)


@pytest.fixture(scope="session")
def params():
    """The default model parameters of config/model.yaml."""
    return load_model_params(str(ROOT / "config" / "model.yaml"))


@pytest.fixture(scope="session")
def targets():
    """The calibration targets shipped with the project."""
    return read_targets(ROOT / "config" / "targets.yaml")


@pytest.fixture(scope="session")
def typical():
    """One typical FRAME patient without variability (mean baseline of targets.yaml)."""
    return typical_patient("frame")


@pytest.fixture(scope="session")
def frame_trial():
    """The FRAME trial file as a mapping, its phases in days (``trial.phase_units``)."""
    raw = yaml.safe_load((ROOT / "config" / "trials" / "frame.yaml").read_text())
    return {**raw, "arms": normalize_arms(raw["arms"])}


@pytest.fixture(scope="session")
def small_frame_cohort(frame_trial):
    """A screened FRAME cohort of 400 patients per arm."""
    spec = CohortSpec.from_dict(frame_trial["cohort"])
    return sample_cohort(spec, dict.fromkeys(frame_trial["arms"], 400), frame_trial["seed"])


# Test modules whose fixtures run snakemake or calibrations (half a minute to three minutes each
# on the 2-core machine), longest first (issue 28; `pytest --durations=0` of 2026-12-07 17:03,
# seconds per file with both workers busy: uncertainty 196, counterfactual 113, workflow_disk
# 113, calibration 109, calibration_populations 106, workflow 87, sre_workflow 57, engines 48,
# targets 39, power 39, report 38). `make test` schedules whole files on its workers in
# collection order (--dist loadfile --no-loadscope-reorder; xdist's own reorder puts files with
# many tests first, and these have few): they start first, and the short modules fill the
# workers' ends instead of a long one running alone at the end.
HEAVY_FIRST: tuple[str, ...] = (
    "test_uncertainty.py",
    "test_counterfactual.py",
    "test_workflow_disk.py",
    "test_calibration.py",
    "test_calibration_populations.py",
    "test_workflow.py",
    "test_sre_workflow.py",
    "test_engines.py",
    "test_targets.py",
    "test_power.py",
    "test_report.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the tests of ``HEAVY_FIRST`` first, in its order; every other test keeps its place
    (a stable sort, the same on every worker, which xdist requires)."""
    rank = {name: k for k, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(HEAVY_FIRST)))
