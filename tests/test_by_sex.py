"""The by_sex endpoint table: per-sex strata of a mixed cohort add up to the arm."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest
from conftest import synthetic_cohort, synthetic_result

from osteotrial import io
from osteotrial.analyses import endpoints

ARMS = ["a", "b", "a", "b", "a", "b", "a", "b"]
SEX = np.array(["female", "male", "male", "female", "female", "male", "male", "female"])


def _write_mixed_trial(tmp_path, sex: np.ndarray) -> tuple[list, list]:
    """Write a cohort of 8 patients (sexes ``sex``) and their simulations: LS BMD at month 12
    and one hip fracture per arm, so that every stratum has a known answer."""
    cohort = synthetic_cohort(ARMS)
    cohort = dataclasses.replace(cohort, sex=sex.astype(object))
    cohort_paths = [tmp_path / "cohort.parquet"]
    io.write_cohort_shards(cohort, cohort_paths, {})
    bmd = np.array([[1.0] * 8, [1.1, 1.2, 1.0, 1.0, 1.3, 1.05, 1.02, 0.99]])
    hip = np.full((2, 8), np.nan)
    hip[0, 1], hip[0, 2] = 20.0, 200.0  # a man in arm b, a man in arm a
    paths = []
    for arm in ("a", "b"):
        ids = [i for i in range(8) if ARMS[i] == arm]
        result = synthetic_result(arm, ids, bmd_ls_g_cm2=bmd[:, ids], hip_fracture_days=hip[:, ids])
        paths.append(tmp_path / f"{arm}.parquet")
        io.write_simulation(result, paths[-1], {})
    return cohort_paths, paths


def test_mixed_cohort_strata_add_up_to_the_arm(tmp_path) -> None:
    tables = endpoints.compute_endpoint_tables(*_write_mixed_trial(tmp_path, SEX), "b", [12], [12])
    strata = tables["by_sex"]
    assert set(strata["sex"].to_list()) == {"female", "male"}
    bmd = strata.filter(pl.col("kind") == "bmd_pct_change")
    for row in tables["bmd"].iter_rows(named=True):
        parts = bmd.filter((pl.col("arm") == row["arm"]) & (pl.col("measure") == row["site"]))
        assert parts["n_patients"].sum() == row["n_patients"]
        weighted = (parts["value"] * parts["n_patients"]).sum() / row["n_patients"]
        assert weighted == pytest.approx(row["mean_pct_change"])
    hip = strata.filter((pl.col("kind") == "incidence") & (pl.col("measure") == "hip"))
    for row in tables["fractures"].filter(pl.col("endpoint") == "hip").iter_rows(named=True):
        parts = hip.filter(pl.col("arm") == row["arm"])
        assert parts["n_events"].sum() == row["n_events"]
        assert parts["n_patients"].sum() == row["n_patients"]
    # the two hip fractures are both men's: one in each arm
    by = {(r["arm"], r["sex"]): r["n_events"] for r in hip.iter_rows(named=True)}
    assert by == {("a", "female"): 0, ("a", "male"): 1, ("b", "female"): 0, ("b", "male"): 1}
    # women of arm a: patients 0 and 4 gain 10 % and 30 % at the spine
    women_a = bmd.filter((pl.col("arm") == "a") & (pl.col("sex") == "female"))
    assert women_a.filter(pl.col("measure") == "LS")["value"].to_list() == pytest.approx([20.0])


def test_single_sex_cohort_has_one_stratum_equal_to_the_arm(tmp_path) -> None:
    women = np.full(8, "female")
    tables = endpoints.compute_endpoint_tables(
        *_write_mixed_trial(tmp_path, women), "b", [12], [12]
    )
    bmd = tables["by_sex"].filter(pl.col("kind") == "bmd_pct_change")
    assert bmd["sex"].unique().to_list() == ["female"]
    joined = bmd.join(
        tables["bmd"], left_on=["arm", "measure", "month"], right_on=["arm", "site", "month"]
    )
    assert joined.height == tables["bmd"].height
    np.testing.assert_allclose(joined["value"], joined["mean_pct_change"])
    path = tmp_path / "by_sex.parquet"
    io.write_endpoint_table("by_sex", tables["by_sex"], path, {})
    assert pl.read_parquet(path).height == tables["by_sex"].height


def test_report_section_shows_each_sex_of_a_mixed_cohort(tmp_path) -> None:
    from osteotrial.report.build import html_table
    from osteotrial.report.by_sex import by_sex_display, by_sex_html

    mixed = endpoints.compute_endpoint_tables(*_write_mixed_trial(tmp_path, SEX), "b", [12], [12])
    page = by_sex_html(mixed["by_sex"], html_table)
    assert "<h3>Results by sex</h3>" in page and "female" in page and "male" in page
    shown = by_sex_display(mixed["by_sex"])
    hip = shown.filter(pl.col("measure") == "incidence hip")
    assert hip.height == 4 and set(hip["sex"].to_list()) == {"female", "male"}
    (tmp_path / "men").mkdir()
    men = endpoints.compute_endpoint_tables(
        *_write_mixed_trial(tmp_path / "men", np.full(8, "male")), "b", [12], [12]
    )
    assert "every patient of this cohort is men" in by_sex_html(men["by_sex"], html_table)
