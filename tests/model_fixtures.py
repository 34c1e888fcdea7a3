"""Small helpers shared by the model tests (the fixtures are in conftest.py)."""

from osteotrial.trial.schedules import ArmSpec


def arm(*phases):
    """Return an ArmSpec from (drug, dose_mg, interval_days, start_day, stop_day) tuples."""
    keys = ("drug", "dose_mg", "interval_days", "start_day", "stop_day")
    return ArmSpec.from_dict("arm", [dict(zip(keys, p, strict=True)) for p in phases])


def pct_change(traj):
    """Percent change from the first row, shape (n_times, n_patients)."""
    return (traj / traj[0] - 1.0) * 100.0
