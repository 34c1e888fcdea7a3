"""Calibration rows of ``bone_metastases_breast``: the trial emulated with drawn events.

``breast_rows`` simulates the trial's two arms (``calibration.metastasis``), draws the SREs and
deaths (``analyses.sre_frames``) and returns one row per target of the block
(``calibration.block_rows.row``): SRE shares, hazard ratio (Cox, time to first SRE), median
time to first SRE on zoledronic acid (Kaplan-Meier), mean SREs per patient, first-event types
(one row per type and arm), and the 120 mg PK-PD rows (mean trough by month 6, accumulation,
half-life after a single dose, median uNTX change at week 1). The SRE rows are read from the
tables of the SRE page (``analyses.sre_tables``: the trials' 21-day counting rule,
Kaplan-Meier, Cox with death censoring).

Tolerances (targets.yaml gives only the HR's CI and the uNTX tolerance): ``metastasis.TOL``;
PK: trough within ``TROUGH_TOL_UG_ML``, accumulation within ``ACCUMULATION_TOL``, half-life in
the label's range, uNTX within the target's ``tol``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from osteotrial.analyses.sre_frames import sre_frames
from osteotrial.analyses.sre_tables import sre_tables
from osteotrial.calibration import metastasis as stage
from osteotrial.calibration.block_rows import NAN, SCHEMA, missed, row
from osteotrial.cohort.sampling import Cohort, CohortSpec, sample_cohort
from osteotrial.engine.simulate import simulate_arm
from osteotrial.model.params import ModelParams
from osteotrial.trial.config import TrialConfig, load_config
from osteotrial.trial.schedules import ArmSpec

TROUGH_TOL_UG_ML = 5.0  # A: a quarter of the label's mean trough
ACCUMULATION_TOL = 0.5  # A
SECTION = "endpoints"
PK_SECTION = "denosumab_120mg_pk_pd"
WORKFLOW_SECTIONS = (SECTION, PK_SECTION)  # read from the workflow's SRE tables (compare)


def endpoint_tables(patients: pl.DataFrame, events: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Return the SRE tables of the drawn frames (``analyses.sre_tables``: the 21-day rule,
    Kaplan-Meier, Cox with death censoring), zoledronic acid the reference arm."""
    return sre_tables(patients, events, reference_arm=stage.ZOLEDRONIC)


def _of(table: pl.DataFrame, arm: str, column: str) -> float:
    return float(table.filter(pl.col("arm") == arm)[column].item())


def _first_type_pct(types: pl.DataFrame, arm: str, kind: str) -> float:
    mine = types.filter((pl.col("arm") == arm) & (pl.col("type") == kind))
    return 100.0 * float(mine["first_frac_of_patients"].item())


def _cox_hr(comparisons: pl.DataFrame) -> tuple[float, float, float]:
    """Return the Cox hazard ratio of denosumab vs zoledronic acid with its 95 % CI."""
    cox = comparisons.filter(
        (pl.col("method") == "cox_first_sre") & (pl.col("arm") == stage.DENOSUMAB)
    )
    return float(cox["estimate"].item()), float(cox["ci_low"].item()), float(cox["ci_high"].item())


def sre_rows(
    block: Mapping[str, Any], patients: pl.DataFrame, events: pl.DataFrame
) -> list[dict[str, Any]]:
    """Return the rows of the block's SRE endpoints from the drawn frames, read from the
    tables the workflow's SRE page shows (``endpoint_tables``)."""
    return sre_table_rows(block, endpoint_tables(patients, events))


def sre_table_rows(
    block: Mapping[str, Any], tables: Mapping[str, pl.DataFrame]
) -> list[dict[str, Any]]:
    """Return the rows of the block's SRE endpoints (its ``endpoints`` section) from the SRE
    tables (``io.SRE_TABLES``: in memory, or the workflow's, ``comparison.compare``)."""
    want = stage.breast_targets(block)
    summary, types = tables["sre_summary"], tables["sre_types"]
    rows = []
    for arm, target in want["share"].items():
        share = _of(summary, arm, "share_with_sre")
        rows.append(_row(arm, "patients with an SRE", target, stage.TOL["share"], share))
        mean = _of(summary, arm, "mean_sre_per_patient")
        rows.append(_row(arm, "mean SREs per patient", want["mean"][arm], stage.TOL["mean"], mean))
        for kind, pct in want["types"][arm].items():
            got = _first_type_pct(types, arm, kind)
            rows.append(_row(arm, f"first SRE {kind}, %", pct, stage.TOL["type_pct"], got))
    hr, low, high = _cox_hr(tables["sre_comparisons"])
    ci = want["hr_ci"]
    rows.append(row(SECTION, "", "hazard ratio, first SRE", NAN, want["hr"], NAN, hr, low, high,
                    ci[0] <= hr <= ci[1]))  # fmt: skip
    median = _of(summary, stage.ZOLEDRONIC, "median_first_sre_months")
    rows.append(_row(stage.ZOLEDRONIC, "median months to first SRE", want["median"],
                     stage.TOL["median"], median))  # fmt: skip
    return rows


def workflow_rows(
    section: str, content: Any, tables: Mapping[str, pl.DataFrame]
) -> list[dict[str, Any]]:
    """Return the rows of one section of the block from the workflow's SRE tables
    (``comparison.compare``): the SRE endpoints (``sre_table_rows``); of the 120 mg PK-PD
    section the uNTX row at week 1 (``sre_untx``, denosumab arm, day 7), the PK rows missed
    (the simulation table carries no concentrations)."""
    if section == SECTION:
        return sre_table_rows({section: content}, tables)
    untx = tables["sre_untx"].filter((pl.col("arm") == stage.DENOSUMAB) & (pl.col("day") == 7.0))
    rows = []
    for t in content:
        tol = t.get("tol", NAN)
        if "NTX" not in t["measure"] or untx.height != 1:
            rows.append(missed(PK_SECTION, stage.DENOSUMAB, t["measure"], NAN, t["value"], tol))
            continue
        value = float(untx["median_pct_change"].item())
        rows.append(row(PK_SECTION, stage.DENOSUMAB, t["measure"], NAN, t["value"], tol, value,
                        NAN, NAN, bool(abs(value - t["value"]) <= tol)))  # fmt: skip
    return rows


def _row(arm: str, measure: str, target: float, tol: float, value: float) -> dict[str, Any]:
    return row(SECTION, arm, measure, NAN, target, tol, value, NAN, NAN,
               bool(abs(value - target) <= tol))  # fmt: skip


def pk_rows(
    block: list[Mapping[str, Any]], cfg: TrialConfig, cohort: Cohort, params: ModelParams
) -> list[dict[str, Any]]:
    """Return the 120 mg PK-PD rows: trough at month 6 (mean, ug/mL), accumulation (trough at
    month 6 over the first trough), half-life after a single 120 mg dose (mean over patients,
    log-linear between days 56 and 112), median uNTX change at week 1 (%)."""
    deno = cohort.select(cohort.arm == stage.DENOSUMAB)
    result = simulate_arm(deno, cfg.arms[stage.DENOSUMAB], params, cfg.schedule)
    conc = result.denosumab_ng_ml / 1000.0  # ug/mL on the daily grid
    trough6, trough1 = conc[168].mean(), conc[28].mean()
    single = ArmSpec.from_dict(
        "single",
        [{"drug": "denosumab", "dose_mg": 120, "interval_days": 1000, "start_day": 0,
          "stop_day": 1}],
    )  # fmt: skip
    once = simulate_arm(deno, single, params, dataclasses.replace(cfg.schedule))
    c = once.denosumab_ng_ml
    half_life = float(np.mean(np.log(2.0) * 56.0 / np.log(c[56] / c[112])))
    week1 = float(np.median(100.0 * (result.ctx_rel[result.record_days == 7.0][0] - 1.0)))
    values = [trough6, trough6 / trough1, half_life, week1]
    rows = []
    for t, value in zip(block, values, strict=True):
        if "range" in t:
            tol, within = NAN, t["range"][0] <= value <= t["range"][1]
        else:
            tol = t.get("tol", TROUGH_TOL_UG_ML if "trough" in t["measure"] else ACCUMULATION_TOL)
            within = abs(value - t["value"]) <= tol
        rows.append(row(PK_SECTION, stage.DENOSUMAB, t["measure"], NAN, t["value"], tol, value,
                        NAN, NAN, bool(within)))  # fmt: skip
    return rows


def breast_rows(
    block: Mapping[str, Any], n_per_arm: int, params: ModelParams | None = None
) -> pl.DataFrame:
    """Return the calibration table of bone_metastases_breast at ``n_per_arm`` per arm."""
    cfg = load_config(stage.TRIAL)
    params = cfg.params if params is None else params
    cohort = stage.trial_cohort(cfg, n_per_arm)
    results = stage.simulate(cfg, cohort, params)
    end = stage.end_days(cfg, cohort.n_patients)
    patients, events = sre_frames(list(results.values()), cfg.seed, end)
    rows = sre_rows(block, patients, events) + pk_rows(block[PK_SECTION], cfg, cohort, params)
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def trial_summary(trial: str, n_per_arm: int | None = None) -> dict[str, Any]:
    """Return the SRE endpoints of a bone-metastasis trial file (its design, no targets): per
    arm the share with an SRE, mean counted SREs per patient, Kaplan-Meier median months to
    the first SRE, first-event types (%), deaths (%); the Cox HR of denosumab vs zoledronic acid
    with its 95 % CI. ``n_per_arm``: default the trial's allocation. For docs/scenarios.md
    (``python -m osteotrial.calibration.metastasis_rows <trial>``)."""
    cfg = load_config(trial)
    alloc = dict(cfg.allocation) if n_per_arm is None else dict.fromkeys(cfg.allocation, n_per_arm)
    cohort = sample_cohort(CohortSpec.from_dict(cfg.cohort_spec), alloc, cfg.seed)
    results = stage.simulate(cfg, cohort, cfg.params)
    patients, events = sre_frames(
        list(results.values()), cfg.seed, stage.end_days(cfg, cohort.n_patients)
    )
    tables = endpoint_tables(patients, events)
    summary, types = tables["sre_summary"], tables["sre_types"]
    arms = {}
    for arm in sorted(results):
        n = _of(summary, arm, "n_patients")
        arms[arm] = {
            "n": int(n),
            "share_with_sre": _of(summary, arm, "share_with_sre"),
            "mean_sres": _of(summary, arm, "mean_sre_per_patient"),
            "median_months": _of(summary, arm, "median_first_sre_months"),
            "died_pct": 100.0 * _of(summary, arm, "n_deaths") / n,
            "first_type_pct": {k: _first_type_pct(types, arm, k) for k in stage.SRE_TYPES},
        }
    return {"trial": trial, "arms": arms, "hr": _cox_hr(tables["sre_comparisons"])}


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(trial_summary(sys.argv[1]), indent=1))
