"""Report page "Skeletal-related events" (sre.html and its figures) of a bone-metastasis trial.

Written only for a trial with SRE tables (``io.SRE_TABLES``, ``analyses.sre_tables``): the
share of patients with an SRE, mean SREs per patient and the median time to the first SRE by
arm; the hazard ratio of the first SRE and the two rate ratios of first and subsequent SREs;
the first-event types; the urinary NTX course. Figures (fixed sizes, the report's arm colours):
``sre_incidence.png`` (cumulative incidence of the first SRE, Aalen-Johansen with death
competing, 1 - Kaplan-Meier dashed; first-event types) and ``sre_mcf.png`` (mean cumulative
function of SREs, death terminal; uNTX median % change with quartiles).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import polars as pl

from osteotrial.analyses.vocabulary import SRE_TYPES
from osteotrial.calibration.estimates import Estimate
from osteotrial.report.efficacy import fmt, fmt_ci, fmt_p
from osteotrial.report.figures_trial import DPI, arm_label, save
from osteotrial.report.files import SRE_FIGURE_SIZES_IN, SRE_REPORT_FILES

METHODS = {
    "cox_first_sre": "Hazard ratio, time to first SRE (Cox; death censors)",
    "andersen_gill": "Rate ratio, first and subsequent SREs (Andersen-Gill, robust SE)",
    "negative_binomial": "Rate ratio, first and subsequent SREs (negative binomial)",
}
INTRO = (
    "Skeletal-related events (SREs): pathologic fracture, radiation to bone, surgery to bone, "
    "spinal cord compression; a further event counts only 21 days or more after the previous "
    "counted one, as the trials counted them. Death ends follow-up: it censors the hazard "
    "ratio (cause-specific), competes in the cumulative incidence and ends the mean "
    "cumulative function. Estimators and tables: docs/analyses.md, section "
    "'Skeletal-related events'."
)


def _new_figure(name: str) -> tuple[plt.Figure, np.ndarray]:
    """Return a figure of the fixed size of ``name`` with two axes side by side."""
    fig, axes = plt.subplots(1, 2, figsize=SRE_FIGURE_SIZES_IN[name], dpi=DPI, layout="constrained")
    return fig, axes


def incidence_figure(curves: pl.DataFrame, types: pl.DataFrame, colors, path) -> None:
    """Plot the cumulative incidence of the first SRE by arm (%) and the first-event types."""
    fig, (left, right) = _new_figure("sre_incidence")
    for arm, color in colors.items():
        part = curves.filter(arm=arm)
        aj, km = part.filter(curve="cuminc_first_sre"), part.filter(curve="km_first_sre")
        month = aj["month"].to_numpy()
        left.fill_between(month, 100 * aj["ci_low"], 100 * aj["ci_high"], color=color, alpha=0.2)
        left.step(month, 100 * aj["value"], where="post", color=color, lw=2, label=arm_label(arm))
        left.step(km["month"], 100 * km["value"], where="post", color=color, lw=1, ls="--")
    left.set(xlabel="Months since randomization", ylabel="Patients with an SRE (%)")
    left.set_title("First SRE: Aalen-Johansen (death competing), 95 % CI; dashed 1 - KM")
    left.set_ylim(bottom=0)
    left.grid(alpha=0.3)
    left.legend(loc="upper left")
    width = 0.8 / max(len(colors), 1)
    x = np.arange(len(SRE_TYPES))
    for i, (arm, color) in enumerate(colors.items()):
        part = types.filter(arm=arm)
        share = dict(zip(part["type"], part["first_frac_of_patients"], strict=True))
        heights = [100 * share.get(t, 0.0) for t in SRE_TYPES]
        right.bar(x + (i - (len(colors) - 1) / 2) * width, heights, width, color=color)
    labels = [
        label.replace(" to ", "\nto ").replace("cord ", "cord\n") for label in SRE_TYPES.values()
    ]
    right.set_xticks(x, labels)
    right.set(ylabel="Patients (%)", title="First SRE by type, % of the arm's patients")
    right.grid(alpha=0.3, axis="y")
    save(fig, path)


def mcf_figure(curves: pl.DataFrame, untx: pl.DataFrame, colors, path) -> None:
    """Plot the mean cumulative function of SREs by arm and the uNTX course (median, IQR)."""
    fig, (left, right) = _new_figure("sre_mcf")
    for arm, color in colors.items():
        part = curves.filter(arm=arm, curve="mcf")
        label = arm_label(arm)
        left.step(part["month"], part["value"], where="post", color=color, lw=2, label=label)
        marker = untx.filter(arm=arm)
        if marker.height:
            low, high = marker["q25_pct_change"], marker["q75_pct_change"]
            right.fill_between(marker["day"], low, high, color=color, alpha=0.2)
            right.plot(marker["day"], marker["median_pct_change"], "o-", color=color)
    left.set(xlabel="Months since randomization", ylabel="Mean SREs per patient")
    left.set_title("Mean cumulative function of SREs (Ghosh-Lin, death terminal)")
    left.grid(alpha=0.3)
    left.legend(loc="upper left")
    right.set(title="Urinary NTX, median % change from baseline (IQR)", xlabel="Day")
    if untx.height:
        days = np.unique(untx["day"].to_numpy())
        right.set_xscale("log")
        right.set_xticks(days, [f"{d:g}" for d in days])
        right.minorticks_off()
        right.axhline(0.0, color="0.5", lw=1)
        right.grid(alpha=0.3)
    else:
        right.text(0.5, 0.5, "no uNTX in this run", transform=right.transAxes, ha="center")
        right.set_xticks([]), right.set_yticks([])
    save(fig, path)


def summary_display(summary: pl.DataFrame) -> pl.DataFrame:
    """Return the per-arm summary as printed."""
    rows = []
    for r in summary.sort("arm").iter_rows(named=True):
        share = Estimate(r["share_with_sre"], r["share_ci_low"], r["share_ci_high"])
        median = (r[f"median_{k}_months"] for k in ("first_sre", "ci_low", "ci_high"))
        value, low, high = (np.nan if v is None else v for v in median)
        rows.append(
            {
                "arm": arm_label(r["arm"]),
                "patients": str(r["n_patients"]),
                "deaths": str(r["n_deaths"]),
                "with an SRE, % (95 % CI)": fmt_ci(Estimate(*(100 * v for v in share)), 1),
                "SREs (drawn events)": f"{r['n_sre']} ({r['n_drawn']})",
                "mean SREs per patient": fmt(r["mean_sre_per_patient"], 2),
                "SREs per patient-year": fmt(r["sre_per_patient_year"], 2),
                "median months to first SRE (95 % CI)": (
                    "not reached" if np.isnan(value) else fmt_ci(Estimate(value, low, high), 1)
                ),
            }
        )
    return pl.DataFrame(rows)


RATIO_FIELDS = ("estimate", "ci_low", "ci_high")


def comparisons_display(comparisons: pl.DataFrame) -> pl.DataFrame:
    """Return the ratios as printed: one row per method and arm."""
    rows = [
        {
            "measure": METHODS[r["method"]],
            "arm vs reference": f"{arm_label(r['arm'])} vs {arm_label(r['reference_arm'])}",
            "ratio (95 % CI)": fmt_ci(Estimate(*(_nan(r[k]) for k in RATIO_FIELDS)), 2),
            "p": fmt_p(r["p_value"]),
        }
        for r in comparisons.iter_rows(named=True)
    ]
    return pl.DataFrame(rows)


def _nan(value: float | None) -> float:
    """Return ``value`` with None (null on disk) as nan."""
    return np.nan if value is None else float(value)


def types_display(types: pl.DataFrame) -> pl.DataFrame:
    """Return the first-event types as printed: % of patients per type (rows) and arm."""
    rows = []
    for kind, label in SRE_TYPES.items():
        row = {"first SRE type": label}
        for r in types.filter(type=kind).sort("arm").iter_rows(named=True):
            row[arm_label(r["arm"])] = (
                f"{fmt(100 * r['first_frac_of_patients'], 1)} ({r['n_first']}); {r['n_sre']} SREs"
            )
        rows.append(row)
    return pl.DataFrame(rows)


def write_sre_page(
    tables: Mapping[str, pl.DataFrame],
    colors: Mapping[str, str],
    out: Path,
    page: Callable[[str, list[str]], str],
    html_table: Callable[[pl.DataFrame, str], str],
) -> list[Path]:
    """Write ``SRE_REPORT_FILES`` into ``out`` (``page``: title, sections -> HTML; the
    report's ``html_table``); return their paths."""
    incidence_figure(tables["sre_curves"], tables["sre_types"], colors, out / "sre_incidence.png")
    mcf_figure(tables["sre_curves"], tables["sre_untx"], colors, out / "sre_mcf.png")
    sections = [
        f"<p>{html.escape(INTRO)}</p>",
        html_table(summary_display(tables["sre_summary"]), "SREs by arm (sre_summary.parquet)"),
        html_table(
            comparisons_display(tables["sre_comparisons"]),
            "Each arm against the reference arm (sre_comparisons.parquet), Wald 95 % CI",
        ),
        "<img src='sre_incidence.png' alt='cumulative incidence of the first SRE'>",
        html_table(
            types_display(tables["sre_types"]),
            "First SRE by type: % of the arm's patients (patients); counted SREs of the type "
            "(sre_types.parquet)",
        ),
        "<img src='sre_mcf.png' alt='mean cumulative function and uNTX'>",
    ]
    if tables["sre_untx"].height:
        arms = tables["sre_untx"]["arm"].unique().to_list()
        labels = pl.col("arm").replace_strict({a: arm_label(a) for a in arms})
        untx = tables["sre_untx"].with_columns(labels)
        sections.append(html_table(untx, "Urinary NTX % change (sre_untx.parquet)"))
    (out / "sre.html").write_text(page("Skeletal-related events", sections), encoding="utf-8")
    return [out / name for name in SRE_REPORT_FILES]
