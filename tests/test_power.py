"""Replicate trials and power (osteotrial.analyses.power, .replicates, osteotrial.stats):
statistics, allocation, the trial's tests per replicate, workflow."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import run_workflow
from scipy import stats

from osteotrial import io
from osteotrial.analyses import power, replicates
from osteotrial.analyses.endpoints import fracture_counts
from osteotrial.analyses.outcomes import outcome_matrices
from osteotrial.report.figures_power import power_figure, size_ticks
from osteotrial.stats import intervals, logrank, tests
from osteotrial.stats import power as stats_power
from osteotrial.units import DAYS_PER_MONTH

N_SUPER = 20000
COLUMN = (("clinical", 12.0),)
DAY_12 = 12.0 * DAYS_PER_MONTH


def outcomes(rate_control: float, rate_treated: float, n: int = N_SUPER, seed: int = 1,
             columns=COLUMN):  # fmt: skip
    """Return potential outcomes of arms "control" and "treated" (one endpoint, month 12).

    Incidence by month 12 ``rate_<arm>``, event days uniform over the 12 months, nobody leaves
    the study. The treated arm's events are a subset of the control arm's (CRN: treatment never
    adds one).
    """
    u = np.random.default_rng(seed).random(n)
    endpoint = columns[0][0]
    days = {arm: np.where(u < rate, DAY_12 * u / rate, np.inf) for arm, rate in
            (("control", rate_control), ("treated", rate_treated))}  # fmt: skip
    return power.PotentialOutcomes(
        np.arange(n),
        columns,
        {arm: np.full(n, np.inf) for arm in days},
        {arm: {endpoint: day} for arm, day in days.items()},
    )


def table(potential, n_grid, replicates, seed=7, tests=None):
    return power.power_table(potential, "control", n_grid, replicates, 0.05, seed, tests)


def test_identical_arms_give_the_nominal_alpha():
    """Power tends to alpha with two identical arms: binomial test of the rejection count."""
    row = table(outcomes(0.10, 0.10), [500], 2000).row(0, named=True)
    rejections = round(row["power"] * 2000)
    assert stats.binomtest(rejections, 2000, 0.05).pvalue > 1e-3, row["power"]
    assert row["true_risk_ratio"] == 1.0 and row["analytic_power"] == pytest.approx(0.05)
    assert row["rr_q05"] < 1.0 < row["rr_q95"]
    assert row["rr_median"] == pytest.approx(1.0, abs=0.05)


def test_power_grows_with_n_and_matches_the_analytic_power():
    result = table(outcomes(0.10, 0.06), [100, 250, 500, 1000, 2000], 1000)
    power_by_n = result["power"].to_numpy()
    se = result["power_mc_se"].to_numpy()
    assert np.all(np.diff(power_by_n) > -2.0 * np.hypot(se[1:], se[:-1]))
    assert power_by_n[0] < 0.4 and power_by_n[-1] > 0.95
    middle = result.filter(pl.col("n_per_arm") == 500).row(0, named=True)
    assert middle["power"] == pytest.approx(middle["analytic_power"], abs=0.05)


def test_rr_quantiles_bracket_the_true_risk_ratio():
    for row in table(outcomes(0.10, 0.05), [250, 1000], 400).iter_rows(named=True):
        assert row["rr_q05"] < row["true_risk_ratio"] < row["rr_q95"]
        assert row["rr_median"] == pytest.approx(row["true_risk_ratio"], rel=0.15)


def test_same_seed_gives_the_same_table_and_replicates_do_not_depend_on_r():
    potential = outcomes(0.10, 0.07, n=2000)
    assert table(potential, [100, 500], 50).equals(table(potential, [100, 500], 50))
    assert not table(potential, [100, 500], 50).equals(table(potential, [100, 500], 50, seed=8))
    few = replicates.replicate_counts(potential, [100, 500], 20, seed=7)
    many = replicates.replicate_counts(potential, [100, 500], 50, seed=7)
    for small, large in zip(few, many, strict=True):
        np.testing.assert_array_equal(small, large[:20])


def test_arms_are_dealt_round_robin_from_the_permutation():
    permutation = np.array([5, 3, 0, 4, 1, 2, 7])
    np.testing.assert_array_equal(replicates.arm_streams(permutation, 2, 3), [[5, 0, 1], [3, 4, 2]])
    with pytest.raises(ValueError, match="n_per_arm=4 is more than the 3 patients per arm"):
        replicates.arm_streams(permutation, 2, 4)


def test_counts_for_every_n_come_from_one_cumulative_sum():
    matrix = np.random.default_rng(3).random((60, 4)) < 0.3
    counts = replicates.cumulative_counts(matrix, np.array([10, 25, 60]))
    expected = [matrix[:n].sum(axis=0) for n in (10, 25, 60)]
    np.testing.assert_array_equal(counts, expected)


ENDS = ("new_vertebral", "multiple_new_vertebral", "hip")


def test_outcome_matrices_follow_the_fracture_table_definitions():
    rng = np.random.default_rng(5)
    n, months = 500, (12.0, 24.0)
    exit_day = rng.choice([np.inf, 200.0, 500.0, 800.0], n)
    event_day = {
        endpoint: np.where(rng.random(n) < 0.3, rng.uniform(0, 800, n), np.inf) for endpoint in ENDS
    }
    columns = [(e, m) for e in ENDS for m in months]
    defined, event = outcome_matrices(exit_day, event_day, columns)
    for k, (endpoint, month) in enumerate(columns):
        expected = fracture_counts(event_day[endpoint], exit_day, endpoint, month)
        assert (defined[:, k].sum(), event[:, k].sum()) == expected
    # both imaging endpoints are assessed only in the women imaged, hip in every woman
    assert not defined[:, 0].all() and not defined[:, 2].all() and defined[:, 4].all()
    np.testing.assert_array_equal(defined[:, 0], defined[:, 2])
    assert 12.0 * DAYS_PER_MONTH < 500.0


def test_z_test_is_the_uncorrected_chi_square_test():
    x1, n1, x0, n0 = 18, 400, 35, 420
    table2 = [[x1, n1 - x1], [x0, n0 - x0]]
    expected = stats.chi2_contingency(table2, correction=False).pvalue
    assert tests.pooled_z_test(x1, n1, x0, n0) == pytest.approx(expected, rel=1e-10)
    assert tests.pooled_z_test(0, 100, 0, 100) == 1.0


def test_risk_ratio_adds_one_half_only_with_a_zero_cell():
    assert intervals.risk_ratio(10, 100, 20, 100) == pytest.approx(0.5)
    assert intervals.risk_ratio(0, 100, 20, 100) == pytest.approx((0.5 / 101) / (20.5 / 101))


def test_analytic_power_and_sample_size_agree_with_the_textbook():
    # Fleiss without continuity correction: 0.6 vs 0.4, alpha 0.05, power 0.8 -> 97 per arm
    assert np.ceil(stats_power.required_n_per_arm(0.6, 0.4, 0.8, 0.05)) == 97
    n = stats_power.required_n_per_arm(0.018, 0.005, 0.9, 0.05)
    assert stats_power.analytic_power(0.018, 0.005, n, n, 0.05) == pytest.approx(0.9, abs=1e-3)
    assert stats_power.analytic_power(0.0, 0.0, 100, 100, 0.05) == 0.0


def test_replicate_power_equals_the_exact_power_with_few_events():
    """Few events: replicates follow the binomial enumeration, not the normal approximation."""
    potential = outcomes(0.02, 0.005)
    row = table(potential, [1000], 1000, tests={"clinical": "pooled_z"}).row(0, named=True)
    p1, p0 = row["true_incidence_frac"], row["true_reference_incidence_frac"]
    exact = stats_power.exact_power(p1, p0, 1000, 1000, 0.05)
    assert row["test"] == "pooled_z"
    assert abs(row["power"] - exact) < 3.0 * np.sqrt(exact * (1 - exact) / 1000)


def test_fisher_replicate_power_equals_its_exact_power():
    """Fisher's test of new vertebral fractures: replicate power against both binomials
    enumerated (the tables beyond 60 events per arm carry less than 1e-12 of the mass)."""
    potential = outcomes(0.02, 0.006, columns=(("new_vertebral", 12.0),))
    row = table(potential, [800], 1000).row(0, named=True)
    assert row["test"] == "fisher"
    p1, p0 = row["true_incidence_frac"], row["true_reference_incidence_frac"]
    x1, x0 = np.meshgrid(np.arange(61), np.arange(61), indexing="ij")
    weight = stats.binom.pmf(x1, 800, p1) * stats.binom.pmf(x0, 800, p0)
    exact = float(np.sum(weight * (tests.fisher_exact_ps(x1, 800, x0, 800) < 0.05)))
    assert abs(row["power"] - exact) < 3.0 * np.sqrt(exact * (1 - exact) / 1000)


def test_fisher_power_is_below_the_z_test_power_at_small_n():
    """The same replicates tested both ways: Fisher's test is the conservative one."""
    potential = outcomes(0.10, 0.04, n=4000, columns=(("new_vertebral", 12.0),))
    fisher = table(potential, [40, 80, 150, 300], 1000)
    z_test = table(potential, [40, 80, 150, 300], 1000, tests={"new_vertebral": "pooled_z"})
    assert np.all(fisher["power"].to_numpy() <= z_test["power"].to_numpy())
    assert np.any(fisher["power"].to_numpy() < z_test["power"].to_numpy() - 0.03)
    assert fisher["rr_median"].equals(z_test["rr_median"])  # same replicates


def test_logrank_power_at_large_n_is_close_to_the_analytic_power():
    """Rare events, no censoring: the log-rank test has the power of the z-test of the
    proportions at the same effect (its analytic power) within Monte Carlo error."""
    result = table(outcomes(0.06, 0.045, n=N_SUPER), [2000, 3000], 1000)
    assert set(result["test"]) == {"logrank"}
    for row in result.iter_rows(named=True):
        assert 0.4 < row["analytic_power"] < 0.9
        assert abs(row["power"] - row["analytic_power"]) < 3 * row["power_mc_se"] + 0.02, row


def test_replicate_tests_are_the_trial_tests_by_endpoint():
    columns = power.endpoint_columns([6, 12], [12])
    assert list(columns[:2]) == [("new_vertebral", 12.0), ("multiple_new_vertebral", 12.0)]
    assert replicates.column_tests(columns) == ("fisher",) * 2 + ("logrank",) * 8
    assert replicates.column_tests(columns, {"hip": "pooled_z"})[4:6] == ("pooled_z",) * 2
    for imaging in ("new_vertebral", "multiple_new_vertebral"):
        with pytest.raises(ValueError, match=f"{imaging} is counted at imaging visits"):
            replicates.column_tests(columns, {imaging: "logrank"})
    with pytest.raises(ValueError, match="test 'wald' for 'hip' is unknown"):
        replicates.column_tests(columns, {"hip": "wald"})


def test_replicate_logrank_p_values_are_those_of_the_replicate_trials():
    """End to end: the p-value of replicate r, size n and month is the log-rank test of the
    first n patients of each arm stream, censored at their exit and at the month."""
    rng = np.random.default_rng(8)
    n, sizes, columns = 600, np.array([50, 120, 300]), (("hip", 3.0), ("hip", 12.0))
    exit_day = {arm: np.where(rng.random(n) < 0.2, rng.uniform(1, 400, n), np.inf)
                for arm in ("control", "treated")}  # fmt: skip
    hip = {arm: np.where(rng.random(n) < rate, rng.integers(1, 400, n).astype(float), np.inf)
           for arm, rate in (("control", 0.3), ("treated", 0.2))}  # fmt: skip
    hip = {arm: np.where(day < exit_day[arm], day, np.inf) for arm, day in hip.items()}
    potential = power.PotentialOutcomes(
        np.arange(n), columns, exit_day, {arm: {"hip": day} for arm, day in hip.items()}
    )
    *_, p_values = replicates.replicate_tests(
        potential, "control", sizes, 3, 5, ("logrank", "logrank")
    )
    for r in range(3):
        streams = replicates.arm_streams(replicates.permutations(n, 5, range(r, r + 1))[0], 2, 300)
        for (s, size), (k, (_, month)) in itertools.product(enumerate(sizes), enumerate(columns)):
            rows = {arm: streams[j, :size] for j, arm in enumerate(potential.arms)}
            day = month * DAYS_PER_MONTH
            leave = np.concatenate(
                [np.minimum(np.minimum(hip[a][i], exit_day[a][i]), day) for a, i in rows.items()]
            )
            event = np.concatenate([hip[a][i] <= day for a, i in rows.items()])
            treated = np.repeat([False, True], size)  # arms sorted: control, treated
            expected = logrank.logrank_test(leave, event, treated)[2]
            assert p_values["treated"][r, s, k] == pytest.approx(expected, rel=1e-9)


def fleiss_power(p1: float, p0: float, n1: float, n0: float, alpha: float) -> float:
    """Power of the two-sided pooled z-test, normal approximation without continuity correction.

    Fleiss, Levin & Paik (2003), eq. 4.14 solved for the power: with pbar = (n1 p1 + n0 p0) /
    (n1 + n0), power = Phi((|p1 - p0| - z sqrt(pbar qbar (1/n1 + 1/n0))) / sqrt(p1 q1 / n1 +
    p0 q0 / n0)) plus the (tiny) opposite tail.
    """
    z = stats.norm.isf(alpha / 2)
    pbar = (n1 * p1 + n0 * p0) / (n1 + n0)
    null_se = np.sqrt(pbar * (1 - pbar) * (1 / n1 + 1 / n0))
    se = np.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    d = abs(p1 - p0)
    return stats.norm.cdf((d - z * null_se) / se) + stats.norm.cdf((-d - z * null_se) / se)


def simulated_power(p1, p0, n1, n0, alpha, replicates, seed):
    """Share of simulated two-arm trials (binomial counts) where the pooled z-test rejects."""
    rng = np.random.default_rng(seed)
    x1, x0 = rng.binomial(n1, p1, replicates), rng.binomial(n0, p0, replicates)
    pbar = (x1 + x0) / (n1 + n0)
    z = (x1 / n1 - x0 / n0) / np.sqrt(pbar * (1 - pbar) * (1 / n1 + 1 / n0))
    return float(np.mean(2 * stats.norm.sf(np.abs(z)) < alpha))


def test_design_power_pairs_published_arms_and_matches_independent_references():
    """FREEDOM-like new vertebral pair (power near 1) and a synthetic pair of moderate power.

    References computed here with numpy/scipy only: (1) the textbook closed form, tolerance
    1e-12 (floating-point rounding only: same formula, written independently); (2) a brute-force
    simulation of 200,000 trials per pair, fixed seed, tolerance 4 Monte Carlo SEs plus 4e-3,
    a bound on the normal approximation's own error here (it misses the exact power of the
    test, by enumeration of both binomials, by 7e-4 for the first pair and 2.8e-3 for the
    second).
    A wrong pairing of arms, wrong sizes, a one-sided z or a wrong alpha all move the moderate
    pair by more than 0.05.
    """
    incidence = [
        {"arm": "placebo", "endpoint": "new_vertebral", "month": 12, "value": 0.018, "n": 3322},
        {"arm": "romo", "endpoint": "new_vertebral", "month": 12, "value": 0.005, "n": 3321},
        {"arm": "placebo", "endpoint": "clinical", "month": 12, "value": 0.025},
        {"arm": "romo", "endpoint": "clinical", "month": 12, "value": 0.016, "n": 3589},
        {"arm": "placebo", "endpoint": "clinical", "month": 24, "value": 0.10, "n": 1000},
        {"arm": "romo", "endpoint": "clinical", "month": 24, "value": 0.07, "n": 900},
    ]
    design = power.design_power({"fracture_incidence": incidence}, "placebo", 0.05)
    assert design.select("endpoint", "month", "arm", "n_treated", "n_reference").rows() == [
        ("new_vertebral", 12.0, "romo", 3321, 3322),
        ("clinical", 24.0, "romo", 900, 1000),
    ]
    replicates = 200_000
    for row, seed in zip(design.iter_rows(named=True), (11, 12), strict=True):
        args = (row["incidence_frac"], row["reference_incidence_frac"], row["n_treated"],
                row["n_reference"], 0.05)  # fmt: skip
        assert row["power"] == pytest.approx(fleiss_power(*args), rel=1e-12, abs=1e-15)
        simulated = simulated_power(*args, replicates, seed)
        mc_se = np.sqrt(simulated * (1 - simulated) / replicates)
        assert abs(row["power"] - simulated) < 4 * mc_se + 4e-3, (row, simulated)
    assert 0.6 < design["power"][1] < 0.7 and design["power"][0] > 0.99
    assert power.design_power(None, "placebo", 0.05).height == 0


def test_power_figure_is_written(tmp_path):
    result = table(outcomes(0.10, 0.06, n=4000), [100, 300, 1000], 50)
    design = pl.DataFrame({"endpoint": ["clinical"], "month": [12.0], "arm": ["treated"],
                           "power": [0.8]})  # fmt: skip
    power_figure(result, {"treated": 900}, [12.0], tmp_path / "power.png", design)
    assert (tmp_path / "power.png").stat().st_size > 10_000
    assert size_ticks([250, 500, 1000, 1500, 2000, 2500, 3000, 3590]) == [
        250,
        500,
        1000,
        2000,
        3590,
    ]


def test_potential_outcomes_reject_unobservable_or_missing_days():
    days = {"a": {"clinical": np.array([10.0, np.inf, 300.0])}}
    with pytest.raises(ValueError, match="has events after exit"):
        power.PotentialOutcomes(np.arange(3), COLUMN, {"a": np.array([50.0, 60.0, 300.0])}, days)
    with pytest.raises(ValueError, match="is missing, has nan"):
        power.PotentialOutcomes(np.arange(3), COLUMN, {"a": np.array([50.0, np.nan, 400.0])}, days)
    with pytest.raises(ValueError, match="is missing, has nan"):
        power.PotentialOutcomes(np.arange(3), COLUMN, {"a": np.full(3, np.inf)}, {"a": {}})


POWER_BLOCK = {"enabled": True, "super_cohort_per_arm": 400, "replicates": 200,
               "n_per_arm": [50, 100, 200]}  # fmt: skip


def configfile(workdir, power_block):
    """Write a config file holding the power block (nested --config values are strings)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "power.yaml").write_text(yaml.safe_dump({"trial": "smoke", "power": power_block}))
    return ("--configfile", "power.yaml")


def test_power_workflow_writes_table_and_figure(tmp_path):
    targets = ("results/smoke/power/power.parquet", "results/smoke/report/power.png")
    done = run_workflow(tmp_path, *configfile(tmp_path, POWER_BLOCK), "--", *targets)
    assert done.returncode == 0, done.stderr[-4000:]
    path = tmp_path / targets[0]
    assert pq.read_schema(path).names == power.POWER_SCHEMA.names
    assert {"config_hash", "seed", "trial", "git_commit"} <= set(io.read_metadata(path))
    result = pl.read_parquet(path)
    assert result.height == 3 * (2 + 4 * 4)  # n grid x (2 imaging at 12 + 4 clinical x 4)
    assert result["n_per_arm"].unique().sort().to_list() == [50, 100, 200]
    assert result["power"].is_between(0, 1).all() and (result["replicates"] == 200).all()
    tests_used = dict(result.select("endpoint", "test").unique().iter_rows())
    assert tests_used == dict.fromkeys(["new_vertebral", "multiple_new_vertebral"], "fisher") | {
        k: "logrank" for k in ["clinical_vertebral", "hip", "nonvertebral", "clinical"]
    }
    assert (tmp_path / targets[1]).stat().st_size > 10_000


@pytest.mark.parametrize("enabled", [True, False])
def test_power_switch_adds_the_rules_to_the_default_target(tmp_path, enabled):
    block = {**POWER_BLOCK, "enabled": enabled}
    done = run_workflow(tmp_path, *configfile(tmp_path, block), "--dry-run", "--quiet", "rules")
    assert done.returncode == 0, done.stderr[-4000:]
    assert ("power_analysis" in done.stdout) == enabled
    assert ("simulate_every_arm" in done.stdout) == enabled


def test_grid_above_the_super_cohort_fails_before_any_job(tmp_path):
    block = {**POWER_BLOCK, "super_cohort_per_arm": 100}
    done = run_workflow(tmp_path, *configfile(tmp_path, block))
    assert done.returncode != 0
    assert "power.n_per_arm=[50, 100, 200] asks for more patients" in done.stderr + done.stdout
    assert "power.super_cohort_per_arm=100" in done.stderr + done.stdout
    assert not (tmp_path / "results").exists()


def test_super_cohort_is_drawn_independently_of_the_trial_cohort():
    """Its own root seed (TrialConfig.cohort_seed): with the trial's seed the super-cohort held
    the trial cohort as its first patients."""
    from osteotrial.cohort.sampling import CohortSpec, sample_cohort
    from osteotrial.trial.config import load_config

    overrides = {"n_per_arm": 100, "power": {"super_cohort_per_arm": 300, "n_per_arm": [100, 300]}}
    trial = load_config("frame", overrides)
    assert trial.cohort_seed("randomized") == trial.seed
    seed = trial.cohort_seed("power")
    assert seed != trial.seed and seed == trial.cohort_seed("power")  # derived, deterministic
    spec = CohortSpec.from_dict(trial.cohort_spec)
    own = sample_cohort(spec, trial.cohort_allocation("randomized"), trial.seed)
    super_cohort = sample_cohort(spec, trial.cohort_allocation("power"), seed)
    assert not np.isin(own.age_years, super_cohort.age_years).any()
    with pytest.raises(ValueError, match="population='twins'"):
        trial.cohort_seed("twins")
