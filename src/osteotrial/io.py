"""Parquet input and output: one explicit pyarrow schema per table, provenance, atomic writes.

Tables (the output contract; README.md shows how to read them):

- ``cohort``: one row per patient, the fields of ``osteotrial.cohort.sampling.Cohort``.
- ``simulation``: long format, one row per (patient, record day), sorted by patient_id then day.
  Per-patient columns (event days, death and dropout day) are repeated on every row of the
  patient, so ``filter(pl.col("day") == 0)`` gives one row per patient. Event days are days
  since randomization; null means the event did not happen in the simulated span, and
  ``dropout_day`` is inf for a patient never lost to follow-up.
- endpoint tables ``bmd``, ``markers``, ``fractures``, ``comparisons``, ``baseline``, each with
  ``month`` (``baseline``: 0; ``markers`` next to ``day``); ``SRE_TABLES`` for SRE trials only;
  ``SAFETY_TABLES`` (``analyses.safety``) for every trial.

Every file carries schema metadata ``config_hash``, ``seed``, ``trial``, ``osteotrial_version``
and ``git_commit`` (plus ``arm``/``shard`` where they apply). Files are written to
``<name>.tmp-<pid>`` and renamed, so a reader never sees half a file; each records in its
key-value metadata what it holds (``osteotrial.integrity``: rows, patients, a data checksum).
Missing values are written as nulls, never NaN (``nan_to_null``), in every table: SQL
``IS NULL``, polars and pandas then agree, and ``Table.equals`` holds for equal tables; numpy
readers get NaN back.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from osteotrial.cohort.sampling import MAX_EVENTS, Cohort
from osteotrial.endpoint_schemas import (  # noqa: F401 (the io API)
    ENDPOINT_SCHEMAS,
    ENDPOINT_TABLES,
    SAFETY_SCHEMAS,
    SAFETY_TABLES,
    SRE_SCHEMAS,
    SRE_TABLES,
)
from osteotrial.engine.inputs import METASTASIS
from osteotrial.engine.inputs import SAFETY as SAFETY_COLUMNS
from osteotrial.engine.results import ArmResult
from osteotrial.integrity import HashingSink, integrity_metadata
from osteotrial.provenance import git_commit, provenance  # noqa: F401 (the io API)
from osteotrial.units import DAYS_PER_MONTH

F64, I64, BOOL, STR = pa.float64(), pa.int64(), pa.bool_(), pa.string()

COHORT_SCHEMA = pa.schema(
    [("patient_id", I64), ("candidate_id", I64), ("arm", STR), ("age_years", F64)]
    + [("bmi_kg_m2", F64), ("bmd_ls_g_cm2", F64), ("bmd_th_g_cm2", F64), ("bmd_fn_g_cm2", F64)]
    + [("tscore_ls", F64), ("tscore_th", F64), ("tscore_fn", F64)]
    + [("prevalent_vertebral_fracture_count", I64), ("prevalent_vertebral_fracture_max_grade", I64)]
    + [("prior_nonvertebral_fracture", BOOL), ("prior_hip_fracture", BOOL), ("sex", STR)]
    + [("egfr_ml_min_1_73m2", F64), ("creatinine_clearance_ml_min", F64)]
    + [
        (f"mult_{drug}_{kind}", F64)
        for drug in ("denosumab", "romosozumab")
        for kind in ("clearance", "volume")
    ]
    + [("mult_bone_turnover", F64), ("mult_bmd_loss_rate", F64), ("mult_fracture_frailty", F64)]
    + [(f"mult_{drug}_sensitivity", F64) for drug in ("denosumab", "romosozumab")]
    + [("mult_mineralization_rate", F64)]
    + [(f"threshold_{kind}_{k}", F64) for kind, n in MAX_EVENTS.items() for k in range(1, n + 1)]
    + [("threshold_death", F64), ("dropout_day", F64)]
    + [(f"u_vertebral_clinical_{k}", F64) for k in range(1, MAX_EVENTS["vertebral"] + 1)]
    + [("tumour_burden0_rel", F64), ("lesion_lytic_frac", F64), ("cancer_death_per_year", F64)]
    + [("prior_skeletal_event", BOOL)]  # issue 26: a skeletal-related event before entry
    # issue 27, calcium (cohort.calcium)
    + [("dialysis", BOOL), ("serum_calcium_z", F64)]
    # issue 27, rest27: covariates of the rare harms (cohort.safety)
    + [("prior_cardiovascular_disease", BOOL), ("dental_propensity", F64)]
    + [("vitamin_d_deficient", BOOL)]  # issue 27: vitamin D deficiency
)

# issue 27, calcium (engine.inputs.CALCIUM): serum calcium, its nadir so far (mmol/L), the
# first day below each hypocalcemia grade threshold (nan: not yet)
CALCIUM_COLUMNS = (
    "serum_calcium_mmol_l",
    "calcium_nadir_mmol_l",
    *(f"hypocalcemia_grade_{g}_day" for g in (1, 2, 3)),
)
NAN = float("nan")

# Bone structure per site (model.bone): BV/TV, porosity (fractions), strength (rel. baseline)
STRUCTURE_MEASURES = ("trabecular_bvtv", "cortical_porosity", "strength_rel")
STRUCTURE_COLUMNS = tuple(f"{m}_{s}" for m in STRUCTURE_MEASURES for s in ("ls", "th", "fn"))
# ArmResult.metastasis key -> simulation column (tumour burden, cumulative hazards)
TUMOUR_COLUMNS: dict[str, str] = {
    name: "tumour_burden_rel" if name == "tumour_burden" else f"cum_hazard_{name}"
    for name in METASTASIS
}
SIMULATION_SCHEMA = pa.schema(
    [("patient_id", I64), ("arm", STR), ("day", F64), ("month", F64)]
    + [("bmd_ls_g_cm2", F64), ("bmd_th_g_cm2", F64), ("bmd_fn_g_cm2", F64)]
    + [("p1np_pct_change", F64), ("ctx_pct_change", F64)]
    + [("untx_pct_change", F64)]  # urinary NTX: the same resorption signal (the SRE page's name)
    + [(name, F64) for name in STRUCTURE_COLUMNS]
    + [(f"{kind}_fracture_day_{k}", F64) for kind, n in MAX_EVENTS.items() for k in range(1, n + 1)]
    + [(f"vertebral_fracture_clinical_{k}", BOOL) for k in range(1, MAX_EVENTS["vertebral"] + 1)]
    + [("death_day", F64), ("dropout_day", F64)]
    # Tumour in bone (model.metastasis; engine.inputs.METASTASIS): the burden relative to the
    # typical burden at entry and the cumulative hazards of the SRE types and of death from the
    # cancer, from which analyses.sre_frames draws the events; exactly 0 without a tumour
    # (constant columns: a few hundred bytes per file), null where no result carried them.
    + [(name, F64) for name in TUMOUR_COLUMNS.values()]
    # safety exposures (model.safety; issue 27 safe): analyses.safety_frames reads them
    + [(name, F64) for name in SAFETY_COLUMNS]
    + [(name, F64) for name in CALCIUM_COLUMNS]  # issue 27, calcium
)

# Parameter uncertainty (osteotrial.calibration.parameter_sets,
# osteotrial.analyses.prediction): the drawn values of
# every set, and prediction intervals next to every endpoint (README.md, docs/analyses.md).
PARAMETER_SETS_SCHEMA = pa.schema(
    [("parameter_set", STR), ("parameter", STR), ("trial_value", F64), ("value", F64)]
    + [("log_shift", F64)]
)
PREDICTION_INTERVALS_SCHEMA = pa.schema(
    [("table", STR), ("arm", STR), ("reference_arm", STR), ("endpoint", STR), ("time", F64)]
    + [("time_unit", STR), ("month", F64), ("statistic", STR), ("estimate", F64), ("ci_low", F64)]
    + [("ci_high", F64), ("pi_low", F64), ("pi_high", F64), ("param_low", F64)]
    + [("param_high", F64), ("level", F64), ("n_parameter_sets", I64)]
)


def _values(column: Any) -> Any:
    return column if isinstance(column, list) else np.asarray(column)


def to_table(columns: Mapping[str, Any], schema: pa.Schema, name: str) -> pa.Table:
    """Return a table with exactly the columns of ``schema``; raise ValueError otherwise.

    ``columns`` maps column name to a 1-D array-like (a dict, or a polars/pandas frame).
    """
    names = set(columns.columns if hasattr(columns, "columns") else columns)
    unknown = sorted(names - set(schema.names))
    missing = sorted(set(schema.names) - names)
    if unknown or missing:
        raise ValueError(f"table {name!r}: unknown columns {unknown}, missing columns {missing}")
    arrays = [pa.array(_values(columns[f.name]), type=f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def nan_to_null(table: pa.Table) -> pa.Table:
    """Return ``table`` with every NaN of a floating-point column replaced by null.

    NaN is what numpy computes for "no value"; on disk a missing value is a null, which every
    reader (SQL, polars, pandas, pyarrow) treats as missing. Infinities are kept (a patient
    never lost to follow-up has ``dropout_day`` inf).
    """
    columns = []
    for column in table.columns:
        if pa.types.is_floating(column.type):
            column = pc.if_else(pc.is_nan(column), pa.scalar(None, column.type), column)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=table.schema)


def write_parquet(table: pa.Table, path: str | Path, metadata: Mapping[str, str]) -> None:
    """Write ``table`` with ``metadata`` atomically (``write_row_groups`` with one table).

    NaN values are written as nulls (``nan_to_null``).
    """
    write_row_groups([table], path, metadata)


def _patients(table: pa.Table) -> int | None:
    """Return the number of distinct patient_id of ``table``, None if it has no such column."""
    if "patient_id" not in table.column_names:
        return None
    return int(pc.count_distinct(table.column("patient_id")).as_py())


def write_row_groups(
    tables: Iterable[pa.Table], path: str | Path, metadata: Mapping[str, str]
) -> None:
    """Write ``tables`` (one schema; disjoint patients) as the row groups of one file.

    Atomic: ``<path>.tmp-<pid>``, then os.replace, so a reader never sees half a file. The
    schema carries ``metadata``; the file's key-value metadata also records what was written
    (``osteotrial.integrity``: rows, patients, the digest of the data bytes), so that a later
    change on disk is found before the file is used (``storage.check_shards``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as raw:
            _write_recorded(tables, HashingSink(raw), {k: str(v) for k, v in metadata.items()})
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_recorded(tables: Iterable[pa.Table], sink: HashingSink, meta: dict[str, str]) -> None:
    """Write ``tables`` to ``sink``, then the integrity record and the footer."""
    writer, rows, patients = None, 0, 0
    try:
        for table in tables:
            table = nan_to_null(table).replace_schema_metadata(meta)
            if writer is None:
                writer = pq.ParquetWriter(sink, table.schema, compression="zstd")
            writer.write_table(table)
            rows, counted = rows + table.num_rows, _patients(table)
            patients = None if counted is None else (patients or 0) + counted
        if writer is None:
            raise ValueError("no table to write")
        writer.add_key_value_metadata(integrity_metadata(rows, patients, sink.hexdigest()))
    except BaseException:
        if writer is not None:
            with contextlib.suppress(Exception):  # the first error is the one to report
                writer.close()
        raise
    writer.close()


def read_frame(path: str | Path, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """Return a Parquet table (only ``columns`` if given: the others are not read) as a polars
    frame whose float nulls are NaN.

    Files hold nulls (``nan_to_null``); the analyses and figures compute with numpy, where a
    missing number is NaN, so their readers take tables through here.
    """
    frame = pl.read_parquet(path, columns=None if columns is None else list(columns))
    return frame.with_columns(pl.col(pl.Float32, pl.Float64).fill_null(float("nan")))


def read_metadata(path: str | Path) -> dict[str, str]:
    """Return the provenance metadata of a Parquet file as a str -> str mapping."""
    raw = pq.read_schema(path).metadata or {}
    return {k.decode(): v.decode() for k, v in raw.items() if not k.startswith(b"ARROW:")}


def shard_blocks(patient_id: np.ndarray, n_shards: int) -> list[np.ndarray]:
    """Return the row indices of each shard: contiguous blocks of sorted patient_id.

    The first ``n % n_shards`` shards get one patient more than the others.
    """
    order = np.argsort(patient_id, kind="stable")
    return np.array_split(order, n_shards)


def shard_sizes(n_patients: int, n_shards: int) -> list[int]:
    """Return the number of patients of each shard of a cohort of ``n_patients``
    (``shard_blocks``' split; the pre-run check knows each cohort shard's size from it)."""
    return [len(rows) for rows in shard_blocks(np.arange(n_patients), n_shards)]


def write_cohort_shards(
    cohort: Cohort, paths: Sequence[str | Path], metadata: Mapping[str, str]
) -> None:
    """Write the cohort split into ``len(paths)`` shards of consecutive patient_id."""
    blocks = shard_blocks(cohort.patient_id, len(paths))
    for path, rows in zip(paths, blocks, strict=True):
        table = to_table(cohort.select(rows).to_columns(), COHORT_SCHEMA, "cohort")
        write_parquet(table, path, {**metadata, "shard": Path(path).stem})


def read_cohort(paths: str | Path | Sequence[str | Path]) -> Cohort:
    """Read one or several cohort shard files into one Cohort sorted by patient_id."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    table = pa.concat_tables([pq.read_table(p, schema=COHORT_SCHEMA) for p in paths])
    table = table.sort_by("patient_id")
    return Cohort.from_columns(
        {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
    )


def _event_columns(result: ArmResult, order: np.ndarray, n_times: int) -> dict[str, np.ndarray]:
    """Return per-patient event columns, patients in ``order``, each repeated n_times."""
    columns: dict[str, np.ndarray] = {}
    for kind, n_events in MAX_EVENTS.items():
        days = np.asarray(result.fracture_days(kind), dtype=np.float64)
        if days.shape != (n_events, result.n_patients):
            raise ValueError(
                f"ArmResult.{kind}_fracture_days has shape {days.shape}; "
                f"expected ({n_events}, {result.n_patients})"
            )
        for k in range(n_events):
            columns[f"{kind}_fracture_day_{k + 1}"] = np.repeat(days[k, order], n_times)
    clinical = np.asarray(result.vertebral_fracture_clinical, dtype=bool)
    for k in range(MAX_EVENTS["vertebral"]):
        columns[f"vertebral_fracture_clinical_{k + 1}"] = np.repeat(clinical[k, order], n_times)
    for name in ("death_day", "dropout_day"):
        columns[name] = np.repeat(
            np.asarray(getattr(result, name), dtype=np.float64)[order], n_times
        )
    return columns


def simulation_table(result: ArmResult) -> pa.Table:
    """Return the long-format table of one arm's result, sorted by patient_id then day.

    Trajectories of shape (n_times, n_patients) become one row per (patient, record day);
    markers are written as percent change from the patient's baseline (rel 1.0 -> 0 %).
    """
    order = np.argsort(result.patient_id, kind="stable")
    n_times, n_patients = len(result.record_days), result.n_patients

    def long(values: np.ndarray) -> np.ndarray:  # (n_times, n_patients) -> patient-major rows
        return np.asarray(values, dtype=np.float64)[:, order].T.reshape(-1)

    days = np.tile(np.asarray(result.record_days, dtype=np.float64), n_patients)
    columns: dict[str, np.ndarray] = {
        "patient_id": np.repeat(np.asarray(result.patient_id)[order], n_times),
        "arm": np.full(n_times * n_patients, result.arm, dtype=object),
        "day": days,
        "month": days / DAYS_PER_MONTH,
        "bmd_ls_g_cm2": long(result.bmd_ls_g_cm2),
        "bmd_th_g_cm2": long(result.bmd_th_g_cm2),
        "bmd_fn_g_cm2": long(result.bmd_fn_g_cm2),
        "p1np_pct_change": (long(result.p1np_rel) - 1.0) * 100.0,
        "ctx_pct_change": (long(result.ctx_rel) - 1.0) * 100.0,
        "untx_pct_change": (long(result.ctx_rel) - 1.0) * 100.0,
    }
    for name in STRUCTURE_COLUMNS:
        columns[name] = long(result.structure_of(name))
    columns.update(_event_columns(result, order, n_times))
    for key, name in TUMOUR_COLUMNS.items():
        none = np.full((n_times, n_patients), np.nan)
        columns[name] = long(none if result.metastasis is None else result.metastasis[key])
    for name in SAFETY_COLUMNS:  # nan (null) for a result without safety exposures
        safety = result.safety[name] if result.safety else np.full((n_times, n_patients), np.nan)
        columns[name] = long(safety)
    for name in CALCIUM_COLUMNS:
        values = result.calcium[name] if result.calcium else np.full((n_times, n_patients), NAN)
        columns[name] = long(values)
    return to_table(columns, SIMULATION_SCHEMA, "simulation")


def write_simulation(result: ArmResult, path: str | Path, metadata: Mapping[str, str]) -> None:
    """Write one arm's result of one shard (see ``simulation_table``) atomically."""
    write_parquet(simulation_table(result), path, {**metadata, "arm": result.arm})


def write_simulation_stream(
    results: Iterable[ArmResult], path: str | Path, metadata: Mapping[str, str]
) -> None:
    """Write chunk results of one arm and shard as they come, one row group per chunk.

    Chunks must come in increasing patient_id (as ``simulate.iter_simulate_arm`` yields them
    for a cohort sorted by patient_id); the file is then the same table as
    ``write_simulation`` writes, and only one chunk is in memory at a time. Atomic and
    recorded as ``write_row_groups``.
    """
    results = iter(results)
    first = next(results, None)
    if first is None:
        raise ValueError(f"no chunk results to write to {path}")
    tables = _increasing_tables(itertools.chain([first], results))
    write_row_groups(tables, path, {**metadata, "arm": first.arm})


def _increasing_tables(results: Iterable[ArmResult]) -> Iterator[pa.Table]:
    """Yield the non-empty simulation tables of ``results`` (one empty table if all are);
    raise ValueError if patient_id does not increase from one chunk to the next."""
    last_id, empty = -1, None
    for result in results:
        table = simulation_table(result)
        if len(table) == 0:
            empty = table
            continue
        ids = table.column("patient_id")
        if pc.min(ids).as_py() <= last_id:
            raise ValueError("chunks must come in increasing patient_id")
        last_id = pc.max(ids).as_py()
        yield table
    if last_id < 0 and empty is not None:
        yield empty


def write_endpoint_table(
    name: str, columns: Mapping[str, Any], path: str | Path, metadata: Mapping[str, str]
) -> None:
    """Write one endpoint table (``name`` in ENDPOINT_TABLES, SRE_TABLES or SAFETY_TABLES),
    explicit schema."""
    schemas = {**ENDPOINT_SCHEMAS, **SRE_SCHEMAS, **SAFETY_SCHEMAS}
    if name not in schemas:
        raise ValueError(f"endpoint table {name!r} is unknown; allowed: {tuple(schemas)}")
    write_parquet(to_table(columns, schemas[name], name), path, metadata)
