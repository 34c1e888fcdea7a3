"""Report page "Safety" (safety.html) of every trial: the tables of ``analyses.safety``.

Per arm and event (osteonecrosis of the jaw, atypical femoral fracture, major adverse
cardiovascular events; hypocalcemia by grade from part ca at the merge): patients with an
event, n (%), events per 100 patient-years with the exact Poisson CI, the risk ratio against
the control arm, and the cumulative incidence of the first event at the end of follow-up with
death competing. The serum calcium course (``analyses.safety.CALCIUM_COURSE_TABLE``)
is shown when its table is given. The page is written by ``report.build.write_report``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import polars as pl

from osteotrial.analyses.safety import CALCIUM_COURSE_TABLE
from osteotrial.report.figures_trial import arm_label

SAFETY_REPORT_FILES: tuple[str, ...] = ("safety.html",)
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


def write_safety_page(
    tables: Mapping[str, pl.DataFrame],
    out: Path,
    page: Callable[[str, Sequence[str]], str],
    table: Callable[[pl.DataFrame, str], str],
) -> list[Path]:
    """Write safety.html from the safety tables (``io.SAFETY_TABLES``, plus the calcium
    course when given); ``page`` and ``table`` are the report's HTML builders."""
    sections = [INTRO, table(events_display(tables["safety_events"]), "Safety events by arm")]
    months = tables["safety_incidence"]["month"]
    if months.len():
        last = tables["safety_incidence"].filter(pl.col("month") == months.max())
        caption = f"Cumulative incidence of the first event at month {months.max():g}"
        sections.append(table(last.select("arm", "event", "cumulative_incidence"), caption))
    if CALCIUM_COURSE_TABLE in tables:  # serum calcium per arm and visit
        sections.append(table(tables[CALCIUM_COURSE_TABLE], "Serum calcium course"))
    path = out / "safety.html"
    path.write_text(page("Safety", sections), encoding="utf-8")
    return [path]
