"""The simulation kernel: steady state, determinism, independence, dose response, reference."""

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
    surface = np.array([bmd.surface_factor(th, b) for b in small_frame_cohort.bmd_th_g_cm2])
    loss = params.bmd.th.untreated_loss_pct_per_year * small_frame_cohort.mult_bmd_loss_rate
    loss = loss * surface  # the loss per remodeling unit times activation (model.bmd)
    simulated_days = np.rint(result.record_days / YEAR.dt_days) * YEAR.dt_days
    expected = -loss * simulated_days[:, None] / 365.25
    change = pct_change(result.bmd_th_g_cm2)
    np.testing.assert_allclose(change, expected, rtol=0.06, atol=1e-9)
    slope = change[-1] / simulated_days[-1]
    line = slope[None, :] * simulated_days[:, None]
    np.testing.assert_allclose(change, line, rtol=0.03, atol=5e-4)  # on a line, within 3 %


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
