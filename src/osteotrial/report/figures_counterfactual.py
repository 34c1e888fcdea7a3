"""Report figures of the counterfactual twins: subgroup forest, randomized vs counterfactual.

Inputs are the ``subgroups`` table of ``osteotrial.analyses.counterfactual`` and the trial's own
``comparisons`` and ``bmd`` endpoint tables. Same conventions as
``osteotrial.report.figures_trial``: fixed
sizes, Okabe-Ito colours per arm, ratios on a log axis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from scipy import stats

from osteotrial.report import figures_trial as figures  # sets the Agg backend

SIZES_IN: dict[str, tuple[float, float]] = {
    "subgroup_forest": (16.0, 7.5),
    "randomized_vs_counterfactual": (14.0, 6.5),
}
FOREST_ENDPOINTS: tuple[str, ...] = ("new_vertebral", "clinical", "nonvertebral", "hip")
FOREST_SITES: tuple[str, ...] = ("bmd_ls", "bmd_th")
SUBGROUP_NAMES = {
    "all": "All",
    "age_band": "Age",
    "prevalent_vertebral_fracture": "Prevalent vertebral fracture",
}


def _subgroup_name(subgroup: str) -> str:
    if subgroup.startswith("tscore_"):
        return f"{subgroup.split('_')[1].upper()} T-score"
    return SUBGROUP_NAMES.get(subgroup, subgroup)


def _figure(name: str, n_columns: int):
    fig, axes = plt.subplots(
        figsize=SIZES_IN[name],
        dpi=figures.DPI,
        layout="constrained",
        ncols=n_columns,
        squeeze=False,
    )
    return fig, axes.ravel()


def ratio_axis(ax) -> None:
    """Log x axis with the ratio ticks of figures_trial and a dashed line at 1."""
    ax.axvline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(figures.FixedLocator(figures.RATIO_TICKS))
    ax.xaxis.set_minor_locator(figures.NullLocator())
    ax.xaxis.set_major_formatter("{x:g}")


def _rows(subgroups: pl.DataFrame) -> list[tuple[str, str]]:
    """Return the (subgroup, level) rows of the forest, in table order, "all" first."""
    pairs = subgroups.select("subgroup", "level").unique(maintain_order=True).rows()
    return sorted(pairs, key=lambda p: (p[0] != "all", pairs.index(p)))


def _interval(ax, y: float, estimate: float, low: float, high: float, color: str, **kw) -> None:
    if np.isfinite(estimate):
        ax.errorbar(
            estimate,
            y,
            xerr=[[estimate - low], [high - estimate]] if np.isfinite(low) else None,
            fmt=kw.pop("fmt", "o"),
            color=color,
            capsize=3,
            ms=5,
            **kw,
        )


def subgroup_forest_figure(
    subgroups: pl.DataFrame, month: float, colors: Mapping[str, str], path: str | Path
) -> None:
    """Draw paired risk ratios (fractures) and BMD differences by subgroup at ``month``."""
    table = subgroups.filter(pl.col("month") == month)
    rows = _rows(table)
    y_of = {row: -i for i, row in enumerate(rows)}
    arms = sorted(table["arm"].unique().to_list())
    offsets = {arm: 0.25 * (i - (len(arms) - 1) / 2) for i, arm in enumerate(arms)}
    panels = [(e, "risk_ratio") for e in FOREST_ENDPOINTS] + [
        (s, "mean_difference_pct_points") for s in FOREST_SITES
    ]
    fig, axes = _figure("subgroup_forest", len(panels))
    for ax, (endpoint, measure) in zip(axes, panels, strict=True):
        part = table.filter((pl.col("endpoint") == endpoint) & (pl.col("measure") == measure))
        for row in part.iter_rows(named=True):
            y = y_of[(row["subgroup"], row["level"])] + offsets[row["arm"]]
            _interval(ax, y, row["estimate"], row["ci_low"], row["ci_high"], colors[row["arm"]])
        ratio = measure == "risk_ratio"
        if ratio:
            ratio_axis(ax)
        name = figures.ENDPOINT_NAMES.get(endpoint, figures.SITE_NAMES.get(endpoint[4:].upper()))
        ax.set_title(name if ratio else f"{name} BMD")
        ax.set_xlabel("risk ratio (paired)" if ratio else "difference, % points")
        ax.set_yticks([y_of[row] for row in rows])
        ax.set_yticklabels(
            [f"{_subgroup_name(s)}: {lvl}" if s != "all" else "All" for s, lvl in rows]
            if ax is axes[0]
            else []
        )
        ax.grid(axis="x", alpha=0.3)
    handles = [figures.Patch(color=colors[a], label=figures.arm_label(a)) for a in arms]
    reference = table["reference_arm"][0] if table.height else ""
    fig.suptitle(
        f"Counterfactual effects by subgroup at month {month:g} vs "
        f"{figures.arm_label(reference)} (each patient under both arms; 95% CI)"
    )
    fig.legend(handles=handles, loc="outside lower center", ncols=len(arms))
    figures.save(fig, path)


def randomized_bmd_difference(bmd: pl.DataFrame, arm: str, reference: str) -> pl.DataFrame:
    """Return arm minus reference mean % change per site and month, with a normal 95% CI."""
    z = stats.norm.ppf(0.975)

    def side(name: str) -> pl.DataFrame:
        part = bmd.filter(pl.col("arm") == name)
        se = (pl.col("ci_high_pct") - pl.col("ci_low_pct")) / (2 * z)
        return part.select("site", "month", pl.col("mean_pct_change").alias("m"), se.alias("se"))

    joined = side(arm).join(side(reference), on=["site", "month"], suffix="_ref")
    half = z * (pl.col("se") ** 2 + pl.col("se_ref") ** 2).sqrt()
    difference = pl.col("m") - pl.col("m_ref")
    return joined.select(
        "site",
        "month",
        difference.alias("estimate"),
        (difference - half).alias("ci_low"),
        (difference + half).alias("ci_high"),
    )


def randomized_vs_counterfactual_figure(
    subgroups: pl.DataFrame,
    comparisons: pl.DataFrame,
    bmd: pl.DataFrame,
    colors: Mapping[str, str],
    path: str | Path,
) -> None:
    """Set the randomized estimate beside the counterfactual effect in the same population.

    Left: risk ratio per fracture endpoint and month (randomized: the trial's comparison;
    counterfactual: every randomized patient under both arms). Right: BMD difference in
    percentage points per site and month.
    """
    truth = subgroups.filter(pl.col("subgroup") == "all")
    months = sorted(truth["month"].unique().to_list())
    arms = sorted(truth["arm"].unique().to_list())
    fig, axes = _figure("randomized_vs_counterfactual", 2)
    _versus_panel(axes[0], truth, comparisons, months, arms, colors, ratio=True)
    _versus_panel(axes[1], truth, bmd, months, arms, colors, ratio=False)
    reference = truth["reference_arm"][0] if truth.height else ""
    fig.suptitle(
        f"One randomized trial (circles) vs the counterfactual effect in the same patients "
        f"(diamonds), against {figures.arm_label(reference)}; 95% CI"
    )
    figures.save(fig, path)


def _randomized_effects(table: pl.DataFrame, arm: str, reference: str, ratio: bool):
    """Return endpoint, month, estimate, ci_low, ci_high of the trial's own comparison."""
    if ratio:
        return table.filter(pl.col("arm") == arm).select(
            "endpoint",
            "month",
            pl.col("risk_ratio").alias("estimate"),
            pl.col("rr_ci_low").alias("ci_low"),
            pl.col("rr_ci_high").alias("ci_high"),
        )
    return randomized_bmd_difference(table, arm, reference).select(
        ("bmd_" + pl.col("site").str.to_lowercase()).alias("endpoint"),
        "month",
        "estimate",
        "ci_low",
        "ci_high",
    )


def _interval_of(frame: pl.DataFrame) -> tuple[float, float, float]:
    row = frame.row(0, named=True)
    return row["estimate"], row["ci_low"], row["ci_high"]


def _versus_rows(truth, table, month, arm, ratio: bool) -> list[tuple[str, tuple, tuple]]:
    """Return (label, randomized (est, lo, hi), counterfactual (est, lo, hi)) per endpoint."""
    measure = "risk_ratio" if ratio else "mean_difference_pct_points"
    at = (pl.col("arm") == arm) & (pl.col("month") == month)
    counterfactual = truth.filter(at & (pl.col("measure") == measure))
    randomized = _randomized_effects(table, arm, truth["reference_arm"][0], ratio)
    randomized = randomized.filter(pl.col("month") == month)
    if ratio:
        names = dict(figures.ENDPOINT_NAMES)
    else:
        names = {f"bmd_{site.lower()}": f"{site} BMD" for site in figures.SITE_NAMES}
    rows = []
    for endpoint, name in names.items():
        rand = randomized.filter(pl.col("endpoint") == endpoint)
        twin = counterfactual.filter(pl.col("endpoint") == endpoint)
        if rand.height and twin.height:
            rows.append((f"{name}, m{month:g}", _interval_of(rand), _interval_of(twin)))
    return rows


def _versus_panel(ax, truth, table, months: Sequence[float], arms, colors, ratio: bool) -> None:
    labels: list[str] = []
    for arm in arms:
        for month in months:
            for label, rand, cf in _versus_rows(truth, table, month, arm, ratio):
                y = -len(labels)
                _interval(ax, y + 0.15, *rand, colors[arm], fmt="o")
                _interval(ax, y - 0.15, *cf, colors[arm], fmt="D", mfc="white")
                labels.append(label if len(arms) == 1 else f"{label} ({figures.arm_label(arm)})")
    ax.set_yticks(-np.arange(len(labels)))
    ax.set_yticklabels(labels)
    if ratio:
        ratio_axis(ax)
        ax.set_xlabel("risk ratio")
        ax.set_title("Fractures")
    else:
        ax.set_xlabel("BMD difference, % points")
        ax.set_title("Bone mineral density")
    ax.grid(axis="x", alpha=0.3)
