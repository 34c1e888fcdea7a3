"""Counterfactual twins (issue 7, part 1); every analysis table is independent of sharding."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from conftest import run_workflow

from osteotrial import io
from osteotrial.analyses import counterfactual as cf
from osteotrial.analyses.endpoints import FRACTURE_ENDPOINTS

# The smoke trial with every analysis on, small: counterfactual twins, power, parameter sets.
ANALYSES = (
    "--config",
    "trial=smoke",
    "counterfactual={enabled: true}",
    "power={enabled: true, super_cohort_per_arm: 300, replicates: 50, n_per_arm: [50, 100]}",
    "uncertainty={enabled: true, n_parameter_sets: 2}",
)
TABLES = ("individual_effects", "subgroups")
ANALYSIS_TABLES = (
    "endpoints/individual_effects.parquet",
    "endpoints/subgroups.parquet",
    "power/power.parquet",
    "endpoints/prediction_intervals.parquet",
    "uncertainty/parameter_sets.parquet",
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run the smoke trial with every analysis on 2 shards and on 1 shard."""
    out = {}
    for n_shards in (2, 1):
        workdir = tmp_path_factory.mktemp(f"counterfactual{n_shards}")
        done = run_workflow(workdir, *ANALYSES, f"n_shards={n_shards}")
        assert done.returncode == 0, done.stderr[-4000:]
        out[n_shards] = workdir / "results" / "smoke"
    return out


def read(results, table: str) -> pl.DataFrame:
    return pl.read_parquet(results / "endpoints" / f"{table}.parquet")


def test_counterfactual_arm_equals_the_randomized_arm_for_the_same_patients(runs):
    results = runs[2]
    for arm in ("placebo", "romosozumab"):
        for shard in ("s000", "s001"):
            randomized = pl.read_parquet(results / "simulations" / arm / f"{shard}.parquet")
            every = pl.read_parquet(
                results / "counterfactual" / "simulations" / arm / f"{shard}.parquet"
            )
            twins = every.filter(pl.col("patient_id").is_in(randomized["patient_id"].implode()))
            assert twins.height == randomized.height > 0
            assert twins.equals(randomized), (arm, shard)
            assert every["patient_id"].n_unique() > randomized["patient_id"].n_unique()


def test_tables_have_their_schema_and_provenance(runs):
    for table in TABLES:
        path = runs[2] / "endpoints" / f"{table}.parquet"
        assert pq.read_schema(path).names == cf.SCHEMAS[table].names
        assert {"config_hash", "seed", "trial"} <= set(io.read_metadata(path))
    assert (runs[2] / "report" / "subgroup_forest.png").stat().st_size > 10_000
    assert (runs[2] / "report" / "randomized_vs_counterfactual.png").stat().st_size > 10_000


@pytest.mark.parametrize("table", ANALYSIS_TABLES)
def test_analysis_tables_do_not_depend_on_sharding(runs, table):
    """Every analysis table is byte-identical with 1 or 2 shards (same config and seed)."""
    assert (runs[2] / table).read_bytes() == (runs[1] / table).read_bytes()


def test_individual_effects_sum_to_the_subgroup_risk_difference(runs):
    effects = read(runs[2], "individual_effects")
    overall = read(runs[2], "subgroups").filter(
        (pl.col("subgroup") == "all") & (pl.col("measure") == "risk_difference")
    )
    assert effects.height == 200  # 200 patients x 1 treated arm x 1 imaging month
    for endpoint in FRACTURE_ENDPOINTS:
        column = effects[f"{endpoint}_effect"].drop_nulls()
        row = overall.filter(pl.col("endpoint") == endpoint).row(0, named=True)
        assert row["n_patients"] == column.len()
        assert row["estimate"] == pytest.approx(column.mean(), abs=1e-12)
        assert set(column.unique().to_list()) <= {-1, 0, 1}


def test_romosozumab_prevents_and_never_causes_a_vertebral_fracture_in_year_one(runs):
    effects = read(runs[2], "individual_effects")
    assert (effects["new_vertebral_effect"] == 1).sum() == 0
    lumbar = effects["bmd_ls_diff_pct_points"].drop_nulls()
    assert lumbar.min() > 5.0  # every patient gains more spine BMD on romosozumab


def test_subgroup_levels_cover_every_patient_once(runs):
    subgroups = read(runs[2], "subgroups").filter(
        (pl.col("endpoint") == "clinical") & (pl.col("measure") == "risk_ratio")
    )
    total = subgroups.filter(pl.col("subgroup") == "all")["n_patients"][0]
    sums = subgroups.group_by("subgroup").agg(pl.col("n_patients").sum())
    assert sums["n_patients"].to_list() == [total] * sums.height


def test_randomized_estimate_lands_near_the_counterfactual_effect(runs):
    """The trial's BMD difference is an unbiased estimate of the twins' effect (same patients)."""
    bmd = read(runs[2], "bmd").filter((pl.col("month") == 12.0) & (pl.col("site") == "LS"))
    truth = read(runs[2], "subgroups").filter(
        (pl.col("subgroup") == "all") & (pl.col("endpoint") == "bmd_ls")
    )
    mean = dict(zip(bmd["arm"], bmd["mean_pct_change"], strict=True))
    randomized = mean["romosozumab"] - mean["placebo"]
    assert randomized == pytest.approx(truth["estimate"][0], abs=0.6)


def test_band_labels_put_edges_in_the_upper_band():
    labels, names = cf.band_labels(np.array([60.0, 65.0, 74.9, 75.0, 90.0]), [65, 75], " y")
    assert names == ["<65 y", "65 to <75 y", ">=75 y"]
    assert labels.tolist() == ["<65 y", "65 to <75 y", "65 to <75 y", ">=75 y", ">=75 y"]


def test_paired_risk_ratio_of_identical_outcomes_is_exactly_one():
    outcome = (np.arange(1000) % 10 == 0).astype(float)
    assert cf.paired_risk_ratio(outcome, outcome) == (1.0, 1.0, 1.0)


def test_paired_risk_ratio_interval_covers_the_truth_and_beats_the_unpaired_one():
    rng = np.random.default_rng(3)
    control = (rng.random(20_000) < 0.1).astype(float)
    treated = control * (rng.random(20_000) < 0.5)  # half of the events prevented
    ratio, low, high = cf.paired_risk_ratio(treated, control)
    assert low < 0.5 < high and ratio == pytest.approx(0.5, abs=0.03)
    p1, p0, n = treated.mean(), control.mean(), treated.size
    unpaired = 2 * 1.96 * np.sqrt((1 - p1) / (n * p1) + (1 - p0) / (n * p0))
    assert np.log(high / low) < unpaired


def test_paired_risk_ratio_is_nan_without_events():
    assert np.isnan(cf.paired_risk_ratio(np.zeros(10), np.zeros(10))[0])
