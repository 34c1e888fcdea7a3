"""The calibration table of a trial: its endpoint tables against its targets.yaml block.

``compare`` returns one row per target of a trial's block: what was targeted, the published
value and tolerance, the emulated (sampled) value with its 95% CI, the model's expected value
with the 95 % range of a draw around it, and whether it is within tolerance.
BMD: |emulated - target| <= tol (mean percent change; a target with a ``subgroup`` reads the
``by_stratum`` table's stratum of that name, ``trial.strata``). Fracture incidence and relative
risk reduction (the event-count rows): the published value lies inside the 95 % range of a trial
*of the published size* around the model's *expected* value for the trial's own cohort
(``calibration.draws``: binomial for an incidence, the normal range of the log ratio for a risk
or hazard ratio), because the published figure is itself one draw; the expected values
are the ``expected`` table of ``trial.jobs.trial_expected_fractures`` (the same women and
parameters as the emulated trial, simulated event-free). The emulated value and its CI stay
beside it, as the trial's one draw. A reduction is 1 - RR, or 1 - HR where the trial reported
a hazard ratio (``targets.ratio_measure``). Without an ``expected`` table a fracture row has
NaN expected columns and is not within (it cannot be checked). Markers (romosozumab vs
placebo): the ratio of the arms' median changes, compared with a 10-point tolerance
(targets.yaml: "shape matters more than the exact points"). On-treatment differences from
placebo (``on_treatment_month_M_vs_placebo``: arms ``denosumab`` and ``placebo``, the arm names
of targets.yaml) and CTX in percent of baseline by arm and day: within ``tol``. The qualitative
``after_stopping`` shapes: the rules of ``targets.AFTER_STOPPING``. BMD ranges across regimens
(``bmd_pct_change_month_M_range``): every treated arm inside the range; the SD of a % change
(``bmd_pct_change_sd``) inside its published band. Bone strength (``strength_pct_change`` of
the ``bone_strength`` block, trial file ``freedom_qct``): the mean change of the strength index
(``structure`` table) within ``tol``. A target that the trial's tables cannot
give (an arm, a month or a day the trial does not have) and a target of a kind this module does
not emulate still get a row, emulated value NaN and ``within`` false: compared and missed.

Every emulated value carries its 95 % interval (``ci_low``, ``ci_high``; ``calibration.estimates``):
markers included (the interval of a median from its quartiles and the patients on study). These
rows are in-sample: the targets the model was fitted to, so agreement here is not validation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import polars as pl

from osteotrial.calibration import draws
from osteotrial.calibration import estimates as est
from osteotrial.calibration.block_rows import (  # noqa: F401 (COLUMNS, SCHEMA: the table's API)
    COLUMNS,
    NAN,
    SCHEMA,
    band_row,
    missed,
    row,
    strength_rows,
    untreated_rows,
)
from osteotrial.calibration.metastasis_rows import WORKFLOW_SECTIONS, workflow_rows
from osteotrial.calibration.targets import (
    MARKER_TOL_PCT,
    NOT_ROWS,
    RANGE_PLACEBO_TOL,
    after_stopping_rule,
    marker_points,
    number_in_key,
    ratio_measure,
    rule_holds,
)
from osteotrial.units import DAYS_PER_MONTH

RATIO_COLUMNS = est.RATIO_COLUMNS  # (estimate, CI low, CI high) columns per ratio measure


_pick = est.pick


def _bmd_of(t: Mapping[str, Any], bmd: pl.DataFrame, by_stratum: pl.DataFrame | None):
    """Return the ``bmd`` row of a target (mean_pct_change, ci_low_pct, ci_high_pct), or for a
    target with a ``subgroup`` the ``by_stratum`` row of the stratum of that name (None: the
    tables have no such row)."""
    month = float(t["month"])
    if "subgroup" not in t:
        return _pick(bmd, arm=t["arm"], site=t["site"], month=month)
    if by_stratum is None:
        return None
    got = _pick(
        by_stratum.filter(pl.col("kind") == "bmd_pct_change"),
        arm=t["arm"],
        stratum=t["subgroup"],
        measure=t["site"],
        month=month,
    )
    if got is None:
        return None
    return {
        "mean_pct_change": got["value"],
        "ci_low_pct": got["ci_low"],
        "ci_high_pct": got["ci_high"],
    }


def arm_label(t: Mapping[str, Any]) -> str:
    """Return the ``arm`` of a target's row: the arm, with its subgroup (stratum) if any."""
    return f"{t['arm']} ({t['subgroup']})" if "subgroup" in t else str(t["arm"])


def bmd_rows(
    targets: Mapping[str, Any], bmd: pl.DataFrame, by_stratum: pl.DataFrame | None = None
) -> list[dict[str, Any]]:
    """Return comparison rows of the BMD targets (a ``subgroup`` target: its stratum's row of
    ``by_stratum``; the row's arm reads "arm (subgroup)")."""
    rows = []
    for t in targets.get("bmd_pct_change", []):
        got = _bmd_of(t, bmd, by_stratum)
        if got is None:
            rows.append(
                missed("bmd_pct_change", arm_label(t), t["site"], t["month"], t["value"], t["tol"])
            )
            continue
        diff = abs(got["mean_pct_change"] - t["value"])
        rows.append(
            row(
                "bmd_pct_change",
                arm_label(t),
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


def _expected(expected: pl.DataFrame | None, table: str, **where: Any) -> dict[str, Any] | None:
    """Return the row of ``table`` rows of the ``expected`` table matching ``where`` (None
    without one)."""
    if expected is None:
        return None
    return _pick(expected.filter(pl.col("table") == table), **where)


def incidence_rows(
    targets: Mapping[str, Any], fractures: pl.DataFrame, expected: pl.DataFrame | None
) -> list[dict[str, Any]]:
    """Return the ``fracture_incidence`` rows: within when the published value lies in the
    binomial 95 % range of the published arm size around the expected incidence."""
    rows = []
    for t in targets.get("fracture_incidence", []):
        where = {"arm": t["arm"], "endpoint": t["endpoint"]}
        got = _pick(fractures, **where, month=float(t["month"]))
        if got is None:
            kind = "fracture_incidence"
            rows.append(missed(kind, t["arm"], t["endpoint"], t["month"], t["value"], None))
            continue
        mean = _expected(
            expected, "fractures", **where, time=float(t["month"]), statistic="incidence_frac"
        )
        n = t.get("n", got["n_patients"])
        draw = est.MISSING if mean is None else draws.binomial_interval(mean["value"], n)
        emulated = est.of_row(got, "incidence_frac", "ci_low_frac", "ci_high_frac")
        inside = draw.low <= t["value"] <= draw.high
        key = (t["arm"], t["endpoint"], t["month"], t["value"], None)
        rows.append(row("fracture_incidence", *key, *emulated, inside, draw))
    return rows


def reduction_rows(
    targets: Mapping[str, Any],
    fractures: pl.DataFrame,
    comparisons: pl.DataFrame,
    expected: pl.DataFrame | None,
) -> list[dict[str, Any]]:
    """Return the ``relative_risk_reduction`` rows: within when the published reduction lies in
    the 95 % range of 1 - ratio of a trial of the published arm sizes around the expected ratio
    (``draws.ratio_interval``)."""
    rows = []
    for t in targets.get("relative_risk_reduction", []):
        got = _pick(comparisons, endpoint=t["endpoint"], month=float(t["month"]))
        if got is None:
            kind = "relative_risk_reduction"
            rows.append(missed(kind, "", t["endpoint"], t["month"], t["value"], None))
            continue
        # like for like: a published hazard ratio against the emulated Cox hazard ratio
        measure = ratio_measure(targets, t["endpoint"])
        ratio, ci_low, ci_high = RATIO_COLUMNS[measure]
        emulated = est.Estimate(1 - got[ratio], 1 - got[ci_high], 1 - got[ci_low])
        arm, reference = got["arm"], got["reference_arm"]
        mean = _expected(
            expected, "comparisons", arm=arm, endpoint=t["endpoint"],
            time=float(t["month"]), statistic=measure,
        )  # fmt: skip
        draw = est.MISSING
        if mean is not None:
            sizes = [draws.arm_size(targets, fractures, a, t) for a in (arm, reference)]
            p1, p0 = mean["incidence"], mean["reference_incidence"]
            r = draws.ratio_interval(measure, mean["value"], p1, sizes[0], p0, sizes[1])
            draw = est.Estimate(1 - r.value, 1 - r.high, 1 - r.low)
        inside = draw.low <= t["value"] <= draw.high
        key = (arm, t["endpoint"], t["month"], t["value"], None)
        rows.append(row("relative_risk_reduction", *key, *emulated, inside, draw))
    return rows


def marker_rows(
    targets: Mapping[str, Any], markers: pl.DataFrame, treated: str | None, control: str
) -> list[dict[str, Any]]:
    """Return comparison rows of the romosozumab-vs-placebo marker targets."""
    block = targets.get("markers_romosozumab_vs_placebo")
    if not block:
        return []
    rows = []
    for marker, key, day, want in marker_points(block):
        got = (
            est.MISSING
            if treated is None
            else est.marker_ratio(markers, marker, day, treated, control)
        )
        rows.append(
            row(
                "marker_vs_placebo_pct",
                treated or "",
                f"{marker} {key}",
                day / DAYS_PER_MONTH,
                want,
                MARKER_TOL_PCT,
                *got,
                abs(got.value - want) <= MARKER_TOL_PCT,
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
        first = measure.split("_")[0]
        if measure.endswith("_bmd_pct_points"):
            got = est.bmd_difference(tables["bmd"], first, "denosumab", "placebo", month)
        else:
            day = month * DAYS_PER_MONTH
            got = est.marker_ratio(tables["markers"], first, day, "denosumab", "placebo")
        within = abs(got.value - t["value"]) <= t["tol"]
        rows.append(row(section, "denosumab", measure, month, t["value"], t["tol"], *got, within))
    return rows


def ctx_of_baseline_rows(
    entries: list[Mapping[str, Any]], markers: pl.DataFrame
) -> list[dict[str, Any]]:
    """Return rows of ``ctx_pct_of_baseline``: 100 + the arm's median CTX change at that day."""
    rows = []
    for t in entries:
        got = est.MISSING
        if _pick(markers, arm=t["arm"], marker="CTX", day=float(t["day"])) is not None:
            got = est.marker_median(markers, t["arm"], "CTX", float(t["day"]))
        value, low, high = (100.0 + x for x in got)
        within = abs(value - t["value"]) <= t["tol"]
        target = (t["value"], t["tol"], value, low, high, within)
        rows.append(row("ctx_pct_of_baseline", t["arm"], "CTX", t["day"] / DAYS_PER_MONTH, *target))
    return rows


def after_stopping_rows(
    entries: list[Mapping[str, Any]], tables: Mapping[str, pl.DataFrame]
) -> list[dict[str, Any]]:
    """Return a row per ``after_stopping`` shape: the emulated value (the measures of
    ``targets.after_stopping_value``), its interval and whether it holds."""
    rows = []
    for t in entries:
        measure, month, rule, bound = after_stopping_rule(t["what"])
        got = est.after_stopping_estimate(measure, month, tables)
        tol = bound if rule == "within" else None
        rows.append(
            row(
                "after_stopping",
                "denosumab",
                f"{measure} {rule} {bound:g}: {t['what']}",
                month,
                bound,
                tol,
                *got,
                rule_holds(rule, got.value, bound),
            )
        )
    return rows


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
                x = est.bmd_mean(bmd, "placebo", psite, month)
                ok = abs(x.value - value) <= RANGE_PLACEBO_TOL
                args = ("placebo", psite, month, value, RANGE_PLACEBO_TOL, *x, ok)
                rows.append(row("bmd_range", *args))
            continue
        low, high = entry["low"], entry["high"]
        for arm in arms or [""]:
            x = est.bmd_mean(bmd, arm, site, month)
            rows.append(band_row("bmd_range", arm, site, month, low, high, x))
    return rows


def sd_rows(entries: list[Mapping[str, Any]], bmd: pl.DataFrame) -> list[dict]:
    """Return rows of a ``bmd_pct_change_sd`` section: the SD over patients of the measured %
    change (``sd_pct_change`` of the bmd table) must lie in the published [low, high]; its
    interval is the chi-square interval of a normal sample's SD."""
    rows = []
    for e in entries:
        got = _pick(bmd, arm=e["arm"], site=e["site"], month=float(e["month"]))
        sd = None if got is None else est.num(got["sd_pct_change"])
        x = est.MISSING if got is None else est.sd_interval(sd, got["n_patients"])
        rows.append(band_row("bmd_sd", e["arm"], e["site"], e["month"], e["low"], e["high"], x))
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
            missed(section, str(entry.get("arm", "")), measure, month, target, entry.get("tol"))
        )
    return rows


def compare(
    targets: Mapping[str, Any],
    tables: Mapping[str, pl.DataFrame],
    treated: str | None,
    control: str,
) -> pl.DataFrame:
    """Return the calibration table of a trial from its endpoint tables: a row per target."""
    rows = bmd_rows(targets, tables["bmd"], tables.get("by_stratum"))
    expected = tables.get("expected")
    rows += incidence_rows(targets, tables["fractures"], expected)
    rows += reduction_rows(targets, tables["fractures"], tables["comparisons"], expected)
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
        elif section == "strength_pct_change":
            rows += strength_rows(content, tables.get("structure"))
        elif section == "bmd_pct_change_sd":
            rows += sd_rows(content, tables["bmd"])
        elif re.fullmatch(r"bmd_pct_change_month_\d+_range", section):
            rows += range_rows(content, tables["bmd"], number_in_key(section, "month"))
        elif section.startswith("untreated_bmd_pct_change"):
            rows += untreated_rows(section, content, tables["bmd"], control)
        elif section in WORKFLOW_SECTIONS and "sre_summary" in tables:  # rule sre_endpoints
            rows += workflow_rows(section, content, tables)
        elif isinstance(content, (list, Mapping)):
            rows += not_emulated_rows(section, content)
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")
