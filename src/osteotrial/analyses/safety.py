"""Safety tables from the safety event contract: any event names, any trial.

Contract (the shape of the SRE frames of ``analyses.sre``): ``patients`` (patient_id int64,
arm str, end_day float: end of follow-up in days from randomization, died bool, optional
stratum) and ``events`` (patient_id, arm, day float, event str). Sources: ONJ, AFF and MACE
(``analyses.safety_frames``); hypocalcemia by grade (``analyses.calcium_frames``, the ``ca``
part, joined at the merge). Events after a patient's end_day are not counted.

Tables (``endpoint_schemas.SAFETY_SCHEMAS``):

- ``safety_events``: per arm and event: patients with at least one (n, share, Wilson CI),
  events, patient-years, events per 100 patient-years with the exact Poisson CI (chi-square
  limits, Garwood 1936), the risk ratio of the share against the reference arm with its
  log-normal CI (``stats.intervals.risk_ratio_ci``; null, not estimable, when the reference
  arm has no event), and the cumulative incidence of the first
  event at the end of follow-up with death as a competing risk (Aalen-Johansen,
  ``stats.incidence``).
- ``safety_incidence``: the same cumulative incidence on a monthly grid, per arm and event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from osteotrial.analyses.sre import PATIENT_COLUMNS  # the same patients frame as the SREs'
from osteotrial.endpoint_schemas import SAFETY_SCHEMAS
from osteotrial.stats.incidence import aalen_johansen, competing_status
from osteotrial.stats.intervals import CONFIDENCE, proportion_ci_arrays, risk_ratio_ci
from osteotrial.units import DAYS_PER_MONTH

DAYS_PER_YEAR = 365.25
MONTH_DIGITS = 3  # as analyses.safety_expected.MONTH_DIGITS
EVENT_COLUMNS: dict[str, type[pl.DataType]] = {
    "patient_id": pl.Int64,
    "arm": pl.String,
    "day": pl.Float64,
    "event": pl.String,
}
# The serum calcium course (analyses.calcium_frames): a safety table of its own beside these
# two (endpoint_schemas.SAFETY_SCHEMAS), named here so the rule and the page find it.
CALCIUM_COURSE_TABLE = "safety_calcium_course"


def check_frames(patients: pl.DataFrame, events: pl.DataFrame) -> None:
    """Raise ValueError naming the frame and column that breaks the contract."""
    checks = ((patients, PATIENT_COLUMNS, "patients"), (events, EVENT_COLUMNS, "events"))
    for frame, columns, name in checks:
        for column, dtype in columns.items():
            if column not in frame.columns or frame.schema[column] != dtype:
                raise ValueError(f"safety frame {name!r}: column {column!r} must be {dtype}")
            if frame[column].null_count():
                raise ValueError(f"safety frame {name!r}: column {column!r} has nulls")


def poisson_rate_ci(n_events: np.ndarray, years: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the exact (Garwood) 95 % limits of a Poisson rate per year: chi-square
    quantiles 2k at alpha/2 and 2k + 2 at 1 - alpha/2, halved, over the exposure."""
    from scipy import stats as sps  # lazily: tests/test_imports.py

    k = np.asarray(n_events, dtype=np.float64)
    alpha = 1.0 - CONFIDENCE
    low = np.where(k > 0, sps.chi2.ppf(alpha / 2, 2 * k) / 2, 0.0)
    high = sps.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return low / years, high / years


def observed(patients: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """Return the events within each patient's follow-up (day <= end_day)."""
    ends = patients.select("patient_id", "end_day")
    return events.join(ends, on="patient_id").filter(pl.col("day") <= pl.col("end_day"))


def _first_days(patients: pl.DataFrame, seen: pl.DataFrame, event: str) -> np.ndarray:
    """Return each patient's first day of ``event`` (inf if none), in patients' order."""
    first = seen.filter(pl.col("event") == event).group_by("patient_id").agg(pl.col("day").min())
    joined = patients.select("patient_id").join(first, on="patient_id", how="left")
    return joined["day"].fill_null(np.inf).to_numpy()


def _cumulative_incidence(arm_pats: pl.DataFrame, first: np.ndarray, months) -> tuple:
    """Return (months, incidence, low, high) of the first event, death competing."""
    end = arm_pats["end_day"].to_numpy()
    death = np.where(arm_pats["died"].to_numpy(), end, np.inf)
    time, status = competing_status(first, death, end, float(np.max(end, initial=0.0)))
    return aalen_johansen(time, status, months)


def _event_row(arm_pats, seen, arm, event, months_end) -> dict:
    """Return one row of ``safety_events`` without the comparison columns."""
    mine = seen.filter((pl.col("arm") == arm) & (pl.col("event") == event))
    n = arm_pats.height
    n_with = mine["patient_id"].n_unique()
    years = float(arm_pats["end_day"].sum()) / DAYS_PER_YEAR
    rate_low, rate_high = poisson_rate_ci(np.array([mine.height]), np.array([years]))
    low, high = proportion_ci_arrays(np.array([n_with]), np.array([n]))
    _, cif, cif_low, cif_high = _cumulative_incidence(
        arm_pats, _first_days(arm_pats, mine, event), [months_end]
    )
    per100 = 100.0 / years if years > 0 else float("nan")
    return {
        "arm": arm, "event": event, "n_patients": n, "n_with_event": n_with,
        "share": n_with / n if n else float("nan"), "share_ci_low": float(low[0]),
        "share_ci_high": float(high[0]), "n_events": mine.height, "patient_years": years,
        "per_100_patient_years": mine.height * per100,
        "rate_ci_low": float(rate_low[0]) * 100.0, "rate_ci_high": float(rate_high[0]) * 100.0,
        "cumulative_incidence": float(cif[0]), "cumulative_incidence_ci_low": float(cif_low[0]),
        "cumulative_incidence_ci_high": float(cif_high[0]),
    }  # fmt: skip


def events_table(
    patients: pl.DataFrame,
    events: pl.DataFrame,
    reference_arm: str | None,
    event_names: Sequence[str] = (),
) -> pl.DataFrame:
    """Return ``safety_events`` (module docstring). ``event_names``: events listed even
    with no occurrence (besides every name in ``events``); ``reference_arm``: the control
    arm of the risk ratios (None or absent: nan)."""
    check_frames(patients, events)
    seen = observed(patients, events)
    names = sorted(set(event_names) | set(events["event"].unique().to_list()))
    arms = patients["arm"].unique(maintain_order=True).to_list()
    months_end = float(patients["end_day"].max() or 0.0) / DAYS_PER_MONTH
    month = round(months_end, MONTH_DIGITS)  # the key of the prediction intervals' rows
    rows = []
    for event in names:
        by_arm = {
            a: _event_row(patients.filter(pl.col("arm") == a), seen, a, event, months_end)
            for a in arms
        }
        ref = by_arm.get(reference_arm) if reference_arm else None
        for arm, row in by_arm.items():
            rr = (float("nan"),) * 3
            # not estimable (null) when the reference arm has no event: no infinite ratios
            if ref is not None and arm != reference_arm and ref["n_with_event"] > 0:
                counts = (row["n_with_event"], row["n_patients"])
                rr = risk_ratio_ci(*counts, ref["n_with_event"], ref["n_patients"])
            ratio = dict(zip(("risk_ratio", "rr_ci_low", "rr_ci_high"), rr, strict=True))
            rows.append(row | {"month": month, "reference_arm": reference_arm or ""} | ratio)
    return _frame("safety_events", rows)


def incidence_table(
    patients: pl.DataFrame, events: pl.DataFrame, event_names: Sequence[str] = ()
) -> pl.DataFrame:
    """Return ``safety_incidence``: cumulative incidence of each event's first occurrence,
    death competing, per arm at every whole month of follow-up."""
    check_frames(patients, events)
    seen = observed(patients, events)
    names = sorted(set(event_names) | set(events["event"].unique().to_list()))
    months = np.arange(0.0, np.floor(float(patients["end_day"].max() or 0.0) / DAYS_PER_MONTH) + 1)
    rows = []
    for arm in patients["arm"].unique(maintain_order=True).to_list():
        mine = patients.filter(pl.col("arm") == arm)
        for event in names:
            _, cif, low, high = _cumulative_incidence(mine, _first_days(mine, seen, event), months)
            rows += [
                {
                    "arm": arm,
                    "event": event,
                    "month": float(m),
                    "cumulative_incidence": float(c),
                    "ci_low": float(lo),
                    "ci_high": float(hi),
                }
                for m, c, lo, hi in zip(months, cif, low, high, strict=True)
            ]
    return _frame("safety_incidence", rows)


def _frame(name: str, rows: list[dict]) -> pl.DataFrame:
    """Return rows as a frame with the columns and types of SAFETY_SCHEMAS[name]."""
    kinds = {"int64": pl.Int64, "string": pl.String}
    types = {f.name: kinds.get(str(f.type), pl.Float64) for f in SAFETY_SCHEMAS[name]}
    if not rows:
        return pl.DataFrame(schema=types)
    return pl.DataFrame(rows).select([pl.col(c).cast(t) for c, t in types.items()])


def safety_tables(
    patients: pl.DataFrame,
    events: pl.DataFrame,
    reference_arm: str | None,
    event_names: Sequence[str] = (),
) -> Mapping[str, pl.DataFrame]:
    """Return every safety table by name (``SAFETY_SCHEMAS`` order)."""
    return {
        "safety_events": events_table(patients, events, reference_arm, event_names),
        "safety_incidence": incidence_table(patients, events, event_names),
    }
