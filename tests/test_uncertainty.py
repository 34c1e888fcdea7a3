"""Parameter uncertainty: covariance file, drawn parameter sets, prediction intervals, workflow."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import ROOT, run_workflow
from scipy import stats

from osteotrial import io
from osteotrial.analyses import expected, prediction
from osteotrial.analyses.safety_endpoints import EVENT_NAMES
from osteotrial.calibration import (
    calibrate,
    parameter_sets,
    posterior_file,
    remodeling,
    shifts,
    uncertainty,
)
from osteotrial.calibration.fracture import FRACTURE_FIT
from osteotrial.model.params import ModelParams
from osteotrial.units import DAYS_PER_MONTH

MODEL = yaml.safe_load((ROOT / "config" / "model.yaml").read_text())
DATA = uncertainty.load_uncertainty(ROOT / uncertainty.DEFAULT_FILE)
FAST = 20  # Metropolis steps in unit tests (the workflow uses parameter_sets.N_STEPS)
# The same file with plain Laplace draws for the fracture block: the conditional optimum (one
# fracture evaluation, about 1.4 s a set) has its own test below.
DATA_UNCONDITIONAL = copy.deepcopy(DATA)
DATA_UNCONDITIONAL["blocks"]["fracture"]["sampler"] = "laplace"
# ... and the Metropolis chain for the remodeling block (the posterior draws: test_posterior.py)
DATA_UNCONDITIONAL["blocks"]["remodeling"]["sampler"] = "metropolis"


def test_covariance_file_is_symmetric_positive_definite_with_real_model_keys():
    expected = {"remodeling": remodeling.REMODELING_FIT, "fracture": FRACTURE_FIT}
    expected["safety"] = [("safety", "mace_romosozumab_hr")]  # calibration.safety (P14's CI)
    for block, content in DATA["blocks"].items():
        corr = np.asarray(content["correlation"])
        np.testing.assert_array_equal(corr, corr.T)
        np.testing.assert_allclose(np.diag(corr), 1.0)
        assert np.linalg.eigvalsh(corr).min() > 0.0
        names = uncertainty.block_names(DATA, block)
        assert names == list(expected[block])
        fitted = [p["fitted"] for p in content["parameters"]]
        np.testing.assert_allclose(calibrate.initial_values(MODEL, names), fitted, rtol=1e-5)
        for p in content["parameters"]:
            assert (p["log_sd"] == 0.0) == (p["at_bound"] is not None), p["name"]
        free = np.array([p["log_sd"] > 0 for p in content["parameters"]])
        cov = uncertainty.block_covariance(DATA, block)
        assert np.linalg.eigvalsh(cov[np.ix_(free, free)]).min() > 0.0


# A synthetic calibration: weighted residuals r(b) = (y - X b) / sigma, linear in the log values
def test_replacing_one_block_keeps_the_others_and_says_what_was_regenerated(tmp_path):
    """``--replace-blocks``: a re-fit stage's block is replaced, every other block is kept
    byte for byte, and the provenance names the replaced block's commit and date."""
    path = tmp_path / "uncertainty.yaml"
    uncertainty.write_uncertainty(DATA, path)
    new_block = {**DATA["blocks"]["fracture"], "n_residuals": 99}
    new = {
        "provenance": {"git_commit": "abc", "date": "2026-12-06", "step_log": 1e-3},
        "blocks": {"fracture": new_block},
    }
    new["provenance"]["command"] = "python -m osteotrial.calibration.uncertainty --write"
    merged = uncertainty.replace_blocks(new, path)
    assert merged["blocks"]["remodeling"] == DATA["blocks"]["remodeling"]
    assert merged["blocks"]["fracture"]["n_residuals"] == 99
    assert merged["provenance"]["git_commit"] == DATA["provenance"]["git_commit"]
    assert merged["provenance"]["regenerated"]["fracture"]["git_commit"] == "abc"
    uncertainty.write_uncertainty(merged, path)
    assert uncertainty.load_uncertainty(path)["blocks"]["fracture"]["n_residuals"] == 99


# b of three parameters, y drawn around known log values (the fitted model sits elsewhere: the
# covariance of a linear problem does not depend on where it is evaluated).
LINEAR_X = np.array([[1.0, 0.0, 0.5], [1.0, 1.0, 0.0], [1.0, 2.0, -0.5], [0.0, 1.0, 1.0],
                     [2.0, -1.0, 0.0], [0.5, 0.5, 2.0]])  # fmt: skip
LINEAR_SIGMA = 0.2
LINEAR_NAMES = [("a", "x"), ("a", "y"), ("a", "z")]
LINEAR_MODEL = {"a": {"x": 1.5, "y": 0.4, "z": 3.0}}
LINEAR_Y = LINEAR_X @ np.log([1.2, 0.5, 2.5]) + LINEAR_SIGMA * np.array(
    [0.3, -1.1, 0.8, 0.1, -0.4, 1.6]
)


def linear_residuals(model):
    b = np.log([model["a"][key] for _, key in LINEAR_NAMES])
    return (LINEAR_Y - LINEAR_X @ b) / LINEAR_SIGMA


def objective(b: np.ndarray, prior_sd_log: float) -> float:
    """S(b) = |r(b)|^2 + |(b - b0) / s_p|^2, the objective calibrate.fit minimizes (-2 log p)."""
    b0 = np.log([LINEAR_MODEL["a"][key] for _, key in LINEAR_NAMES])
    return float(np.sum(((LINEAR_Y - LINEAR_X @ b) / LINEAR_SIGMA) ** 2)) + float(
        np.sum(((b - b0) / prior_sd_log) ** 2)
    )


def hessian(function, x: np.ndarray, step: float) -> np.ndarray:
    """Central second differences of a scalar function (exact for a quadratic up to rounding)."""
    steps = step * np.eye(x.size)
    return np.array(
        [
            [
                function(x + si + sj) - function(x + si - sj) - function(x - si + sj)
                + function(x - si - sj)
                for sj in steps
            ]
            for si in steps
        ]
    ) / (4.0 * step**2)  # fmt: skip


def test_laplace_covariance_is_the_least_squares_covariance_without_prior():
    """Flat prior: the covariance of the weighted least-squares estimate, sigma^2 (X'X)^-1.

    Central differences of a residual linear in the log values are exact up to rounding
    (~1e-13 relative here), so the tolerance is 1e-8.
    """
    jac = uncertainty.jacobian(linear_residuals, LINEAR_MODEL, LINEAR_NAMES)
    expected = LINEAR_SIGMA**2 * np.linalg.inv(LINEAR_X.T @ LINEAR_X)
    got = uncertainty.laplace_covariance(jac, prior_sd_log=1e8)
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-14)
    assert abs(expected[0, 1]) > 0.1 * np.sqrt(expected[0, 0] * expected[1, 1])  # correlated


def test_laplace_covariance_is_the_inverse_half_hessian_of_the_objective():
    """With the calibration's prior: C = (H / 2)^-1, H the Hessian of S computed here by
    central second differences (step 0.05 on a quadratic: rounding only, ~1e-12 relative)."""
    b_fit = np.log([LINEAR_MODEL["a"][key] for _, key in LINEAR_NAMES])
    expected = np.linalg.inv(
        hessian(lambda b: objective(b, calibrate.PRIOR_SD_LOG), b_fit, 0.05) / 2.0
    )
    jac = uncertainty.jacobian(linear_residuals, LINEAR_MODEL, LINEAR_NAMES)
    np.testing.assert_allclose(uncertainty.laplace_covariance(jac), expected, rtol=1e-7)


def test_discrete_residuals_are_step_functions_of_the_parameters():
    res = remodeling.remodeling_residuals(MODEL)
    goals = remodeling.remodeling_targets()
    assert uncertainty.DISCRETE_RESIDUALS["remodeling"] == (0, 4)
    for i in uncertainty.DISCRETE_RESIDUALS["remodeling"]:
        assert goals[i].probe[-1] == "tmax"  # the day of the maximum of a daily grid
        tmax = res[i] * goals[i].scale + goals[i].value
        assert tmax == pytest.approx(round(tmax), abs=1e-9)


def draw(k: int, spread: float = 1.0, seed: int = 7) -> parameter_sets.ParameterSet:
    return parameter_sets.parameter_set(MODEL, DATA_UNCONDITIONAL, spread, seed, k, n_steps=FAST)


def test_fracture_optimum_follows_the_drawn_remodeling_values():
    """The cut posterior: a remodeling set moves the fracture targets; the conditional optimum
    (linear gain from the file, then one Gauss-Newton step) restores them, close to the
    optimum of a full re-fit. The re-fit starts at that centre (the least-squares optimum
    does not depend on where it starts; started at the drawn values it took 100-180 s of CI).
    Two evaluations suffice: one Gauss-Newton step from the centre lands on the optimum of a
    20-evaluation re-fit to 1e-3 of its sum of squares (0.3977 against 0.3973; before 6.44,
    after 0.446), at less than half its cost."""
    from osteotrial.calibration.fracture import fracture_residuals

    names = [("remodeling", "wnt_max_fold")]  # a weaker romosozumab
    drawn = shifts.apply_shifts(MODEL, names, np.array([-0.7]))
    before = fracture_residuals(drawn)
    centre = parameter_sets.conditional_centre(DATA, "fracture", drawn, {names[0]: -0.7})
    after = fracture_residuals(shifts.apply_shifts(drawn, list(FRACTURE_FIT), centre))
    started = shifts.apply_shifts(drawn, list(FRACTURE_FIT), centre)
    refit = calibrate.fit(dict(started), FRACTURE_FIT, fracture_residuals, max_nfev=2, verbose=0)
    best = fracture_residuals(refit)
    assert after @ after < 0.5 * (before @ before)
    assert after @ after < best @ best + 0.2 * (before @ before - best @ best)
    assert DATA["blocks"]["fracture"]["sampler"] == "conditional_laplace"
    gain = np.asarray(DATA["blocks"]["fracture"]["conditional"]["gain"])
    assert gain.shape == (len(FRACTURE_FIT), len(remodeling.REMODELING_FIT))


def test_same_seed_and_k_give_the_same_set_whatever_was_drawn_before():
    alone = draw(2)
    after_others = [draw(k) for k in range(3)][2]
    assert alone.model == after_others.model
    assert draw(1).model != alone.model
    assert draw(2, seed=8).model != alone.model


def test_spread_zero_gives_the_nominal_parameters_bit_for_bit():
    assert draw(5, spread=0.0).model == MODEL


def test_shifts_beyond_the_box_land_on_its_edges_and_real_draws_are_not_clipped():
    """apply_shifts truncates a shift to the box of draw_bounds (widened to the nominal value):
    a shift of +-50 on the log scale gives exactly the bound. The sets drawn at the file's
    spread are not shaped by that truncation: every value moves and none sits on a bound."""
    names = [n for block in DATA["blocks"] for n in uncertainty.block_names(DATA, block)]
    nominal = np.array(calibrate.initial_values(MODEL, names))
    bounds = np.array([shifts.draw_bounds(key) for _, key in names])
    low, high = np.minimum(bounds[:, 0], nominal), np.maximum(bounds[:, 1], nominal)
    for shift, edge in ((50.0, high), (-50.0, low)):
        moved = shifts.apply_shifts(MODEL, names, np.full(len(names), shift))
        np.testing.assert_allclose(calibrate.initial_values(moved, names), edge, rtol=1e-9)
    for k in range(3):
        values = np.array(calibrate.initial_values(draw(k).model, names))
        assert (values != nominal).all(), k
        inside = (values > low * (1 + 1e-9)) & (values < high * (1 - 1e-9))
        assert inside.all(), [key for (_, key), ok in zip(names, inside, strict=True) if not ok]


def test_scale_shifts_multiply_the_site_gammas_like_apply_values():
    names = [("bmd.th", "gamma_ob"), ("bmd.th", "gamma_oc"), ("bmd.ls", "scale")]
    log_shifts = np.array([0.1, -0.2, 0.3])
    got = shifts.apply_shifts(MODEL, names, log_shifts)
    ls = MODEL["bmd"]["ls"]
    assert got["bmd"]["ls"]["gamma_ob"] == pytest.approx(ls["gamma_ob"] * np.exp(0.4))
    assert got["bmd"]["ls"]["gamma_oc"] == pytest.approx(ls["gamma_oc"] * np.exp(0.1))
    values = np.exp(np.log(calibrate.initial_values(MODEL, names)) + log_shifts)
    reference = calibrate.apply_values(MODEL, names, values)
    assert got["bmd"]["ls"]["gamma_oc"] == pytest.approx(reference["bmd"]["ls"]["gamma_oc"], 1e-3)


def test_written_parameter_set_reads_back_exactly(tmp_path):
    drawn = draw(1)
    path = tmp_path / "p001.parquet"
    parameter_sets.write_parameter_set(drawn, MODEL, path, {"trial": "test"})
    assert parameter_sets.read_parameter_set(path, MODEL) == drawn.model
    assert pq.read_schema(path).names == io.PARAMETER_SETS_SCHEMA.names
    batch = tmp_path / "b000.parquet"
    other = draw(2)
    parameter_sets.write_parameter_sets([drawn, other], MODEL, batch, {"trial": "test"})
    assert parameter_sets.read_parameter_set(batch, MODEL, "p001") == drawn.model
    assert parameter_sets.read_parameter_set(batch, MODEL, "p002") == other.model


def test_stability_screen_rejects_a_model_the_fixed_step_cannot_integrate():
    """Osteoclast apoptosis 40/day is integrated (the engine splits its stiff steps into up to
    64 sub-steps); 400/day is beyond that and the screen rejects it."""
    assert shifts.stable(MODEL, dt_days=1.0)
    for rate, ok in ((40.0, True), (400.0, False)):
        fast = {**MODEL, "remodeling": {**MODEL["remodeling"], "oca_apoptosis_per_day": rate}}
        assert shifts.stable(fast, dt_days=1.0) is ok, rate


def test_mixture_reduces_to_the_sampling_distribution_when_all_sets_agree():
    centres, ses = np.full(5, 2.0), np.full(5, 0.5)
    for prob in (0.025, 0.5, 0.975):
        expected = stats.norm.ppf(prob, 2.0, 0.5)
        got = prediction.mixture_quantile("normal", centres, ses, 0, prob)
        assert got == pytest.approx(expected, abs=1e-9)
        got = prediction.mixture_quantile("lognormal", centres, ses, 0, prob)
        assert got == pytest.approx(np.exp(stats.norm.ppf(prob, np.log(2.0), 0.5)), rel=1e-9)
        got = prediction.mixture_quantile("binomial", np.full(3, 0.02), None, 1000, prob)
        assert got == stats.binom.ppf(prob, 1000, 0.02) / 1000
    # no expected events: every future trial shows 0
    assert prediction.mixture_quantile("binomial", np.zeros(4), None, 500, 0.975) == 0.0


def test_prediction_interval_widens_monotonically_with_the_spread_of_set_estimates():
    z = np.linspace(-1.5, 1.5, 9)
    widths = []
    for spread in (0.0, 0.25, 0.5, 1.0, 2.0, 4.0):
        centres = 10.0 + spread * z
        low = prediction.mixture_quantile("normal", centres, np.ones(9), 0, 0.025)
        high = prediction.mixture_quantile("normal", centres, np.ones(9), 0, 0.975)
        assert low <= 10.0 <= high
        widths.append(high - low)
    assert widths[0] == pytest.approx(2 * 1.959964, rel=1e-5)
    assert np.all(np.diff(widths) > 0)


def synthetic_tables(events: int) -> dict[str, pl.DataFrame]:
    """Return nominal bmd, markers, fractures and comparisons tables of one run (one month)."""
    rows = {
        "bmd": [("a", "LS", 12.0, 100, 5.0, 4.0, 6.0, 3.0, 2.77, 0.5)],
        "markers": [("a", "CTX", 14.0, 14.0 / 30.4375, -50.0, -60.0, -40.0)],
        "fractures": [
            ("a", "hip", 12.0, 100, 0, 0.0, 0.0, 0.037, 0.0),
            ("b", "hip", 12.0, 100, events, events / 100, 0.02, 0.11, events / 100),
        ],
        "comparisons": [
            ("hip", 12.0, "a", "b", 0.0, 0.0, np.nan, 1.0, np.nan, np.nan, np.nan, 0.1),
        ],
    }
    return {
        name: pl.from_arrow(
            pa.Table.from_pylist(
                [dict(zip(io.ENDPOINT_SCHEMAS[name].names, r, strict=True)) for r in table],
                schema=io.ENDPOINT_SCHEMAS[name],
            )
        )
        for name, table in rows.items()
    }


def synthetic_expected(shift: float, p_a: float, p_b: float) -> pl.DataFrame:
    """Return the expected endpoints of one set, matching ``synthetic_tables``."""
    rows = [
        ("bmd", "a", None, "LS", 12.0, "mean_pct_change", 5.0 + shift, 3.0, None, None),
        ("markers", "a", None, "CTX", 14.0, "median_pct_change", -50.0 + shift, None, None, None),
        ("fractures", "a", None, "hip", 12.0, "incidence_frac", p_a, None, None, None),
        ("fractures", "b", None, "hip", 12.0, "incidence_frac", p_b, None, None, None),
        ("comparisons", "a", "b", "hip", 12.0, "risk_ratio", p_a / p_b, None, p_a, p_b),
        ("comparisons", "a", "b", "hip", 12.0, "hazard_ratio", p_a / p_b, None, p_a, p_b),
    ]
    names = expected.EXPECTED_SCHEMA.names
    return pl.from_arrow(
        pa.Table.from_pylist(
            [dict(zip(names, r, strict=True)) for r in rows], schema=expected.EXPECTED_SCHEMA
        )
    )


def constant_hazard_arm(rate_per_day: float) -> SimpleNamespace:
    """Return a stand-in ``ArmResult`` of 3 women with vertebral hazard ``rate_per_day``, no
    other fracture, no death; the third woman drops out at day 100 (she is never imaged)."""
    days = np.arange(0.0, 800.0, 50.0)[:, None] * np.ones((1, 3))
    vertebral = rate_per_day * days
    vertebral[:, 2] *= 50.0  # the dropout's high hazard must not count at imaging
    zero = np.zeros_like(days)
    hazards = {"vertebral": vertebral, "hip": zero, "nonvertebral": zero, "death": zero}
    return SimpleNamespace(record_days=days[:, 0], n_patients=3, cumulative_hazard=hazards,
                           dropout_day=np.array([np.inf, np.inf, 100.0]))  # fmt: skip


def test_expected_imaging_endpoints_follow_min_events_of_the_vocabulary():
    """Two or more events of a Poisson process: 1 - exp(-H)(1 + H); risk ratio, no HR."""
    arms = {"control": constant_hazard_arm(4e-4), "drug": constant_hazard_arm(1e-4)}
    params, day = ModelParams.from_dict(MODEL), 12.0 * DAYS_PER_MONTH
    for arm, result in arms.items():
        h = (4e-4 if arm == "control" else 1e-4) * day
        one = expected.expected_incidence(result, params, "new_vertebral", day)
        two = expected.expected_incidence(result, params, "multiple_new_vertebral", day)
        assert one == pytest.approx(-np.expm1(-h), rel=1e-12)
        assert two == pytest.approx(1.0 - np.exp(-h) * (1.0 + h), rel=1e-12)
    rows = expected.fracture_rows(arms, params, "control", [12.0], [12.0])
    multiple = [r for r in rows if r["endpoint"] == "multiple_new_vertebral"]
    assert {r["statistic"] for r in multiple} == {"incidence_frac", "risk_ratio"}
    incidence = {r["arm"]: r["value"] for r in multiple if r["statistic"] == "incidence_frac"}
    ratio = next(r["value"] for r in multiple if r["statistic"] == "risk_ratio")
    assert ratio == pytest.approx(incidence["drug"] / incidence["control"]) and ratio < 0.25


def test_prediction_intervals_of_synthetic_tables():
    nominal = synthetic_tables(5)
    sets = [synthetic_expected(-1.0, 0.02, 0.04), synthetic_expected(1.0, 0.0, 0.06)]
    table = prediction.prediction_intervals(nominal, sets, 0.95)
    assert table.columns == io.PREDICTION_INTERVALS_SCHEMA.names
    bmd = table.row(by_predicate=pl.col("table") == "bmd", named=True)
    # mixture of N(4, 0.3) and N(6, 0.3): wider than the nominal CI, centred on 5
    assert bmd["pi_low"] < bmd["ci_low"] and bmd["pi_high"] > bmd["ci_high"]
    assert bmd["pi_low"] + bmd["pi_high"] == pytest.approx(10.0)
    assert (bmd["param_low"], bmd["param_high"]) == (pytest.approx(4.05), pytest.approx(5.95))
    markers = table.row(by_predicate=pl.col("table") == "markers", named=True)
    assert markers["pi_low"] is None and (markers["param_low"], markers["param_high"]) == (
        pytest.approx(-50.95),
        pytest.approx(-49.05),
    )
    arm_a = table.row(
        by_predicate=(pl.col("arm") == "a") & (pl.col("table") == "fractures"), named=True
    )
    mix = 0.5 * stats.binom.cdf(np.arange(101), 100, 0.02) + 0.5  # the set with p = 0 is all at 0
    assert arm_a["pi_low"] == 0.0
    assert arm_a["pi_high"] == np.searchsorted(mix, 0.975 - 1e-12) / 100
    rr = table.row(by_predicate=pl.col("statistic") == "risk_ratio", named=True)
    assert rr["n_parameter_sets"] == 1  # the set without expected events in arm a is left out
    se = np.sqrt(0.98 / 2.0 + 0.96 / 4.0)
    assert rr["pi_high"] == pytest.approx(0.5 * np.exp(1.959964 * se), rel=1e-5)
    hr = table.row(by_predicate=pl.col("statistic") == "hazard_ratio", named=True)
    assert hr["pi_low"] < 0.5 < hr["pi_high"]


def run_uncertainty(workdir, spread: float):
    """Run the smoke trial's workflow to its prediction intervals (the table these tests read;
    the report pages are test_counterfactual's full runs'); return the table."""
    settings = {
        "uncertainty": {
            "enabled": True,
            "n_parameter_sets": 3,
            "spread_scale": spread,
            "expected_cohort_per_arm": 300,
        }
    }
    workdir.mkdir(parents=True)
    (workdir / "uncertainty.yaml").write_text(yaml.safe_dump(settings))
    path = workdir / "results/smoke/endpoints/prediction_intervals.parquet"
    done = run_workflow(
        workdir,
        str(path.relative_to(workdir)),
        "--configfile",
        str(workdir / "uncertainty.yaml"),
        "--config",
        "trial=smoke",
        "n_shards=1",
    )
    assert done.returncode == 0, done.stderr[-4000:]
    # the intervals say what the remodeling draws were sampled under (the shipped file: issue
    # 24's priors and likelihood)
    assert io.read_metadata(path)["posterior_likelihood"] == "model_posterior.yaml: " + (
        posterior_file.LIKELIHOOD
    )
    return pl.read_parquet(path)


@pytest.fixture(scope="module")
def smoke_intervals(tmp_path_factory):
    """Prediction intervals of the smoke trial (K = 3) at spread_scale 0.5 and 1.5 (at 2 the
    posterior of 2026-12-07 reaches sets whose femoral neck collapses within weeks, which the
    engine's physiological bounds refuse with a clear error)."""
    root = tmp_path_factory.mktemp("uncertainty")
    return {spread: run_uncertainty(root / f"spread_{spread}", spread) for spread in (0.5, 1.5)}


def test_workflow_writes_prediction_intervals_around_the_expected_values(smoke_intervals):
    table = smoke_intervals[0.5]
    assert table.columns == io.PREDICTION_INTERVALS_SCHEMA.names
    assert set(table["table"]) == {"bmd", "markers", "fractures", "comparisons", "safety_events"}
    safety = table.filter(pl.col("table") == "safety_events")  # every arm x event (issue 27)
    assert safety.height == 2 * len(EVENT_NAMES) and safety["pi_high"].is_not_null().all()
    finite = table.filter(pl.col("pi_low").is_not_null() & pl.col("estimate").is_finite())
    assert finite.height > 50
    # the sets' expected values lie inside the interval that adds sampling error to them
    assert (finite["pi_low"] <= finite["param_low"] + 1e-12).all()
    # except where a trial of this size expects far below one event (multiple new vertebral
    # fractures on romosozumab): the count's 97.5 % quantile is then 0, the expected value not
    some = finite.filter(pl.col("pi_high") > 0.0)
    assert (some["pi_high"] >= some["param_high"] - 1e-12).all() and some.height > 50
    # the nominal run is one trial of the design: most of its estimates fall inside
    inside = (finite["pi_low"] <= finite["estimate"]) & (finite["estimate"] <= finite["pi_high"])
    assert inside.mean() > 0.85
    assert (table["n_parameter_sets"] <= 3).all()


def test_wider_parameter_spread_gives_wider_prediction_intervals(smoke_intervals):
    def mean_width(table: pl.DataFrame) -> float:
        bmd = table.filter(pl.col("table") == "bmd")
        return float((bmd["pi_high"] - bmd["pi_low"]).mean())

    assert mean_width(smoke_intervals[1.5]) >= mean_width(smoke_intervals[0.5])


def test_uncertainty_is_off_by_default(tmp_path):
    done = run_workflow(tmp_path, "--dry-run", "--config", "trial=smoke")
    assert done.returncode == 0, done.stderr[-4000:]
    assert "draw_parameter_set" not in done.stdout and "prediction_intervals" not in done.stdout


def test_a_job_s_sets_run_together_give_each_set_s_expected_endpoints():
    """``jobs.expected_endpoints_of_sets`` runs a job's sets as patients of one engine call per
    arm (the cohort repeated per set); each set's table equals the set simulated on its own
    with ``simulate_arm`` and passed to ``expected_table``, exactly."""
    from osteotrial.analyses.safety_expected import with_safety
    from osteotrial.analyses.safety_frames import PatientCovariates
    from osteotrial.cohort.sampling import CohortSpec, sample_cohort
    from osteotrial.engine.simulate import simulate_arm
    from osteotrial.model.params import ModelParams
    from osteotrial.trial import jobs
    from osteotrial.trial.config import load_config

    trial = load_config("frame", config_dir=ROOT / "config")
    spec = CohortSpec.from_dict(trial.cohort_spec)
    cohort = sample_cohort(spec, dict.fromkeys(trial.arms, 12), trial.cohort_seed("prediction"))
    names = remodeling.REMODELING_FIT[:16]
    shifted = shifts.apply_shifts(MODEL, names, np.full(len(names), 0.15))
    sets = [ModelParams.from_dict(MODEL), ModelParams.from_dict(shifted)]
    together = jobs.expected_endpoints_of_sets(cohort, trial, sets)
    patients = expected.event_free(cohort)
    schedule = trial.schedule
    for params, table in zip(sets, together, strict=True):
        alone = {
            name: simulate_arm(patients, arm, params, schedule, record_pk=False)
            for name, arm in trial.arms.items()
        }
        months = (schedule.visit_months, schedule.imaging_months)
        alone_table = expected.expected_table(alone, params, trial.control_arm, *months)
        cov, seed = PatientCovariates.from_cohort(patients), trial.seed
        assert table.equals(with_safety(alone_table, alone, trial.arms, cov, params, seed))
    assert not together[0].equals(together[1])  # the sets do differ
