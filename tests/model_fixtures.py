"""Fixtures shared by the model tests (imported by the test modules that use them)."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from osteotrial.calibrate import typical_cohort
from osteotrial.cohort import CohortSpec, sample_cohort
from osteotrial.params import load_model_params

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def params():
    """The default model parameters of config/model.yaml."""
    return load_model_params(str(ROOT / "config" / "model.yaml"))


@pytest.fixture(scope="session")
def targets():
    """The calibration targets shipped with the project."""
    return yaml.safe_load((ROOT / "config" / "targets.yaml").read_text())


@pytest.fixture(scope="session")
def typical():
    """One typical FRAME patient without variability."""
    return typical_cohort(70.9, {"LS": -2.72, "TH": -2.47, "FN": -2.75})


@pytest.fixture(scope="session")
def frame_trial():
    """The FRAME trial file as a mapping."""
    return yaml.safe_load((ROOT / "config" / "trials" / "frame.yaml").read_text())


@pytest.fixture(scope="session")
def small_frame_cohort(frame_trial):
    """A screened FRAME cohort of 400 patients per arm."""
    spec = CohortSpec.from_dict(frame_trial["cohort"])
    return sample_cohort(spec, dict.fromkeys(frame_trial["arms"], 400), frame_trial["seed"])


def arm(*phases):
    """Return an ArmSpec from (drug, dose_mg, interval_days, start_day, stop_day) tuples."""
    from osteotrial.schedules import ArmSpec

    keys = ("drug", "dose_mg", "interval_days", "start_day", "stop_day")
    return ArmSpec.from_dict("arm", [dict(zip(keys, p, strict=True)) for p in phases])


def pct_change(traj):
    """Percent change from the first row, shape (n_times, n_patients)."""
    return (traj / traj[0] - 1.0) * 100.0


__all__ = ["params", "targets", "typical", "frame_trial", "small_frame_cohort", "arm",
           "pct_change", "np"]
