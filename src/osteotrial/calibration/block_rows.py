"""Rows of the calibration table (``calibration.comparison``): the row constructors, and the
rows of the target blocks that read one table each: bone strength (``strength_pct_change``,
the ``structure`` table) and the untreated loss on a background exposure
(``untreated_bmd_pct_change...``, the ``bmd`` table)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from osteotrial.calibration import estimates as est

COLUMNS = ("kind", "arm", "measure", "month", "target", "tol", "emulated",
           "ci_low", "ci_high", "expected", "expected_low", "expected_high",
           "within")  # fmt: skip

SCHEMA = dict(zip(COLUMNS, [pl.String] * 3 + [pl.Float64] * 9 + [pl.Boolean], strict=True))

NAN = float("nan")
# The companion arm of a trial file that reads the untreated loss on a background exposure
# (``untreated_bmd_pct_change...`` sections: androgen deprivation from randomization, no drug).
UNTREATED_ARM = "untreated"


def row(
    kind: str,
    arm: str,
    measure: str,
    month: float,
    target: float,
    tol: float | None,
    emulated: float,
    low: float,
    high: float,
    within: bool,
    expected: est.Estimate = est.MISSING,
) -> dict[str, Any]:
    values = (
        kind,
        arm,
        measure,
        float(month),
        float(target),
        NAN if tol is None else float(tol),
        float(emulated),
        float(low),
        float(high),
        *(float(x) for x in expected),
        bool(within),
    )
    return dict(zip(COLUMNS, values, strict=True))


def band_row(kind: str, arm: str, site: str, month: float, low: float, high: float, x):
    """A row whose target is the band [low, high] (target its middle, tol its half-width);
    ``x`` is the emulated ``estimates.Estimate``."""
    mid, half = (low + high) / 2, (high - low) / 2
    return row(kind, arm, site, month, mid, half, *x, low <= x.value <= high)


def missed(kind: str, arm: str, measure: str, month: float, target: float, tol: Any) -> dict:
    """Return the row of a target the trial's tables cannot give: emulated NaN, not within."""
    return row(kind, arm, measure, month, target, tol, NAN, NAN, NAN, False)


_pick = est.pick


STRENGTH_SITES = {"hip": "TH", "spine": "LS"}  # where the strength index is read (strength.py)


def strength_rows(entries: list[Mapping[str, Any]], structure: pl.DataFrame | None) -> list[dict]:
    """Return rows of a ``strength_pct_change`` section (bone_strength, Keaveny 2014): the mean
    percent change of the strength index (``structure`` table, hip at TH, spine at LS) within
    ``tol`` of the published value."""
    rows = []
    for e in entries:
        site, month = STRENGTH_SITES[e["site"]], float(e["month"])
        got = None
        if structure is not None:
            got = _pick(
                structure, arm=e["arm"], site=site, measure="strength_pct_change", month=month
            )
        if got is None:
            rows.append(missed("strength_pct_change", e["arm"], site, month, e["value"], e["tol"]))
            continue
        within = abs(got["mean"] - e["value"]) <= e["tol"]
        x = (got["mean"], got["ci_low"], got["ci_high"])
        rows.append(
            row("strength_pct_change", e["arm"], site, month, e["value"], e["tol"], *x, within)
        )
    return rows


def untreated_rows(section: str, content: list, bmd: pl.DataFrame, control: str) -> list[dict]:
    """Return rows of an ``untreated_bmd_pct_change...`` section (loss on a background exposure
    without a bone drug; its entries name no arm): read from the arm ``UNTREATED_ARM`` where
    the trial has one (a companion arm: androgen deprivation from randomization), else from the
    control arm (placebo on an aromatase inhibitor)."""
    arms = set(bmd["arm"].to_list()) if bmd.height else set()
    arm = UNTREATED_ARM if UNTREATED_ARM in arms else control
    rows = []
    for t in content:
        got = _pick(bmd, arm=arm, site=t["site"], month=float(t["month"]))
        label = f"{arm} ({t['drug']})" if "drug" in t else arm
        if got is None:
            rows.append(missed(section, label, t["site"], t["month"], t["value"], t["tol"]))
            continue
        value = got["mean_pct_change"]
        rows.append(
            row(section, label, t["site"], t["month"], t["value"], t["tol"], value,
                 got["ci_low_pct"], got["ci_high_pct"], abs(value - t["value"]) <= t["tol"])
        )  # fmt: skip
    return rows
