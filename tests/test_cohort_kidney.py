"""Kidney function and sex in the cohort: CKD-EPI and Cockcroft-Gault, the kidney stream, the
own-cohort table's columns and the eGFR inclusion criterion (cohort.kidney, issue 25)."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from osteotrial import io
from osteotrial.cohort.from_table import table_candidates
from osteotrial.cohort.kidney import (
    crcl_cockcroft_gault,
    creatinine_from_egfr,
    egfr_ckd_epi,
)
from osteotrial.cohort.population import PopulationParams
from osteotrial.cohort.sampling import draw_candidates, sample_cohort
from osteotrial.cohort.spec import CohortSpec, Eligibility
from osteotrial.trial.config import load_config

ROOT = Path(__file__).resolve().parents[1]
NEW_COLUMNS = ("sex", "egfr_ml_min_1_73m2", "creatinine_clearance_ml_min")
# Columns added since, each by its own stream (issue 26: tumour in bone, all 0 in FRAME;
# issue 27: dialysis from eGFR, serum calcium from "screening.calcium")
LATER_COLUMNS = (
    "tumour_burden0_rel",
    "lesion_lytic_frac",
    "cancer_death_per_year",
    "prior_skeletal_event",
)
LATER_COLUMNS += ("dialysis", "serum_calcium_z")
LATER_COLUMNS += ("prior_cardiovascular_disease", "dental_propensity")  # issue 27: rest27
LATER_COLUMNS += ("vitamin_d_deficient",)  # issue 27: vitamin D deficiency
# BLAKE2b of every other column of the fixture's FRAME cohort (400 per arm, FRAME's seed),
# recorded with the code before kidney function and sex were added (commit 5f548bd): the new
# streams "screening.kidney" and "screening.tumour" must leave every existing covariate and
# draw as it was.
FRAME_COHORT_DIGEST = "000e80d72823320ab49bd2acd2a2cc2f"


def test_ckd_epi_2021_and_cockcroft_gault_give_the_published_values():
    # CKD-EPI 2021 (Inker 2021): creatinine 1.0 mg/dL at 60 -> 64.5 (woman), 86.2 (man)
    age, male = np.array([60.0, 60.0]), np.array([False, True])
    assert egfr_ckd_epi(np.array([1.0, 1.0]), age, male) == pytest.approx([64.5, 86.2], abs=0.05)
    # Cockcroft-Gault (1976): a woman of 70, 60 kg, creatinine 1.0 -> 70 x 60 / 72 x 0.85
    assert crcl_cockcroft_gault(1.0, 70.0, 60.0, False) == pytest.approx(49.58, abs=0.01)
    creatinine = np.geomspace(0.3, 8.0, 50)
    for is_male in (False, True):
        sex = np.full(50, is_male)
        egfr = egfr_ckd_epi(creatinine, np.full(50, 72.0), sex)
        assert np.all(np.diff(egfr) < 0)
        back = creatinine_from_egfr(egfr, np.full(50, 72.0), sex)
        np.testing.assert_allclose(back, creatinine, rtol=1e-12)


def test_kidney_function_falls_with_age_as_in_nhanes():
    covariates = draw_candidates(7, np.arange(40_000), PopulationParams())
    age, egfr = covariates["age_years"], covariates["egfr_ml_min_1_73m2"]
    crcl = covariates["creatinine_clearance_ml_min"]
    young, old = (age >= 55) & (age < 65), (age >= 75) & (age < 85)
    assert np.median(egfr[young]) == pytest.approx(84.0, abs=3.0)  # Levey 2009: about 85
    assert np.median(egfr[old]) == pytest.approx(64.0, abs=3.0)  # about 65-70 at 75-85
    seventy_plus = age >= 70
    assert 0.2 < np.mean(egfr[seventy_plus] < 60.0) < 0.45  # Coresh 2007: about a third
    # Cockcroft-Gault reads lower than eGFR in older, lighter women (it has no 1.73 m2)
    assert np.median(crcl[old]) < np.median(egfr[old])
    assert set(covariates["sex"]) == {"female"}


def test_a_kidney_failure_share_puts_that_share_on_dialysis_and_leaves_the_rest():
    """kidney_failure_frac: u < frac of stream screening.kidney_failure puts a candidate in
    kidney failure (eGFR around 10, so on dialysis); every other candidate keeps her draw."""
    ids = np.arange(20_000)
    base = draw_candidates(7, ids, PopulationParams())
    tail = draw_candidates(7, ids, PopulationParams(kidney_failure_frac=0.1))
    failed = tail["dialysis"]
    assert not base["dialysis"].any() and abs(failed.mean() - 0.1) < 0.01
    assert np.all(tail["egfr_ml_min_1_73m2"][failed] < 15.0)
    np.testing.assert_array_equal(
        tail["egfr_ml_min_1_73m2"][~failed], base["egfr_ml_min_1_73m2"][~failed]
    )
    with pytest.raises(ValueError, match="kidney_failure_frac"):
        PopulationParams(kidney_failure_frac=1.5)


def test_a_vitamin_d_deficiency_share_marks_that_share_and_touches_nothing_else():
    """vitamin_d_deficient_frac: u < frac of stream screening.vitamin_d marks a candidate
    deficient (none by default: trials screen deficiency out); every other covariate is the
    same draw, and the marks are nested as the share grows (one uniform per candidate)."""
    ids = np.arange(20_000)
    base = draw_candidates(7, ids, PopulationParams())
    some = draw_candidates(7, ids, PopulationParams(vitamin_d_deficient_frac=0.04))
    more = draw_candidates(7, ids, PopulationParams(vitamin_d_deficient_frac=0.2))
    assert not base["vitamin_d_deficient"].any()
    assert abs(some["vitamin_d_deficient"].mean() - 0.04) < 0.005
    assert np.all(more["vitamin_d_deficient"][some["vitamin_d_deficient"]])
    for name in set(base) - {"vitamin_d_deficient"}:
        np.testing.assert_array_equal(np.asarray(some[name]), np.asarray(base[name]), name)
    with pytest.raises(ValueError, match="vitamin_d_deficient_frac"):
        PopulationParams(vitamin_d_deficient_frac=-0.1)


def test_the_frame_cohort_is_bit_identical_in_every_existing_column(small_frame_cohort):
    columns = small_frame_cohort.to_columns()
    lines = []
    for name in sorted(set(columns) - set(NEW_COLUMNS) - set(LATER_COLUMNS)):
        values = np.ascontiguousarray(columns[name])
        data = values.astype(str) if values.dtype.kind in "UO" else values
        lines.append(f"{name} {hashlib.blake2b(data.tobytes(), digest_size=8).hexdigest()}\n")
    digest = hashlib.blake2b("".join(lines).encode(), digest_size=16).hexdigest()
    assert digest == FRAME_COHORT_DIGEST
    assert np.all(np.isfinite(small_frame_cohort.egfr_ml_min_1_73m2))


def test_a_table_gives_kidney_function_and_the_other_measure_follows(tmp_path):
    table = tmp_path / "t.csv"
    pl.DataFrame(
        {
            "sex": ["F", "M", "F"],
            "age_years": [70.0, 70.0, 80.0],
            "bmi_kg_m2": [25.0, 25.0, 22.0],
            "egfr_ml_min_1_73m2": [45.0, None, None],
            "creatinine_clearance_ml_min": [None, 50.0, None],
        }
    ).write_csv(table)
    spec = CohortSpec(Eligibility(50, 90, -7, 4, ("LS",), False, False, 4), table=str(table))
    [(keys, got)] = table_candidates(spec, {"a": 3}, seed=1)
    assert got["sex"].tolist() == ["female", "male", "female"]
    egfr, crcl = got["egfr_ml_min_1_73m2"], got["creatinine_clearance_ml_min"]
    assert egfr[0] == 45.0 and crcl[1] == 50.0
    male = got["sex"] == "male"
    creatinine = creatinine_from_egfr(egfr, got["age_years"], male)
    weight = got["bmi_kg_m2"] * np.where(male, 1.74, 1.60) ** 2
    want = crcl_cockcroft_gault(creatinine, got["age_years"], weight, male)
    np.testing.assert_allclose(crcl, want, rtol=1e-9)
    bad = tmp_path / "bad.csv"
    pl.DataFrame({"age_years": [70.0], "egfr_ml_min_1_73m2": [600.0]}).write_csv(bad)
    with pytest.raises(ValueError, match=r"'egfr_ml_min_1_73m2'.*allowed 5 - 200"):
        table_candidates(dataclasses.replace(spec, table=str(bad)), {"a": 1}, seed=1)


def test_egfr_inclusion_is_validated_and_screens(tmp_path):
    config = load_config("frame", {"cohort": {"eligibility": {"egfr_min_ml_min_1_73m2": 60}}})
    spec = CohortSpec.from_dict(config.cohort_spec)
    assert spec.eligibility.egfr_min_ml_min_1_73m2 == 60
    cohort = sample_cohort(spec, {"a": 300}, seed=3)
    assert cohort.egfr_ml_min_1_73m2.min() >= 60.0
    with pytest.raises(Exception, match="egfr_min_ml_min_1_73m2"):
        load_config("frame", {"cohort": {"eligibility": {"egfr_min_ml_min_1_73m2": 2}}})


def test_sex_and_kidney_function_survive_the_cohort_files(small_frame_cohort, tmp_path):
    cohort = small_frame_cohort.select(np.arange(6))
    cohort = dataclasses.replace(cohort, sex=np.array(["female", "male"] * 3))
    paths = [tmp_path / "c0.parquet", tmp_path / "c1.parquet"]
    io.write_cohort_shards(cohort, paths, {})
    back = io.read_cohort(paths)
    assert back.sex.tolist() == cohort.sex.tolist()
    np.testing.assert_array_equal(back.egfr_ml_min_1_73m2, cohort.egfr_ml_min_1_73m2)
