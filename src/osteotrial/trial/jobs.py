"""What a workflow job does between its files and the engine: the glue that both reads or
writes (``osteotrial.io``) and runs the model (``osteotrial.engine``), kept out of both so that
IO only reads and writes and the engine never touches a file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from osteotrial.analyses.expected import (
    EXPECTED_SCHEMA,
    event_free,
    expected_table,
    fracture_rows,
)
from osteotrial.analyses.safety_expected import with_safety
from osteotrial.analyses.safety_frames import PatientCovariates
from osteotrial.cohort.sampling import Cohort
from osteotrial.engine.progress import chunk_logger
from osteotrial.engine.simulate import iter_simulate_strata, simulate_strata
from osteotrial.io import write_simulation_stream
from osteotrial.model.params import ModelParams


def simulate_shard(
    trial: Any,
    cohort: Cohort,
    arm: str,
    params: Any,
    population: str,
    path: str | Path,
    shard: str,
) -> None:
    """Simulate one cohort shard under one arm and stream the result to a simulation file.

    ``population`` "randomized" simulates the patients randomized to ``arm``; "counterfactual"
    and "power" every patient of the shard (the counterfactual twins). Patients are taken in
    patient_id order; ``params`` is the ``ModelParams`` to use (the trial's or a drawn set's).
    A trial with strata runs each patient on the plan of his or her stratum (``trial.strata``).
    """
    patients = cohort.select(cohort.arm == arm) if population == "randomized" else cohort
    patients = patients.select(np.argsort(patients.patient_id, kind="stable"))
    label = f"{arm}/{shard}" if population == "randomized" else f"{population}/{arm}/{shard}"
    progress = chunk_logger(f"{trial.name}/{label}")
    chunks = iter_simulate_strata(
        patients,
        trial.arms[arm],
        trial.strata,
        trial.seed,
        params,
        trial.schedule,
        record_pk=False,
        progress=progress,
    )
    write_simulation_stream(chunks, path, trial.provenance(shard=shard))


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
    and ``analyses.expected.fracture_rows`` turns their cumulative hazards into the expected
    incidence of every fracture endpoint and the ratios of the arms' expected incidences: the
    centre of the calibration check of ``calibration.comparison`` (its docstring). Empty when
    ``last_month`` is 0 (a trial without fracture targets).
    """
    if last_month <= 0:
        return pl.from_arrow(EXPECTED_SCHEMA.empty_table())
    schedule = trial.schedule.until(last_month)
    results = {}
    for name, arm in trial.arms.items():
        patients = event_free(cohort.select(cohort.arm == name))
        results[name] = simulate_strata(
            patients, arm, trial.strata, trial.seed, params, schedule, record_pk=False
        )
    rows = fracture_rows(
        results, params, trial.control_arm, schedule.visit_months, schedule.imaging_months
    )
    return pl.from_arrow(pa.Table.from_pylist(rows, schema=EXPECTED_SCHEMA))
