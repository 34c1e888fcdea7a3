"""Figure of the parameter-uncertainty analysis: prediction intervals next to confidence intervals.

Top: mean BMD % change per site and arm with the nominal run's 95 % CI (dark band) and the
prediction interval (light band; parameter and sampling uncertainty). Bottom: risk ratios of
every fracture endpoint at months 12 and 24 (or the last month) with the nominal CI (thick) and
the prediction interval (thin), log axis. Source: ``endpoints/prediction_intervals.parquet``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import polars as pl
from matplotlib import pyplot as plt
from matplotlib.ticker import FixedLocator, NullLocator

from osteotrial.report import figures_trial as figures

FIGURE_SIZE_IN = (15.0, 10.0)
FOREST_MONTHS = (12.0, 24.0)


def _bmd_panel(ax, intervals: pl.DataFrame, site: str, colors: Mapping[str, str]) -> None:
    rows = intervals.filter((pl.col("table") == "bmd") & (pl.col("endpoint") == site))
    for arm, color in colors.items():
        part = rows.filter(pl.col("arm") == arm).sort("time")
        month = np.r_[0.0, part["time"].to_numpy()]

        def column(name: str, part: pl.DataFrame = part) -> np.ndarray:
            return np.r_[0.0, part[name].to_numpy().astype(np.float64)]

        ax.fill_between(month, column("pi_low"), column("pi_high"), color=color, alpha=0.15, lw=0)
        ax.fill_between(month, column("ci_low"), column("ci_high"), color=color, alpha=0.4, lw=0)
        ax.plot(month, column("estimate"), "o-", color=color, ms=4, label=figures.arm_label(arm))
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set(title=figures.SITE_NAMES[site], xlabel="Months since randomization")
    ax.grid(alpha=0.3)


def _forest_panel(ax, intervals: pl.DataFrame, colors: Mapping[str, str]) -> None:
    rows = intervals.filter(
        (pl.col("table") == "comparisons") & (pl.col("statistic") == "risk_ratio")
    )
    months = [m for m in FOREST_MONTHS if m in rows["time"].to_list()] or [rows["time"].max()]
    order = {e: i for i, e in enumerate(figures.ENDPOINT_NAMES)}
    rows = rows.filter(pl.col("time").is_in(months))
    rows = rows.sort(pl.col("endpoint").replace_strict(order), "time", "arm")
    labels = [
        f"{figures.ENDPOINT_NAMES[e]}, month {m:g}"
        for e, m in rows.select("endpoint", "time").unique(maintain_order=True).iter_rows()
    ]
    y_of = {label: i for i, label in enumerate(labels)}
    arms = sorted(rows["arm"].unique().to_list())
    positive = rows.select(pl.col("pi_low", "ci_low", "estimate")).to_numpy().ravel()
    positive = positive[np.isfinite(positive.astype(np.float64)) & (positive > 0)]
    floor = float(positive.min()) / 2.0 if positive.size else 0.01  # where a PI down to 0 ends
    for j, arm in enumerate(arms):
        part = rows.filter(pl.col("arm") == arm)
        for row in part.iter_rows(named=True):
            y = y_of[f"{figures.ENDPOINT_NAMES[row['endpoint']]}, month {row['time']:g}"]
            y += (j - (len(arms) - 1) / 2) * 0.25
            if row["pi_low"] is not None:
                low = max(row["pi_low"], floor)
                ax.plot([low, row["pi_high"]], [y, y], color=colors[arm], lw=1.2)
                ax.plot([row["pi_high"]], [y], "|", color=colors[arm], ms=8)
                ax.plot([low], [y], "|" if row["pi_low"] > 0 else "<", color=colors[arm], ms=8)
            if row["estimate"] > 0 and np.isfinite(row["ci_high"]):
                ax.plot([row["ci_low"], row["ci_high"]], [y, y], color=colors[arm], lw=5, alpha=0.6)
                ax.plot(row["estimate"], y, "s", color="black", ms=5)
        reference = figures.arm_label(part["reference_arm"][0])
        label = f"{figures.arm_label(arm)} vs {reference}: 95% CI"
        ax.plot([], [], color=colors[arm], lw=5, alpha=0.6, label=label)
        ax.plot([], [], color=colors[arm], lw=1.2, label="prediction interval (< : down to 0)")
    ax.axvline(1, color="black", linewidth=0.8)
    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    ticks = [t for t in figures.RATIO_TICKS if lo <= t <= hi]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set(
        title="Risk ratio: nominal estimate (square), 95% CI (thick), prediction interval (thin)",
        xlabel="Risk ratio (log scale; < 1 favours treatment)",
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=9)


def prediction_figure(intervals: pl.DataFrame, colors: Mapping[str, str], path: str | Path) -> None:
    """Plot BMD % change and risk ratios with CI and prediction interval (module docstring)."""
    fig = plt.figure(figsize=FIGURE_SIZE_IN, dpi=figures.DPI, layout="constrained")
    axes = fig.subplot_mosaic([["LS", "TH", "FN"], ["rr", "rr", "rr"]], height_ratios=[1, 1.1])
    for site in ("LS", "TH", "FN"):
        _bmd_panel(axes[site], intervals, site, colors)
    axes["LS"].set_ylabel("BMD change from baseline (%)")
    axes["LS"].legend(loc="upper left")
    _forest_panel(axes["rr"], intervals, colors)
    level = intervals["level"][0]
    n_sets = intervals["n_parameter_sets"].max()
    fig.suptitle(
        f"Parameter uncertainty ({n_sets} parameter sets): {level:.0%} prediction intervals "
        "(light) next to the nominal 95% confidence intervals (dark)"
    )
    figures.save(fig, path)
