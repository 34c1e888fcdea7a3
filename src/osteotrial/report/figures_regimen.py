"""The quick-look figure of ``osteotrial simulate``: one or a few regimens on one cohort.

Three panels over months since day 0: mean BMD % change at lumbar spine, total hip and femoral
neck; median P1NP and CTX % change; the cumulative incidence (%) of new vertebral, of
nonvertebral (hip included, as in the trials: ``analyses.vocabulary``) and of hip fractures.
The band around a mean BMD curve is its t-based 95 % confidence interval, the band around an
incidence its Wilson 95 % interval (``api.summarize``): they show the Monte Carlo error of the
cohort's size, not the model's uncertainty. Marker medians carry no band. Each regimen keeps
one colour (Okabe-Ito palette of the report); when one regimen is shown, the drugs' treatment
periods are shaded and named in a legend. Input: ``api.summarize`` of an ``api.simulate``
table and the regimens' ArmSpecs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from osteotrial.analyses.vocabulary import label  # noqa: E402
from osteotrial.report.figures_trial import DRUG_SHADES, PALETTE  # noqa: E402
from osteotrial.trial.schedules import ArmSpec  # noqa: E402
from osteotrial.units import DAYS_PER_MONTH  # noqa: E402

FIGURE_SIZE_IN = (15.0, 5.0)
DPI = 100
BAND_ALPHA = 0.15
# (title, y-axis label, series): a series is (summary column, low, high, line style, legend);
# low/high name the interval columns of the band, None for no band.
PANELS = (
    (
        "BMD",
        "mean % change from baseline",
        tuple(
            (f"bmd_{s}_pct_change_mean", f"bmd_{s}_pct_change_ci_low",
             f"bmd_{s}_pct_change_ci_high", style, s.upper())
            for s, style in (("ls", "-"), ("th", "--"), ("fn", ":"))
        ),
    ),
    (
        "Bone turnover markers",
        "median % change from baseline",
        (
            ("p1np_pct_change_median", None, None, "-", "P1NP"),
            ("ctx_pct_change_median", None, None, "--", "CTX"),
        ),
    ),
    (
        "Fractures",
        "cumulative incidence, % of women",
        tuple(
            (f"{k}_incidence_frac", f"{k}_incidence_ci_low_frac",
             f"{k}_incidence_ci_high_frac", style, label(k))
            for k, style in (("new_vertebral", "-"), ("nonvertebral", "--"), ("hip", ":"))
        ),
    ),
)  # fmt: skip


def _shade(axes, arm: ArmSpec) -> list[Patch]:
    """Shade the treatment periods of one regimen on every panel; return legend handles."""
    drugs: dict[str, Patch] = {}
    for drug, start_day, stop_day in arm.treatment_periods():
        color = DRUG_SHADES.get(drug, "#DDDDDD")
        for ax in axes:
            ax.axvspan(
                start_day / DAYS_PER_MONTH, stop_day / DAYS_PER_MONTH, color=color, alpha=0.35, lw=0
            )
        drugs.setdefault(drug, Patch(color=color, alpha=0.35, label=f"{drug} period (shaded)"))
    return list(drugs.values())


def _draw_series(ax, rows: pl.DataFrame, series: tuple, color: str, first: bool) -> None:
    """Draw one panel's curves (and 95 % bands) of one regimen."""
    for column, low, high, style, what in series:
        scale = 100.0 if column.endswith("_frac") else 1.0
        ax.plot(
            rows["month"], rows[column] * scale, style, color=color, label=what if first else None
        )
        if low is not None:
            ax.fill_between(
                rows["month"], rows[low] * scale, rows[high] * scale, color=color,
                alpha=BAND_ALPHA, lw=0,
            )  # fmt: skip


def regimen_figure(summary: pl.DataFrame, arms: Mapping[str, ArmSpec]) -> Figure:
    """Return the quick-look figure (``FIGURE_SIZE_IN`` at ``DPI``) of ``summary``.

    Line styles name the series of a panel (legend in the panel), colours the regimens, the
    shading the drugs' treatment periods and the bands the 95 % intervals (legend below).
    """
    fig, axes = plt.subplots(1, len(PANELS), figsize=FIGURE_SIZE_IN, dpi=DPI)
    handles: list = _shade(axes, next(iter(arms.values()))) if len(arms) == 1 else []
    groups = summary.group_by("regimen", maintain_order=True)
    for index, ((name,), rows) in enumerate(groups):
        color = PALETTE[index % len(PALETTE)]
        for ax, (title, ylabel, series) in zip(axes, PANELS, strict=True):
            _draw_series(ax, rows, series, color, index == 0)
            ax.set(title=title, xlabel="months since day 0", ylabel=ylabel)
        handles.append(Line2D([], [], color=color, label=name))
    handles.append(Patch(color="0.5", alpha=BAND_ALPHA * 2, label="95 % CI (band)"))
    for ax in axes:
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.legend(fontsize=8, loc="best")
    n_rows = 1 + (len(handles) - 1) // 3
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 3), fontsize=9)
    fig.tight_layout(rect=(0.0, 0.06 * n_rows, 1.0, 1.0))
    return fig


def plot_regimens(summary: pl.DataFrame, arms: Mapping[str, ArmSpec], path: str | Path) -> None:
    """Write the quick-look figure of ``summary`` (``regimen_figure``) as a PNG at ``path``."""
    fig = regimen_figure(summary, arms)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
