"""The validation page of a trial: published results the model was not fitted to.

``config/validation.yaml`` keeps them (never read by the calibration; ``config/targets.yaml`` is
what may be fitted). ``validation_table`` turns every row into published vs emulated: a row of
the trial being reported is computed from that trial's endpoint tables (``calibration.estimates``:
the emulated value and its 95 % CI) and judged by its ``compare`` rule; a row of another trial is
listed as not emulated in this run, naming the report that emulates it, so the page is never
silently empty. A value the tables cannot give (an arm or month the run lacks) fails.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from osteotrial import yaml_strict
from osteotrial.calibration import estimates as est
from osteotrial.calibration.targets import CONFIG_DIR
from osteotrial.report.efficacy import fmt, fmt_ci
from osteotrial.trial.config import available_trials

VALIDATION_FILE = CONFIG_DIR / "validation.yaml"
MEASURES: dict[str, tuple[str, ...]] = {
    "incidence_pct": ("endpoint", "arm", "month"),
    "risk_ratio": ("endpoint", "arm", "month"),
    "hazard_ratio": ("endpoint", "arm", "month"),
    "bmd_pct_change": ("site", "arm", "month"),
    "bmd_difference_pts": ("site", "arm", "reference", "month"),
}
COMPARE_RULES = ("inside", "overlap", "at_least")
STATUSES = ("R", "S")  # R: recalled from memory, not re-read; S: read from the source
REQUIRED = ("id", "trial", "measure", "published", "compare", "tol", "source", "status")
COLUMNS: dict[str, Any] = {
    "id": pl.String, "trial": pl.String, "measure": pl.String, "what": pl.String,
    "arm": pl.String, "month": pl.Float64, "published": pl.Float64,
    "published_low": pl.Float64, "published_high": pl.Float64, "compare": pl.String,
    "tol": pl.Float64, "emulated": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
    "emulated_here": pl.Boolean, "holds": pl.Boolean, "verdict": pl.String,
    "source": pl.String, "status": pl.String, "statement": pl.String,
}  # fmt: skip


def check_rows(rows: Sequence[Mapping[str, Any]], trials: Sequence[str]) -> None:
    """Raise ValueError naming the row and the field of the first malformed validation row."""
    seen: set[str] = set()
    for i, row in enumerate(rows):
        where = f"validation row {i} ({row.get('id', '?')})"
        missing = [k for k in (*REQUIRED, *MEASURES.get(row.get("measure"), ())) if k not in row]
        if missing:
            raise ValueError(f"{where}: missing {missing}")
        problems = {
            "measure": (row["measure"], list(MEASURES)),
            "compare": (row["compare"], list(COMPARE_RULES)),
            "status": (row["status"], list(STATUSES)),
            "trial": (row["trial"], list(trials)),
        }
        for key, (value, allowed) in problems.items():
            if value not in allowed:
                raise ValueError(f"{where}: {key} {value!r} is not one of {allowed}")
        if row["compare"] == "overlap" and len(row.get("published_ci", ())) != 2:
            raise ValueError(f"{where}: compare 'overlap' needs published_ci: [low, high]")
        if row["id"] in seen:
            raise ValueError(f"{where}: id {row['id']!r} is used twice")
        seen.add(row["id"])


def load_validation(path: str | Path = VALIDATION_FILE) -> list[dict[str, Any]]:
    """Return the checked rows of a validation file (trials: the files of config/trials)."""
    rows = yaml_strict.load_file(path)["rows"]
    check_rows(rows, available_trials(Path(path).parent))
    return rows


def emulate(row: Mapping[str, Any], tables: Mapping[str, pl.DataFrame]) -> est.Estimate:
    """Return the emulated value of a validation row with its 95 % CI, from the tables."""
    measure, month = row["measure"], float(row["month"])
    if measure == "incidence_pct":
        return est.incidence_pct(tables["fractures"], row["arm"], row["endpoint"], month)
    if measure in est.RATIO_COLUMNS:
        return est.ratio(tables["comparisons"], measure, row["endpoint"], row["arm"], month)
    if measure == "bmd_pct_change":
        return est.bmd_mean(tables["bmd"], row["arm"], row["site"], month)
    args = (tables["bmd"], row["site"], row["arm"], row["reference"], month)
    if "since_month" in row:
        return est.bmd_gap_change(*args, float(row["since_month"]))
    return est.bmd_difference(*args)


def holds(row: Mapping[str, Any], got: est.Estimate) -> bool:
    """Return whether a row holds under its ``compare`` rule (a NaN estimate never does)."""
    tol, published = float(row["tol"]), float(row["published"])
    if math.isnan(got.value):
        return False
    if row["compare"] == "at_least":
        return got.value >= published - tol
    low, high = got.low - tol, got.high + tol
    if row["compare"] == "inside":
        return low <= published <= high
    pub_low, pub_high = row["published_ci"]
    return pub_low <= high and low <= pub_high


def describe(row: Mapping[str, Any]) -> str:
    """Return what a row measures, e.g. 'hip, denosumab: incidence_pct'."""
    what = f"{row.get('endpoint', row.get('site', ''))}, {row['arm']}"
    if row["measure"] in est.RATIO_COLUMNS:
        what += " vs control"
    if "reference" in row:
        what += f" - {row['reference']}"
        if "since_month" in row:
            what += f", change of the gap since month {row['since_month']:g}"
    return f"{what}: {row['measure']}"


def validation_row(row: Mapping[str, Any], trial: str, tables) -> dict[str, Any]:
    """Return one row of the validation table for the report of ``trial``."""
    here = row["trial"] == trial
    got = emulate(row, tables) if here else est.MISSING
    ok = holds(row, got) if here else None
    verdict = ("holds" if ok else "FAILS") if here else (
        f"not emulated in this run (see the report of trial {row['trial']})"
    )  # fmt: skip
    pub_low, pub_high = row.get("published_ci", (math.nan, math.nan))
    return {
        "id": row["id"], "trial": row["trial"], "measure": row["measure"],
        "what": describe(row), "arm": row["arm"], "month": float(row["month"]),
        "published": float(row["published"]), "published_low": float(pub_low),
        "published_high": float(pub_high), "compare": row["compare"], "tol": float(row["tol"]),
        "emulated": got.value, "ci_low": got.low, "ci_high": got.high, "emulated_here": here,
        "holds": ok, "verdict": verdict, "source": row["source"], "status": row["status"],
        "statement": row.get("statement", ""),
    }  # fmt: skip


def validation_table(
    rows: Sequence[Mapping[str, Any]], trial: str, tables: Mapping[str, pl.DataFrame]
) -> pl.DataFrame:
    """Return the validation table of ``trial``: its own rows first, then the others."""
    ordered = sorted(rows, key=lambda r: r["trial"] != trial)
    table = [validation_row(r, trial, tables) for r in ordered]
    return pl.DataFrame(table, schema=COLUMNS, orient="row")


CAPTION = "published vs emulated (95 % CI); R: recalled from memory, not re-read"
RULES = {
    "inside": "published in emulated CI ± {tol}",
    "overlap": "published CI overlaps emulated CI ± {tol}",
    "at_least": "emulated ≥ published − {tol}",
}


def display(table: pl.DataFrame) -> pl.DataFrame:
    """Return the validation table as printed: ratios with 2 decimals, percentages 1."""
    rows = []
    for r in table.iter_rows(named=True):
        digits = 2 if r["measure"] in est.RATIO_COLUMNS else 1
        published = est.Estimate(r["published"], r["published_low"], r["published_high"])
        got = est.Estimate(r["emulated"], r["ci_low"], r["ci_high"])
        rule = RULES[r["compare"]].format(tol=fmt(r["tol"], digits))
        emulated = fmt_ci(got, digits) if r["emulated_here"] else "–"
        rows.append({
            "trial": r["trial"], "what": r["what"], "month": f"{r['month']:g}",
            "published": fmt_ci(published, digits), "emulated (95 % CI)": emulated,
            "holds if": rule, "verdict": r["verdict"], "statement": r["statement"],
            "source": f"{r['source']} ({r['status']})",
        })  # fmt: skip
    return pl.DataFrame(rows, schema=dict.fromkeys(DISPLAY_COLUMNS, pl.String), orient="row")


DISPLAY_COLUMNS = ("trial", "what", "month", "published", "emulated (95 % CI)", "holds if",
                   "verdict", "statement", "source")  # fmt: skip


def intro_html(table: pl.DataFrame, file_name: str) -> str:
    """Return the page's opening: what the rows are, and how many hold in this run."""
    here = table.filter(pl.col("emulated_here"))
    count = (
        f"{int(here['holds'].sum())} of {here.height} rows of this trial hold"
        if here.height
        else "no row belongs to this trial: every row is listed as not emulated in this run"
    )
    return (
        "<h3>Out-of-sample: published results the model was not fitted to</h3><p>The rows of "
        f"<code>config/{file_name}</code>: published results kept out of the calibration "
        "(<code>config/targets.yaml</code> holds what was fitted; see the "
        "<a href='calibration.html'>calibration page</a>). A row of this trial is emulated "
        "from this run's endpoint tables and holds by its rule; a known failure shows as "
        f"FAILS. In this run: {count}.</p>"
    )
