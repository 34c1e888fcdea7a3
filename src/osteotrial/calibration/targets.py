"""The calibration targets (config/targets.yaml): the one loader, and how a target is read.

``read_targets`` is the only reader of the targets file; every published value that the code
fits or checks (``calibrate``, ``calibration.fracture``, ``calibration.denosumab``,
``cohort.fit``, the calibration table of ``calibration.comparison``) comes through it.
``config/targets.yaml`` is a byte copy of ``../shared/science/targets.yaml`` followed by an
``additions`` block of targets this project found (with their sources), which the reader
merges into ``trials``. The rules that turn
the qualitative ``after_stopping`` shapes into checks (``AFTER_STOPPING``) live here, so that
the fit and the calibration table read them alike.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from osteotrial.units import DAYS_PER_MONTH
from osteotrial.yaml_strict import safe_load_fast

CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"
TARGETS_FILE = CONFIG_DIR / "targets.yaml"
MARKER_TOL_PCT = 10.0
# trial name in config/trials -> key in targets.yaml (a trial of the same name as a key needs none)
TARGET_KEYS = {"frame": "frame", "freedom": "freedom_bmd_only", "freedom_qct": "bone_strength"}
# The safety block (issue 27): P13 (ONJ) from the 10-year denosumab file, P14 (MACE) from ARCH
# (calibration.safety); P11 and P12 (hypocalcemia) from the dialysis file of the ca part.
TARGET_KEYS |= {"denosumab_10_years": "safety", "arch": "safety"}
# Blocks of targets.yaml that no trial file emulates yet, each with the issue that brings it in.
# The model is not calibrated on them: ``trial.scope`` leaves them out of what it covers.
NOT_EMULATED: dict[str, str] = {}
# The qualitative ``after_stopping`` shapes of targets.yaml as checks on a discontinuation trial
# (arms ``denosumab``, stopped after the dose of month 18, and ``placebo``): the start of the
# ``what`` text -> (measure, month, rule, bound). Readings: "above baseline within 3-6 months
# of stopping" is the month-30 value (6 months after the omitted dose of month 24, Cummings);
# "back to about baseline within 12 months of the omitted dose" is LS at month 36 within 2
# points; "markers back to baseline by month 48" is both median changes within 25 %; "BMD at
# month 48 above the former placebo group" is LS, denosumab minus placebo. The bounds are this
# project's reading of the words, not published numbers.
AFTER_STOPPING: dict[str, tuple[str, float, str, float]] = {
    "serum CTX above": ("CTX", 30.0, "above", 0.0),
    "P1NP above": ("P1NP", 30.0, "above", 0.0),
    "BMD back to": ("LS", 36.0, "within", 2.0),
    "bone turnover markers back": ("CTX+P1NP", 48.0, "within", 25.0),
    "BMD at month 48": ("LS-placebo", 48.0, "above", 0.0),
}
# Tolerance of the placebo BMD values of a ``bmd_pct_change_month_12_range`` block, which
# targets.yaml gives without one (secondary source: wide).
RANGE_PLACEBO_TOL = 1.0
# Parts of a trial block that compare() does not turn into rows: text, the design (the trial
# files carry it), the baselines (fitted by cohort.fit, checked by tests/test_cohort.py) and the
# measure of each relative risk reduction (``ratio_measure``).
# The glucocorticoid block's ``remodeling_inputs`` (how glucocorticoids act on bone, not arm
# results) are the exposure stage's targets (calibration.exposure; tests/test_strata.py checks
# them at the model file's values).
NOT_ROWS = (
    "citation",
    "note",
    "design",
    "baseline",
    "relative_risk_reduction_measure",
    "remodeling_inputs",
)
RATIO_MEASURES = ("risk_ratio", "hazard_ratio")


@functools.lru_cache(maxsize=8)
def _parse(path: str, mtime_ns: int) -> dict[str, Any]:
    return merge_additions(safe_load_fast(Path(path).read_text(encoding="utf-8")))


def merge_additions(data: dict[str, Any]) -> dict[str, Any]:
    """Move each ``additions.trials.<key>.<section>`` into ``trials.<key>`` (new sections only:
    an addition never overrides a section of the shared file)."""
    additions = data.pop("additions", None) or {}
    for key, sections in additions.get("trials", {}).items():
        block = data.setdefault("trials", {}).setdefault(key, {})
        for section, content in sections.items():
            if section in block:
                raise ValueError(f"targets additions: trials.{key}.{section} is already a target")
            block[section] = content
    return data


def read_targets(path: str | Path | None = None) -> dict[str, Any]:
    """Return the whole targets file (default ``TARGETS_FILE``), a fresh copy of a cached parse.

    The one reader of targets.yaml: the parse is cached per path and modification time, so the
    calibration can call it at every evaluation of its objective.
    """
    file = Path(TARGETS_FILE if path is None else path).resolve()
    return copy.deepcopy(_parse(str(file), file.stat().st_mtime_ns))


def load_targets(path: str | Path | None, trial: str) -> dict[str, Any] | None:
    """Return the targets block of a trial, or None when targets.yaml has none for it.

    ``trial`` is a trial name of config/trials (mapped by ``TARGET_KEYS``) or a block key.
    """
    key = TARGET_KEYS.get(trial, trial)
    return read_targets(path)["trials"].get(key)


def ratio_measure(block: Mapping[str, Any] | None, endpoint: str) -> str:
    """Return how a trial estimated an endpoint's relative risk reduction: ``risk_ratio``
    (crude proportions; the default) or ``hazard_ratio`` (Cox), from the block's
    ``relative_risk_reduction_measure`` entries."""
    for entry in (block or {}).get("relative_risk_reduction_measure", []):
        if entry["endpoint"] == endpoint:
            if entry["measure"] not in RATIO_MEASURES:
                raise ValueError(
                    f"relative_risk_reduction_measure of {endpoint}: {entry['measure']!r}; "
                    f"allowed: {', '.join(RATIO_MEASURES)}"
                )
            return entry["measure"]
    return "risk_ratio"


def last_fracture_month(block: Mapping[str, Any]) -> float:
    """Return the last month of a block's fracture incidence and reduction targets (0 if none):
    how far the trial's expected fracture incidences must be simulated."""
    sections = ("fracture_incidence", "relative_risk_reduction")
    return max((float(t["month"]) for s in sections for t in block.get(s, [])), default=0.0)


def pk_targets(path: str | Path | None = None) -> dict[str, Any]:
    """Return the ``pk`` block of the targets file (single-dose PK and PD of each drug)."""
    return read_targets(path)["pk"]


def number_in_key(key: str, word: str) -> float:
    """Return the number that follows ``word_`` in a targets.yaml key.

    For example ``month_12_pct`` -> 12 (word ``month``), ``ctx_reduction_by_day_5`` -> 5 (word
    ``day``), ``denosumab_60mg_single_dose`` -> 60 (word ``denosumab``, unit ``mg`` dropped).
    """
    found = re.search(rf"(?:^|_){word}_(\d+(?:\.\d+)?)(?:mg)?(?:_|$)", key)
    if found is None:
        raise ValueError(f"targets.yaml key {key!r} has no number after {word!r}")
    return float(found.group(1))


def marker_points(block: Mapping[str, Any]) -> list[tuple[str, str, float, float]]:
    """Return (marker, key, day, percent vs placebo) of a ``markers_..._vs_placebo`` block.

    In file order: ``peak_pct`` at ``peak_day``, ``nadir_pct`` at ``nadir_day``,
    ``back_to_placebo_month`` (0 % at that month) and ``month_M_pct`` at month M.
    """
    points = []
    for marker, values in block.items():
        if not isinstance(values, Mapping):
            continue
        for key, value in values.items():
            if key in ("peak_pct", "nadir_pct"):
                day = float(values[key.replace("_pct", "_day")])
                points.append((marker, key, day, float(value)))
            elif key == "back_to_placebo_month":
                points.append((marker, key, float(value) * DAYS_PER_MONTH, 0.0))
            elif key.startswith("month_") and key.endswith("_pct"):
                day = number_in_key(key, "month") * DAYS_PER_MONTH
                points.append((marker, key, day, float(value)))
    return points


def after_stopping_rule(what: str) -> tuple[str, float, str, float]:
    """Return (measure, month, rule, bound) of an ``after_stopping`` entry (``AFTER_STOPPING``)."""
    for start, rule in AFTER_STOPPING.items():
        if what.startswith(start):
            return rule
    raise ValueError(f"targets.yaml after_stopping entry {what!r} has no rule in AFTER_STOPPING")


def after_stopping_value(
    measure: str,
    month: float,
    marker_pct: Callable[[str, str, float], float],
    bmd_pct: Callable[[str, str, float], float],
) -> Any:
    """Return the emulated value of an after-stopping measure (see ``AFTER_STOPPING``).

    ``marker_pct(arm, marker, month)``: median percent change; ``bmd_pct(arm, site, month)``:
    mean percent change. Given by the endpoint tables (``compare``) or by the calibration's
    typical patient (numbers, or arrays of one value per parameter set: the value of each).
    """
    if measure == "CTX+P1NP":  # the larger change; elementwise for one value per set
        ctx, p1np = (abs(marker_pct("denosumab", m, month)) for m in ("CTX", "P1NP"))
        larger = np.where(p1np > ctx, p1np, ctx)  # builtin max's rule, NaN included
        return larger if larger.ndim else float(larger)
    if measure == "LS-placebo":
        return bmd_pct("denosumab", "LS", month) - bmd_pct("placebo", "LS", month)
    if measure in ("CTX", "P1NP"):
        return marker_pct("denosumab", measure, month)
    return bmd_pct("denosumab", measure, month)


def rule_holds(rule: str, value: float, bound: float) -> bool:
    """Return whether an after-stopping value meets its rule (NaN never does)."""
    return value > bound if rule == "above" else abs(value) <= bound
