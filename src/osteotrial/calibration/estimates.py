"""Emulated estimates with their 95 % intervals, read from a trial's endpoint tables.

The calibration table, the validation page and the efficacy table compare or print the same
quantities; each is an ``Estimate`` (value, 95 % CI low, high; NaN when the tables cannot give
it). Intervals:

- mean BMD percent change: the t interval of the ``bmd`` table;
- difference of two independent means (two arms, or one arm's gap at two months): normal
  interval from the standard errors read off the two t intervals. A gap's change between two
  months ignores the (positive) correlation of a patient's readings, so its interval is wider
  than an exact one: conservative;
- median marker change: median +- 1.96 IQR / sqrt(n), the large-sample interval of a median
  (SE = 1 / (2 f sqrt(n))) with the density at the median f taken as the mean density between
  the quartiles, 0.5 / IQR. It needs the markers table's quartiles and ``n_patients`` (the
  patients on study that day, added by the report, ``report.build.with_marker_counts``); for
  a normal sample it is 1.08 times the exact width, and wider still for a peaked one;
- percent difference of two medians (treated vs control): delta method on the log ratio;
- SD of a percent change: the chi-square interval of a normal sample's SD.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import polars as pl
from scipy import stats

from osteotrial.units import DAYS_PER_MONTH

NAN = float("nan")
Z95 = 1.959963984540054


class Estimate(NamedTuple):
    """An emulated value with its 95 % interval (all NaN when it cannot be computed)."""

    value: float
    low: float
    high: float

    def se(self) -> float:
        """Return the standard error implied by a symmetric normal interval."""
        return (self.high - self.low) / (2 * Z95)


MISSING = Estimate(NAN, NAN, NAN)


def num(value: float | None) -> float:
    """Return ``value`` as a float, NaN for a null (a value the tables could not compute)."""
    return NAN if value is None else float(value)


def of_row(row: dict[str, Any] | None, *columns: str, scale: float = 1.0) -> Estimate:
    """Return the Estimate held in three columns of a table row (MISSING without a row)."""
    if row is None:
        return MISSING
    return Estimate(*(scale * num(row[c]) for c in columns))


def pick(table: pl.DataFrame, **where: Any) -> dict[str, Any] | None:
    """Return the first row of ``table`` where every column equals its value, or None."""
    frame = table.filter(*[pl.col(k) == v for k, v in where.items()])
    return frame.row(0, named=True) if frame.height else None


def nearest_day(table: pl.DataFrame, day: float, **where: Any) -> dict[str, Any] | None:
    """Return the row (matching ``where``) whose ``day`` is nearest ``day``, or None."""
    frame = table.filter(*[pl.col(k) == v for k, v in where.items()])
    if frame.height == 0:
        return None
    return frame.with_columns(gap=(pl.col("day") - day).abs()).sort("gap").row(0, named=True)


def bmd_mean(bmd: pl.DataFrame, arm: str, site: str, month: float) -> Estimate:
    """Return the mean BMD percent change of an arm at a site and month, with its t CI."""
    row = pick(bmd, arm=arm, site=site, month=float(month))
    return of_row(row, "mean_pct_change", "ci_low_pct", "ci_high_pct")


def bmd_se(bmd: pl.DataFrame, arm: str, site: str, month: float) -> tuple[float, float]:
    """Return (mean, standard error) of an arm's BMD percent change, from its t interval."""
    row = pick(bmd, arm=arm, site=site, month=float(month))
    if row is None or row["n_patients"] < 2 or row["ci_low_pct"] is None:
        return NAN, NAN
    t = stats.t.ppf(0.975, row["n_patients"] - 1)
    return row["mean_pct_change"], (row["ci_high_pct"] - row["ci_low_pct"]) / (2 * t)


def difference(pairs: list[tuple[float, float, int]]) -> Estimate:
    """Return the signed sum of independent (mean, se, sign) terms with its normal interval."""
    value = sum(sign * mean for mean, _, sign in pairs)
    se = math.sqrt(sum(s * s for _, s, _ in pairs))
    return Estimate(value, value - Z95 * se, value + Z95 * se)


def bmd_difference(
    bmd: pl.DataFrame, site: str, arm: str, reference: str, month: float
) -> Estimate:
    """Return arm minus reference of the mean BMD percent change (points), with its CI."""
    a, b = bmd_se(bmd, arm, site, month), bmd_se(bmd, reference, site, month)
    return difference([(*a, 1), (*b, -1)])


def bmd_gap_change(
    bmd: pl.DataFrame, site: str, arm: str, reference: str, month: float, since: float
) -> Estimate:
    """Return the arm-minus-reference BMD gap at ``month`` minus the gap at ``since``."""
    terms = [(arm, month, 1), (reference, month, -1), (arm, since, -1), (reference, since, 1)]
    return difference([(*bmd_se(bmd, a, site, m), sign) for a, m, sign in terms])


def median_interval(median: float, q25: float, q75: float, n: float) -> Estimate:
    """Return a median with its large-sample 95 % CI, median +- 1.96 IQR / sqrt(n)."""
    if not n or n < 2 or math.isnan(n):
        return Estimate(median, NAN, NAN)
    half = Z95 * (q75 - q25) / math.sqrt(n)
    return Estimate(median, median - half, median + half)


def marker_median(markers: pl.DataFrame, arm: str, marker: str, day: float) -> Estimate:
    """Return an arm's median marker change at the record day nearest ``day``, with its CI."""
    row = nearest_day(markers, day, arm=arm, marker=marker)
    if row is None:
        return MISSING
    quantiles = (num(row[f"{q}_pct_change"]) for q in ("median", "q25", "q75"))
    return median_interval(*quantiles, num(row.get("n_patients")))


def marker_ratio(
    markers: pl.DataFrame, marker: str, day: float, treated: str, control: str
) -> Estimate:
    """Return the percent difference of the treated arm's median marker level from the
    control's, 100 x ((1 + m_t) / (1 + m_c) - 1), at the record day nearest ``day``.

    The interval comes from the two medians' intervals by the delta method on the log ratio.
    """
    near = nearest_day(markers.filter(pl.col("arm").is_in([treated, control])), day, marker=marker)
    if near is None:
        return MISSING
    rows = [pick(markers, arm=arm, marker=marker, day=near["day"]) for arm in (treated, control)]
    if None in rows:  # both arms on the same record day, or no value
        return MISSING
    t, c = (marker_median(markers, arm, marker, near["day"]) for arm in (treated, control))
    level_t, level_c = 1 + t.value / 100, 1 + c.value / 100
    value = (level_t / level_c - 1) * 100
    if level_t <= 0 or level_c <= 0:
        return Estimate(value, NAN, NAN)
    se_log = math.hypot(t.se() / 100 / level_t, c.se() / 100 / level_c)
    low, high = (level_t / level_c * math.exp(s * Z95 * se_log) for s in (-1, 1))
    return Estimate(value, (low - 1) * 100, (high - 1) * 100)


def sd_interval(sd: float, n: int) -> Estimate:
    """Return an SD with the chi-square 95 % interval of a normal sample of size ``n``."""
    if n < 2 or math.isnan(sd):
        return Estimate(sd, NAN, NAN)
    df = n - 1
    low = sd * math.sqrt(df / stats.chi2.ppf(0.975, df))
    return Estimate(sd, low, sd * math.sqrt(df / stats.chi2.ppf(0.025, df)))


def absolute(e: Estimate) -> Estimate:
    """Return |x| with the interval of |x| over x in [low, high]."""
    ends = (abs(e.low), abs(e.high))
    low = 0.0 if e.low <= 0 <= e.high else min(ends)
    return Estimate(abs(e.value), low, max(ends))


def larger(a: Estimate, b: Estimate) -> Estimate:
    """Return max(a, b) with the interval of the larger of two values in their intervals."""
    return Estimate(max(a.value, b.value), max(a.low, b.low), max(a.high, b.high))


def after_stopping_estimate(measure: str, month: float, tables: dict) -> Estimate:
    """Return the value of an after-stopping measure (``targets.after_stopping_value``) in arm
    ``denosumab`` (LS-placebo: minus arm ``placebo``) with its interval."""
    day = month * DAYS_PER_MONTH
    if measure == "CTX+P1NP":
        ends = [
            absolute(marker_median(tables["markers"], "denosumab", m, day)) for m in ("CTX", "P1NP")
        ]
        return larger(*ends)
    if measure == "LS-placebo":
        return bmd_difference(tables["bmd"], "LS", "denosumab", "placebo", month)
    if measure in ("CTX", "P1NP"):
        return marker_median(tables["markers"], "denosumab", measure, day)
    return bmd_mean(tables["bmd"], "denosumab", measure, month)


def incidence_pct(fractures: pl.DataFrame, arm: str, endpoint: str, month: float) -> Estimate:
    """Return an arm's fracture incidence (percent) by ``month`` with its Wilson interval."""
    row = pick(fractures, arm=arm, endpoint=endpoint, month=float(month))
    return of_row(row, "incidence_frac", "ci_low_frac", "ci_high_frac", scale=100.0)


RATIO_COLUMNS = {
    "risk_ratio": ("risk_ratio", "rr_ci_low", "rr_ci_high"),
    "hazard_ratio": ("hazard_ratio", "hr_ci_low", "hr_ci_high"),
}


def ratio(
    comparisons: pl.DataFrame, measure: str, endpoint: str, arm: str, month: float
) -> Estimate:
    """Return an arm's risk or hazard ratio (``measure``) against the control, with its CI."""
    row = pick(comparisons, arm=arm, endpoint=endpoint, month=float(month))
    return of_row(row, *RATIO_COLUMNS[measure])
