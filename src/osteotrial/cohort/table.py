"""Baseline tables of real patients (a registry extract, another trial's baseline): read, check.

A trial file may name a CSV or Parquet table (``cohort.table``) with one row per patient. Its
columns (units in the names, as everywhere in osteotrial) are ``TABLE_COLUMNS``; only
``age_years`` is required. A column may be absent, and a value may be missing (empty cell,
``NA``, ``NaN``, ``null``): missing covariates are drawn later from the source population
conditional on the given ones (``osteotrial.cohort.conditional``). BMD in g/cm2 is turned into
T-scores with the model's young-adult reference (``osteotrial.model.tscore``); a site is given
either as a T-score or as a BMD, never both. A ``sex`` column (F/M, female/male, woman/man) gives
each row's sex: a man's BMD is turned into a T-score with the men's reference, and he runs on
the men's parameter set (``osteotrial.model.sex``; calibrated on ADAMO and BRIDGE). Without
the column every row is taken as a woman, and every run says so (``trial.scope_check``).
Kidney function (``egfr_ml_min_1_73m2``, ``creatinine_clearance_ml_min``) is optional: a
missing value is drawn or derived (``osteotrial.cohort.kidney``).

Every problem of the table is collected and reported at once, as one ``ValueError`` that names
the file, the column, the rows (1 = first data row) and the allowed values, before any
simulation work. The checks are written by hand: a dataframe validation library (pandera) was
tried, but its polars backend reports failed type coercions for the whole frame, without row
or column, so the messages would have needed this layer anyway.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from osteotrial.arrays import FloatArray, IntArray
from osteotrial.cohort.kidney import CRCL_LIMITS, EGFR_LIMITS
from osteotrial.cohort.population import MAX_PREVALENT_VERTEBRAL, POPULATION_SEX, PopulationParams
from osteotrial.model.tscore import SEXES, bmd_to_tscore, reference_g_cm2

TSCORE_LIMITS = (-7.0, 4.0)  # as the eligibility windows (cohort.sampling)
BMI_LIMITS_KG_M2 = (12.0, 70.0)
GRADE_COLUMNS: tuple[str, ...] = tuple(
    f"prevalent_vertebral_fracture_{grade}_count" for grade in ("mild", "moderate", "severe")
)
FLAG_TEXT: dict[str, str] = {"true": "1", "false": "0", "yes": "1", "no": "0"}
NULL_TEXT: tuple[str, ...] = ("", "NA", "NaN", "nan", "null", "NULL")
MAX_LISTED_ROWS = 10
KIDNEY_COLUMNS: tuple[str, ...] = ("egfr_ml_min_1_73m2", "creatinine_clearance_ml_min")
# The ``sex`` column: its spellings (case and spaces ignored). A table without the column is
# taken as all POPULATION_SEX (``trial.scope_check`` says so at every run).
SEX_TEXT: dict[str, str] = {
    "f": "female",
    "female": "female",
    "woman": "female",
    "w": "female",
    "m": "male",
    "male": "male",
    "man": "male",
}


@dataclass(frozen=True)
class ColumnSpec:
    """One documented column: kind (number, count, flag, id), unit, inclusive range, hint."""

    name: str
    kind: str
    unit: str
    low: float
    high: float
    hint: str = ""


def table_columns(pop: PopulationParams) -> dict[str, ColumnSpec]:
    """Return the documented columns of a baseline table, by name (ranges follow ``pop``)."""
    ages = (pop.age_years_lower, pop.age_years_upper)
    specs = [
        ColumnSpec("source_id", "id", "integer >= 0, unique", 0, 2**62),
        ColumnSpec("sex", "sex", "F/M, female/male or woman/man; every row", 0, 0),
        ColumnSpec("age_years", "number", "years", *ages, "the population model's age range"),
        ColumnSpec("bmi_kg_m2", "number", "kg/m2", *BMI_LIMITS_KG_M2, "weight / height^2"),
    ]
    for site in ("ls", "th", "fn"):
        refs = [reference_g_cm2(site.upper(), sex) for sex in SEXES]
        specs.append(ColumnSpec(f"tscore_{site}", "number", "SD", *TSCORE_LIMITS))
        low = round(min(mean + TSCORE_LIMITS[0] * sd for mean, sd in refs), 3)
        high = round(max(mean + TSCORE_LIMITS[1] * sd for mean, sd in refs), 3)
        hint = "BMD must be in g/cm2 (0.8, not 800 mg/cm2): the BMD of T-scores -7 to 4"
        specs.append(ColumnSpec(f"bmd_{site}_g_cm2", "number", "g/cm2", low, high, hint))
    for name in ("prevalent_vertebral_fracture_count", *GRADE_COLUMNS):
        specs.append(ColumnSpec(name, "count", "fractures", 0, MAX_PREVALENT_VERTEBRAL))
    for name in ("prior_nonvertebral_fracture", "prior_hip_fracture"):
        specs.append(ColumnSpec(name, "flag", "true/false, yes/no or 1/0", 0, 1))
    hint = "CKD-EPI 2021"
    specs.append(ColumnSpec("egfr_ml_min_1_73m2", "number", "mL/min/1.73 m2", *EGFR_LIMITS, hint))
    hint = "Cockcroft-Gault, mL/min (not normalized to body surface)"
    specs.append(ColumnSpec("creatinine_clearance_ml_min", "number", "mL/min", *CRCL_LIMITS, hint))
    return {spec.name: spec for spec in specs}


@dataclass(frozen=True)
class BaselineTable:
    """A checked baseline table: one float array per covariate, shape (n_rows,), NaN = missing.

    ``source_id`` keys every random stream of the row's patient (the table's ``source_id``
    column, else the row index 0..n-1). Keys of ``values``: age_years, bmi_kg_m2,
    tscore_ls/th/fn (BMD already converted), prevalent_vertebral_fracture_count and the three
    grade counts, prior_nonvertebral_fracture and prior_hip_fracture (1.0 / 0.0),
    egfr_ml_min_1_73m2 and creatinine_clearance_ml_min. ``sex``: "female" or "male" per row.
    """

    path: str
    source_id: IntArray
    values: dict[str, FloatArray]
    sex: np.ndarray

    @property
    def n_rows(self) -> int:
        """Number of patients (rows) in the table."""
        return int(self.source_id.shape[0])


def read_baseline_table(path: str | Path, pop: PopulationParams | None = None) -> BaselineTable:
    """Read and check a CSV or Parquet baseline table (module docstring).

    Raises
    ------
    ValueError
        Naming the file and every problem: unknown or missing columns, unreadable or
        out-of-range values (column, rows, allowed range), contradictions between columns.
    """
    pop = pop or PopulationParams()
    frame = _read_frame(Path(path))
    specs = table_columns(pop)
    problems = _check_columns(frame.columns, specs)
    if problems:
        raise ValueError(_message(path, problems))
    values: dict[str, FloatArray] = {}
    sex = np.full(frame.height, POPULATION_SEX)
    for name in frame.columns:
        if name == "sex":
            sex, sex_problem = read_sex(frame[name])
            problems += sex_problem
            continue
        column, column_problems = _numbers(frame[name], specs[name])
        values[name] = column
        problems += column_problems
    problems += _check_rows(values)
    if problems:
        raise ValueError(_message(path, problems))
    return _build(str(path), values, sex)


def _read_frame(path: Path) -> pl.DataFrame:
    """Return the table as a polars frame; ValueError if missing, unreadable or empty."""
    if not path.is_file():
        raise ValueError(f"cohort.table: file {str(path)!r} not found")
    try:
        if path.suffix.lower() == ".csv":
            _check_csv_fields(path)
            frame = pl.read_csv(path, infer_schema=False, null_values=list(NULL_TEXT))
        elif path.suffix.lower() == ".parquet":
            frame = pl.read_parquet(path)
        else:
            raise ValueError(f"cohort.table {str(path)!r}: the name must end in .csv or .parquet")
    except (pl.exceptions.PolarsError, OSError) as error:
        raise ValueError(f"cohort.table {str(path)!r} cannot be read: {error}") from error
    if frame.height == 0:
        raise ValueError(f"cohort.table {str(path)!r} has no rows")
    return frame


def read_sex(series: pl.Series) -> tuple[np.ndarray, list[str]]:
    """Return the ``sex`` column as "female"/"male" per row and its problems (missing or
    unknown values)."""
    text = series.cast(pl.String).str.strip_chars().str.to_lowercase().to_numpy()
    sex = np.array([SEX_TEXT.get(v, "") if isinstance(v, str) else "" for v in text])
    spec = table_columns(PopulationParams())["sex"]
    problems = []
    unknown = sex == ""
    if unknown.any():
        shown = series.to_numpy()[unknown]
        problems.append(_rows_problem(spec, unknown, shown, f"allowed: {spec.unit}"))
    return np.where(unknown, POPULATION_SEX, sex).astype(str), problems


def table_has_sex(path: str | Path) -> bool:
    """Return whether a baseline table has a ``sex`` column (without it, rows are women)."""
    return "sex" in _read_frame(Path(path)).columns


def _check_csv_fields(path: Path, shown: int = 5) -> None:
    """Raise ValueError naming the file and the lines (the header is line 1) whose number of
    fields differs from the header's: an extra or a missing separator shifts or cuts a row,
    which the CSV reader would report without a line number, or pad silently with nulls."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            n_fields = len(next(reader, []))
            bad = [(reader.line_num, len(row)) for row in reader if row and len(row) != n_fields]
    except (UnicodeDecodeError, csv.Error):
        return  # not a text CSV: the CSV reader's own error names the problem
    if bad:
        lines = "; ".join(f"line {line} has {n} fields" for line, n in bad[:shown])
        more = f" (and {len(bad) - shown} more lines)" if len(bad) > shown else ""
        raise ValueError(
            f"cohort.table {str(path)!r}: {len(bad)} row(s) with a number of fields other than "
            f"the header's {n_fields}: {lines}{more}; check for a missing or extra comma"
        )


def _check_columns(columns: list[str], specs: dict[str, ColumnSpec]) -> list[str]:
    """Return the problems of the column set (unknown, required, T-score and BMD, grades)."""
    problems = []
    unknown = sorted(set(columns) - set(specs))
    if unknown:
        problems.append(f"unknown column(s) {unknown}; valid columns are {list(specs)}")
    if "age_years" not in columns:
        problems.append("column 'age_years' is required (years)")
    for site in ("ls", "th", "fn"):
        if f"tscore_{site}" in columns and f"bmd_{site}_g_cm2" in columns:
            problems.append(
                f"give either 'tscore_{site}' or 'bmd_{site}_g_cm2', not both (BMD is turned "
                "into a T-score with the model's young-adult reference)"
            )
    present = [name for name in GRADE_COLUMNS if name in columns]
    if present and len(present) != len(GRADE_COLUMNS):
        problems.append(f"grade columns come together: {list(GRADE_COLUMNS)}; got {present}")
    return problems


def _numbers(series: pl.Series, spec: ColumnSpec) -> tuple[FloatArray, list[str]]:
    """Return a column as floats (NaN = missing) and its problems (text, range, integers)."""
    if spec.kind == "flag" and series.dtype in (pl.String, pl.Utf8):
        series = (
            series.str.strip_chars()
            .str.to_lowercase()
            .replace_strict(FLAG_TEXT, default=series.str.strip_chars(), return_dtype=pl.String)
        )
    given = series.is_not_null().to_numpy()
    values = series.cast(pl.Float64, strict=False).to_numpy().astype(np.float64)
    problems = []
    unreadable = given & np.isnan(values)
    if unreadable.any() and series.dtype in (pl.String, pl.Utf8):
        text = series.to_numpy()[unreadable]
        problems.append(_rows_problem(spec, unreadable, text, f"not a number ({spec.unit})"))
    values[unreadable] = np.nan
    present = ~np.isnan(values)
    outside = present & ((values < spec.low) | (values > spec.high))
    if outside.any():
        allowed = f"allowed {spec.low:g} - {spec.high:g} {spec.unit}"
        hint = f"; {spec.hint}" if spec.hint else ""
        problems.append(_rows_problem(spec, outside, values[outside], allowed + hint))
    if spec.kind != "number":
        fractional = present & ~outside & (values != np.round(values))
        if fractional.any():
            whole = f"must be whole ({spec.unit})"
            problems.append(_rows_problem(spec, fractional, values[fractional], whole))
    if spec.name == "age_years" and (~given).any():
        problems.append(_rows_problem(spec, ~given, None, "age_years is required in every row"))
    return values, problems


def _check_rows(values: dict[str, FloatArray]) -> list[str]:
    """Return the problems that involve several columns of a row (and duplicate ids)."""
    problems = []
    if "source_id" in values:
        ids = values["source_id"]
        _, first, counts = np.unique(ids, return_index=True, return_counts=True)
        duplicated = np.isin(ids, ids[first[counts > 1]])
        if duplicated.any() or np.isnan(ids).any():
            bad = duplicated | np.isnan(ids)
            problems.append(_rows_problem("source_id", bad, ids[bad], "unique, no missing"))
    if "prior_hip_fracture" in values and "prior_nonvertebral_fracture" in values:
        hip_only = (values["prior_hip_fracture"] == 1) & (
            values["prior_nonvertebral_fracture"] == 0
        )
        if hip_only.any():
            problems.append(
                _rows_problem(
                    "prior_hip_fracture",
                    hip_only,
                    None,
                    "a hip fracture is a "
                    "nonvertebral fracture: prior_nonvertebral_fracture must be true",
                )
            )
    if GRADE_COLUMNS[0] in values:
        problems += _check_grades(values)
    return problems


def _check_grades(values: dict[str, FloatArray]) -> list[str]:
    """Return the problems of the grade counts: all or none given per row, sum, count."""
    grades = np.stack([values[name] for name in GRADE_COLUMNS])
    problems = []
    partial = np.isnan(grades).any(axis=0) & ~np.isnan(grades).all(axis=0)
    if partial.any():
        problems.append(_rows_problem("grade counts", partial, None, "all three or none"))
    total = grades.sum(axis=0)
    too_many = total > MAX_PREVALENT_VERTEBRAL
    if too_many.any():
        problems.append(
            _rows_problem("grade counts", too_many, total[too_many], "sum 0 - 4 fractures")
        )
    count = values.get("prevalent_vertebral_fracture_count")
    if count is not None:
        differ = ~np.isnan(count) & ~np.isnan(total) & (count != total)
        if differ.any():
            problems.append(
                _rows_problem(
                    "prevalent_vertebral_fracture_count",
                    differ,
                    count[differ],
                    "must equal the sum of the grade counts",
                )
            )
    return problems


def _rows_problem(
    column: ColumnSpec | str, mask: np.ndarray, shown: np.ndarray | None, allowed: str
) -> str:
    """Return one problem line naming the column, the first rows (1-based) and their values."""
    name = column.name if isinstance(column, ColumnSpec) else column
    rows = np.flatnonzero(mask)
    listed = rows[:MAX_LISTED_ROWS] + 1
    more = f" and {rows.size - MAX_LISTED_ROWS} more" if rows.size > MAX_LISTED_ROWS else ""
    text = f"column {name!r}: {rows.size} bad row(s) {listed.tolist()}{more}"
    if shown is not None:
        text += f" (values {[_show(v) for v in shown[:MAX_LISTED_ROWS]]})"
    return f"{text}; {allowed}"


def _show(value: object) -> object:
    """Return a value as shown in a message: a float as a short number, else as it is."""
    return float(f"{value:.6g}") if isinstance(value, float | np.floating) else value


def _message(path: str | Path, problems: list[str]) -> str:
    """Return the one error message of a table (rows count from 1, the first data row)."""
    lines = "\n  - ".join(problems)
    return f"cohort.table {str(path)!r} (rows count from 1 = first data row):\n  - {lines}"


def _build(path: str, values: dict[str, FloatArray], sex: np.ndarray) -> BaselineTable:
    """Return the BaselineTable: BMD turned into T-scores (each row's sex's reference),
    absent columns all NaN."""
    n_rows = sex.shape[0]
    out = {name: np.full(n_rows, np.nan) for name in ("bmi_kg_m2", "tscore_ls", "tscore_th")}
    for name in ("tscore_fn", "prevalent_vertebral_fracture_count", *GRADE_COLUMNS):
        out[name] = np.full(n_rows, np.nan)
    for name in ("prior_nonvertebral_fracture", "prior_hip_fracture", *KIDNEY_COLUMNS):
        out[name] = np.full(n_rows, np.nan)
    for name, column in values.items():
        if name.startswith("bmd_"):
            site = name.split("_")[1]
            out[f"tscore_{site}"] = bmd_to_tscore(column, site.upper(), sex)
        elif name != "source_id":
            out[name] = column
    if "source_id" in values:
        source_id = values["source_id"].astype(np.int64)
    else:
        source_id = np.arange(n_rows, dtype=np.int64)
    return BaselineTable(path=path, source_id=source_id, values=out, sex=sex)
