"""Tests of the source population's sex and of population presets (issue 25)."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from osteotrial.cohort.population import PopulationParams
from osteotrial.cohort.presets import expand_population, preset_names, read_preset
from osteotrial.cohort.sampling import CohortSpec, sample_cohort
from osteotrial.model.tscore import bmd_to_tscore

ADAMO_ELIGIBILITY = {
    "age_years_min": 30,
    "age_years_max": 85,
    "tscore_min": -3.5,
    "tscore_max": -2.0,
    "tscore_sites_any": ["LS", "FN"],
    "tscore_max_with_prior_fracture": -1.0,
}
# NHANES III young non-Hispanic white men, femoral neck (Looker 1997/1998): 0.934 +- 0.137
MEN_FN_MEAN_G_CM2, MEN_FN_SD_G_CM2 = 0.934, 0.137


def _spec(population: dict) -> CohortSpec:
    return CohortSpec.from_dict({"eligibility": ADAMO_ELIGIBILITY, "population": population})


def test_every_preset_is_valid_and_builds_a_population() -> None:
    names = preset_names()
    assert {"postmenopausal_women", "men_osteoporosis"} <= set(names)
    for name in names:
        preset = read_preset(name)
        PopulationParams.from_dict(preset["population"])


def test_women_preset_is_the_default_population() -> None:
    women = PopulationParams.from_dict(read_preset("postmenopausal_women")["population"])
    assert women == PopulationParams()


def test_mens_cohort_samples_men_on_mens_references() -> None:
    cohort = sample_cohort(_spec({"preset": "men_osteoporosis"}), {"placebo": 300}, 3)
    assert set(cohort.sex.tolist()) == {"male"}
    # a published male reference: FN T-score -2.5 is 0.934 - 2.5 * 0.137 = 0.5915 g/cm2
    assert float(bmd_to_tscore(0.5915, "FN", "male")) == pytest.approx(-2.5, abs=1e-9)
    expected = (cohort.bmd_fn_g_cm2 - MEN_FN_MEAN_G_CM2) / MEN_FN_SD_G_CM2
    np.testing.assert_allclose(cohort.tscore_fn, expected, atol=1e-12)
    # the same T-score is a higher BMD in a man than in a woman
    women = sample_cohort(_spec({}), {"placebo": 300}, 3)
    assert (cohort.bmd_fn_g_cm2 - 0.858 - cohort.tscore_fn * 0.120 > 0.0).all()
    assert set(women.sex.tolist()) == {"female"}


def test_eligibility_with_a_prior_fracture_widens_the_window() -> None:
    cohort = sample_cohort(_spec({"preset": "men_osteoporosis"}), {"placebo": 400}, 5)
    fractured = (cohort.prevalent_vertebral_fracture_count > 0) | cohort.prior_nonvertebral_fracture
    best = np.minimum(cohort.tscore_ls, cohort.tscore_fn)
    assert (best[~fractured] <= -2.0).all()
    assert (best[fractured] <= -1.0).all() and (best[fractured] > -2.0).any()


def test_mixed_cohort_draws_sex_from_its_own_stream() -> None:
    spec = _spec({"preset": "men_osteoporosis", "male_frac": 0.4})
    cohort = sample_cohort(spec, {"placebo": 1000}, 11)
    share = float(np.mean(cohort.sex == "male"))
    assert 0.3 < share < 0.5
    men = cohort.sex == "male"
    fn_ref_mean = np.where(men, MEN_FN_MEAN_G_CM2, 0.858)
    fn_ref_sd = np.where(men, MEN_FN_SD_G_CM2, 0.120)
    np.testing.assert_allclose(cohort.tscore_fn, (cohort.bmd_fn_g_cm2 - fn_ref_mean) / fn_ref_sd)
    # a candidate's sex is keyed on (seed, candidate id): a larger cohort keeps it
    bigger = sample_cohort(spec, {"placebo": 1500}, 11)
    first = np.isin(bigger.candidate_id, cohort.candidate_id)
    by_id = dict(zip(bigger.candidate_id[first].tolist(), bigger.sex[first].tolist(), strict=True))
    assert [by_id[i] for i in cohort.candidate_id.tolist()] == cohort.sex.tolist()


def test_overrides_win_over_the_preset_and_sex_is_checked() -> None:
    block = expand_population({"preset": "men_osteoporosis", "age_years_mean": 72.0})
    assert block["age_years_mean"] == 72.0 and block["sex"] == "male"
    assert "sex" not in expand_population({"preset": "men_osteoporosis", "male_frac": 0.5})
    with pytest.raises(ValueError, match="contradicts male_frac"):
        PopulationParams.from_dict({"sex": "male", "male_frac": 0.2})
    with pytest.raises(ValueError, match="allowed: female, male"):
        PopulationParams.from_dict({"sex": "men"})
    with pytest.raises(ValueError, match="available presets"):
        expand_population({"preset": "martians"})
    with pytest.raises(ValueError, match="male_frac"):
        PopulationParams(male_frac=1.5)


def test_population_fields_are_all_in_the_schema() -> None:
    from osteotrial.trial.config import load_schema

    props = load_schema()["$defs"]["population"]["properties"]
    assert {f.name for f in fields(PopulationParams)} | {"preset", "sex"} == set(props)


def test_typical_pk_of_a_population_moves_the_median_not_the_spread() -> None:
    """The bone-metastasis presets take their own population-PK typical values (S36 over S45):
    the denosumab clearance and volume multipliers are the default draws times those values,
    exactly, and no other multiplier moves."""
    from osteotrial.cohort.variability import iiv_multipliers

    mets = PopulationParams.from_dict(read_preset("bone_metastases_breast")["population"])
    assert mets.denosumab_clearance_typical_rel == pytest.approx(3.25 / 2.75, abs=1e-3)
    assert mets.denosumab_volume_typical_rel == pytest.approx(2.62 / 2.34, abs=1e-3)
    ids = np.arange(2000, dtype=np.int64)
    own, default = iiv_multipliers(7, ids, mets), iiv_multipliers(7, ids, PopulationParams())
    for name, values in own.items():
        typical = getattr(mets, name.removeprefix("mult_") + "_typical_rel", 1.0)
        np.testing.assert_allclose(values, typical * default[name], rtol=1e-15)
    assert np.median(own["mult_denosumab_clearance"]) == pytest.approx(1.182, rel=0.05)
    with pytest.raises(ValueError, match="denosumab_clearance_typical_rel"):
        PopulationParams(denosumab_clearance_typical_rel=0.0)
