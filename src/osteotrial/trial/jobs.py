"""What a workflow job does between its files and the engine: the glue that both reads or
writes (``osteotrial.io``) and runs the model (``osteotrial.engine``), kept out of both so that
IO only reads and writes and the engine never touches a file."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from osteotrial.analyses.expected import EXPECTED_SCHEMA, event_free, expected_table
from osteotrial.analyses.expected_sums import (
    Sums,
    add_sums,
    chunk_sums,
    fracture_keys,
    rows_from_sums,
    sums_table,
    table_sums,
)
from osteotrial.analyses.safety_expected import with_safety
from osteotrial.analyses.safety_frames import PatientCovariates
from osteotrial.cohort.sampling import Cohort
from osteotrial.engine.progress import chunk_logger
from osteotrial.engine.results import ArmResult
from osteotrial.engine.simulate import iter_simulate_strata, simulate_strata
from osteotrial.io import write_parquet, write_simulation_stream
from osteotrial.model.params import ModelParams


def simulate_shard(
    trial: Any,
    cohort: Cohort,
    arm: str,
    params: Any,
    population: str,
    path: str | Path,
    shard: str,
    sums_path: str | Path | None = None,
    last_month: float = 0.0,
) -> None:
    """Simulate one cohort shard under one arm and stream the result to a simulation file.

    ``population`` "randomized" simulates the patients randomized to ``arm``; "counterfactual"
    and "power" every patient of the shard (the counterfactual twins). Patients are taken in
    patient_id order; ``params`` is the ``ModelParams`` to use (the trial's or a drawn set's).
    A trial with strata runs each patient on the plan of his or her stratum (``trial.strata``).

    ``sums_path``: also write the arm's exact sums of the expected fracture incidences to
    ``last_month`` (the last fracture target; 0: none, an empty table) from the event-free
    hazards of the same pass (``ArmResult.event_free``): the same sums as
    ``trial_expected_fracture_sums`` of these patients, without simulating them again.
    """
    patients = cohort.select(cohort.arm == arm) if population == "randomized" else cohort
    patients = patients.select(np.argsort(patients.patient_id, kind="stable"))
    label = f"{arm}/{shard}" if population == "randomized" else f"{population}/{arm}/{shard}"
    progress = chunk_logger(f"{trial.name}/{label}")
    months = last_month if sums_path is not None else 0.0
    chunks = iter_simulate_strata(
        patients,
        trial.arms[arm],
        trial.strata,
        trial.seed,
        params,
        trial.schedule,
        record_pk=False,
        progress=progress,
        event_free_months=months,
    )
    sums: Sums = {}
    if months > 0:
        chunks = _adding_sums(chunks, sums, arm, params, _fracture_cut(trial, months)[1])
    write_simulation_stream(chunks, path, trial.provenance(shard=shard))
    if sums_path is not None:
        write_parquet(sums_table(sums), sums_path, trial.provenance(shard=shard))


def _fracture_cut(trial: Any, last_month: float) -> tuple[Any, list]:
    """Return the trial's schedule cut at ``last_month`` (the last fracture target) and the keys
    of the fracture endpoints on it (``analyses.expected_sums.fracture_keys``): the one cut that
    the folded sums, the event-free reference and the table from the sums all use."""
    schedule = trial.schedule.until(last_month)
    return schedule, fracture_keys(schedule.visit_months, schedule.imaging_months)


def _adding_sums(
    chunks: Iterator[ArmResult], sums: Sums, arm: str, params: ModelParams, keys: list
) -> Iterator[ArmResult]:
    """Yield ``chunks`` unchanged, adding each chunk's expected-incidence sums to ``sums``."""
    for result in chunks:
        add_sums(sums, chunk_sums(result.event_free(), arm, params, keys))
        yield result


def expected_endpoints(cohort: Cohort, trial: Any, params: ModelParams) -> pl.DataFrame:
    """Return the expected endpoints of ``trial`` (a TrialConfig) under ``params``.

    Every patient of ``cohort`` (the prediction cohort) is simulated event-free under every arm
    and the results go, in memory, to ``analyses.expected.expected_table`` (its docstring).
    """
    return expected_endpoints_of_sets(cohort, trial, [params])[0]


def expected_endpoints_of_sets(
    cohort: Cohort, trial: Any, sets: Sequence[ModelParams]
) -> list[pl.DataFrame]:
    """Return ``expected_endpoints`` of each parameter set of ``sets``, all sets in one engine
    call per arm: the event-free cohort repeated once per set, each copy with its set
    (``simulate_arm``'s ``param_index``), the result cut into one slice per set.

    A job's sets share the packing and the Python around the engine; each set's table equals
    the set run alone exactly (a patient's result depends only on its row and its set).
    """
    patients = event_free(cohort)
    n = patients.n_patients
    tiled = patients.select(np.tile(np.arange(n), len(sets)))
    index = np.repeat(np.arange(len(sets)), n)
    results = {
        name: simulate_strata(
            tiled, arm, trial.strata, trial.seed, sets, trial.schedule, False, param_index=index
        )
        for name, arm in trial.arms.items()
    }
    schedule = trial.schedule
    tables = []
    covariates = PatientCovariates.from_cohort(patients)
    for k, params in enumerate(sets):
        mine = {name: result.patients(k * n, (k + 1) * n) for name, result in results.items()}
        months = (schedule.visit_months, schedule.imaging_months)
        table = expected_table(mine, params, trial.control_arm, *months)
        tables.append(with_safety(table, mine, trial.arms, covariates, params, trial.seed))
    return tables


def trial_expected_fractures(
    cohort: Cohort, trial: Any, params: ModelParams, last_month: float
) -> pl.DataFrame:
    """Return the expected ``fractures`` and ``comparisons`` rows of the trial's own cohort.

    Each arm's randomized patients (the women of the emulated trial, not a prediction cohort)
    are simulated event-free under their arm up to ``last_month`` (the last fracture target),
    and their cumulative hazards give the expected incidence of every fracture endpoint and the
    ratios of the arms' expected incidences (``analyses.expected.fracture_rows``): the centre of
    the calibration check of ``calibration.comparison`` (its docstring). Empty when
    ``last_month`` is 0 (a trial without fracture targets). The same table as
    ``expected_fractures_from_sums`` of any split of ``cohort`` (``analyses.expected_sums``).
    """
    sums = trial_expected_fracture_sums(cohort, trial, params, last_month)
    return expected_fractures_from_sums([sums_table(sums)], trial, last_month)


def trial_expected_fracture_sums(
    cohort: Cohort,
    trial: Any,
    params: ModelParams,
    last_month: float,
    progress_label: str | None = None,
) -> Sums:
    """Return the exact sums behind ``trial_expected_fractures`` for the patients of
    ``cohort`` (a shard or the whole cohort): each arm's randomized patients simulated
    event-free in chunks of ``schedule.chunk_size``, one chunk in memory at a time.
    ``progress_label`` names the job in its log's progress lines (none: no lines)."""
    sums: Sums = {}
    if last_month <= 0:
        return sums
    schedule, keys = _fracture_cut(trial, last_month)
    for name, arm in trial.arms.items():
        patients = event_free(cohort.select(cohort.arm == name))
        if patients.n_patients == 0:
            continue
        label = f"{trial.name}/expected/{name}/{progress_label}"
        progress = chunk_logger(label) if progress_label else None
        chunks = iter_simulate_strata(
            patients, arm, trial.strata, trial.seed, params, schedule, False, progress
        )
        for result in chunks:
            add_sums(sums, chunk_sums(result, name, params, keys))
    return sums


def expected_fractures_from_sums(
    tables: Sequence[pa.Table], trial: Any, last_month: float
) -> pl.DataFrame:
    """Return the expected fracture table from the ``sums_table`` of every part of the cohort
    (one per shard), added exactly: the same rows whatever the number of parts."""
    if last_month <= 0:
        return pl.from_arrow(EXPECTED_SCHEMA.empty_table())
    keys = _fracture_cut(trial, last_month)[1]
    rows = rows_from_sums(table_sums(tables), list(trial.arms), trial.control_arm, keys)
    return pl.from_arrow(pa.Table.from_pylist(rows, schema=EXPECTED_SCHEMA))
