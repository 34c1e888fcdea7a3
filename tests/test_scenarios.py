"""Scenario trials (config/trials): each validates and runs at small size through the library.

The checks are the mechanisms each scenario exists to show, not published numbers: stopping
denosumab frees RANKL so resorption returns and BMD falls; bone formed on romosozumab is kept
under denosumab; long-term denosumab keeps gaining; a longer dosing interval lets resorption
escape before the next dose.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT

from osteotrial.cohort.sampling import CohortSpec, sample_cohort
from osteotrial.engine.simulate import simulate_arm
from osteotrial.trial.config import load_config

SCENARIOS = ("frame_extension", "denosumab_discontinuation", "sequence_order", "delayed_denosumab")


def _run(trial: str, n_per_arm: int = 40):
    cfg = load_config(trial, {"n_per_arm": n_per_arm}, config_dir=ROOT / "config")
    cohort = sample_cohort(CohortSpec.from_dict(cfg.cohort_spec), cfg.allocation, cfg.seed)
    return {
        name: simulate_arm(cohort.select(cohort.arm == name), arm, cfg.params, cfg.schedule)
        for name, arm in cfg.arms.items()
    }


@pytest.mark.parametrize("trial", SCENARIOS)
def test_scenario_validates_and_runs(trial):
    results = _run(trial)
    for result in results.values():
        assert np.isfinite(result.bmd_ls_g_cm2).all()
        assert result.n_patients == 40


def _at(result, day):
    return int(np.argmin(np.abs(result.record_days - day)))


def _mean_pct(result, site: str, day: float) -> float:
    series = getattr(result, f"bmd_{site.lower()}_g_cm2")
    return float(np.mean(series[_at(result, day)] / series[0] - 1.0) * 100.0)


def test_stopping_denosumab_brings_resorption_back_and_bmd_down():
    """DEFEND-like: CTX above baseline by month 30 and LS back within 2 points of baseline by
    month 36 (issue 12), while the placebo arm has no rebound."""
    results = _run("denosumab_discontinuation")
    stopped, placebo = results["denosumab"], results["placebo"]
    m24, m30, m36 = (_at(stopped, m * 30.4375) for m in (24, 30, 36))
    assert np.median(stopped.ctx_rel[m24]) < 0.8
    assert np.median(stopped.ctx_rel[m30]) > 1.0 >= np.median(placebo.ctx_rel[m30]) - 1e-12
    assert _mean_pct(stopped, "LS", 24 * 30.4375) > 4.0
    assert abs(_mean_pct(stopped, "LS", 36 * 30.4375)) <= 2.0


def test_bone_formed_on_romosozumab_is_kept_under_denosumab():
    """frame_extension: the romosozumab-then-denosumab arm keeps gaining at LS and TH in years 2
    and 3, and the month-12 gap to the other arm is kept at month 36 (issue 12): it changes by
    at least -1 point, the statement of config/validation.yaml (Lewiecki 2019). The gap may
    narrow a little: the modeling capacity that romosozumab filled is not there for denosumab's
    modeling-based formation (model.bmd.formed)."""
    cfg = load_config("frame_extension", {"n_per_arm": 40}, config_dir=ROOT / "config")
    cohort = sample_cohort(CohortSpec.from_dict(cfg.cohort_spec), cfg.allocation, cfg.seed)
    # the same women under both arms (twins): the gap is the drug's, not the arms' composition
    romo, pbo = (
        simulate_arm(cohort, cfg.arms[name], cfg.params, cfg.schedule)
        for name in ("romosozumab_then_denosumab", "placebo_then_denosumab")
    )
    for site in ("LS", "TH"):
        yearly = [_mean_pct(romo, site, m * 30.4375) for m in (12, 24, 36)]
        assert yearly[0] < yearly[1] < yearly[2], (site, yearly)
        gap_12 = yearly[0] - _mean_pct(pbo, site, 12 * 30.4375)
        gap_36 = yearly[2] - _mean_pct(pbo, site, 36 * 30.4375)
        assert gap_36 >= gap_12 - 1.0, (site, gap_12, gap_36)


def test_eight_years_of_denosumab_rise_at_the_spine_every_year(typical, params):
    """Long-term denosumab keeps gaining (FREEDOM extension): LS rises from every yearly visit
    to the next over 8 years, TH does not fall."""
    from osteotrial.trial.schedules import ArmSpec, Schedule

    years = 8
    arm = ArmSpec.from_dict(
        "denosumab",
        [
            {
                "drug": "denosumab",
                "dose_mg": 60,
                "interval_days": 182.625,
                "start_day": 0,
                "stop_day": years * 365.25,
            }
        ],
    )
    schedule = Schedule(1.0, years * 365.25, tuple(12.0 * y for y in range(1, years + 1)), (), ())
    result = simulate_arm(typical, arm, params, schedule)
    for site, floor in (("LS", 0.2), ("TH", 0.0)):
        yearly = [_mean_pct(result, site, 365.25 * y) for y in range(years + 1)]
        assert np.diff(yearly).min() > floor, (site, np.round(yearly, 2))


def test_every_eight_months_lets_resorption_escape_before_the_dose():
    """delayed_denosumab, the same 40 women under both arms: identical until the first
    interval ends; every 6 months, CTX before each dose stays below its untreated level
    (targets.yaml: CTX stays suppressed through each interval of continued denosumab); every 8
    months, CTX climbs in the two extra months above every 6-monthly trough, towards baseline
    (Cummings: up by 3 months after an omitted dose), and the late dose suppresses it again."""
    cfg = load_config("delayed_denosumab", {"n_per_arm": 20}, config_dir=ROOT / "config")
    cohort = sample_cohort(CohortSpec.from_dict(cfg.cohort_spec), cfg.allocation, cfg.seed)
    q6, q8 = (
        simulate_arm(cohort, cfg.arms[name], cfg.params, cfg.schedule, record_pk=False)
        for name in ("denosumab_every_6_months", "denosumab_every_8_months")
    )
    month = 30.4375

    def ctx(result, m):
        return result.ctx_rel[_at(result, m * month)]

    for m in (1, 3, 6):
        np.testing.assert_array_equal(ctx(q8, m), ctx(q6, m))
    troughs_q6 = np.array([np.median(ctx(q6, m)) for m in (6, 12, 18, 24)])
    assert (troughs_q6 < 1.0).all()
    escaped = ctx(q8, 8)
    assert np.median(escaped - ctx(q8, 6)) > 0.15  # two more months without a dose
    assert np.median(escaped) > troughs_q6.max() + 0.1
    assert np.median(ctx(q8, 9)) < troughs_q6.min()  # the late dose suppresses it again
