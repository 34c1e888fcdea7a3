"""The offline posterior sampler of the remodeling calibration (calibration.posterior)."""

from __future__ import annotations

import copy
import json
import shutil

import numpy as np
import pytest
import yaml
from conftest import ROOT
from scipy import stats

from osteotrial.calibration import (
    calibrate,
    likelihood,
    parameter_sets,
    posterior,
    posterior_file,
    posterior_median,
    priors,
    proposal,
    shifts,
    uncertainty,
)
from osteotrial.model.params import ModelParams

MODEL = yaml.safe_load((ROOT / "config" / "model.yaml").read_text())
DATA = uncertainty.load_uncertainty(ROOT / uncertainty.DEFAULT_FILE)


@pytest.fixture(scope="module")
def stored():
    """The posterior file written by ``python -m osteotrial.calibration.posterior --write``."""
    return posterior_file.load_posterior(ROOT / posterior_file.DEFAULT_FILE)


def test_the_log_posterior_is_the_literature_prior_plus_the_published_se_likelihood(tmp_path):
    """At the fit, log p = log prior (config/priors.yaml) - |r|^2 / 2 with r the likelihood
    residuals (calibration.likelihood), not the fit's objective; a prior centred elsewhere
    moves log p by exactly the prior's change; outside the box the density is zero."""
    posterior._setup(MODEL, 1.0)
    names = posterior._STATE["names"]
    x = np.zeros(len(names))
    at_fit = posterior.log_posterior(x)
    res = likelihood.likelihood_residuals_of_sets([ModelParams.from_dict(MODEL)])[0]
    fitted = calibrate.initial_values(MODEL, names)
    prior = priors.Priors.of(names, priors.load_priors(ROOT / priors.DEFAULT_FILE))
    assert at_fit == pytest.approx(prior.log_density(fitted)[0] - 0.5 * res @ res, rel=1e-12)
    moved = priors.load_priors(ROOT / priors.DEFAULT_FILE)
    moved["denosumab.km_mg_l"]["centre"] = 4.0  # near the fitted 4.65 instead of OpenBoneMin's
    shutil.copy(ROOT / priors.SCHEMA_FILE, tmp_path / "priors.schema.json")
    (tmp_path / "priors.yaml").write_text(yaml.safe_dump({"priors": moved}), encoding="utf-8")
    posterior._setup(MODEL, 1.0, str(tmp_path / "priors.yaml"))
    change = priors.Priors.of(names, moved).log_density(fitted) - prior.log_density(fitted)
    assert posterior.log_posterior(x) - at_fit == pytest.approx(change[0], rel=1e-9)
    assert change[0] > 3.0  # the literature Km (0.188 mg/L) is 3.2 prior SDs from the fit
    posterior._setup(MODEL, 1.0)
    for bound, beyond in (("low", -0.1), ("high", 0.1)):
        outside = np.zeros(len(names))
        outside[0] = posterior._STATE[bound][0] + beyond
        assert posterior.log_posterior(outside) == -np.inf


def test_the_fit_meets_the_published_se_likelihood_as_a_chi_square_would():
    """Science check of the stated discrepancy: at the fitted values the point targets'
    squared likelihood residuals sum to a plausible chi-square (33 rows, 26 fitted values:
    below the 99th percentile of 33 degrees of freedom, and not absurdly small: above the 1st
    of 7), so the discrepancy is neither too tight to believe nor so wide the targets say
    nothing."""
    rows = likelihood.likelihood_rows()
    res = likelihood.likelihood_residuals_of_sets([ModelParams.from_dict(MODEL)], rows=rows)[0]
    chi2 = float(res[: len(rows)] @ res[: len(rows)])
    fitted = len(uncertainty.stages()["remodeling"][0])
    low, high = stats.chi2.ppf(0.01, max(len(rows) - fitted, 1)), stats.chi2.ppf(0.99, len(rows))
    assert low < chi2 < high, chi2


def test_no_stability_bound_truncates_osteoclast_apoptosis():
    """The posterior's box for osteoclast apoptosis is the schema's range (0.08-8 /d), not the
    old stability bound of 1.4 /d, and a walker at 2 /d (beyond it) is evaluated: the engine's
    stiff re-stepping follows it (finite log posterior)."""
    schema = json.loads((ROOT / "config" / "config.schema.json").read_text())
    allowed = schema["$defs"]["remodeling"]["properties"]["oca_apoptosis_per_day"]
    posterior._setup(MODEL, 1.0)
    names = posterior._STATE["names"]
    k = names.index(("remodeling", "oca_apoptosis_per_day"))
    value = MODEL["remodeling"]["oca_apoptosis_per_day"]
    box = np.exp([posterior._STATE["low"][k], posterior._STATE["high"][k]]) * value
    np.testing.assert_allclose(box, [allowed["minimum"], allowed["maximum"]], rtol=1e-12)
    x = np.zeros(len(names))
    x[k] = np.log(2.0 / value)
    assert 2.0 > 1.4 and np.isfinite(posterior.log_posterior(x))
    assert shifts.stable(shifts.apply_shifts(MODEL, names, x), 1.0)


def test_diagnostics_tell_mixed_chains_from_stuck_ones():
    gen = np.random.default_rng(3)
    names = [("a", "x"), ("b", "y")]
    mixed = gen.standard_normal((2000, 16, 2))
    diag = posterior_file.diagnostics(mixed, names, burn=500)
    assert all(abs(d["rhat"] - 1.0) < 0.01 for d in diag.values())
    assert all(d["ess_bulk"] > 10000 for d in diag.values())
    stuck = mixed + np.arange(16)[None, :, None]  # each walker around its own mean
    assert all(d["rhat"] > 1.5 for d in posterior_file.diagnostics(stuck, names, 500).values())


def test_thinned_draws_are_spread_over_the_kept_steps():
    chain = np.arange(100 * 4 * 1, dtype=float).reshape(100, 4, 1)
    draws = posterior_file.thinned_draws(chain, burn=50, n_draws=20)
    assert draws.shape == (20, 1) and draws.min() >= 200 and draws.max() == 399
    with pytest.raises(ValueError, match="fewer than"):
        posterior_file.thinned_draws(chain, burn=50, n_draws=500)


def test_the_posterior_file_reports_its_diagnostics_and_matches_the_fit(stored):
    """Every value has its R-hat, ESS and autocorrelation time; ``converged`` says whether all
    R-hat are below RHAT_MAX (docs/analyses.md gives the run's figures)."""
    names = [f"{b}.{k}" for b, k in uncertainty.block_names(DATA, posterior.BLOCK)]
    assert stored["names"] == names
    rhats = [stored["diagnostics"][name]["rhat"] for name in names]
    assert stored["max_rhat"] == max(rhats)
    assert stored["converged"] == (max(rhats) < posterior_file.RHAT_MAX)
    for name in names:
        diag = stored["diagnostics"][name]
        assert np.isfinite(diag["rhat"]) and diag["rhat"] >= 0.99, name
        assert diag["ess_bulk"] > 50 and diag["ess_tail"] > 50 and diag["autocorr_steps"] > 0
    assert np.asarray(stored["last_walkers"]).shape[1] == len(names)
    draws = np.asarray(stored["log_shifts"])
    assert draws.shape == (len(stored["log_shifts"]), len(names))
    assert draws.shape[0] >= 500  # uncertainty.n_parameter_sets allows up to 500
    low, high = shifts.log_box(MODEL, uncertainty.block_names(DATA, posterior.BLOCK))
    assert np.all((draws >= low) & (draws <= high))
    posterior_file.posterior_shifts(stored, MODEL, 0)  # fitted values unchanged since the run


def test_the_shipped_posterior_has_converged(stored):
    """Issue 13's criterion: every sampled value has rank-normalized split R-hat below 1.01,
    and a bulk ESS of at least 400 (Vehtari et al. 2021's minimum). Tail ESS is reported; the
    run of 2026-11-29 has at least 393 (docs/analyses.md), asked here to stay above 300."""
    diag = stored["diagnostics"]
    unmixed = {name: d["rhat"] for name, d in diag.items() if d["rhat"] >= posterior_file.RHAT_MAX}
    assert stored["converged"] and not unmixed, f"R-hat >= {posterior_file.RHAT_MAX}: {unmixed}"
    assert min(d["ess_bulk"] for d in diag.values()) >= 400
    assert min(d["ess_tail"] for d in diag.values()) >= 300


def test_posterior_draws_refuse_other_fitted_values_and_missing_draws(stored):
    other = copy.deepcopy(MODEL)
    other["remodeling"]["oca_apoptosis_per_day"] *= 1.1
    with pytest.raises(ValueError, match="oca_apoptosis_per_day"):
        posterior_file.posterior_shifts(stored, other, 0)
    with pytest.raises(ValueError, match="n_parameter_sets"):
        posterior_file.posterior_shifts(stored, MODEL, len(stored["log_shifts"]))


def test_posterior_set_k_is_draw_k_and_spread_zero_is_the_fit(stored):
    data = copy.deepcopy(DATA)
    data["blocks"]["fracture"]["sampler"] = "laplace"  # the conditional optimum is tested apart
    assert data["blocks"]["remodeling"]["sampler"] == "posterior"
    drawn = parameter_sets.parameter_set(MODEL, data, 1.0, seed=11, k=3)
    for name, shift in zip(stored["names"], stored["log_shifts"][3], strict=True):
        assert drawn.shifts[name] == pytest.approx(shift, abs=1e-12)
    nominal = parameter_sets.parameter_set(MODEL, data, 0.0, seed=11, k=3)
    assert nominal.model == MODEL


def test_independent_chains_take_an_earlier_chains_covariance_and_walkers():
    gen = np.random.default_rng(5)
    cov = np.array([[1.0, 0.6], [0.6, 2.0]])
    chain = gen.multivariate_normal([0.0, 0.0], cov, size=(4000, 8))  # (steps, walkers, d)
    step = proposal.proposal_covariance(DATA, chain, 2, scale=0.5)
    expected = np.cov(chain.reshape(-1, 2), rowvar=False) * (0.5 * 2.38) ** 2 / 2
    np.testing.assert_allclose(step, expected)
    assert np.allclose(step / (0.5 * 2.38) ** 2 * 2, cov, atol=0.05)
    walkers = np.arange(56, dtype=float)[:, None]
    assert proposal.chosen_walkers(walkers, 8)[:, 0].tolist() == [0, 8, 16, 24, 31, 39, 47, 55]
    assert len(proposal.sampler_moves(step, 1.0)) == 1  # random walk only: no ensemble
    assert len(proposal.sampler_moves(step, 0.5)) == 2


def test_the_command_line_runs_learnt_chains_and_writes_a_posterior_file(tmp_path, monkeypatch):
    """Plumbing of the issue-13 recipe (tools/posterior_chain.sh) on a few steps: random-walk
    chains, then chains with the independence proposal learnt from them, then the file."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("HDF5_USE_FILE_LOCKING", "FALSE")
    first, second = tmp_path / "rw.h5", tmp_path / "learnt.h5"
    common = ["--walkers", "4", "--processes", "1", "--draws", "8", "--burn", "2"]
    posterior.main([*common, "--steps", "6", "--gaussian-share", "1", "--backend", str(first)])
    posterior.main([
        *common, "--steps", "6", "--backend", str(second), "--independence-from", str(first),
        "--independence-burn", "2", "--components", "2", "--proposal-from", str(first),
    ])  # fmt: skip
    out = tmp_path / "posterior.yaml"
    posterior.main([
        *common, "--steps", "0", "--backend", str(second), "--write",
        "--output", str(out), "--independence-from", str(first), "--components", "2",
    ])  # fmt: skip
    written = posterior_file.load_posterior(out)
    assert posterior_file.likelihood_of(written) == posterior_file.LIKELIHOOD
    assert written["priors_file"] == priors.DEFAULT_FILE
    assert np.asarray(written["log_shifts"]).shape == (8, len(written["names"]))
    assert written["settings"]["independence_share"] == 0.5
    assert written["settings"]["steps"] == 6 and written["settings"]["walkers"] == 4
    posterior_file.posterior_shifts(written, MODEL, 7)


def walkers(stored, n: int) -> np.ndarray:
    """n stored posterior draws and one walker outside the box (last)."""
    posterior._setup(MODEL, 1.0)
    xs = np.asarray(stored["log_shifts"][:n], dtype=np.float64)
    outside = xs[0].copy()
    outside[0] = posterior._STATE["high"][0] + 0.1
    return np.vstack([xs, outside])


def test_walkers_evaluated_together_equal_each_alone(stored):
    """``log_posteriors`` runs the walkers as patients of the same engine calls; each value
    equals the walker's ``log_posterior`` alone exactly (the sampler's vectorized path), also
    through a pool split into parts (``PooledPosterior``)."""
    from multiprocessing.pool import ThreadPool

    xs = walkers(stored, 3)
    alone = np.array([posterior.log_posterior(x) for x in xs])
    np.testing.assert_array_equal(posterior.log_posteriors(xs), alone)
    assert np.all(np.isfinite(alone[:3])) and alone[3] == -np.inf
    assert len(set(alone[:3])) == 3  # the walkers differ
    with ThreadPool(2) as pool:
        np.testing.assert_array_equal(posterior.PooledPosterior(pool, 2)(xs), alone)


def test_a_walker_that_fails_in_a_batch_gets_minus_infinity_and_the_others_their_values(
    stored, monkeypatch
):
    """A batch whose integration fails for one walker is evaluated walker by walker: only that
    walker gets -inf (as alone), the others their own values."""
    from osteotrial.model.params import ModelParams

    xs = walkers(stored, 3)[:3]
    alone = np.array([posterior.log_posterior(x) for x in xs])
    names, box = posterior._STATE["names"], (posterior._STATE["low"], posterior._STATE["high"])
    bad = ModelParams.from_dict(shifts.apply_shifts(MODEL, names, xs[1], box))
    real = posterior._STATE["residuals"]

    def failing(sets):
        if bad in sets:
            raise FloatingPointError("integration became unstable")
        return real(sets)

    monkeypatch.setitem(posterior._STATE, "residuals", failing)
    got = posterior.log_posteriors(xs)
    assert got[1] == -np.inf
    np.testing.assert_array_equal(got[[0, 2]], alone[[0, 2]])


def test_the_shipped_draws_say_they_were_sampled_under_the_new_likelihood(stored):
    """The shipped file was sampled under issue 24's priors and likelihood (the chain re-run of
    2026-12-07), and the prediction intervals' metadata (``parameter_sets.posterior_likelihoods``)
    says so; a file without the field reads as the old likelihood."""
    assert posterior_file.likelihood_of(stored) == posterior_file.LIKELIHOOD
    said = parameter_sets.posterior_likelihoods(ROOT / uncertainty.DEFAULT_FILE)
    assert said == f"model_posterior.yaml: {posterior_file.LIKELIHOOD}"
    old = {k: v for k, v in stored.items() if k != "likelihood"}
    assert posterior_file.likelihood_of(old) == posterior_file.OLD_LIKELIHOOD


def test_the_median_tool_writes_the_medians_and_keeps_every_draw(stored, tmp_path):
    """``posterior_median --write`` puts each value's median over the draws into the model file
    and re-centres the draws on it: the model then accepts the file, and each draw is the same
    parameter values as before. A file of the old likelihood needs --allow-old-likelihood."""
    model_file, post_file = tmp_path / "model.yaml", tmp_path / "posterior.yaml"
    shutil.copy(ROOT / "config" / "model.yaml", model_file)
    shutil.copy(ROOT / posterior_file.DEFAULT_FILE, post_file)
    medians = posterior_median.median_values(stored, MODEL)
    k = stored["names"].index("remodeling.wnt_max_fold")
    shifts_k = np.asarray(stored["log_shifts"])[:, k]
    assert medians["remodeling.wnt_max_fold"] == pytest.approx(
        stored["fitted_values"][k] * np.exp(np.median(shifts_k)), rel=1e-12
    )
    argv = ["--model", str(model_file), "--posterior", str(post_file), "--write"]
    old_file = tmp_path / "old.yaml"  # the same draws marked as the old likelihood: refused
    old_file.write_text(yaml.safe_dump({**stored, "likelihood": posterior_file.OLD_LIKELIHOOD}))
    old_argv = ["--model", str(model_file), "--posterior", str(old_file), "--write"]
    with pytest.raises(SystemExit, match="objective-weights"):
        posterior_median.main(old_argv)
    posterior_median.main(argv)
    model = yaml.safe_load(model_file.read_text())
    names = posterior_median.names_of(stored)
    np.testing.assert_allclose(
        calibrate.initial_values(model, names), list(medians.values()), rtol=1e-5
    )
    after = posterior_file.load_posterior(post_file)
    for draw in (0, 250, 499):
        before = np.asarray(stored["fitted_values"]) * np.exp(stored["log_shifts"][draw])
        now = calibrate.initial_values(model, names) * np.exp(
            posterior_file.posterior_shifts(after, model, draw)
        )
        np.testing.assert_allclose(now, before, rtol=2e-8)
