"""The report of one trial: figures, Table 1, endpoint tables and the calibration table.

``write_report`` reads the endpoint tables (``results/T/endpoints/*.parquet``) and the simulation
files (for the cumulative incidence curves: first-event day per patient from
``endpoints.patient_events``, censored at death, dropout or the end of follow-up) and writes
``REPORT_FILES`` into one folder. A missing endpoint table stops it with a message naming it.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import polars as pl

from osteotrial import io
from osteotrial.analyses.endpoints import patient_events
from osteotrial.calibration.comparison import compare
from osteotrial.calibration.targets import load_targets
from osteotrial.report import figures_trial as figures
from osteotrial.report.scope_banner import add_banner
from osteotrial.stats.incidence import aalen_johansen, competing_status
from osteotrial.units import DAYS_PER_MONTH

FIGURES: tuple[str, ...] = tuple(f"{name}.png" for name in figures.FIGURE_SIZES_IN)
TABLES: tuple[str, ...] = (
    "table1.html",
    "endpoint_tables.html",
    "calibration.html",
    "calibration.parquet",
)
REPORT_FILES: tuple[str, ...] = FIGURES + TABLES
KM_ENDPOINTS: tuple[str, ...] = ("clinical", "nonvertebral", "hip")
CSS = (
    "<style>body{font-family:sans-serif;font-size:14px} table{border-collapse:collapse;"
    "margin-bottom:1.5em} td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
    "th{background:#eee} td.text{text-align:left} td.miss{color:#b00;font-weight:bold}"
    "caption{text-align:left;font-weight:bold;padding:4px 0}</style>"
)


def read_endpoint_tables(paths: Mapping[str, str | Path]) -> dict[str, pl.DataFrame]:
    """Return every endpoint table of ``io.ENDPOINT_TABLES``; raise if one is missing."""
    tables = {}
    for name in io.ENDPOINT_TABLES:
        path = paths.get(name)
        if path is None or not Path(path).is_file():
            raise FileNotFoundError(
                f"endpoint table {name!r} is missing (expected {path}); the report needs "
                f"all of {list(io.ENDPOINT_TABLES)}: run the compute_endpoints rule first"
            )
        tables[name] = io.read_frame(path)
    return tables


def treated_arm(arms: Mapping[str, object], control_arm: str) -> str | None:
    """Return the first non-control arm with a romosozumab phase (marker targets), or None."""
    for name in sorted(arms):
        periods = arms[name].treatment_periods()  # type: ignore[attr-defined]
        if name != control_arm and any(drug == "romosozumab" for drug, _, _ in periods):
            return name
    return None


def cumulative_incidence(
    simulation_paths: Sequence[str | Path], end_day: float, at_risk_months: Sequence[float]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (curves, at_risk) of the cumulative incidence of ``KM_ENDPOINTS`` by arm.

    Aalen-Johansen (``stats.incidence``): time to the first observed event, death a competing
    risk, censored at dropout or ``end_day`` (1 - Kaplan-Meier would treat death as censoring
    and overstate the incidence). ``curves``: endpoint, arm, month, cum_incidence_pct,
    ci_low_pct, ci_high_pct (step points and the 95% CI); ``at_risk``: endpoint, arm, month,
    n_at_risk (still followed at that month).
    """
    patients = patient_events(pl.scan_parquet([str(p) for p in simulation_paths]))
    curves, risks = [], []
    for endpoint in KM_ENDPOINTS:
        for (arm,), group in patients.group_by("arm", maintain_order=True):
            days = (group[c].to_numpy() for c in (f"{endpoint}_day", "death_day", "exit_day"))
            months, status = competing_status(*days, end_day=end_day)
            times, cif, low, high = aalen_johansen(months, status)
            curves.append(
                pl.DataFrame(
                    {
                        "endpoint": endpoint,
                        "arm": arm,
                        "month": np.r_[0.0, times],
                        "cum_incidence_pct": 100 * np.r_[0.0, cif],
                        "ci_low_pct": 100 * np.r_[0.0, low],
                        "ci_high_pct": 100 * np.r_[0.0, high],
                    }
                )
            )
            for month in at_risk_months:
                n = int((months >= month - 1e-9).sum())
                risks.append({"endpoint": endpoint, "arm": arm, "month": month, "n_at_risk": n})
    return pl.concat(curves), pl.DataFrame(risks)


def table1(baseline: pl.DataFrame) -> pl.DataFrame:
    """Return Table 1 with one row per variable and one formatted column per arm."""

    def fmt(stat: dict[str, float]) -> str:
        if "n" in stat:
            return f"{stat['n']:,.0f}"
        if "frac" in stat:
            return f"{100 * stat['frac']:.1f} %"
        return f"{stat['mean']:.2f} ({stat['sd']:.2f})"

    rows: dict[str, dict[str, str]] = {}
    for (arm, variable), group in baseline.group_by("arm", "variable", maintain_order=True):
        stat = dict(zip(group["statistic"], group["value"], strict=True))
        rows.setdefault(str(variable), {"variable": str(variable)})[figures.arm_label(arm)] = fmt(
            stat
        )
    return pl.DataFrame(list(rows.values()))


def _cell(value: object) -> str:
    """Return one HTML cell: floats with 4 significant digits, nan as a dash, bools as yes/NO."""
    if isinstance(value, bool):
        return "<td>yes</td>" if value else "<td class='miss'>NO</td>"
    if isinstance(value, float):
        return "<td>–</td>" if np.isnan(value) else f"<td>{value:.4g}</td>"
    if isinstance(value, int):
        return f"<td>{value}</td>"
    return f"<td class='text'>{html.escape(str(value))}</td>"


def html_table(table: pl.DataFrame, caption: str) -> str:
    """Return ``table`` as an HTML table (text left, numbers right)."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(map(_cell, row)) + "</tr>" for row in table.iter_rows())
    return (
        f"<table><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def html_page(title: str, sections: Sequence[str], note: str = "") -> str:
    """Return a standalone HTML page with ``sections`` (HTML fragments)."""
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"{CSS}</head><body><h2>{html.escape(title)}</h2><p>{html.escape(note)}</p>"
        + "".join(sections)
        + "</body></html>\n"
    )


def calibration_table(trial, tables: Mapping[str, pl.DataFrame], targets_file: str | Path):
    """Return the calibration table (``targets.COLUMNS``) of a trial; empty without targets."""
    targets = load_targets(targets_file, trial.name) or {}
    treated = treated_arm(trial.arms, trial.control_arm)
    return compare(targets, dict(tables), treated, trial.control_arm)


def write_report(
    trial,
    table_paths: Mapping[str, str | Path],
    simulation_paths: Sequence[str | Path],
    targets_file: str | Path,
    out_dir: str | Path,
) -> list[Path]:
    """Write ``REPORT_FILES`` of a trial (``config.TrialConfig``) into ``out_dir``; return them."""
    tables = read_endpoint_tables(table_paths)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    colors = figures.arm_colors(trial.arm_names, trial.control_arm)
    periods = {arm: trial.arms[arm].treatment_periods() for arm in colors}
    end_month = float(trial.schedule.visit_months[-1])
    step = 6.0 if end_month <= 36 else 12.0
    curves, at_risk = cumulative_incidence(
        simulation_paths, end_month * DAYS_PER_MONTH, list(np.arange(0.0, end_month + 1, step))
    )
    forest_months = sorted({*trial.schedule.imaging_months, end_month})
    figures.bmd_figure(tables["bmd"], colors, periods, out / "bmd_pct_change.png")
    figures.markers_figure(tables["markers"], colors, periods, out / "markers_pct_change.png")
    figures.incidence_figure(curves, at_risk, colors, out / "cumulative_incidence.png")
    figures.vertebral_figure(tables["fractures"], colors, out / "new_vertebral_incidence.png")
    figures.forest_figure(tables["comparisons"], forest_months, colors, out / "forest.png")
    _write_tables(trial, tables, targets_file, out)
    written = [out / name for name in REPORT_FILES]
    add_banner(written, table_paths["bmd"])  # scope warnings and known biases on every page
    return written


def _write_tables(trial, tables, targets_file, out: Path) -> None:
    note = f"Trial {trial.name}; config_hash {trial.config_hash[:12]}"
    legend = "n; mean (sd) of continuous variables; % of binary ones"
    sections = [html_table(table1(tables["baseline"]), legend)]
    page = html_page("Table 1: baseline by arm", sections, note)
    (out / "table1.html").write_text(page, encoding="utf-8")
    sections = [html_table(tables[name], f"{name}.parquet") for name in io.ENDPOINT_TABLES[:-1]]
    (out / "endpoint_tables.html").write_text(
        html_page("Endpoint tables", sections, note), encoding="utf-8"
    )
    calibration = calibration_table(trial, tables, targets_file)
    caption = f"targets of {Path(targets_file).name} that apply to trial {trial.name}"
    (out / "calibration.html").write_text(
        html_page("Calibration: emulated vs published", [html_table(calibration, caption)], note),
        encoding="utf-8",
    )
    io.write_parquet(calibration.to_arrow(), out / "calibration.parquet", trial.provenance())
