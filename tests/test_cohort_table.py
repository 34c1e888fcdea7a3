"""A trial's own cohort (cohort.table): checks, conditional draws, screening, determinism."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from conftest import ROOT

from osteotrial.cohort.conditional import complete_covariates
from osteotrial.cohort.from_table import eligible_rows
from osteotrial.cohort.population import PopulationParams, covariates_to_latent
from osteotrial.cohort.sampling import CohortSpec, draw_candidates, is_eligible, sample_cohort
from osteotrial.cohort.table import read_baseline_table
from osteotrial.engine.simulate import simulate_arm
from osteotrial.trial.config import load_config

POP = PopulationParams()
SEED = 3
ELIGIBILITY = {
    "age_years_min": 55,
    "age_years_max": 90,
    "tscore_min": -3.5,
    "tscore_max": -2.5,
    "tscore_sites_any": ["TH", "FN"],
}
EXAMPLE = ROOT / "config" / "cohorts" / "example_registry.csv"


def _write(tmp_path, columns: dict, name: str = "t.csv"):
    path = tmp_path / name
    frame = pl.DataFrame(columns)
    frame.write_csv(path) if name.endswith(".csv") else frame.write_parquet(path)
    return path


def _values(n: int, **given: float) -> dict[str, np.ndarray]:
    """Return table values of n identical rows: the given ones, the rest missing (NaN)."""
    names = read_baseline_table(EXAMPLE).values.keys()
    return {name: np.full(n, given.get(name, np.nan), dtype=float) for name in names}


def test_missing_age_column_names_file_and_column(tmp_path):
    path = _write(tmp_path, {"bmi_kg_m2": [25.0]})
    with pytest.raises(ValueError, match=r"(?s)t\.csv.*'age_years' is required"):
        read_baseline_table(path)


def test_out_of_range_and_unreadable_values_name_column_rows_and_range(tmp_path):
    path = _write(tmp_path, {"age_years": ["70", "30", "abc", ""], "tscore_th": [-2.0] * 4})
    with pytest.raises(ValueError) as error:
        read_baseline_table(path)
    text = str(error.value)
    assert "column 'age_years': 1 bad row(s) [2] (values [30.0]); allowed 50 - 100 years" in text
    assert "[3] (values ['abc']); not a number" in text
    assert "[4]; age_years is required in every row" in text


def test_wrong_units_and_contradictions_are_rejected(tmp_path):
    path = _write(tmp_path, {"age_years": [70.0], "bmd_th_g_cm2": [812.0]})
    with pytest.raises(ValueError, match=r"allowed 0\.033 - 1\.617 g/cm2; BMD must be in g/cm2"):
        read_baseline_table(path)
    both = _write(tmp_path, {"age_years": [70.0], "tscore_th": [-2.0], "bmd_th_g_cm2": [0.7]})
    with pytest.raises(ValueError, match="either 'tscore_th' or 'bmd_th_g_cm2'"):
        read_baseline_table(both)
    hip = _write(tmp_path, {"age_years": [70.0], "prior_hip_fracture": ["yes"],
                            "prior_nonvertebral_fracture": ["no"]})  # fmt: skip
    with pytest.raises(ValueError, match="prior_nonvertebral_fracture must be true"):
        read_baseline_table(hip)
    typo = _write(tmp_path, {"age_years": [70.0], "bmd_th": [0.7]})
    with pytest.raises(ValueError, match=r"unknown column\(s\) \['bmd_th'\]; valid columns"):
        read_baseline_table(typo)


def test_csv_and_parquet_give_the_same_table(tmp_path):
    frame = pl.read_csv(EXAMPLE, infer_schema_length=None)
    frame = frame.with_columns(
        [pl.col(c).replace_strict({"yes": True, "no": False}, return_dtype=pl.Boolean)
         for c in ("prior_nonvertebral_fracture", "prior_hip_fracture")]
    )  # fmt: skip
    path = tmp_path / "r.parquet"
    frame.write_parquet(path)
    csv, parquet = read_baseline_table(EXAMPLE), read_baseline_table(path)
    np.testing.assert_array_equal(csv.source_id, parquet.source_id)
    for name, column in csv.values.items():
        np.testing.assert_array_equal(column, parquet.values[name], err_msg=name)


def test_given_values_are_kept_and_bmd_becomes_the_model_tscore():
    table = read_baseline_table(EXAMPLE)
    out = complete_covariates(table.values, table.source_id, SEED, POP)
    given = ~np.isnan(table.values["tscore_ls"])
    np.testing.assert_array_equal(out["tscore_ls"][given], table.values["tscore_ls"][given])
    raw = pl.read_csv(EXAMPLE)
    np.testing.assert_allclose(out["bmd_th_g_cm2"], raw["bmd_th_g_cm2"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(out["tscore_th"], (raw["bmd_th_g_cm2"].to_numpy() - 0.942) / 0.122)
    for name in ("bmi_kg_m2", "tscore_ls", "tscore_fn"):
        assert np.isfinite(out[name]).all(), name


def test_missing_ls_has_the_copula_conditional_distribution():
    """LS | age, TH is normal: mean and SD from the 3x3 correlation (tolerance 4 SE, 3 %)."""
    n, age, tscore_th = 20_000, 70.0, -2.5
    out = complete_covariates(
        _values(n, age_years=age, tscore_th=tscore_th), np.arange(n), SEED, POP
    )
    x_age = covariates_to_latent(_values(1, age_years=age, tscore_th=tscore_th), POP)[0, 0]
    x_th = (tscore_th - POP.tscore_th_mean) / POP.tscore_th_sd
    r_gg = np.array([[1.0, POP.corr_age_tscore_hip], [POP.corr_age_tscore_hip, 1.0]])
    r_mg = np.array([POP.corr_age_tscore_ls, POP.corr_ls_th])
    gain = np.linalg.solve(r_gg, r_mg)
    mean = POP.tscore_ls_mean + POP.tscore_ls_sd * gain @ [x_age, x_th]
    sd = POP.tscore_ls_sd * np.sqrt(1.0 - r_mg @ gain)
    assert abs(out["tscore_ls"].mean() - mean) < 4 * sd / np.sqrt(n)
    assert abs(out["tscore_ls"].std() / sd - 1.0) < 0.03
    np.testing.assert_array_equal(out["tscore_th"], tscore_th)


def test_given_vertebral_fracture_informs_missing_ls_as_the_population_does():
    """Women of 70 with one prevalent VF: LS as among such women of the source population."""
    n = 4000
    out = complete_covariates(
        _values(n, age_years=70.0, prevalent_vertebral_fracture_count=1.0), np.arange(n), SEED, POP
    )
    ref = draw_candidates(11, np.arange(1_000_000), POP)
    near = (np.abs(ref["age_years"] - 70.0) < 1.0) & (
        ref["prevalent_vertebral_fracture_count"] == 1
    )
    ref_ls = ref["tscore_ls"][near]
    se = np.hypot(out["tscore_ls"].std() / np.sqrt(n), ref_ls.std() / np.sqrt(ref_ls.size))
    assert abs(out["tscore_ls"].mean() - ref_ls.mean()) < 4 * se
    assert np.all(out["prevalent_vertebral_fracture_count"] == 1)
    no_vf = complete_covariates(_values(n, age_years=70.0), np.arange(n), SEED, POP)
    assert out["tscore_ls"].mean() < no_vf["tscore_ls"].mean() - 0.2


def test_eligibility_screens_the_rows_in_order_and_too_few_is_an_error():
    spec = CohortSpec.from_dict({"eligibility": ELIGIBILITY, "table": str(EXAMPLE)})
    ids, covariates = eligible_rows(spec, read_baseline_table(EXAMPLE), SEED)
    cohort = sample_cohort(spec, {"a": 20, "b": 10}, SEED)
    np.testing.assert_array_equal(cohort.candidate_id, ids[:30])
    assert is_eligible(covariates, spec.eligibility).all()
    assert np.all((cohort.age_years >= 55) & (cohort.age_years <= 90))
    in_window = [(t >= -3.5) & (t <= -2.5) for t in (cohort.tscore_th, cohort.tscore_fn)]
    assert np.all(in_window[0] | in_window[1])
    with pytest.raises(ValueError, match=rf"{ids.size} of its 200 rows are eligible.*fewer than"):
        sample_cohort(spec, {"a": 200, "b": 200}, SEED)


def test_draws_are_keyed_by_source_id_not_row_order(tmp_path):
    frame = pl.read_csv(EXAMPLE, infer_schema_length=None)
    shuffled = _write(tmp_path, frame.reverse().to_dict(as_series=False), "r.csv")
    spec = CohortSpec.from_dict({"eligibility": ELIGIBILITY, "table": str(EXAMPLE)})
    a = complete_covariates(read_baseline_table(EXAMPLE).values, frame["source_id"], SEED, POP)
    table = read_baseline_table(shuffled)
    b = complete_covariates(table.values, table.source_id, SEED, POP)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name][::-1], err_msg=name)
    one, two = (sample_cohort(spec, {"a": 30}, SEED) for _ in range(2))
    for name, column in one.to_columns().items():
        np.testing.assert_array_equal(column, getattr(two, name), err_msg=name)


def test_resampled_cohort_is_a_screened_bootstrap_of_the_table():
    spec = CohortSpec.from_dict({"eligibility": ELIGIBILITY, "table": str(EXAMPLE)})
    cohort = sample_cohort(spec, {"a": 150, "b": 150}, SEED, resample_table=True)
    assert cohort.n_patients == 300 and np.all(np.diff(cohort.candidate_id) > 0)
    ages = set(pl.read_csv(EXAMPLE)["age_years"].to_list())
    assert set(cohort.age_years.tolist()) <= ages


def test_example_trial_loads_samples_and_simulates():
    cfg = load_config("example_registry", {"n_per_arm": 3}, config_dir=ROOT / "config")
    cohort = sample_cohort(CohortSpec.from_dict(cfg.cohort_spec), cfg.allocation, cfg.seed)
    assert cohort.n_patients == 6
    for name, arm in cfg.arms.items():
        result = simulate_arm(cohort.select(cohort.arm == name), arm, cfg.params, cfg.schedule)
        assert np.isfinite(result.bmd_th_g_cm2).all()
    with pytest.raises(ValueError, match="set n_per_arm to at most"):
        load_config("example_registry", {"n_per_arm": 100}, config_dir=ROOT / "config")


def test_ragged_csv_rows_name_the_file_and_lines(tmp_path):
    path = tmp_path / "ragged.csv"
    rows = ["age_years,tscore_th", "70,-2.6", "71,-2.7,5", "", "72", *["73,-2.8,1,2"] * 6]
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(ValueError) as error:
        read_baseline_table(path)
    text = str(error.value)
    assert f"cohort.table {str(path)!r}: 8 row(s) with a number of fields other than" in text
    assert "the header's 2: line 3 has 3 fields; line 5 has 1 fields; line 6 has 4" in text
    assert "(and 3 more lines)" in text and "truncate_ragged_lines" not in text
