"""The calibration table of a trial: its endpoint tables against its targets.yaml block.

``compare`` returns one row per target of a trial's block: what was targeted, the published
value and tolerance, the emulated value with its 95% CI, and whether it is within tolerance.
BMD: |emulated - target| <= tol (mean percent change). Fracture incidence: the published
proportion lies inside the emulated 95% CI (the convention of targets.yaml). Relative risk
reduction: the published value lies inside the emulated CI of 1 - RR, or of 1 - HR (Cox) where
the trial reported a hazard ratio (``targets.ratio_measure``). Markers (romosozumab vs
placebo): the ratio of the arms' median changes, compared with a 10-point tolerance
(targets.yaml: "shape matters more than the exact points"). On-treatment differences from
placebo (``on_treatment_month_M_vs_placebo``: arms ``denosumab`` and ``placebo``, the arm names
of targets.yaml) and CTX in percent of baseline by arm and day: within ``tol``. The qualitative
``after_stopping`` shapes: the rules of ``targets.AFTER_STOPPING``. BMD ranges across regimens
(``bmd_pct_change_month_M_range``): every treated arm inside the range; the SD of a % change
(``bmd_pct_change_sd``) inside its published band. A target that the trial's tables cannot
give (an arm, a month or a day the trial does not have) and a target of a kind this module does
not emulate still get a row, emulated value NaN and ``within`` false: compared and missed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import polars as pl

from osteotrial.calibration.targets import (
    MARKER_TOL_PCT,
    NOT_ROWS,
    RANGE_PLACEBO_TOL,
    after_stopping_rule,
    after_stopping_value,
    marker_points,
    number_in_key,
    ratio_measure,
    rule_holds,
)
from osteotrial.units import DAYS_PER_MONTH

COLUMNS = ("kind", "arm", "measure", "month", "target", "tol", "emulated",
           "ci_low", "ci_high", "within")  # fmt: skip

SCHEMA = dict(zip(COLUMNS, [pl.String] * 3 + [pl.Float64] * 6 + [pl.Boolean], strict=True))

NAN = float("nan")


# (estimate, CI low, CI high) columns of the comparisons table per ratio measure
RATIO_COLUMNS = {
    "risk_ratio": ("risk_ratio", "rr_ci_low", "rr_ci_high"),
    "hazard_ratio": ("hazard_ratio", "hr_ci_low", "hr_ci_high"),
}


def _row(
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
        bool(within),
    )
    return dict(zip(COLUMNS, values, strict=True))


def _band_row(kind: str, arm: str, site: str, month: float, low: float, high: float, x: float):
    """A row whose target is the band [low, high] (target its middle, tol its half-width)."""
    mid, half = (low + high) / 2, (high - low) / 2
    return _row(kind, arm, site, month, mid, half, x, x, x, low <= x <= high)


def _missed(kind: str, arm: str, measure: str, month: float, target: float, tol: Any) -> dict:
    """Return the row of a target the trial's tables cannot give: emulated NaN, not within."""
    return _row(kind, arm, measure, month, target, tol, NAN, NAN, NAN, False)


def _pick(table: pl.DataFrame, **where: Any) -> dict[str, Any] | None:
    frame = table.filter(*[pl.col(k) == v for k, v in where.items()])
    return frame.row(0, named=True) if frame.height else None


def bmd_rows(targets: Mapping[str, Any], bmd: pl.DataFrame) -> list[dict[str, Any]]:
    """Return comparison rows of the BMD targets."""
    rows = []
    for t in targets.get("bmd_pct_change", []):
        got = _pick(bmd, arm=t["arm"], site=t["site"], month=float(t["month"]))
        if got is None:
            rows.append(
                _missed("bmd_pct_change", t["arm"], t["site"], t["month"], t["value"], t["tol"])
            )
            continue
        diff = abs(got["mean_pct_change"] - t["value"])
        rows.append(
            _row(
                "bmd_pct_change",
                t["arm"],
                t["site"],
                t["month"],
                t["value"],
                t["tol"],
                got["mean_pct_change"],
                got["ci_low_pct"],
                got["ci_high_pct"],
                diff <= t["tol"],
            )
        )
    return rows


def fracture_rows(
    targets: Mapping[str, Any], fractures: pl.DataFrame, comparisons: pl.DataFrame
) -> list[dict[str, Any]]:
    """Return comparison rows of the fracture incidence and risk reduction targets."""
    rows = []
    for t in targets.get("fracture_incidence", []):
        got = _pick(fractures, arm=t["arm"], endpoint=t["endpoint"], month=float(t["month"]))
        if got is None:
            kind = "fracture_incidence"
            rows.append(_missed(kind, t["arm"], t["endpoint"], t["month"], t["value"], None))
            continue
        inside = got["ci_low_frac"] <= t["value"] <= got["ci_high_frac"]
        rows.append(
            _row(
                "fracture_incidence",
                t["arm"],
                t["endpoint"],
                t["month"],
                t["value"],
                None,
                got["incidence_frac"],
                got["ci_low_frac"],
                got["ci_high_frac"],
                inside,
            )
        )
    for t in targets.get("relative_risk_reduction", []):
        got = _pick(comparisons, endpoint=t["endpoint"], month=float(t["month"]))
        if got is None:
            kind = "relative_risk_reduction"
            rows.append(_missed(kind, "", t["endpoint"], t["month"], t["value"], None))
            continue
        # like for like: a published hazard ratio against the emulated Cox hazard ratio
        ratio, ci_low, ci_high = RATIO_COLUMNS[ratio_measure(targets, t["endpoint"])]
        low, high, value = 1 - got[ci_high], 1 - got[ci_low], 1 - got[ratio]
        inside = low <= t["value"] <= high
        args = (got["arm"], t["endpoint"], t["month"], t["value"], None, value, low, high, inside)
        rows.append(_row("relative_risk_reduction", *args))
    return rows


def ratio_pct(markers: pl.DataFrame, marker: str, day: float, treated: str, control: str) -> float:
    """Return the percent difference of the treated arm's median from the control's (NaN if
    an arm is missing), at the record day nearest ``day``."""
    near = (
        markers.filter(pl.col("marker") == marker, pl.col("arm").is_in([treated, control]))
        .with_columns(gap=(pl.col("day") - day).abs())
        .sort("gap")
    )
    if near.height == 0:
        return NAN
    day_found = near.row(0, named=True)["day"]
    med = {
        r["arm"]: r["median_pct_change"]
        for r in near.filter(pl.col("day") == day_found).iter_rows(named=True)
    }
    if treated not in med or control not in med:
        return NAN
    return ((1 + med[treated] / 100) / (1 + med[control] / 100) - 1) * 100


def marker_rows(
    targets: Mapping[str, Any], markers: pl.DataFrame, treated: str | None, control: str
) -> list[dict[str, Any]]:
    """Return comparison rows of the romosozumab-vs-placebo marker targets."""
    block = targets.get("markers_romosozumab_vs_placebo")
    if not block:
        return []
    rows = []
    for marker, key, day, want in marker_points(block):
        got = NAN if treated is None else ratio_pct(markers, marker, day, treated, control)
        rows.append(
            _row(
                "marker_vs_placebo_pct",
                treated or "",
                f"{marker} {key}",
                day / DAYS_PER_MONTH,
                want,
                MARKER_TOL_PCT,
                got,
                got,
                got,
                abs(got - want) <= MARKER_TOL_PCT,
            )
        )
    return rows


def placebo_difference_rows(
    section: str, entries: list[Mapping[str, Any]], tables: Mapping[str, pl.DataFrame]
) -> list[dict[str, Any]]:
    """Return rows of ``on_treatment_month_M_vs_placebo``: arm ``denosumab`` minus ``placebo``.

    ``<site>_bmd_pct_points``: difference of the mean BMD percent changes at month M;
    ``<marker>_pct_difference``: percent difference of the median marker changes (as the marker
    rows). NaN (missed) when the trial has no arm ``denosumab`` or ``placebo``.
    """
    month = number_in_key(section, "month")
    rows = []
    for t in entries:
        measure = t["measure"]
        if measure.endswith("_bmd_pct_points"):
            site = measure.split("_")[0]
            arms = [
                _pick(tables["bmd"], arm=arm, site=site, month=month)
                for arm in ("denosumab", "placebo")
            ]
            got = NAN if None in arms else arms[0]["mean_pct_change"] - arms[1]["mean_pct_change"]
        else:
            marker = measure.split("_")[0]
            got = ratio_pct(
                tables["markers"], marker, month * DAYS_PER_MONTH, "denosumab", "placebo"
            )
        within = abs(got - t["value"]) <= t["tol"]
        rows.append(
            _row(section, "denosumab", measure, month, t["value"], t["tol"], got, got, got, within)
        )
    return rows


def ctx_of_baseline_rows(
    entries: list[Mapping[str, Any]], markers: pl.DataFrame
) -> list[dict[str, Any]]:
    """Return rows of ``ctx_pct_of_baseline``: 100 + the arm's median CTX change at that day."""
    rows = []
    for t in entries:
        got = _pick(markers, arm=t["arm"], marker="CTX", day=float(t["day"]))
        value = NAN if got is None else 100.0 + got["median_pct_change"]
        month = t["day"] / DAYS_PER_MONTH
        within = abs(value - t["value"]) <= t["tol"]
        target = (t["value"], t["tol"], value, value, value, within)
        rows.append(_row("ctx_pct_of_baseline", t["arm"], "CTX", month, *target))
    return rows


def after_stopping_rows(
    entries: list[Mapping[str, Any]], tables: Mapping[str, pl.DataFrame]
) -> list[dict[str, Any]]:
    """Return a row per ``after_stopping`` shape: the emulated value and whether it holds."""

    def marker_pct(arm: str, marker: str, month: float) -> float:
        got = _nearest_row(tables["markers"], month * DAYS_PER_MONTH, arm=arm, marker=marker)
        return NAN if got is None else got["median_pct_change"]

    def bmd_pct(arm: str, site: str, month: float) -> float:
        got = _pick(tables["bmd"], arm=arm, site=site, month=month)
        return NAN if got is None else got["mean_pct_change"]

    rows = []
    for t in entries:
        measure, month, rule, bound = after_stopping_rule(t["what"])
        got = after_stopping_value(measure, month, marker_pct, bmd_pct)
        tol = bound if rule == "within" else None
        rows.append(
            _row(
                "after_stopping",
                "denosumab",
                f"{measure} {rule} {bound:g}: {t['what']}",
                month,
                bound,
                tol,
                got,
                got,
                got,
                rule_holds(rule, got, bound),
            )
        )
    return rows


def _nearest_row(table: pl.DataFrame, day: float, **where: Any) -> dict[str, Any] | None:
    frame = table.filter(*[pl.col(k) == v for k, v in where.items()])
    if frame.height == 0:
        return None
    return frame.with_columns(gap=(pl.col("day") - day).abs()).sort("gap").row(0, named=True)


def range_rows(block: Mapping[str, Any], bmd: pl.DataFrame, month: float) -> list[dict]:
    """Return rows of a ``bmd_pct_change_month_M_range`` block.

    Every arm of the trial other than ``placebo`` must lie in [low, high] at each site (the
    published range across regimens); placebo within ``RANGE_PLACEBO_TOL`` of its value.
    """
    rows = []
    arms = sorted(set(bmd["arm"].to_list()) - {"placebo"}) if bmd.height else []
    for site, entry in block.items():
        if site == "placebo":
            for psite, value in entry.items():
                if psite == "status":
                    continue
                got = _pick(bmd, arm="placebo", site=psite, month=month)
                x = NAN if got is None else got["mean_pct_change"]
                ok = abs(x - value) <= RANGE_PLACEBO_TOL
                rows.append(
                    _row(
                        "bmd_range", "placebo", psite, month, value, RANGE_PLACEBO_TOL, x, x, x, ok
                    )
                )
            continue
        low, high = entry["low"], entry["high"]
        for arm in arms or [""]:
            got = _pick(bmd, arm=arm, site=site, month=month)
            x = NAN if got is None else got["mean_pct_change"]
            rows.append(_band_row("bmd_range", arm, site, month, low, high, x))
    return rows


def sd_rows(entries: list[Mapping[str, Any]], bmd: pl.DataFrame) -> list[dict]:
    """Return rows of a ``bmd_pct_change_sd`` section: the SD over patients of the measured %
    change (``sd_pct_change`` of the bmd table) must lie in the published [low, high]."""
    rows = []
    for e in entries:
        got = _pick(bmd, arm=e["arm"], site=e["site"], month=float(e["month"]))
        x = NAN if got is None else got["sd_pct_change"]
        rows.append(_band_row("bmd_sd", e["arm"], e["site"], e["month"], e["low"], e["high"], x))
    return rows


def not_emulated_rows(section: str, content: Any) -> list[dict[str, Any]]:
    """Return missed rows (emulated NaN) of a section compare() does not emulate.

    One row per entry of a list (``measure`` its ``measure``, ``what`` or ``site``) or per key of
    a mapping; the published value where the entry has one number.
    """
    items = (
        [(str(e.get("measure", e.get("what", e.get("site", "")))), e) for e in content]
        if isinstance(content, list)
        else [(str(k), v) for k, v in content.items() if k != "status"]
    )
    rows = []
    for measure, entry in items:
        entry = entry if isinstance(entry, Mapping) else {"value": entry}
        value = entry.get("value")
        target = float(value) if isinstance(value, (int, float)) else NAN
        month = float(entry.get("month", NAN))
        rows.append(
            _missed(section, str(entry.get("arm", "")), measure, month, target, entry.get("tol"))
        )
    return rows


def compare(
    targets: Mapping[str, Any],
    tables: Mapping[str, pl.DataFrame],
    treated: str | None,
    control: str,
) -> pl.DataFrame:
    """Return the calibration table of a trial from its endpoint tables: a row per target."""
    rows = bmd_rows(targets, tables["bmd"])
    rows += fracture_rows(targets, tables["fractures"], tables["comparisons"])
    rows += marker_rows(targets, tables["markers"], treated, control)
    known = (
        "bmd_pct_change",
        "fracture_incidence",
        "relative_risk_reduction",
        "markers_romosozumab_vs_placebo",
        *NOT_ROWS,
    )
    for section, content in targets.items():
        if section in known:
            continue
        if re.fullmatch(r"on_treatment_month_\d+_vs_placebo", section):
            rows += placebo_difference_rows(section, content, tables)
        elif section == "ctx_pct_of_baseline":
            rows += ctx_of_baseline_rows(content, tables["markers"])
        elif section == "after_stopping":
            rows += after_stopping_rows(content, tables)
        elif section == "bmd_pct_change_sd":
            rows += sd_rows(content, tables["bmd"])
        elif re.fullmatch(r"bmd_pct_change_month_\d+_range", section):
            rows += range_rows(content, tables["bmd"], number_in_key(section, "month"))
        elif isinstance(content, (list, Mapping)):
            rows += not_emulated_rows(section, content)
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")
