"""Report figures of one trial from its endpoint tables (matplotlib, Agg backend).

Every figure has a fixed size (``FIGURE_SIZES_IN`` at ``DPI``), so a PNG of W x H pixels is
written whatever the trial; arms keep the same colour in every figure (``arm_colors``). Percent
changes are from baseline; months are 30.4375 days.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FixedLocator, NullLocator  # noqa: E402
from matplotlib.transforms import blended_transform_factory  # noqa: E402

from osteotrial.analyses import vocabulary  # noqa: E402
from osteotrial.report.files import FIGURE_SIZES_IN  # noqa: E402
from osteotrial.units import DAYS_PER_MONTH  # noqa: E402

DPI = 100
# Colour-blind-safe palette (Okabe-Ito); control arm first, grey-blue.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
DRUG_SHADES = {"romosozumab": "#F0E442", "denosumab": "#B8B8E8"}
SITE_NAMES = {"LS": "Lumbar spine", "TH": "Total hip", "FN": "Femoral neck"}
ENDPOINT_NAMES = {
    "new_vertebral": "New vertebral",
    "multiple_new_vertebral": "Multiple new vertebral",
    "clinical_vertebral": "Clinical vertebral",
    "hip": "Hip",
    "nonvertebral": "Nonvertebral (incl. hip)",
    "clinical": "Clinical",
}
LABEL_ABOVE = {"textcoords": "offset points", "ha": "center", "va": "bottom", "fontsize": 9}
RATIO_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)
MARKER_DAY_TICKS = (3, 7, 14, 28, 56, 91, 182, 365, 730)

plt.rcParams.update({"font.size": 11, "axes.titlesize": 12, "legend.fontsize": 10})


def arm_label(arm: str) -> str:
    """Return a readable arm name: ``placebo_then_denosumab`` -> ``placebo → denosumab``."""
    return arm.replace("_then_", " → ").replace("_", " ")


def arm_colors(arms: Sequence[str], control_arm: str) -> dict[str, str]:
    """Return one colour per arm: the control arm first, then the others in sorted order."""
    order = [control_arm] + sorted(a for a in arms if a != control_arm)
    return {arm: PALETTE[i % len(PALETTE)] for i, arm in enumerate(order)}


def new_figure(name: str, **kwargs) -> tuple[Figure, np.ndarray]:
    """Return a figure of the fixed size of ``name`` with its axes (always a 1-D array)."""
    fig, axes = plt.subplots(
        figsize=FIGURE_SIZES_IN[name], dpi=DPI, layout="constrained", squeeze=False, **kwargs
    )
    return fig, axes.ravel()


def save(fig: Figure, path: str | Path) -> None:
    """Write ``fig`` as PNG at its fixed size and close it."""
    fig.savefig(path, dpi=DPI, format="png")
    plt.close(fig)


def shade_periods(ax, periods: Mapping[str, Sequence[tuple[str, float, float]]], scale: float):
    """Shade each drug's treatment periods; return legend handles. Days are divided by scale."""
    arms_by_span: dict[tuple[str, float, float], list[str]] = {}
    for arm, spans in periods.items():
        for drug, start, stop in spans:
            arms_by_span.setdefault((drug, start, stop), []).append(arm)
    handles = []
    for (drug, start, stop), arms in sorted(arms_by_span.items(), key=lambda kv: kv[0][1]):
        ax.axvspan(start / scale, stop / scale, color=DRUG_SHADES.get(drug, "#DDDDDD"), alpha=0.25)
        who = "all arms" if len(arms) == len(periods) else ", ".join(map(arm_label, arms)) + " arm"
        color = DRUG_SHADES.get(drug, "#DDDDDD")
        handles.append(Patch(color=color, alpha=0.4, label=f"{drug} given: {who}"))
    return handles


def bmd_figure(bmd: pl.DataFrame, colors: Mapping[str, str], periods, path: str | Path) -> None:
    """Plot mean BMD % change with 95% CI by arm over months, one panel per site."""
    fig, axes = new_figure("bmd_pct_change", ncols=3, sharey=True)
    for ax, site in zip(axes, ("LS", "TH", "FN"), strict=True):
        handles = shade_periods(ax, periods, DAYS_PER_MONTH)
        for arm, color in colors.items():
            part = bmd.filter((pl.col("arm") == arm) & (pl.col("site") == site)).sort("month")
            month = np.r_[0.0, part["month"].to_numpy()]
            mean = np.r_[0.0, part["mean_pct_change"].to_numpy()]
            low = np.r_[0.0, part["ci_low_pct"].to_numpy()]
            high = np.r_[0.0, part["ci_high_pct"].to_numpy()]
            ax.fill_between(month, low, high, color=color, alpha=0.25, linewidth=0)
            ax.plot(month, mean, "o-", color=color, markersize=4, label=arm_label(arm))
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set(title=SITE_NAMES[site], xlabel="Months since randomization")
        ax.set_xticks(np.arange(0, month.max() + 1, 6))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("BMD change from baseline (%)")
    arm_handles = axes[0].get_legend_handles_labels()[0]
    fig.legend(handles=arm_handles + handles, loc="outside lower center", ncols=4)
    fig.suptitle("Bone mineral density: mean % change with 95% CI; shading: treatment periods")
    save(fig, path)


STRUCTURE_ROWS = (
    ("strength_pct_change", "Strength index change (%)"),
    ("cortical_porosity", "Cortical porosity (fraction)"),
)


def structure_figure(structure: pl.DataFrame, colors: Mapping[str, str], periods, path) -> None:
    """Plot the ``structure`` table: mean strength-index % change and cortical porosity with 95%
    CI by arm over months, one column per site (the model's true values, no imaging error)."""
    fig, flat = new_figure("structure", nrows=2, ncols=3, sharex=True)
    axes = flat.reshape(2, 3)
    for row, (measure, ylabel) in enumerate(STRUCTURE_ROWS):
        for ax, site in zip(axes[row], ("LS", "TH", "FN"), strict=True):
            handles = shade_periods(ax, periods, DAYS_PER_MONTH)
            for arm, color in colors.items():
                same = (pl.col("site") == site) & (pl.col("measure") == measure)
                part = structure.filter(same & (pl.col("arm") == arm)).sort("month")
                month = part["month"].to_numpy()
                ax.fill_between(month, part["ci_low"], part["ci_high"], color=color, alpha=0.25)
                ax.plot(month, part["mean"], "o-", color=color, markersize=3, label=arm_label(arm))
            ax.grid(alpha=0.3)
            if row == 0:
                ax.axhline(0, color="black", linewidth=0.8)
                ax.set_title(SITE_NAMES[site])
            else:
                ax.set_xlabel("Months since randomization")
        axes[row][0].set_ylabel(ylabel)
    arm_handles = axes[0][0].get_legend_handles_labels()[0]
    fig.legend(handles=arm_handles + handles, loc="outside lower center", ncols=4)
    fig.suptitle("Bone structure: mean with 95% CI (strength index, cortical porosity)")
    save(fig, path)


def markers_figure(markers: pl.DataFrame, colors: Mapping[str, str], periods, path) -> None:
    """Plot median P1NP and CTX % change with interquartile band by arm over days (log axis)."""
    fig, axes = new_figure("markers_pct_change", ncols=2)
    for ax, marker in zip(axes, ("P1NP", "CTX"), strict=True):
        handles = shade_periods(ax, periods, 1.0)
        for arm, color in colors.items():
            part = markers.filter((pl.col("arm") == arm) & (pl.col("marker") == marker))
            part = part.sort("day")
            day = part["day"].to_numpy()
            ax.fill_between(
                day, part["q25_pct_change"], part["q75_pct_change"], color=color, alpha=0.25, lw=0
            )
            ax.plot(day, part["median_pct_change"], "o-", color=color, ms=3, label=arm_label(arm))
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xscale("log")
        ticks = [t for t in MARKER_DAY_TICKS if t <= markers["day"].max() * 1.05]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([str(t) for t in ticks])
        ax.set_xlim(markers["day"].min() * 0.8, markers["day"].max() * 1.1)
        ax.set(title=marker, xlabel="Days since randomization (log scale)")
        ax.set_ylabel(f"{marker} change from baseline (%)")
        ax.grid(alpha=0.3)
    arm_handles = axes[0].get_legend_handles_labels()[0]
    fig.legend(handles=arm_handles + handles, loc="outside lower center", ncols=4)
    fig.suptitle("Bone turnover markers: median % change with interquartile range")
    save(fig, path)


def incidence_figure(curves: pl.DataFrame, at_risk: pl.DataFrame, colors, path) -> None:
    """Plot the cumulative incidence (%, Aalen-Johansen, death competing) by arm with numbers
    at risk.

    ``curves``: endpoint, arm, month, cum_incidence_pct, ci_low_pct, ci_high_pct (step points);
    ``at_risk``: endpoint, arm, month, n_at_risk.
    """
    endpoints = ("clinical", "nonvertebral", "hip")
    fig, axes = new_figure(
        "cumulative_incidence", nrows=2, ncols=3, height_ratios=[4, 1], sharex="col"
    )
    top, bottom = axes[:3], axes[3:]
    for ax, table, endpoint in zip(top, bottom, endpoints, strict=True):
        for row, (arm, color) in enumerate(colors.items()):
            part = curves.filter((pl.col("endpoint") == endpoint) & (pl.col("arm") == arm))
            month = part["month"].to_numpy()
            ax.fill_between(
                month, part["ci_low_pct"], part["ci_high_pct"], step="post", color=color, alpha=0.2
            )
            label = arm_label(arm)
            ax.step(month, part["cum_incidence_pct"], where="post", color=color, lw=2, label=label)
            risk = at_risk.filter((pl.col("endpoint") == endpoint) & (pl.col("arm") == arm))
            for m, n in zip(risk["month"], risk["n_at_risk"], strict=True):
                table.text(m, row, f"{n:,}", color=color, ha="center", va="center", fontsize=10)
        ax.set(title=f"{ENDPOINT_NAMES[endpoint]} fractures", ylabel="Cumulative incidence (%)")
        ax.set_ylim(bottom=0)
        if curves.filter(pl.col("endpoint") == endpoint)["ci_high_pct"].max() <= 0:
            ax.set_ylim(0, 1)
            ax.text(0.5, 0.5, "no events", transform=ax.transAxes, ha="center", color="0.4")
        ax.grid(alpha=0.3)
        table.set_ylim(len(colors) - 0.5, -0.5)
        table.set_yticks([])
        table.set_xlabel("Months since randomization")
        table.set_title("Numbers at risk", fontsize=10, loc="left")
        for side in ("top", "right", "left"):
            table.spines[side].set_visible(False)
        months = at_risk["month"].unique().sort().to_numpy()
        table.set_xticks(months)
        table.set_xlim(-0.05 * months.max(), months.max() * 1.05)
    top[0].legend(loc="upper left")
    fig.suptitle("Cumulative incidence (Aalen-Johansen, death a competing risk) with 95% CI")
    save(fig, path)


def vertebral_figure(fractures: pl.DataFrame, colors: Mapping[str, str], path) -> None:
    """Plot new vertebral fracture incidence (%) with Wilson 95% CI at each imaging visit."""
    fig, (ax,) = new_figure("new_vertebral_incidence")
    table = fractures.filter(pl.col("endpoint") == "new_vertebral")
    months = table["month"].unique().sort().to_list()
    width = 0.8 / len(colors)
    for i, (arm, color) in enumerate(colors.items()):
        part = table.filter(pl.col("arm") == arm).sort("month")
        x = np.arange(len(months)) + (i - (len(colors) - 1) / 2) * width
        value = part["incidence_frac"].to_numpy() * 100
        err = np.vstack([value - part["ci_low_frac"] * 100, part["ci_high_frac"] * 100 - value])
        ax.bar(x, value, width * 0.9, color=color, alpha=0.8, label=arm_label(arm))
        ax.errorbar(x, value, yerr=err, fmt="none", ecolor="black", capsize=4)
        top = part["ci_high_frac"].to_numpy() * 100
        for xi, ti, ki, ni in zip(x, top, part["n_events"], part["n_patients"], strict=True):
            ax.annotate(f"{ki}/{ni}", (xi, ti), xytext=(0, 4), **LABEL_ABOVE)
    ax.set_ylim(0, max(float(table["ci_high_frac"].max()) * 100 * 1.15, 1.0))
    ax.set_xticks(np.arange(len(months)), [f"Month {m:g}" for m in months])
    ax.set(xlabel="Imaging visit", ylabel="Patients with a new vertebral fracture (%)")
    ax.set_title("New vertebral fractures (morphometric), 95% CI; labels: events / patients imaged")
    ax.legend(loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    save(fig, path)


def _row_label(endpoint: str, month: float) -> str:
    return f"{ENDPOINT_NAMES[endpoint]}, month {month:g}"


def _forest_panel(ax, table: pl.DataFrame, y_of: Mapping[str, int], colors, columns) -> None:
    """Draw one ratio (``columns``: estimate, low, high) per arm and row; note missing rows."""
    col, low, high = columns
    arms = table["arm"].unique().sort().to_list()
    drawn = set()
    for j, arm in enumerate(arms):
        part = table.filter(pl.col("arm") == arm)
        ok = part.filter(pl.col(col).is_finite() & (pl.col(col) > 0))
        rows = [_row_label(e, m) for e, m in ok.select("endpoint", "month").iter_rows()]
        drawn.update(rows)
        y = np.array([y_of[r] for r in rows]) + (j - (len(arms) - 1) / 2) * 0.2
        est = ok[col].to_numpy()
        err = np.vstack([est - ok[low].to_numpy(), ok[high].to_numpy() - est])
        label = f"{arm_label(arm)} vs {arm_label(part['reference_arm'][0])}"
        ax.errorbar(est, y, xerr=err, fmt="s", color=colors[arm], capsize=3, label=label)
    ax.axvline(1, color="black", linewidth=0.8)
    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    ticks = [t for t in RATIO_TICKS if lo <= t <= hi]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.grid(alpha=0.3)
    rows_text = blended_transform_factory(ax.transAxes, ax.transData)
    for label in set(y_of) - drawn:
        note = "not estimable (no events in an arm)"
        imaging = [ENDPOINT_NAMES[e] for e in ENDPOINT_NAMES if vocabulary.at_imaging(e)]
        if col == "hazard_ratio" and label.startswith(tuple(imaging)):
            note = "no hazard ratio: assessed at imaging visits only"
        ax.text(0.5, y_of[label], note, transform=rows_text, ha="center", va="center", color="0.4")


def forest_figure(comparisons: pl.DataFrame, months: Sequence[float], colors, path) -> None:
    """Plot risk ratios and hazard ratios with 95% CI per endpoint and month (log axis)."""
    fig, axes = new_figure("forest", ncols=2, sharey=True)
    table = comparisons.filter(pl.col("month").is_in([float(m) for m in months]))
    order = {e: i for i, e in enumerate(ENDPOINT_NAMES)}
    table = table.sort(pl.col("endpoint").replace_strict(order), "month", "arm")
    rows = table.select("endpoint", "month").unique(maintain_order=True).iter_rows()
    y_of = {_row_label(e, m): i for i, (e, m) in enumerate(rows)}
    panels = (
        (("risk_ratio", "rr_ci_low", "rr_ci_high"), "Risk ratio"),
        (("hazard_ratio", "hr_ci_low", "hr_ci_high"), "Hazard ratio, Cox"),
    )
    for ax, (columns, name) in zip(axes, panels, strict=True):
        _forest_panel(ax, table, y_of, colors, columns)
        ax.set(title=f"{name} (95% CI)", xlabel=f"{name} (log scale; < 1 favours treatment)")
    axes[0].set_yticks(range(len(y_of)), list(y_of))
    axes[0].set_ylim(len(y_of) - 0.5, -0.5)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center")
    fig.suptitle("Treatment effects by endpoint and month")
    save(fig, path)
