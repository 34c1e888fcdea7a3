"""Compare a trial's endpoint tables with its calibration targets (config/targets.yaml).

One row per target: what was targeted, the published value and tolerance, the emulated value
with its 95% CI, and whether it is within tolerance. BMD: |emulated - target| <= tol (mean
percent change). Fracture incidence: the published proportion lies inside the emulated 95% CI
(the convention of targets.yaml). Relative risk reduction: the published value lies inside the
emulated CI of 1 - RR. Markers (romosozumab vs placebo): the ratio of the arms' median changes,
compared with a 10-point tolerance (targets.yaml: "shape matters more than the exact points").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import yaml

MARKER_TOL_PCT = 10.0
# trial name in config/trials -> key in targets.yaml
TARGET_KEYS = {"frame": "frame", "freedom": "freedom_bmd_only"}
COLUMNS = (
    "kind",
    "arm",
    "measure",
    "month",
    "target",
    "tol",
    "emulated",
    "ci_low",
    "ci_high",
    "within",
)
SCHEMA = dict(zip(COLUMNS, [pl.String] * 3 + [pl.Float64] * 6 + [pl.Boolean], strict=True))


def load_targets(path: str | Path, trial: str) -> dict[str, Any] | None:
    """Return the targets block of a trial, or None when targets.yaml has none for it."""
    key = TARGET_KEYS.get(trial, trial)
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return data["trials"].get(key)


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
        float("nan") if tol is None else float(tol),
        float(emulated),
        float(low),
        float(high),
        bool(within),
    )
    return dict(zip(COLUMNS, values, strict=True))


def _pick(table: pl.DataFrame, **where: Any) -> dict[str, Any] | None:
    frame = table.filter(*[pl.col(k) == v for k, v in where.items()])
    return frame.row(0, named=True) if frame.height else None


def bmd_rows(targets: dict[str, Any], bmd: pl.DataFrame) -> list[dict[str, Any]]:
    """Return comparison rows of the BMD targets."""
    rows = []
    for t in targets.get("bmd_pct_change", []):
        got = _pick(bmd, arm=t["arm"], site=t["site"], month=float(t["month"]))
        if got is None:
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
    targets: dict[str, Any], fractures: pl.DataFrame, comparisons: pl.DataFrame
) -> list[dict[str, Any]]:
    """Return comparison rows of the fracture incidence and risk reduction targets."""
    rows = []
    for t in targets.get("fracture_incidence", []):
        got = _pick(fractures, arm=t["arm"], endpoint=t["endpoint"], month=float(t["month"]))
        if got is not None:
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
        if got is not None:
            low, high = 1 - got["rr_ci_high"], 1 - got["rr_ci_low"]
            rows.append(
                _row(
                    "relative_risk_reduction",
                    got["arm"],
                    t["endpoint"],
                    t["month"],
                    t["value"],
                    None,
                    got["relative_risk_reduction_frac"],
                    low,
                    high,
                    low <= t["value"] <= high,
                )
            )
    return rows


def marker_rows(
    targets: dict[str, Any], markers: pl.DataFrame, treated: str, control: str
) -> list[dict[str, Any]]:
    """Return comparison rows of the romosozumab-vs-placebo marker targets."""
    block = targets.get("markers_romosozumab_vs_placebo")
    if not block:
        return []

    def ratio_pct(marker: str, day: float) -> float:
        near = (
            markers.filter(pl.col("marker") == marker)
            .with_columns(gap=(pl.col("day") - day).abs())
            .sort("gap")
        )
        day_found = near.row(0, named=True)["day"]
        med = {
            r["arm"]: r["median_pct_change"]
            for r in near.filter(pl.col("day") == day_found).iter_rows(named=True)
        }
        return ((1 + med[treated] / 100) / (1 + med[control] / 100) - 1) * 100

    points = [
        ("P1NP", "peak_pct", block["P1NP"]["peak_day"] / 30.4375),
        ("P1NP", "month_12_pct", 12.0),
        ("CTX", "nadir_pct", block["CTX"]["nadir_day"] / 30.4375),
        ("CTX", "month_12_pct", 12.0),
    ]
    rows = []
    for marker, key, month in points:
        got = ratio_pct(marker, month * 30.4375)
        want = block[marker][key]
        rows.append(
            _row(
                "marker_vs_placebo_pct",
                treated,
                f"{marker} {key}",
                month,
                want,
                MARKER_TOL_PCT,
                got,
                got,
                got,
                abs(got - want) <= MARKER_TOL_PCT,
            )
        )
    return rows


def compare(
    targets: dict[str, Any], tables: dict[str, pl.DataFrame], treated: str | None, control: str
) -> pl.DataFrame:
    """Return the calibration table of a trial from its endpoint tables."""
    rows = bmd_rows(targets, tables["bmd"])
    rows += fracture_rows(targets, tables["fractures"], tables["comparisons"])
    if treated is not None:
        rows += marker_rows(targets, tables["markers"], treated, control)
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")
