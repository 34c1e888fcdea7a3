"""The offline posterior sampler of the remodeling calibration (calibration.posterior)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml
from conftest import ROOT

from osteotrial.calibration import parameter_sets, posterior, uncertainty

MODEL = yaml.safe_load((ROOT / "config" / "model.yaml").read_text())
DATA = uncertainty.load_uncertainty(ROOT / uncertainty.DEFAULT_FILE)
POSTERIOR = posterior.load_posterior(ROOT / posterior.DEFAULT_FILE)


def test_reparametrization_round_trips_and_its_jacobian_is_the_derivative():
    low, high = np.array([-2.0, -0.5]), np.array([1.0, 3.0])
    x = np.array([0.7, -0.49])
    u = posterior.to_unconstrained(x, low, high)
    back, log_jac = posterior.to_box(u, low, high)
    np.testing.assert_allclose(back, x, rtol=1e-12)
    h = 1e-6
    numeric = [
        (
            posterior.to_box(u + h * e, low, high)[0][i]
            - posterior.to_box(u - h * e, low, high)[0][i]
        )
        / (2 * h)
        for i, e in enumerate(np.eye(2))
    ]
    assert log_jac == pytest.approx(np.sum(np.log(numeric)), rel=1e-6)
    far, log_far = posterior.to_box(np.array([60.0, -60.0]), low, high)
    assert np.all((far >= low) & (far <= high)) and log_far < -50


def test_diagnostics_tell_mixed_chains_from_stuck_ones():
    gen = np.random.default_rng(3)
    names = [("a", "x"), ("b", "y")]
    mixed = gen.standard_normal((2000, 16, 2))
    diag = posterior.diagnostics(mixed, names, burn=500)
    assert all(abs(d["rhat"] - 1.0) < 0.01 for d in diag.values())
    assert all(d["ess_bulk"] > 10000 for d in diag.values())
    stuck = mixed + np.arange(16)[None, :, None]  # each walker around its own mean
    assert all(d["rhat"] > 1.5 for d in posterior.diagnostics(stuck, names, 500).values())


def test_thinned_draws_are_spread_over_the_kept_steps():
    chain = np.arange(100 * 4 * 1, dtype=float).reshape(100, 4, 1)
    draws = posterior.thinned_draws(chain, burn=50, n_draws=20)
    assert draws.shape == (20, 1) and draws.min() >= 200 and draws.max() == 399
    with pytest.raises(ValueError, match="fewer than"):
        posterior.thinned_draws(chain, burn=50, n_draws=500)


def test_the_posterior_file_converged_and_matches_the_fit():
    names = [f"{b}.{k}" for b, k in uncertainty.block_names(DATA, posterior.BLOCK)]
    assert POSTERIOR["names"] == names
    assert POSTERIOR["max_rhat"] < posterior.RHAT_MAX
    for name in names:
        diag = POSTERIOR["diagnostics"][name]
        assert diag["rhat"] < posterior.RHAT_MAX and diag["ess_bulk"] > 100, name
    draws = np.asarray(POSTERIOR["log_shifts"])
    assert draws.shape == (len(POSTERIOR["log_shifts"]), len(names))
    assert draws.shape[0] >= 500  # uncertainty.n_parameter_sets allows up to 500
    low, high = parameter_sets.log_box(MODEL, uncertainty.block_names(DATA, posterior.BLOCK))
    assert np.all((draws >= low) & (draws <= high))
    posterior.posterior_shifts(POSTERIOR, MODEL, 0)  # fitted values unchanged since the run


def test_posterior_draws_refuse_other_fitted_values_and_missing_draws():
    other = copy.deepcopy(MODEL)
    other["remodeling"]["oca_apoptosis_per_day"] *= 1.1
    with pytest.raises(ValueError, match="oca_apoptosis_per_day"):
        posterior.posterior_shifts(POSTERIOR, other, 0)
    with pytest.raises(ValueError, match="n_parameter_sets"):
        posterior.posterior_shifts(POSTERIOR, MODEL, len(POSTERIOR["log_shifts"]))


def test_posterior_set_k_is_draw_k_and_spread_zero_is_the_fit():
    data = copy.deepcopy(DATA)
    data["blocks"]["fracture"]["sampler"] = "laplace"  # the conditional optimum is tested apart
    assert data["blocks"]["remodeling"]["sampler"] == "posterior"
    drawn = parameter_sets.parameter_set(MODEL, data, 1.0, seed=11, k=3)
    for name, shift in zip(POSTERIOR["names"], POSTERIOR["log_shifts"][3], strict=True):
        assert drawn.shifts[name] == pytest.approx(shift, abs=1e-12)
    nominal = parameter_sets.parameter_set(MODEL, data, 0.0, seed=11, k=3)
    assert nominal.model == MODEL
