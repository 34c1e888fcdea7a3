"""The power figure of one trial from its power table (``results/T/power/power.parquet``).

One column of panels per fracture endpoint. Top row: power against patients per arm (log axis)
for each treated arm and selected month; replicate power as points with 95 % Monte Carlo error
bars (1.96 x ``power_mc_se``; the trial's test named in the panel title: Fisher's exact test
or log-rank), the analytic power of the pooled z-test dashed, the nominal alpha and
80 % / 90 % power as horizontal lines, the trial's real size as a vertical line, and a star at
the power the published design implies (``power.design_power``: published proportions and
sizes), drawn at the trial's size. Bottom row: median risk ratio of the replicates with the
5-95 % band and the super-cohort's true risk ratio.
Fixed size ``FIGURE_SIZE_IN`` at ``figures.DPI`` (matplotlib, Agg backend like ``figures``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import polars as pl
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, NullLocator

from osteotrial.analyses.endpoints import FRACTURE_ENDPOINTS
from osteotrial.report import figures_trial as figures

FIGURE_SIZE_IN = (20.0, 8.5)
POWER_LINES = (0.8, 0.9)
MIN_TICK_RATIO = 1.35  # neighbouring labels on the log size axis at least this far apart
TEST_NAMES = {"fisher": "Fisher's exact test", "logrank": "log-rank test", "pooled_z": "z-test"}


def size_ticks(sizes: Sequence[int]) -> list[float]:
    """Return labels for the log size axis: 1-2-5 values and both ends, none too close."""
    low, high = float(min(sizes)), float(max(sizes))
    decades = 10.0 ** np.arange(np.floor(np.log10(low)), np.ceil(np.log10(high)) + 1)
    nice = [v for d in decades for v in (d, 2 * d, 5 * d) if low * MIN_TICK_RATIO <= v]
    kept = [low]
    for value in [v for v in nice if v * MIN_TICK_RATIO <= high] + [high]:
        if value >= kept[-1] * MIN_TICK_RATIO or value == high:
            kept.append(value)
    return sorted(set(kept))


def _log_ticks(ax, axis: str, ticks: Sequence[float]) -> None:
    """Label a log ``axis`` ("x" or "y") of ``ax`` at ``ticks`` only, as plain numbers."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(FixedLocator(list(ticks)))
    target.set_minor_locator(NullLocator())
    target.set_major_formatter("{x:g}")


def _curves(table: pl.DataFrame, months: Sequence[float]) -> dict[tuple[str, float], str]:
    """Return one colour per (treated arm, month) drawn, in a fixed order."""
    drawn = table.filter(pl.col("month").is_in([float(m) for m in months]))
    keys = drawn.select("arm", "month").unique().sort("arm", "month").iter_rows()
    return {key: figures.PALETTE[1 + i % (len(figures.PALETTE) - 1)] for i, key in enumerate(keys)}


def _power_panel(ax, part: pl.DataFrame, color: str, alpha: float) -> None:
    n = part["n_per_arm"].to_numpy()
    power = part["power"].to_numpy()
    ax.errorbar(
        n,
        power,
        yerr=1.96 * part["power_mc_se"].to_numpy(),
        fmt="o-",
        color=color,
        ms=4,
        lw=1.2,
        capsize=3,
    )
    ax.plot(n, part["analytic_power"].to_numpy(), "--", color=color, lw=1.5)
    ax.axhline(alpha, color="0.5", lw=0.8, ls=":")


def _ratio_panel(ax, part: pl.DataFrame, color: str) -> None:
    n = part["n_per_arm"].to_numpy()
    ax.fill_between(n, part["rr_q05"], part["rr_q95"], color=color, alpha=0.12, lw=0)
    for edge in ("rr_q05", "rr_q95"):
        ax.plot(n, part[edge].to_numpy(), "-", color=color, lw=0.8, alpha=0.7)
    ax.plot(n, part["rr_median"].to_numpy(), "o-", color=color, ms=4, lw=1.2)
    true_rr = float(part["true_risk_ratio"][0])
    if np.isfinite(true_rr) and true_rr > 0:
        ax.axhline(true_rr, color=color, lw=1.5, ls="--")


def _decorate(top, bottom, sizes: np.ndarray, trial_sizes: Sequence[int]) -> None:
    for value in POWER_LINES:
        top.axhline(value, color="0.3", lw=0.8, ls="-.")
    for ax in (top, bottom):
        for size in trial_sizes:
            ax.axvline(size, color="black", lw=1.0, ls=(0, (1, 2)))
        ax.set_xscale("log")
        _log_ticks(ax, "x", size_ticks(sizes))
        ax.grid(alpha=0.3)
    top.set_ylim(-0.02, 1.02)
    bottom.axhline(1.0, color="black", lw=0.8)
    bottom.set_yscale("log")
    low, high = bottom.get_ylim()
    _log_ticks(bottom, "y", [t for t in figures.RATIO_TICKS if low <= t <= high])
    bottom.set_xlabel("Patients per arm (log scale)")


def _legend_handles(colors: Mapping[tuple[str, float], str], reference: str) -> list[Line2D]:
    versus = f" vs {figures.arm_label(reference)}, month "
    handles = [
        Line2D([], [], color=c, marker="o", label=f"{figures.arm_label(a)}{versus}{m:g}")
        for (a, m), c in colors.items()
    ]
    styles = (
        ("-", "o", "replicate trials (95% MC interval; RR: median, 5-95% band)"),
        ("--", "", "analytic power of the pooled z-test (Fleiss, no CC) / true RR"),
        ("-.", "", "80% and 90% power"),
        (":", "", "nominal alpha (grey); trial's size (black)"),
        ("", "*", "design: analytic power at the published rates and sizes"),
    )
    for style, marker, label in styles:
        size = 12 if marker == "*" else 6
        line = Line2D([], [], color="0.3", ls=style or "none", marker=marker, ms=size, label=label)
        handles.append(line)
    return handles


def _title(table: pl.DataFrame, endpoint: str) -> str:
    """Return the panel title: the endpoint and its replicate tests (if the table names them)."""
    title = f"{figures.ENDPOINT_NAMES[endpoint]} fractures"
    if "test" not in table.columns:
        return title
    tests = table.filter(pl.col("endpoint") == endpoint)["test"].unique().sort()
    return f"{title}\n({', '.join(TEST_NAMES.get(name, name) for name in tests)})"


def _design_stars(ax, design: pl.DataFrame, endpoint: str, trial_sizes, colors) -> None:
    for row in design.filter(pl.col("endpoint") == endpoint).iter_rows(named=True):
        if row["arm"] in trial_sizes:
            color = colors.get((row["arm"], row["month"]), "black")
            x, y = trial_sizes[row["arm"]], row["power"]
            ax.plot(x, y, "*", ms=15, color=color, mec="black", zorder=5)


def power_figure(
    table: pl.DataFrame,
    trial_sizes: Mapping[str, int],
    months: Sequence[float],
    path: str | Path,
    design: pl.DataFrame | None = None,
) -> None:
    """Plot power and risk ratio against patients per arm (module docstring), one PNG.

    ``table`` is the power table; ``trial_sizes`` maps each treated arm to the trial's real
    size (vertical lines); ``months`` are the months drawn (those of an endpoint that it has);
    ``design`` is ``power.design_power`` output (stars), if any.
    """
    endpoints = [e for e in FRACTURE_ENDPOINTS if e in set(table["endpoint"])]
    fig, axes = figures.plt.subplots(
        2,
        len(endpoints),
        figsize=FIGURE_SIZE_IN,
        dpi=figures.DPI,
        layout="constrained",
        sharex=True,
        squeeze=False,
    )
    colors = _curves(table, months)
    alpha = float(table["alpha"][0])
    sizes = table["n_per_arm"].unique().sort().to_numpy()
    for column, endpoint in enumerate(endpoints):
        top, bottom = axes[0, column], axes[1, column]
        for (arm, month), color in colors.items():
            part = table.filter(
                (pl.col("endpoint") == endpoint)
                & (pl.col("arm") == arm)
                & (pl.col("month") == month)
            ).sort("n_per_arm")
            if part.height:
                _power_panel(top, part, color, alpha)
                _ratio_panel(bottom, part, color)
        _decorate(top, bottom, sizes, sorted(set(trial_sizes.values())))
        if design is not None:
            _design_stars(top, design, endpoint, trial_sizes, colors)
        top.set_title(_title(table, endpoint))
    axes[0, 0].set_ylabel("Power (share of replicates with p < alpha)")
    axes[1, 0].set_ylabel("Risk ratio (log scale)")
    reference = str(table["reference_arm"][0])
    fig.legend(handles=_legend_handles(colors, reference), loc="outside lower center", ncols=3)
    replicates = int(table["replicates"][0])
    fig.suptitle(
        f"Power of replicate trials drawn from the super-cohort ({replicates} per size; "
        f"two-sided tests, alpha = {alpha:g})"
    )
    figures.save(fig, path)
