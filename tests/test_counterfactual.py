"""Counterfactual twins (issue 7, part 1); every analysis table is independent of sharding."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from conftest import run_workflow

from osteotrial import io
from osteotrial.analyses import counterfactual as cf
from osteotrial.model.records import SITES
from osteotrial.stats.intervals import paired_risk_ratio
from osteotrial.units import DAYS_PER_MONTH

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
    """Run the smoke trial with every analysis on 2 shards (every output) and on 1 shard (the
    analysis tables that test_analysis_tables_do_not_depend_on_sharding compares)."""
    out = {}
    for n_shards in (2, 1):
        workdir = tmp_path_factory.mktemp(f"counterfactual{n_shards}")
        tables = [f"results/smoke/{table}" for table in ANALYSIS_TABLES] if n_shards == 1 else []
        done = run_workflow(workdir, *tables, *ANALYSES, f"n_shards={n_shards}")
        assert done.returncode == 0, done.stderr[-4000:]
        out[n_shards] = workdir / "results" / "smoke"
    return out


def read(results, table: str) -> pl.DataFrame:
    return pl.read_parquet(results / "endpoints" / f"{table}.parquet")


def test_counterfactual_arm_equals_the_randomized_arm_for_the_same_patients(runs):
    results = runs[2]
    for arm in ("placebo", "romosozumab"):
        for shard in ("s000-of-002", "s001-of-002"):
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


MONTH, DAY = 12.0, 12.0 * DAYS_PER_MONTH
SETTINGS = {"age_band_edges_years": [75], "tscore_band_edges": [-3.0], "tscore_band_site": "FN"}


def known_effect_trial(n: int = 4000, seed: int = 5):
    """Return (cohort, outcomes, truth) of a synthetic trial whose effects are set by hand.

    Under "treated", half of the hip fractures of patients aged >= 75 are prevented (none
    below 75), a clinical vertebral fracture is caused in about 10 % of the patients with a
    prevalent vertebral fracture, morphometric vertebral fractures are unchanged but the second
    one of a patient with a prevalent fracture is prevented from 75 on, and spine BMD
    gains 5 percentage points more below 75 and 8 from 75. A tenth of the patients leave the
    study at day 100 under both arms: their events are not observed, their BMD is missing and
    they are not imaged. ``truth`` holds the per-patient effects by construction.
    """
    rng = np.random.default_rng(seed)
    old = np.arange(n) % 2 == 1
    prevalent = rng.random(n) < 0.4
    leaves = rng.random(n) < 0.1
    exit_day = np.where(leaves, 100.0, np.inf)
    never = np.full(n, np.inf)
    hip = ~leaves & (rng.random(n) < 0.2)
    prevented = hip & old & (rng.random(n) < 0.5)
    caused = ~leaves & prevalent & (rng.random(n) < 0.1)
    vertebral = rng.random(n) < 0.3
    baseline = 0.7 + 0.2 * rng.random(n)
    cohort = pl.DataFrame({
        "patient_id": np.arange(n), "arm": np.where(rng.random(n) < 0.5, "treated", "control"),
        "age_years": np.where(old, 80.0, 70.0), "tscore_fn": rng.normal(-2.5, 0.5, n),
        "prevalent_vertebral_fracture_count": prevalent.astype(np.int64),
        **{f"bmd_{site.lower()}_g_cm2": baseline for site in SITES},
    })  # fmt: skip
    gain = np.where(old, 0.08, 0.05)
    outcomes = {}
    for arm, hip_event, cv_event, bmd in (
        ("control", hip, np.zeros(n, bool), 1.01 * baseline),
        ("treated", hip & ~prevented, caused, (1.01 + gain) * baseline),
    ):
        hip_day = np.where(hip_event, 200.0, never)
        cv_day = np.where(cv_event, 300.0, never)
        outcomes[arm] = {
            "patient_id": np.arange(n), "exit_day": exit_day, "hip_day": hip_day,
            "nonvertebral_day": hip_day, "clinical_vertebral_day": cv_day,
            "clinical_day": np.minimum(hip_day, cv_day),
            "new_vertebral_day": np.where(vertebral, 150.0, never),
            **{f"bmd_{site}_{MONTH:g}": np.where(leaves, np.nan, bmd) for site in SITES},
        }  # fmt: skip
    multiple = vertebral & prevalent  # a second vertebral fracture at day 250 under control
    for arm, second in (("control", multiple), ("treated", multiple & ~old)):
        outcomes[arm]["multiple_new_vertebral_day"] = np.where(second, 250.0, never)
    clinical = (hip & ~prevented | caused).astype(int) - hip
    truth = {"hip": -prevented.astype(int), "clinical_vertebral": caused.astype(int),
             "clinical": clinical, "bmd": np.where(leaves, np.nan, 100 * gain),
             "old": old, "prevalent": prevalent, "leaves": leaves,
             "multiple_new_vertebral": -(multiple & old).astype(int)}  # fmt: skip
    return cohort, outcomes, truth


def test_individual_effects_are_the_effects_set_by_construction():
    cohort, outcomes, truth = known_effect_trial()
    effects = cf.individual_effects(cohort, outcomes, "control", [MONTH])
    assert effects.height == cohort.height
    assert set(effects["arm"]) == {"treated"} and set(effects["reference_arm"]) == {"control"}
    for endpoint in ("hip", "nonvertebral", "clinical_vertebral", "clinical"):
        expected = truth["hip" if endpoint == "nonvertebral" else endpoint]
        np.testing.assert_array_equal(effects[f"{endpoint}_effect"].to_numpy(), expected)
    assert (effects["hip_effect"] == -1).sum() > 100 and (effects["clinical_effect"] == 1).any()
    vertebral = effects["new_vertebral_effect"]
    np.testing.assert_array_equal(vertebral.is_null().to_numpy(), truth["leaves"])
    assert (vertebral.drop_nulls() == 0).all()
    bmd = effects["bmd_ls_diff_pct_points"]
    np.testing.assert_array_equal(bmd.is_null().to_numpy(), truth["leaves"])
    np.testing.assert_allclose(bmd.drop_nulls().to_numpy(), truth["bmd"][~truth["leaves"]],
                               rtol=1e-9)  # fmt: skip


def test_subgroup_effects_are_the_effects_set_by_construction():
    cohort, outcomes, truth = known_effect_trial()
    table = cf.subgroup_table(cohort, outcomes, "control", [MONTH], SETTINGS)

    def row(level, endpoint, measure):
        return table.row(
            by_predicate=(pl.col("level") == level) & (pl.col("endpoint") == endpoint)
            & (pl.col("measure") == measure), named=True)  # fmt: skip

    old = truth["old"]
    young_hip = row("<75 y", "hip", "risk_ratio")
    assert (young_hip["estimate"], young_hip["ci_low"], young_hip["ci_high"]) == (1.0, 1.0, 1.0)
    assert row("<75 y", "hip", "risk_difference")["estimate"] == 0.0
    old_hip = row(">=75 y", "hip", "risk_difference")
    assert old_hip["n_patients"] == old.sum() and old_hip["arm"] == "treated"
    assert old_hip["estimate"] == pytest.approx(truth["hip"][old].mean(), abs=1e-12)
    # the population effect, 0.9 x 0.2 x 0.5 prevented, lies in the 95 % interval
    assert old_hip["ci_low"] < -0.09 < old_hip["ci_high"] < 0.0
    control_risk = old_hip["outcome_reference"]
    assert row(">=75 y", "hip", "risk_ratio")["estimate"] == pytest.approx(
        1.0 + truth["hip"][old].mean() / control_risk, rel=1e-12
    )
    assert row(">=75 y", "hip", "risk_ratio")["ci_high"] < 1.0
    caused = row("yes", "clinical_vertebral", "risk_difference")
    assert caused["estimate"] == pytest.approx(
        truth["clinical_vertebral"][truth["prevalent"]].mean()
    )
    assert caused["outcome_reference"] == 0.0 and caused["ci_low"] > 0.0
    assert row("no", "clinical_vertebral", "risk_difference")["estimate"] == 0.0
    for level, gain in (("<75 y", 5.0), (">=75 y", 8.0)):
        bmd = row(level, "bmd_ls", "mean_difference_pct_points")
        members = (old if level == ">=75 y" else ~old) & ~truth["leaves"]
        assert bmd["n_patients"] == members.sum()
        assert (bmd["estimate"], bmd["ci_low"], bmd["ci_high"]) == pytest.approx((gain,) * 3)
    vertebral = row("all", "new_vertebral", "risk_difference")
    assert vertebral["n_patients"] == (~truth["leaves"]).sum() and vertebral["estimate"] == 0.0


def test_multiple_new_vertebral_effects_are_counted_among_the_imaged_like_new_vertebral():
    """The imaging endpoint with two events: prevented from 75 on by construction, null for the
    women who left before the imaging visit (the vocabulary's ``imaging``, not the name)."""
    cohort, outcomes, truth = known_effect_trial()
    imaged = ~truth["leaves"]
    effects = cf.individual_effects(cohort, outcomes, "control", [MONTH])
    multiple = effects["multiple_new_vertebral_effect"]
    np.testing.assert_array_equal(multiple.is_null().to_numpy(), ~imaged)
    np.testing.assert_array_equal(multiple.drop_nulls(), truth["multiple_new_vertebral"][imaged])
    assert (multiple == -1).sum() > 100
    table = cf.subgroup_table(cohort, outcomes, "control", [MONTH], SETTINGS)
    row = table.row(
        by_predicate=(pl.col("level") == "all") & (pl.col("endpoint") == "multiple_new_vertebral")
        & (pl.col("measure") == "risk_difference"), named=True)  # fmt: skip
    assert row["n_patients"] == imaged.sum()
    assert row["estimate"] == pytest.approx(truth["multiple_new_vertebral"][imaged].mean())


def test_romosozumab_prevents_and_never_causes_a_vertebral_fracture_in_year_one(runs):
    effects = read(runs[2], "individual_effects")
    assert (effects["new_vertebral_effect"] == 1).sum() == 0
    lumbar = effects["bmd_ls_diff_pct_points"].drop_nulls()
    # every patient gains more spine BMD on romosozumab; how much depends on her turnover and
    # remodeling surface (model.bmd), from a few points in dense, slow bone to 20 and more
    assert lumbar.min() > 1.0 and lumbar.median() > 8.0


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
    assert paired_risk_ratio(outcome, outcome) == (1.0, 1.0, 1.0)


def test_paired_risk_ratio_interval_covers_the_truth_and_beats_the_unpaired_one():
    rng = np.random.default_rng(3)
    control = (rng.random(20_000) < 0.1).astype(float)
    treated = control * (rng.random(20_000) < 0.5)  # half of the events prevented
    ratio, low, high = paired_risk_ratio(treated, control)
    assert low < 0.5 < high and ratio == pytest.approx(0.5, abs=0.03)
    p1, p0, n = treated.mean(), control.mean(), treated.size
    unpaired = 2 * 1.96 * np.sqrt((1 - p1) / (n * p1) + (1 - p0) / (n * p0))
    assert np.log(high / low) < unpaired


def test_paired_risk_ratio_is_nan_without_events():
    assert np.isnan(paired_risk_ratio(np.zeros(10), np.zeros(10))[0])
