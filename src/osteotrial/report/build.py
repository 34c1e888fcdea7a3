"""The report of one trial: figures, Table 1, the efficacy table, calibration and validation.

``write_report`` reads the endpoint tables (``results/T/endpoints/*.parquet``) and the simulation
files (for the cumulative incidence curves: first-event day per patient from
``endpoints.patient_events``, censored at death, dropout or the end of follow-up; and the
patients on study at each marker day, for the interval of a median) and writes ``REPORT_FILES``
into one folder (and the SRE page, ``report.sre``, when ``io.SRE_TABLES`` are given: a
trial with skeletal-related events). A missing endpoint table stops it with a message naming
it. The HTML pages are written by the functions of ``PAGES``, in order, from one
``ReportInputs``: a new page is one more function there.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from osteotrial import io
from osteotrial.analyses.endpoints import patient_events
from osteotrial.calibration.block_rows import SCHEMA
from osteotrial.calibration.calcium import workflow_rows as calcium_rows
from osteotrial.calibration.comparison import compare
from osteotrial.calibration.estimates import Estimate
from osteotrial.calibration.targets import load_targets
from osteotrial.report import efficacy, validation
from osteotrial.report import figures_trial as figures
from osteotrial.report.by_sex import by_sex_html
from osteotrial.report.by_stratum import by_stratum_html
from osteotrial.report.files import REPORT_FILES
from osteotrial.report.safety import write_safety_page
from osteotrial.report.scope_banner import add_banner
from osteotrial.report.sre import write_sre_page
from osteotrial.stats.incidence import aalen_johansen, competing_status
from osteotrial.units import DAYS_PER_MONTH

KM_ENDPOINTS: tuple[str, ...] = ("clinical", "nonvertebral", "hip")
CSS = (
    "<style>body{font-family:sans-serif;font-size:14px} table{border-collapse:collapse;"
    "margin-bottom:1.5em} td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
    "th{background:#eee} td.text{text-align:left} td.miss{color:#b00;font-weight:bold}"
    "caption{text-align:left;font-weight:bold;padding:4px 0} tr.section td{text-align:left;"
    "font-weight:bold;background:#f6f6f6} td.fail{color:#b00;font-weight:bold}"
    "td.ok{color:#060}</style>"
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


def read_sre_tables(paths: Mapping[str, str | Path]) -> dict[str, pl.DataFrame]:
    """Return the SRE tables (``io.SRE_TABLES``) named in ``paths``: all or none (a trial
    without SREs); raise naming those missing when only some are given."""
    given = [name for name in io.SRE_TABLES if name in paths]
    missing = [n for n in io.SRE_TABLES if n not in given or not Path(paths[n]).is_file()]
    if given and missing:
        raise FileNotFoundError(f"SRE tables {missing} are missing; the SRE page needs all")
    return {name: io.read_frame(paths[name]) for name in given}


def read_safety_tables(paths: Mapping[str, str | Path]) -> dict[str, pl.DataFrame]:
    """Return the safety tables (``io.SAFETY_TABLES``, the calcium course among them) named in
    ``paths``: all or none; raise naming those missing when only some are."""
    given = [name for name in io.SAFETY_TABLES if name in paths]
    missing = [n for n in io.SAFETY_TABLES if n not in given or not Path(paths[n]).is_file()]
    if given and missing:
        raise FileNotFoundError(f"safety tables {missing} are missing; the safety page needs all")
    return {name: io.read_frame(paths[name]) for name in given}


def treated_arm(arms: Mapping[str, object], control_arm: str) -> str | None:
    """Return the first non-control arm with a romosozumab phase (marker targets), or None."""
    for name in sorted(arms):
        periods = arms[name].treatment_periods()  # type: ignore[attr-defined]
        if name != control_arm and any(drug == "romosozumab" for drug, _, _ in periods):
            return name
    return None


def cumulative_incidence(
    patients: pl.DataFrame, end_day: float, at_risk_months: Sequence[float]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (curves, at_risk) of the cumulative incidence of ``KM_ENDPOINTS`` by arm.

    ``patients``: the first-event days of ``endpoints.patient_events``. Aalen-Johansen
    (``stats.incidence``): time to the first observed event, death a competing risk, censored
    at dropout or ``end_day`` (1 - Kaplan-Meier would treat death as censoring and overstate
    the incidence). ``curves``: endpoint, arm, month, cum_incidence_pct, ci_low_pct,
    ci_high_pct (step points and the 95% CI); ``at_risk``: endpoint, arm, month, n_at_risk
    (still followed at that month).
    """
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


def with_marker_counts(markers: pl.DataFrame, patients: pl.DataFrame) -> pl.DataFrame:
    """Return the markers table with ``n_patients``: the arm's patients on study that day
    (exit day after it, as ``visit_tables.markers_table`` selects them), for the median's CI."""
    exits = {arm: np.sort(g["exit_day"].to_numpy()) for (arm,), g in patients.group_by("arm")}
    counts = [
        int(exits[arm].size - np.searchsorted(exits[arm], day, side="right"))
        if arm in exits
        else None
        for arm, day in zip(markers["arm"], markers["day"], strict=True)
    ]
    return markers.with_columns(n_patients=pl.Series(counts, dtype=pl.Int64))


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


NUMBER_TEXT = re.compile(r"^(?:[-–<]?\d[\d.,]*(?: \(.*\))?|–)$")


def _cell(value: object) -> str:
    """Return one HTML cell: floats with 4 significant digits, nan as a dash, bools as yes/NO."""
    if value in ("FAILS", "holds"):
        return f"<td class='{'fail' if value == 'FAILS' else 'ok'}'>{value}</td>"
    if isinstance(value, bool):
        return "<td>yes</td>" if value else "<td class='miss'>NO</td>"
    if isinstance(value, float):
        return "<td>–</td>" if np.isnan(value) else f"<td>{value:.4g}</td>"
    if isinstance(value, int):
        return f"<td>{value}</td>"
    text = str(value)
    if NUMBER_TEXT.match(text):  # a formatted number ('1.2 (0.9 to 1.5)', '<0.001'): right
        return f"<td>{html.escape(text)}</td>"
    return f"<td class='text'>{html.escape(text)}</td>"


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
    """Return the calibration table (``targets.COLUMNS``) of a trial: its block's rows
    (``comparison.compare``), then the safety block's hypocalcemia rows its trial file emulates
    (``calibration.calcium.workflow_rows``); empty without either."""
    targets = load_targets(targets_file, trial.name) or {}
    treated = treated_arm(trial.arms, trial.control_arm)
    table = compare(targets, dict(tables), treated, trial.control_arm)
    calcium = calcium_rows(trial.name, dict(tables))
    return pl.concat([table, pl.DataFrame(calcium, schema=SCHEMA, orient="row")])


FRACTION_KINDS = ("fracture_incidence", "relative_risk_reduction", "safety")
DISPLAY_COLUMNS = ("kind", "arm", "measure", "month", "target", "tol", "emulated (95 % CI)",
                   "expected (95 % range of a draw)")  # fmt: skip


def calibration_display(table: pl.DataFrame) -> pl.DataFrame:
    """Return the calibration table as printed: fixed decimals (fractions 3, percentages 1),
    the emulated value beside its 95 % CI, ``within`` as yes/NO."""
    rows = []
    for r in table.iter_rows(named=True):
        digits = 3 if r["kind"] in FRACTION_KINDS else 1
        got = Estimate(r["emulated"], r["ci_low"], r["ci_high"])
        month = efficacy.DASH if np.isnan(r["month"]) else f"{round(r['month'], 2):g}"
        targets = (efficacy.fmt(r[c], digits) for c in ("target", "tol"))
        mean = Estimate(r["expected"], r["expected_low"], r["expected_high"])
        shown = (efficacy.fmt_ci(got, digits), efficacy.fmt_ci(mean, digits))
        values = (r["kind"], r["arm"], r["measure"], month, *targets, *shown)
        rows.append((*values, r["within"]))
    schema = {**dict.fromkeys(DISPLAY_COLUMNS, pl.String), "within": pl.Boolean}
    return pl.DataFrame(rows, schema=schema, orient="row")


@dataclass(frozen=True)
class ReportInputs:
    """What the report's HTML pages are made from."""

    trial: object  # config.TrialConfig
    tables: Mapping[str, pl.DataFrame]  # endpoint tables, markers with n_patients
    targets_file: Path
    validation_file: Path
    out: Path

    @property
    def note(self) -> str:
        """Return the line under every page's title: trial and configuration."""
        return f"Trial {self.trial.name}; config_hash {self.trial.config_hash[:12]}"  # type: ignore[attr-defined]


def write_report(
    trial,
    table_paths: Mapping[str, str | Path],
    simulation_paths: Sequence[str | Path],
    targets_file: str | Path,
    out_dir: str | Path,
    validation_file: str | Path = validation.VALIDATION_FILE,
) -> list[Path]:
    """Write ``REPORT_FILES`` of a trial (``config.TrialConfig``) into ``out_dir``; return them."""
    tables = read_endpoint_tables(table_paths)
    sre = read_sre_tables(table_paths)
    tables |= sre  # the calibration rows of an SRE trial read them (comparison.compare)
    safety = read_safety_tables(table_paths)
    tables |= safety  # the hypocalcemia rows of the safety block read them (calibration.calcium)
    if "expected" in table_paths:  # the centre of the calibration check (comparison)
        tables["expected"] = io.read_frame(table_paths["expected"])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    colors = figures.arm_colors(trial.arm_names, trial.control_arm)
    periods = {arm: trial.arms[arm].treatment_periods() for arm in colors}
    end_month = float(trial.schedule.visit_months[-1])
    step = 6.0 if end_month <= 36 else 12.0
    # day-0 rows only (every patient has one; her event days repeat on every row), as
    # compute_endpoints reads them: the filter is pushed into the scan, so the report does not
    # hold every record row of the trial (2.4 GB at 1M patients before, issue 28)
    first_rows = pl.scan_parquet([str(p) for p in simulation_paths]).filter(pl.col("day") == 0.0)
    patients = patient_events(first_rows)
    curves, at_risk = cumulative_incidence(
        patients, end_month * DAYS_PER_MONTH, list(np.arange(0.0, end_month + 1, step))
    )
    forest_months = sorted({*trial.schedule.imaging_months, end_month})
    figures.bmd_figure(tables["bmd"], colors, periods, out / "bmd_pct_change.png")
    figures.markers_figure(tables["markers"], colors, periods, out / "markers_pct_change.png")
    figures.incidence_figure(curves, at_risk, colors, out / "cumulative_incidence.png")
    figures.vertebral_figure(tables["fractures"], colors, out / "new_vertebral_incidence.png")
    figures.forest_figure(tables["comparisons"], forest_months, colors, out / "forest.png")
    figures.structure_figure(tables["structure"], colors, periods, out / "structure.png")
    tables["markers"] = with_marker_counts(tables["markers"], patients)
    inputs = ReportInputs(trial, tables, Path(targets_file), Path(validation_file), out)
    for page in PAGES:
        page(inputs)
    written = [out / name for name in REPORT_FILES]
    if sre:  # a trial with skeletal-related events: the SRE page (report.sre)
        note = inputs.note
        written += write_sre_page(
            sre, colors, out, lambda title, parts: html_page(title, parts, note), html_table
        )
    if safety:  # every trial run by the workflow: the safety page (report.safety)
        note = inputs.note
        written += write_safety_page(
            safety, colors, out, lambda title, parts: html_page(title, parts, note), html_table
        )
    add_banner(written, table_paths["bmd"])  # scope warnings and known biases on every page
    return written


def write_table1(r: ReportInputs) -> None:
    """Write table1.html: baseline characteristics by arm."""
    legend = "n; mean (sd) of continuous variables; % of binary ones"
    sections = [html_table(table1(r.tables["baseline"]), legend)]
    page = html_page("Table 1: baseline by arm", sections, r.note)
    (r.out / "table1.html").write_text(page, encoding="utf-8")


RAW_LINKS = (
    "<p>Raw tables (every arm, visit and statistic): <a href='endpoint_tables.html'>"
    "endpoint_tables.html</a>; Parquet files: "
    + ", ".join(f"<a href='../endpoints/{n}.parquet'>{n}.parquet</a>" for n in io.ENDPOINT_TABLES)
    + " (in <code>results/T/endpoints/</code>).</p>"
)


def write_efficacy(r: ReportInputs) -> None:
    """Write efficacy.html: the publication-style efficacy table, with links to the raw ones."""
    block = load_targets(r.targets_file, r.trial.name)  # type: ignore[attr-defined]
    table = efficacy.efficacy_table(r.trial, r.tables, block)
    legend = f"<p>{html.escape(efficacy.LEGEND)}</p>"
    strata = by_sex_html(r.tables["by_sex"], html_table)
    subgroups = by_stratum_html(r.tables.get("by_stratum"), html_table)
    sections = [efficacy.efficacy_html(r.trial, table), legend, strata, subgroups, RAW_LINKS]
    page = html_page("Efficacy: endpoints by arm", sections, r.note)
    (r.out / "efficacy.html").write_text(page, encoding="utf-8")


def write_endpoint_tables(r: ReportInputs) -> None:
    """Write endpoint_tables.html: the raw endpoint tables behind the figures."""
    names = io.ENDPOINT_TABLES[:-1]
    sections = [html_table(r.tables[name], f"{name}.parquet") for name in names]
    page = html_page("Endpoint tables", sections, r.note)
    (r.out / "endpoint_tables.html").write_text(page, encoding="utf-8")


def write_calibration(r: ReportInputs) -> None:
    """Write calibration.html and .parquet: the fitted targets, labelled as in-sample."""
    table = calibration_table(r.trial, r.tables, r.targets_file)
    caption = f"targets of {r.targets_file.name} that apply to trial {r.trial.name}"  # type: ignore[attr-defined]
    intro = (
        "<h3>In-sample fit: the targets the model was calibrated to</h3><p>These rows are the "
        f"published results of <code>config/{html.escape(r.targets_file.name)}</code> that the "
        "model's parameters were fitted to. Agreement here shows the fit, it is not "
        "validation: for published results the model was not fitted to, see the "
        "<a href='validation.html'>validation page</a>. Every emulated value carries its "
        "95 % interval (markers: the interval of a median from its quartiles and the "
        "patients on study).</p>"
    )
    sections = [intro, html_table(calibration_display(table), caption)]
    page = html_page("Calibration: emulated vs published (in-sample)", sections, r.note)
    (r.out / "calibration.html").write_text(page, encoding="utf-8")
    io.write_parquet(table.to_arrow(), r.out / "calibration.parquet", r.trial.provenance())  # type: ignore[attr-defined]


def write_validation(r: ReportInputs) -> None:
    """Write validation.html and .parquet: published results not fitted, vs this run."""
    rows = validation.load_validation(r.validation_file)
    table = validation.validation_table(rows, r.trial.name, r.tables)  # type: ignore[attr-defined]
    sections = [validation.intro_html(table, r.validation_file.name)]
    sections.append(html_table(validation.display(table), validation.CAPTION))
    page = html_page("Validation: published results the model was not fitted to", sections, r.note)
    (r.out / "validation.html").write_text(page, encoding="utf-8")
    io.write_parquet(table.to_arrow(), r.out / "validation.parquet", r.trial.provenance())  # type: ignore[attr-defined]


PAGES: tuple[Callable[[ReportInputs], None], ...] = (
    write_table1,
    write_efficacy,
    write_endpoint_tables,
    write_calibration,
    write_validation,
)
