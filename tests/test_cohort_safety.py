"""The covariates of the rare harms as cohort columns (cohort.safety, issue 27): prior
cardiovascular disease and the dental procedure propensity, drawn with the source
population's prevalence and gamma shape, keyed by candidate id, read by the safety frames
from the cohort whatever the arms' order or sharding."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest
from model_fixtures import arm

from osteotrial import io
from osteotrial.analyses import safety_frames as sf
from osteotrial.cohort.population import PopulationParams
from osteotrial.cohort.safety import safety_covariates
from osteotrial.cohort.sampling import sample_cohort
from osteotrial.cohort.spec import CohortSpec
from osteotrial.trial.config import load_config

SEED = 20261207


def test_covariates_follow_the_population_keys():
    ids = np.arange(40_000)
    default = safety_covariates(SEED, ids, PopulationParams())
    assert default["prior_cardiovascular_disease"].mean() == pytest.approx(0.2, abs=0.01)
    g = default["dental_propensity"]
    assert g.mean() == pytest.approx(1.0, abs=0.03)
    assert g.var() == pytest.approx(1.0 / 0.5, rel=0.1)  # gamma: variance 1 / k
    pop = PopulationParams(prior_cardiovascular_disease_frac=0.4, dental_procedure_gamma_shape=4.0)
    other = safety_covariates(SEED, ids, pop)
    assert other["prior_cardiovascular_disease"].mean() == pytest.approx(0.4, abs=0.01)
    assert other["dental_propensity"].var() == pytest.approx(0.25, rel=0.1)
    # the same uniforms: a patient with prior disease at 0.2 has it at 0.4 too
    assert np.all(other["prior_cardiovascular_disease"][default["prior_cardiovascular_disease"]])


@pytest.mark.parametrize(
    ("key", "value"),
    [("prior_cardiovascular_disease_frac", 1.5), ("dental_procedure_gamma_shape", 0.0)],
)
def test_out_of_range_keys_are_refused_by_name(key, value):
    with pytest.raises(ValueError, match=key):
        PopulationParams(**{key: value})


def test_cohort_columns_are_keyed_by_candidate_and_travel_in_the_cohort_shards(tmp_path):
    spec = CohortSpec.from_dict(load_config("arch").cohort_spec)
    small = sample_cohort(spec, {"a": 30, "b": 30}, SEED)
    large = sample_cohort(spec, {"a": 90, "b": 90}, SEED)
    for name in ("prior_cardiovascular_disease", "dental_propensity"):
        # the first 60 candidates enrolled are the same patients: the same values
        assert np.array_equal(getattr(small, name), getattr(large, name)[:60])
        assert np.array_equal(
            getattr(small, name), safety_covariates(SEED, small.candidate_id, spec.population)[name]
        )
    paths = [tmp_path / "0.parquet", tmp_path / "1.parquet"]
    io.write_cohort_shards(large, paths, {})
    back = io.read_cohort(paths)
    assert np.array_equal(back.prior_cardiovascular_disease, large.prior_cardiovascular_disease)
    assert np.array_equal(back.dental_propensity, large.dental_propensity)


def _exposures(ids, integral_per_year: float = 50.0) -> sf.ArmExposures:
    """Two years of a large ONJ exposure for patients ``ids`` (events happen)."""
    days = np.array([0.0, 365.25, 730.5])
    n = len(ids)
    integral = np.tile(integral_per_year * np.array([[0.0], [1.0], [2.0]]), (1, n))
    zeros = np.zeros_like(integral)
    safety = {"deep_suppression_years": zeros, "deep_suppression_integral": integral,
              "antiresorptive_duration_years": zeros}  # fmt: skip
    return sf.ArmExposures(
        "a", np.asarray(ids, dtype=np.int64), days, safety, np.full(n, np.nan), np.full(n, np.inf)
    )


def test_frames_read_the_cohort_covariates_identically_for_one_or_two_shards(params):
    n = 300
    ids = np.arange(n, dtype=np.int64)
    prior = ids % 2 == 0
    cov = sf.PatientCovariates(ids, np.full(n, 80.0), prior, np.where(prior, 3.0, 0.0))
    spec = dataclasses.replace(arm(("denosumab", 60, 182.625, 0, 730.5)), name="a")
    whole = _exposures(ids)
    grid, hazards, got = sf.cumulative_hazards(whole, spec, cov, params.safety, SEED)
    # prior disease multiplies the MACE hazard by its rate ratio; propensity 0: no procedure
    mace = hazards["mace"][-1]
    assert mace[0] / mace[1] == pytest.approx(params.safety.mace_prior_cardiovascular_rr)
    assert np.all(np.isinf(got["procedure_days"][:, 1::2]))
    assert np.all(got["dental_procedures_per_year"][::2] > 0)
    # a patient's covariates follow her id, not her position among the results
    shuffled = ids[::-1].copy()
    _, rev, _ = sf.cumulative_hazards(_exposures(shuffled), spec, cov, params.safety, SEED)
    assert np.allclose(rev["mace"][:, ::-1], hazards["mace"])
    with pytest.raises(ValueError, match="patient_id"):
        cov.of(np.array([n + 1]))
    one = sf.safety_frames([whole], {"a": spec}, cov, params.safety, SEED, 730.5)
    two = sf.safety_frames(
        [_exposures(ids[: n // 3]), _exposures(ids[n // 3 :])], {"a": spec}, cov,
        params.safety, SEED, 730.5,
    )  # fmt: skip
    assert one[0].sort("patient_id").equals(two[0].sort("patient_id"))
    assert one[1].sort("patient_id", "day").equals(two[1].sort("patient_id", "day"))
    assert one[1].filter(pl.col("event") == "mace").height > 0
