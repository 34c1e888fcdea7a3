"""The quick-look figure of ``osteotrial simulate``: one or a few regimens on one cohort.

Three panels over months since day 0: mean BMD % change at lumbar spine and total hip, median
P1NP and CTX % change, and the cumulative incidence of any new vertebral and of nonvertebral
(hip or other) fracture. Each regimen keeps one colour (Okabe-Ito palette of the report); the
drugs' treatment periods are shaded when one regimen is shown. Input: ``api.summarize`` of a
``api.simulate`` table and the regimens' ArmSpecs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from osteotrial.report.figures_trial import DRUG_SHADES, PALETTE  # noqa: E402
from osteotrial.trial.schedules import ArmSpec  # noqa: E402
from osteotrial.units import DAYS_PER_MONTH  # noqa: E402

FIGURE_SIZE_IN = (14.0, 4.5)
DPI = 100
PANELS = (
    (
        "BMD, mean % change",
        (("bmd_ls_pct_change_mean", "-", "LS"), ("bmd_th_pct_change_mean", "--", "TH")),
    ),
    (
        "Markers, median % change",
        (("p1np_pct_change_median", "-", "P1NP"), ("ctx_pct_change_median", "--", "CTX")),
    ),
    (
        "Cumulative incidence, %",
        (
            ("vertebral_incidence_frac", "-", "vertebral"),
            ("nonvertebral_incidence_frac", "--", "nonvertebral"),
        ),
    ),
)


def _shade(axes, arm: ArmSpec) -> None:
    """Shade the treatment periods of one regimen on every panel."""
    for drug, start_day, stop_day in arm.treatment_periods():
        for ax in axes:
            ax.axvspan(
                start_day / DAYS_PER_MONTH,
                stop_day / DAYS_PER_MONTH,
                color=DRUG_SHADES.get(drug, "#DDDDDD"),
                alpha=0.35,
                lw=0,
                label=None,
            )


def plot_regimens(summary: pl.DataFrame, arms: Mapping[str, ArmSpec], path: str | Path) -> None:
    """Write the quick-look figure (PNG, ``FIGURE_SIZE_IN`` at ``DPI``) of ``summary``.

    Line styles name the series of a panel (legend in the panel), colours the regimens
    (legend below the panels).
    """
    fig, axes = plt.subplots(1, len(PANELS), figsize=FIGURE_SIZE_IN, dpi=DPI)
    if len(arms) == 1:
        _shade(axes, next(iter(arms.values())))
    groups = summary.group_by("regimen", maintain_order=True)
    handles = []
    for index, ((name,), rows) in enumerate(groups):
        color = PALETTE[index % len(PALETTE)]
        for ax, (title, series) in zip(axes, PANELS, strict=True):
            for column, style, what in series:
                scale = 100.0 if column.endswith("_frac") else 1.0
                label = what if index == 0 else None
                ax.plot(rows["month"], rows[column] * scale, style, color=color, label=label)
            ax.set_title(title)
            ax.set_xlabel("month")
        handles.append(Line2D([], [], color=color, label=name))
    for ax in axes:
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.legend(fontsize=8, loc="best")
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 2), fontsize=9)
    fig.tight_layout(rect=(0.0, 0.06 * (1 + (len(handles) - 1) // 2), 1.0, 1.0))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
