"""Expected safety endpoints of a parameter set, for the prediction intervals.

The share of patients with a first event of each safety type (``analyses.safety_frames``:
ONJ, AFF, MACE) by the end of the run, as an expected value over the prediction cohort: each
patient's cumulative hazard (on the record days) turned into the probability of an event
before death and dropout (``analyses.expected.competing_incidence``), averaged; hypocalcemia
by grade (``analyses.calcium_frames``) is deterministic given the set: its share within
follow-up. With the
drawn MACE hazard ratio of romosozumab (``calibration.safety.uncertainty_block``) the sets'
expected shares spread with the effect's stated CI, and ``analyses.prediction`` puts the
binomial sampling at the trial's size around each (rows of table ``safety_events``, statistic
``share``, time the end of the run in months, ``safety_month``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl
import pyarrow as pa

from osteotrial.analyses import calcium_frames
from osteotrial.analyses import safety_frames as sf
from osteotrial.analyses.expected import EXPECTED_SCHEMA, competing_incidence
from osteotrial.engine.results import ArmResult
from osteotrial.model.params import ModelParams
from osteotrial.trial.schedules import ArmSpec
from osteotrial.units import DAYS_PER_MONTH

MONTH_DIGITS = 3  # the month key of the rows (the nominal table rounds it the same way)


def safety_month(last_day: float) -> float:
    """Return the month key of the safety rows: the run's last day in months, rounded."""
    return round(float(last_day) / DAYS_PER_MONTH, MONTH_DIGITS)


def safety_rows(
    results: Mapping[str, ArmResult],
    arms: Mapping[str, ArmSpec],
    covariates: sf.PatientCovariates,
    params: ModelParams,
    seed: int,
) -> list[dict]:
    """Return the expected ``safety_events`` rows (``analyses.expected.EXPECTED_SCHEMA``) of
    one parameter set; ``covariates``: the cohort's (every result's patients among them)."""
    rows = []
    for name, result in results.items():
        grid, hazards, _ = sf.cumulative_hazards(
            result, arms[name], covariates, params.safety, seed
        )
        days = result.record_days
        at = np.broadcast_to(days[:, np.newaxis], (days.size, result.n_patients))
        month = safety_month(days[-1])
        shares = {
            event: competing_incidence(result, sf._interp(grid, h, at), days[-1])
            for event, h in hazards.items()
        }
        if result.calcium is not None:  # hypocalcemia: deterministic, no hazard to integrate
            shares |= calcium_frames.shares_within_follow_up(result)
        for event, share in shares.items():
            rows.append(
                {"table": "safety_events", "arm": name, "reference_arm": None,
                 "endpoint": event, "time": month, "statistic": "share", "value": share,
                 "sd": None, "incidence": share, "reference_incidence": None}
            )  # fmt: skip
    return rows


def with_safety(
    table: pl.DataFrame,
    results: Mapping[str, ArmResult],
    arms: Mapping[str, ArmSpec],
    covariates: sf.PatientCovariates,
    params: ModelParams,
    seed: int,
) -> pl.DataFrame:
    """Return an expected table (``analyses.expected.expected_table``) with the set's safety
    rows appended."""
    rows = safety_rows(results, arms, covariates, params, seed)
    return pl.concat([table, pl.from_arrow(pa.Table.from_pylist(rows, schema=EXPECTED_SCHEMA))])
