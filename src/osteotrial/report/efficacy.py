"""The efficacy table of a trial, laid out as in a trial publication.

Rows are endpoints and months; columns are the arms (control first), then, for every other
arm, its comparison with the control arm and the p value. Cells, all from the endpoint tables:

- fractures: n/N (%) of ``fractures.parquet``; the comparison is the ratio the trial published
  (``targets.relative_risk_reduction_measure`` of the trial's block; otherwise a risk ratio for
  new vertebral fractures, assessed on radiographs, and a Cox hazard ratio for the clinical,
  time-to-event endpoints), with its 95 % CI and the table's p value (Fisher's exact test for
  the endpoints found at imaging, new and multiple new vertebral fractures, the log-rank test
  otherwise). ``nonvertebral`` includes hip.
- BMD: mean percent change (95 % CI) of ``bmd.parquet``; the comparison is the difference in
  points with a normal interval and a two-sided z test (``calibration.estimates``).
- markers: median percent change (Q1, Q3) of ``markers.parquet`` at the visits; the comparison
  is the arm's median level in percent of the control's, minus 100, with the interval of
  ``estimates.marker_ratio``, untested (a test of medians needs the patients' values).

Digits are fixed: percentages 1 decimal, ratios 2, p values 3 (or "<0.001").
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

import polars as pl
from scipy import stats

from osteotrial.analyses import vocabulary
from osteotrial.calibration import estimates as est
from osteotrial.report.figures_trial import arm_label
from osteotrial.units import DAYS_PER_MONTH

ENDPOINT_LABELS: dict[str, str] = {
    "new_vertebral": "New vertebral fracture (radiographic)",
    "multiple_new_vertebral": "Multiple (2 or more) new vertebral fractures (radiographic)",
    "clinical": "Clinical fracture",
    "nonvertebral": "Nonvertebral fracture (includes hip)",
    "hip": "Hip fracture",
    "clinical_vertebral": "Clinical vertebral fracture",
}
SITE_LABELS: dict[str, str] = {"LS": "Lumbar spine", "TH": "Total hip", "FN": "Femoral neck"}
RATIO_LABELS: dict[str, str] = {"risk_ratio": "RR", "hazard_ratio": "HR"}
DASH = "–"
LEGEND = (
    "Fractures: n/N (%), N the arm's randomized patients (new vertebral: those imaged at the "
    "month); RR: risk ratio (log-normal 95 % CI), HR: Cox hazard ratio (Wald 95 % CI), as the "
    "trial published each endpoint; p: Fisher's exact test (new vertebral) or log-rank test. "
    "Nonvertebral fractures include hip fractures. BMD: mean % change from baseline (t 95 % "
    "CI) among patients on study; difference in points (normal 95 % CI, z test). Markers: "
    "median % change (Q1, Q3); the arm's median level in % above or below the control's, "
    "100 x ((100 + median) / (100 + control median) - 1) (95 % CI from the medians' "
    "large-sample intervals), not tested. Every number is from this run's endpoint "
    "tables."
)


def fmt(value: float, digits: int) -> str:
    """Return ``value`` with a fixed number of decimals, a dash for NaN, no '-0.0'."""
    if value is None or math.isnan(value):
        return DASH
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def fmt_ci(e: est.Estimate, digits: int) -> str:
    """Return 'value (low to high)' with fixed decimals ('value' alone without an interval)."""
    if math.isnan(e.value):
        return DASH
    if math.isnan(e.low) or math.isnan(e.high):
        return fmt(e.value, digits)
    return f"{fmt(e.value, digits)} ({fmt(e.low, digits)} to {fmt(e.high, digits)})"


def fmt_p(p: float | None) -> str:
    """Return a p value as '<0.001' or with 3 decimals (a dash when there is none)."""
    if p is None or math.isnan(p):
        return DASH
    return "<0.001" if p < 0.0005 else f"{p:.3f}"


def z_test_p(e: est.Estimate) -> float:
    """Return the two-sided p value of a normal estimate against 0."""
    se = e.se()
    if not se > 0:
        return math.nan
    return float(2 * stats.norm.sf(abs(e.value) / se))


def ratio_measure_of(block: Mapping[str, Any] | None, endpoint: str) -> str:
    """Return the ratio the trial published for an endpoint (see the module docstring)."""
    for entry in (block or {}).get("relative_risk_reduction_measure", []):
        if entry["endpoint"] == endpoint:
            return str(entry["measure"])
    return "risk_ratio" if vocabulary.at_imaging(endpoint) else "hazard_ratio"


def table_months(trial) -> list[float]:
    """Return the months a publication would show: the imaging months and the last visit."""
    schedule = trial.schedule
    return sorted({*map(float, schedule.imaging_months), float(schedule.visit_months[-1])})


def arm_order(trial) -> list[str]:
    """Return the arms, the control arm first."""
    return [trial.control_arm] + sorted(a for a in trial.arm_names if a != trial.control_arm)


def fracture_rows(trial, tables, block) -> list[dict[str, str]]:
    """Return the rows of the fracture endpoints: n/N (%) per arm, ratio (95 % CI) and p."""
    arms, rows = arm_order(trial), []
    for endpoint, label in ENDPOINT_LABELS.items():
        measure = ratio_measure_of(block, endpoint)
        months = trial.schedule.imaging_months if vocabulary.at_imaging(endpoint) else None
        for month in months or table_months(trial):
            row = {"section": "Fractures, n/N (%)", "endpoint": label, "month": f"{month:g}"}
            for arm in arms:
                got = est.pick(tables["fractures"], arm=arm, endpoint=endpoint, month=float(month))
                row[arm] = DASH if got is None else n_of_n(got["n_events"], got["n_patients"])
            row["effect"] = RATIO_LABELS[measure]
            for arm in arms[1:]:
                ratio = est.ratio(tables["comparisons"], measure, endpoint, arm, month)
                got = est.pick(
                    tables["comparisons"], arm=arm, endpoint=endpoint, month=float(month)
                )
                row[f"{arm} vs"] = fmt_ci(ratio, 2)
                row[f"p {arm}"] = fmt_p(None if got is None else got["p_value"])
            rows.append(row)
    return rows


def n_of_n(k: int, n: int) -> str:
    """Return 'k/n (percent)' with the percentage to 1 decimal."""
    return f"{k:,}/{n:,} ({fmt(100 * k / n if n else math.nan, 1)})"


def bmd_rows(trial, tables) -> list[dict[str, str]]:
    """Return the BMD rows: mean % change (95 % CI) per arm, difference (95 % CI) and p."""
    arms, rows = arm_order(trial), []
    for site, label in SITE_LABELS.items():
        for month in table_months(trial):
            row = {"section": "BMD, mean % change (95 % CI)", "endpoint": label}
            row["month"] = f"{month:g}"
            for arm in arms:
                row[arm] = fmt_ci(est.bmd_mean(tables["bmd"], arm, site, month), 1)
            row["effect"] = "Difference, points"
            for arm in arms[1:]:
                diff = est.bmd_difference(tables["bmd"], site, arm, arms[0], month)
                row[f"{arm} vs"], row[f"p {arm}"] = fmt_ci(diff, 1), fmt_p(z_test_p(diff))
            rows.append(row)
    return rows


def marker_rows(trial, tables) -> list[dict[str, str]]:
    """Return the marker rows at the visit months: median (Q1, Q3) per arm, % difference."""
    arms, rows, markers = arm_order(trial), [], tables["markers"]
    for marker in ("CTX", "P1NP"):
        for month in map(float, trial.schedule.visit_months):
            day = month * DAYS_PER_MONTH
            row = {"section": "Bone turnover markers, median % change (Q1, Q3)"}
            row |= {"endpoint": f"Serum {marker}", "month": f"{month:g}"}
            for arm in arms:
                got = est.nearest_day(markers, day, arm=arm, marker=marker)
                on_visit = got is not None and abs(got["day"] - day) < 0.5
                row[arm] = median_iqr(got) if on_visit else DASH
            row["effect"] = "Median level, % vs control"
            for arm in arms[1:]:
                ratio = est.marker_ratio(markers, marker, day, arm, arms[0])
                row[f"{arm} vs"], row[f"p {arm}"] = fmt_ci(ratio, 1), DASH
            rows.append(row)
    return rows


def median_iqr(row: Mapping[str, Any]) -> str:
    """Return 'median (Q1, Q3)' of a markers-table row, 1 decimal."""
    q = [fmt(est.num(row[f"{c}_pct_change"]), 1) for c in ("median", "q25", "q75")]
    return f"{q[0]} ({q[1]}, {q[2]})"


def efficacy_table(trial, tables: Mapping[str, pl.DataFrame], block) -> pl.DataFrame:
    """Return the efficacy table (strings): section, endpoint, month, one column per arm,
    effect, then '<arm> vs' and 'p <arm>' for every arm but the control."""
    rows = fracture_rows(trial, tables, block) + bmd_rows(trial, tables)
    rows += marker_rows(trial, tables)
    arms = arm_order(trial)
    columns = ["section", "endpoint", "month", *arms, "effect"]
    columns += [c for arm in arms[1:] for c in (f"{arm} vs", f"p {arm}")]
    return pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String), orient="row")


def header(trial, table: pl.DataFrame) -> list[str]:
    """Return the column headings of the efficacy table's HTML."""
    control = arm_label(trial.control_arm)
    names = {"endpoint": "Endpoint", "month": "Month", "effect": "Effect"}
    for arm in arm_order(trial):
        names[arm] = arm_label(arm)
        names[f"{arm} vs"] = f"{arm_label(arm)} vs {control} (95 % CI)"
        names[f"p {arm}"] = "p"
    return [names[c] for c in table.columns[1:]]


def efficacy_html(trial, table: pl.DataFrame) -> str:
    """Return the efficacy table as HTML: one heading row per section, text cells escaped."""
    heads = "".join(f"<th>{html.escape(h)}</th>" for h in header(trial, table))
    body, section = [], None
    for row in table.iter_rows():
        if row[0] != section:
            section = row[0]
            span = len(row) - 1
            body.append(
                f"<tr class='section'><td colspan='{span}'>{html.escape(section)}</td></tr>"
            )
        cells = [f"<td class='text'>{html.escape(row[1])}</td>"]
        cells += [f"<td>{html.escape(v)}</td>" for v in row[2:]]
        body.append("<tr>" + "".join(cells) + "</tr>")
    caption = f"Efficacy by arm, trial {trial.name} (emulated)"
    return (
        f"<table><caption>{html.escape(caption)}</caption><thead><tr>{heads}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )
