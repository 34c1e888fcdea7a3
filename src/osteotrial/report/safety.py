"""Report page "Safety" (safety.html) of every trial: the tables of ``analyses.safety``.

Per arm and event (osteonecrosis of the jaw, atypical femoral fracture, major adverse
cardiovascular events; hypocalcemia by grade from part ca at the merge): patients with an
event, n (%), events per 100 patient-years with the exact Poisson CI, the risk ratio against
the control arm, and the cumulative incidence of the first event at the end of follow-up with
death competing. The serum calcium course (``analyses.safety.CALCIUM_COURSE_TABLE``)
is shown when its table is given. Figure ``safety.png`` (fixed size, the report's arm
colours): one panel per event with its cumulative incidence by arm (Aalen-Johansen, death
competing, 95 % CI band; ``safety_incidence``) and a panel of the serum calcium course by arm
(mean with the 5th-95th percentile band, and the mean nadir so far, which shows the dip
between visits). The page is written by ``report.build.write_report``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import polars as pl

from osteotrial.analyses.safety import CALCIUM_COURSE_TABLE
from osteotrial.report.figures_trial import DPI, arm_label, save

FIGURE_SIZE_IN = (16.0, 7.5)  # safety.png: 2 x 4 panels, the events' and the calcium course
PANELS = (2, 4)
SAFETY_REPORT_FILES: tuple[str, ...] = ("safety.html", "safety.png")
EVENT_LABELS = {
    "osteonecrosis_of_the_jaw": "osteonecrosis of the jaw",
    "atypical_femoral_fracture": "atypical femoral fracture",
    "mace": "major adverse cardiovascular event",
}
CIF = ("cumulative_incidence", "cumulative_incidence_ci_low", "cumulative_incidence_ci_high")
INTRO = (
    "<p>Rare harms drawn from the model's own exposure states (docs/model.md, 'Safety'): ONJ "
    "from the cumulative depth of resorption suppression and invasive dental procedures, AFF "
    "from an antiresorptive-duration memory that recedes after stopping, MACE from age, prior "
    "cardiovascular disease and romosozumab's hazard ratio while exposed. Rates per 100 "
    "patient-years with exact Poisson 95 % CI; risk ratios of the share with an event against "
    "the control arm (log-normal CI); cumulative incidence of the first event with death as a "
    "competing risk (Aalen-Johansen). Events this rare are drawn in few patients: a trial-size "
    "run can show 0 events where the expected count is small.</p>"
)


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _ci(value, low, high, digits: int) -> str:
    if value is None or not np.isfinite(value):
        return "-"
    return f"{_num(value, digits)} ({_num(low, digits)}-{_num(high, digits)})"


def events_display(events: pl.DataFrame) -> pl.DataFrame:
    """Return ``safety_events`` as printed, one row per event and arm."""
    rows = []
    for r in events.sort("event", "arm").iter_rows(named=True):
        rows.append(
            {
                "event": EVENT_LABELS.get(r["event"], r["event"].replace("_", " ")),
                "arm": arm_label(r["arm"]),
                "patients with event, n (%)": f"{r['n_with_event']} / {r['n_patients']} "
                f"({_num(100 * r['share'], 2)} %)",
                "events": str(r["n_events"]),
                "patient-years": _num(r["patient_years"], 0),
                "per 100 patient-years (95 % CI)": _ci(
                    r["per_100_patient_years"], r["rate_ci_low"], r["rate_ci_high"], 3
                ),
                "risk ratio vs control (95 % CI)": _ci(
                    r["risk_ratio"], r["rr_ci_low"], r["rr_ci_high"], 2
                ),
                "cumulative incidence, % (95 % CI)": _ci(*(100 * (r[k] or 0.0) for k in CIF), 2),
            }
        )
    return pl.DataFrame(rows)


def _incidence_panel(ax, curves: pl.DataFrame, event: str, colors: Mapping[str, str]) -> None:
    """Plot one event's cumulative incidence (%) by arm with its 95 % CI band."""
    for arm, color in colors.items():
        part = curves.filter((pl.col("arm") == arm) & (pl.col("event") == event)).sort("month")
        if not part.height:
            continue
        month = part["month"].to_numpy()
        low, high = 100 * part["ci_low"].to_numpy(), 100 * part["ci_high"].to_numpy()
        ax.fill_between(month, low, high, step="post", color=color, alpha=0.15)
        value = 100 * part["cumulative_incidence"].to_numpy()
        ax.step(month, value, where="post", color=color, lw=2, label=arm_label(arm))
    ax.set_title(EVENT_LABELS.get(event, event.replace("_", " ")), fontsize=10)
    ax.set(xlabel="Months since randomization", ylabel="Cumulative incidence (%)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)


def _calcium_panel(ax, course: pl.DataFrame | None, colors: Mapping[str, str]) -> None:
    """Plot the serum calcium course by arm: mean, 5th-95th percentile band, mean nadir."""
    ax.set_title("Serum calcium (mean, 5th-95th pct.; dashed: mean nadir so far)", fontsize=10)
    if course is None or not course.height:
        ax.text(0.5, 0.5, "no calcium course in this run", transform=ax.transAxes, ha="center")
        return
    for arm, color in colors.items():
        part = course.filter(pl.col("arm") == arm).sort("day")
        if not part.height:
            continue
        month = part["day"].to_numpy() / 30.4375
        ax.fill_between(month, part["p5"], part["p95"], color=color, alpha=0.15)
        ax.plot(month, part["mean_mmol_l"], "o-", color=color, ms=3, label=arm_label(arm))
        ax.plot(month, part["mean_nadir_mmol_l"], "--", color=color, lw=1)
    ax.set(xlabel="Months since randomization", ylabel="Serum calcium (mmol/L)")
    ax.grid(alpha=0.3)


def safety_figure(tables: Mapping[str, pl.DataFrame], colors: Mapping[str, str], path) -> None:
    """Write ``safety.png``: each event's cumulative incidence by arm, then the calcium
    course (module docstring); at most ``PANELS`` product - 1 events."""
    curves = tables["safety_incidence"]
    events = sorted(curves["event"].unique().to_list(), key=_event_order)
    n_rows, n_cols = PANELS
    if len(events) > n_rows * n_cols - 1:
        raise ValueError(f"safety figure: {len(events)} events, at most {n_rows * n_cols - 1}")
    fig, axes = plt.subplots(n_rows, n_cols, figsize=FIGURE_SIZE_IN, dpi=DPI, layout="constrained")
    flat = axes.ravel()
    for ax, event in zip(flat, events, strict=False):
        _incidence_panel(ax, curves, event, colors)
    _calcium_panel(flat[len(events)], tables.get(CALCIUM_COURSE_TABLE), colors)
    flat[0].legend(loc="upper left", fontsize=8)
    for ax in flat[len(events) + 1 :]:
        ax.axis("off")
    save(fig, path)


def _event_order(event: str) -> tuple[int, str]:
    """Sort key: the labelled events first (ONJ, AFF, MACE), then the others by name."""
    order = list(EVENT_LABELS)
    return (order.index(event), "") if event in order else (len(order), event)


def write_safety_page(
    tables: Mapping[str, pl.DataFrame],
    colors: Mapping[str, str],
    out: Path,
    page: Callable[[str, Sequence[str]], str],
    table: Callable[[pl.DataFrame, str], str],
) -> list[Path]:
    """Write ``SAFETY_REPORT_FILES`` from the safety tables (``io.SAFETY_TABLES``, plus the
    calcium course when given); ``colors``: the report's arm colours; ``page`` and ``table``
    are the report's HTML builders."""
    safety_figure(tables, colors, out / "safety.png")
    figure = (
        "<img src='safety.png' alt='cumulative incidence of each safety event by arm and the "
        "serum calcium course'>"
    )
    events = table(events_display(tables["safety_events"]), "Safety events by arm")
    sections = [INTRO, events, figure]
    months = tables["safety_incidence"]["month"]
    if months.len():
        last = tables["safety_incidence"].filter(pl.col("month") == months.max())
        caption = f"Cumulative incidence of the first event at month {months.max():g}"
        sections.append(table(last.select("arm", "event", "cumulative_incidence"), caption))
    if CALCIUM_COURSE_TABLE in tables:  # serum calcium per arm and visit
        sections.append(table(tables[CALCIUM_COURSE_TABLE], "Serum calcium course"))
    (out / "safety.html").write_text(page("Safety", sections), encoding="utf-8")
    return [out / name for name in SAFETY_REPORT_FILES]
