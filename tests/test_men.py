"""Men's trials and the men's parameter set (issue 25): few men's values, the rest shared."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from osteotrial.cohort.sampling import CohortSpec, sample_cohort
from osteotrial.model.bmd import activation_age_factor
from osteotrial.model.params import load_model_params
from osteotrial.model.sex import NO_MENOPAUSE_AGE_YEARS, men_activation, params_for_sex
from osteotrial.trial.config import load_config


@pytest.fixture(scope="module")
def women():
    return load_model_params("config/model.yaml")


def test_mens_set_changes_only_the_mens_values(women) -> None:
    men = params_for_sex(women, "male")
    assert men.remodeling.menopause_age_years == NO_MENOPAUSE_AGE_YEARS
    assert men.remodeling.activation_early_postmenopause_frac == pytest.approx(
        women.men.activation_early_postmenopause_frac * women.men.activation_rel
    )
    ls, th = men.bmd.ls, men.bmd.th
    assert ls.untreated_loss_pct_per_year == pytest.approx(
        women.bmd.ls.untreated_loss_pct_per_year * women.men.untreated_loss_spine_frac
    )
    assert th == women.bmd.th and men.bmd.fn == women.bmd.fn  # the hip keeps the women's rate
    shared = ("denosumab", "romosozumab")
    assert all(getattr(men, name) == getattr(women, name) for name in shared)
    same = dataclasses.replace(
        men.remodeling,
        menopause_age_years=women.remodeling.menopause_age_years,
        activation_early_postmenopause_frac=women.remodeling.activation_early_postmenopause_frac,
    )
    assert same == women.remodeling  # nothing else of the bone cells differs


def test_a_mans_activation_does_not_depend_on_age(women) -> None:
    """No menopause: a man's turnover is the same at 45 and 85; a woman's rises after 51."""
    men = params_for_sex(women, "male").remodeling
    assert activation_age_factor(men, 45.0) == activation_age_factor(men, 85.0)
    assert activation_age_factor(men, 60.0) == pytest.approx(men_activation(women.men))
    w = women.remodeling
    assert activation_age_factor(w, 53.0) < activation_age_factor(w, 70.0)


@pytest.mark.parametrize(
    ("trial", "ages"), [("men_denosumab", (30.0, 85.0)), ("men_romosozumab", (55.0, 90.0))]
)
def test_mens_trial_files_sample_men_of_their_inclusion(trial, ages) -> None:
    config = load_config(trial)
    assert config.cohort_spec["population"]["preset"] == "men_osteoporosis"
    assert config.cohort_spec["population"]["sex"] == "male"
    cohort = sample_cohort(CohortSpec.from_dict(config.cohort_spec), {"placebo": 200}, 7)
    assert set(cohort.sex.tolist()) == {"male"}
    assert ages[0] <= cohort.age_years.min() and cohort.age_years.max() <= ages[1]
    # ADAMO's men average about 65 and BRIDGE's about 72 (baseline tables, R)
    assert abs(float(np.mean(cohort.age_years)) - {30.0: 65.0, 55.0: 73.0}[ages[0]]) < 3.0
