"""The simulation kernel: steady state, determinism, independence, dose response, reference."""

import dataclasses

import numpy as np
import pytest
from model_fixtures import arm, pct_change

from osteotrial.engine.reference import reference_bmd_rel
from osteotrial.engine.simulate import simulate_arm
from osteotrial.model import bmd
from osteotrial.model.records import SITES, pack_model
from osteotrial.trial.schedules import Schedule

YEAR = Schedule(1.0, 365.25, (1, 3, 6, 9, 12), (5.0, 14.0), (12,))
TWO_YEARS = Schedule(1.0, 730.5, (1, 3, 6, 9, 12, 18, 24), (14.0,), (12, 24))
PLACEBO = arm(("placebo", 0, 30.4375, 0, 365.25))
ROMO_THEN_DEN = arm(
    ("romosozumab", 210, 30.4375, 0, 365.25), ("denosumab", 60, 182.625, 365.25, 730.5)
)


def test_no_drug_is_a_steady_state_with_linear_untreated_loss(small_frame_cohort, params):
    """Without drug the cells stay at baseline and BMD falls along a line at about the untreated
    loss rate: the negative balance of each remodeling unit (volume falls at exactly lambda; the
    mineral per volume drifts by a few percent of that as the pools age, model.bmd)."""
    result = simulate_arm(small_frame_cohort, PLACEBO, params, YEAR)
    np.testing.assert_allclose(result.p1np_rel, 1.0, atol=1e-12)
    np.testing.assert_allclose(result.ctx_rel, 1.0, atol=1e-12)
    th = pack_model(params).sites[SITES.index("TH")]
    # aBMD loss: per compartment its share of the loss over its share of aBMD, times the
    # patient's surface per volume over the reference woman's (model.bmd.loss_per_day)
    ref = th.young_adult_mean_g_cm2 - 2.5 * th.young_adult_sd_g_cm2
    surface = np.array(
        [
            sum(
                bmd.loss_share(th, k)
                * bmd.surface_per_volume(bmd.volume_frac(th, k, b))
                / bmd.surface_per_volume(bmd.volume_frac(th, k, ref))
                for k in range(2)
            )
            for b in small_frame_cohort.bmd_th_g_cm2
        ]
    )
    loss = params.bmd.th.untreated_loss_pct_per_year * small_frame_cohort.mult_bmd_loss_rate
    loss = loss * surface
    simulated_days = np.rint(result.record_days / YEAR.dt_days) * YEAR.dt_days
    expected = -loss * simulated_days[:, None] / 365.25
    change = pct_change(result.bmd_th_g_cm2)
    # within 10 %: the mineral per volume drifts a little as the pools age, most in the
    # trabecular compartment (about 25 % turnover a year)
    np.testing.assert_allclose(change, expected, rtol=0.1, atol=1e-9)
    slope = change[-1] / simulated_days[-1]
    line = slope[None, :] * simulated_days[:, None]
    # on a line within 6 % (the fastest losers, trabecular bone at high surface, curve a little)
    np.testing.assert_allclose(change, line, rtol=0.06, atol=5e-4)


def test_same_arm_twice_is_bit_identical(small_frame_cohort, params):
    first = simulate_arm(small_frame_cohort, ROMO_THEN_DEN, params, TWO_YEARS)
    second = simulate_arm(small_frame_cohort, ROMO_THEN_DEN, params, TWO_YEARS)
    np.testing.assert_array_equal(first.bmd_ls_g_cm2, second.bmd_ls_g_cm2)
    np.testing.assert_array_equal(first.vertebral_fracture_days, second.vertebral_fracture_days)
    np.testing.assert_array_equal(first.death_day, second.death_day)


def test_a_patient_gets_the_same_result_in_any_cohort_or_chunk(small_frame_cohort, params):
    whole = simulate_arm(small_frame_cohort, ROMO_THEN_DEN, params, TWO_YEARS)
    chunked = Schedule(**{**TWO_YEARS.__dict__, "chunk_size": 7})
    pick = np.array([3, 250, 611])
    part = simulate_arm(small_frame_cohort.select(pick), ROMO_THEN_DEN, params, chunked)
    np.testing.assert_array_equal(part.bmd_fn_g_cm2, whole.bmd_fn_g_cm2[:, pick])
    np.testing.assert_array_equal(part.hip_fracture_days, whole.hip_fracture_days[:, pick])


@pytest.mark.parametrize(
    "drug,doses,site",
    [
        ("denosumab", (10, 30, 60, 120), "TH"),
        ("romosozumab", (70, 140, 210, 280), "LS"),
    ],
)
def test_more_drug_never_less_effect(typical, params, drug, doses, site):
    gains, ctx = [], []
    for dose in doses:
        result = simulate_arm(
            typical,
            arm((drug, dose, 30.4375 if drug == "romosozumab" else 182.625, 0, 365.25)),
            params,
            YEAR,
        )
        gains.append(pct_change(result.bmd_g_cm2(site))[-1, 0])
        ctx.append(result.ctx_rel[2, 0])
    assert np.all(np.diff(gains) > 0), gains
    assert np.all(np.diff(ctx) <= 1e-12), ctx


def test_fixed_step_matches_lsoda_on_bmd_at_24_months(small_frame_cohort, params):
    sample = small_frame_cohort.select(np.array([0, 101, 555]))
    kernel = simulate_arm(sample, ROMO_THEN_DEN, params, TWO_YEARS)
    reference = reference_bmd_rel(sample, ROMO_THEN_DEN, params, TWO_YEARS)
    for j, site in enumerate(("LS", "TH", "FN")):
        fixed = kernel.bmd_g_cm2(site)[-1] / kernel.bmd_g_cm2(site)[0]
        np.testing.assert_allclose(fixed, reference[j, -1], rtol=1e-3)


def test_treatment_never_brings_a_fracture_forward(small_frame_cohort, params):
    """Romosozumab lowers hazards pointwise in year 1; shared thresholds: no earlier event."""
    placebo = simulate_arm(small_frame_cohort, PLACEBO, params, YEAR)
    romo = simulate_arm(small_frame_cohort, ROMO_THEN_DEN, params, YEAR)
    for kind in ("vertebral", "hip", "nonvertebral"):
        never = np.inf
        treated = np.nan_to_num(romo.first_fracture_day(kind), nan=never)
        control = np.nan_to_num(placebo.first_fracture_day(kind), nan=never)
        assert np.all(treated >= control), kind
    assert np.nansum(placebo.vertebral_fracture_days > 0) > np.nansum(
        romo.vertebral_fracture_days > 0
    )


def test_denosumab_suppresses_ctx_by_day_5(typical, params, targets):
    want = targets["pk"]["denosumab_60mg_single_dose"]["ctx_reduction_by_day_5"]["value_pct"]
    result = simulate_arm(typical, arm(("denosumab", 60, 1000, 0, 1)), params, YEAR)
    day5 = int(np.flatnonzero(result.record_days == 5.0)[0])
    assert (result.ctx_rel[day5, 0] - 1) * 100 <= want


def test_romosozumab_tolerance_is_gone_a_year_after_the_last_dose(typical, params):
    """A second 12-month course after a year off starts like the first (P1NP at day 14 of each
    course, relative to the level before it): the Wnt tolerance falls back at k_off once the
    drug is gone (model.remodeling.tolerance_rhs). With k_tol alone (the e-fold of about 280
    days it builds with) a quarter of it was left and the second course gave half the response."""
    year = 365.25
    course = ("romosozumab", 210, 30.4375)
    spec = arm(
        (*course, 0, year), ("placebo", 0, 30.4375, year, 2 * year), (*course, 2 * year, 3 * year)
    )
    schedule = Schedule(1.0, 3 * year, (12, 24, 36), (14.0, 2 * year + 14.0), ())
    result = simulate_arm(typical, spec, params, schedule, False)
    days = np.asarray(schedule.record_days())
    p1np = {
        d: result.p1np_rel[np.argmin(np.abs(days - d)), 0]
        for d in (14.0, 2 * year, 2 * year + 14.0)
    }
    first = p1np[14.0]
    second = p1np[2 * year + 14.0] / p1np[2 * year]
    assert first > 2.0  # the first course does raise P1NP
    assert second > 0.9 * first
    lingering = dataclasses.replace(
        params.remodeling, tolerance_off_per_day=params.remodeling.tolerance_per_day
    )
    slow = simulate_arm(
        typical, spec, dataclasses.replace(params, remodeling=lingering), schedule, False
    )
    slow_p1np = slow.p1np_rel[:, 0]
    i14, i0, i2 = (np.argmin(np.abs(days - d)) for d in (14.0, 2 * year, 2 * year + 14.0))
    assert slow_p1np[i14] == pytest.approx(first, rel=1e-9)  # the on-treatment course is k_tol's
    assert slow_p1np[i2] / slow_p1np[i0] < 0.6 * first
