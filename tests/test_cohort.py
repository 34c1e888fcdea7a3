"""Tests of the virtual cohort: screening, CRN keying, allocation and calibrated baselines."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from osteotrial.cohort.fit import TRIAL_ELIGIBILITY, baseline_targets
from osteotrial.cohort.sampling import (
    Cohort,
    CohortSpec,
    draw_candidates,
    is_eligible,
    sample_cohort,
)

FRAME_BLOCK = {
    "eligibility": {
        "age_years_min": 55,
        "age_years_max": 90,
        "tscore_min": -3.5,
        "tscore_max": -2.5,
        "tscore_sites_any": ["TH", "FN"],
        "exclude_prior_hip_fracture": True,
        "exclude_severe_vertebral_fracture": True,
        "max_moderate_vertebral_fractures": 2,
    },
    "dropout_per_year": 0.105,
    "population": {},
}
FULL_SIZE = {
    "frame": {"romosozumab_then_denosumab": 3589, "placebo_then_denosumab": 3591},
    "freedom_bmd_only": {"denosumab": 3902, "placebo": 3906},
}
SEED = 1
COVARIATES = [f.name for f in fields(Cohort) if f.name not in ("patient_id", "arm")]


@pytest.fixture(scope="module")
def frame_spec() -> CohortSpec:
    return CohortSpec.from_dict(FRAME_BLOCK)


@pytest.fixture(scope="module")
def cohort_200(frame_spec: CohortSpec) -> Cohort:
    return sample_cohort(frame_spec, {"placebo": 120, "romosozumab": 80}, SEED)


def test_arm_sizes_are_exact(cohort_200: Cohort) -> None:
    arms, counts = np.unique(cohort_200.arm, return_counts=True)
    assert dict(zip(arms.tolist(), counts.tolist(), strict=True)) == {
        "placebo": 120,
        "romosozumab": 80,
    }
    np.testing.assert_array_equal(cohort_200.patient_id, np.arange(200))


def test_prefix_stability(frame_spec: CohortSpec, cohort_200: Cohort) -> None:
    """The first k patients of a larger cohort are the k-patient cohort (arms aside)."""
    small = sample_cohort(frame_spec, {"placebo": 50}, SEED)
    np.testing.assert_array_equal(small.candidate_id, cohort_200.candidate_id[:50])
    for name in COVARIATES:
        np.testing.assert_array_equal(getattr(small, name), getattr(cohort_200, name)[:50])


def test_draws_do_not_depend_on_block_size(frame_spec: CohortSpec, cohort_200: Cohort) -> None:
    other = sample_cohort(frame_spec, {"placebo": 120, "romosozumab": 80}, SEED, block_size=777)
    for name, values in cohort_200.to_columns().items():
        np.testing.assert_array_equal(getattr(other, name), values)


def test_enrolled_are_exactly_the_first_eligible(
    frame_spec: CohortSpec, cohort_200: Cohort
) -> None:
    """Every enrolled patient is eligible; every skipped candidate before the last is not."""
    screened = np.arange(cohort_200.candidate_id.max() + 1)
    candidates = draw_candidates(SEED, screened, frame_spec.population)
    eligible = np.flatnonzero(is_eligible(candidates, frame_spec.eligibility))
    np.testing.assert_array_equal(eligible, cohort_200.candidate_id)
    c = cohort_200
    assert np.all((c.age_years >= 55) & (c.age_years <= 90))
    in_window = [(t >= -3.5) & (t <= -2.5) for t in (c.tscore_th, c.tscore_fn)]
    assert np.all(in_window[0] | in_window[1])
    assert not c.prior_hip_fracture.any()
    assert np.all(c.prevalent_vertebral_fracture_max_grade < 3)


def test_covariates_are_consistent(cohort_200: Cohort) -> None:
    c = cohort_200
    np.testing.assert_allclose(c.bmd_th_g_cm2, 0.942 + 0.122 * c.tscore_th)
    assert np.all(
        (c.prevalent_vertebral_fracture_count > 0) == (c.prevalent_vertebral_fracture_max_grade > 0)
    )
    assert np.all(c.prior_nonvertebral_fracture[c.prior_hip_fracture])


def test_latent_thresholds_are_cumulative_and_dropout_scales(frame_spec: CohortSpec) -> None:
    cohort = sample_cohort(frame_spec, {"a": 20_000}, SEED)
    for fracture_type in ("vertebral", "hip", "nonvertebral"):
        assert np.all(np.diff(cohort.thresholds(fracture_type), axis=0) > 0)
    # P(dropout within a year) = 1 - exp(-0.105) = 0.0997; binomial SE 0.0021, 4 SE allowed
    assert abs(np.mean(cohort.dropout_day < 365.25) - (1 - np.exp(-0.105))) < 0.0085
    # IIV: median 1 and log-SD sqrt(log(1 + 0.4^2)) = 0.385 for denosumab clearance (2%)
    log_mult = np.log(cohort.mult_denosumab_clearance)
    assert abs(np.median(log_mult)) < 0.02 and abs(log_mult.std() / 0.3853 - 1) < 0.02
    # the untreated loss rate: normal, mean 1, SD = its CV (1.5): some women gain bone
    loss = cohort.mult_bmd_loss_rate
    assert abs(loss.mean() - 1.0) < 0.05 and abs(loss.std() / 1.5 - 1.0) < 0.02
    assert 0.2 < np.mean(loss < 0.0) < 0.3  # P(z < -1/1.5) = 0.25


def test_zero_dropout_rate_never_drops_out() -> None:
    spec = CohortSpec.from_dict({**FRAME_BLOCK, "dropout_per_year": 0.0})
    assert np.all(np.isinf(sample_cohort(spec, {"a": 100}, SEED).dropout_day))


@pytest.mark.parametrize("trial", ["frame", "freedom_bmd_only"])
def test_full_size_screened_baseline_matches_targets(trial: str) -> None:
    """Screened baselines at the published trial size lie within targets.yaml tolerances."""
    spec = CohortSpec(TRIAL_ELIGIBILITY[trial], dropout_per_year=0.1)
    cohort = sample_cohort(spec, FULL_SIZE[trial], SEED)
    observed = {
        "age_mean_years": cohort.age_years.mean(),
        "prevalent_vertebral_fracture": np.mean(cohort.prevalent_vertebral_fracture_count > 0),
        **{s: cohort.__getattribute__(f"tscore_{s.lower()}").mean() for s in ("LS", "TH", "FN")},
    }
    for key, (value, tol) in baseline_targets()[trial].items():
        assert abs(observed[key] - value) <= tol, (trial, key, observed[key], value, tol)


def test_frame_block_matches_the_fit_eligibility(frame_spec: CohortSpec) -> None:
    assert frame_spec.eligibility == TRIAL_ELIGIBILITY["frame"]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"colour": 1}, KeyError, "valid keys are"),
        ({"eligibility": {"age_years_min": 55}}, TypeError, "missing"),
        ({"dropout_per_year": -0.1}, ValueError, "dropout_per_year = -0.1"),
        ({"population": {"age_mean": 70}}, KeyError, "valid keys are"),
        ({"population": {"corr_ls_th": 1.5}}, ValueError, "corr_ls_th = 1.5"),
    ],
)
def test_bad_spec_raises_clear_errors(change: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        CohortSpec.from_dict({**FRAME_BLOCK, **change})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"age_years_min": 91}, "admits no one"),
        ({"tscore_min": -2.0}, "admits no one"),
        ({"tscore_sites_any": ["XX"]}, "tscore_sites_any"),
        ({"age_years_max": 130}, r"age_years_max = 130 is outside the allowed range"),
        ({"max_moderate": 1}, "valid keys are"),
    ],
)
def test_bad_eligibility_raises_clear_errors(change: dict, message: str) -> None:
    block = {**FRAME_BLOCK, "eligibility": {**FRAME_BLOCK["eligibility"], **change}}
    with pytest.raises((ValueError, KeyError), match=message):
        CohortSpec.from_dict(block)


@pytest.mark.parametrize("allocation", [{}, {"a": -1}, {"a": 0}, {"a": 2.5}])
def test_bad_allocation_is_rejected(frame_spec: CohortSpec, allocation: dict) -> None:
    with pytest.raises(ValueError, match="allocation|arm sizes"):
        sample_cohort(frame_spec, allocation, SEED)
