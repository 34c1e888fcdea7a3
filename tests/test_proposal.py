"""The learnt independence proposal of the posterior sampler (calibration.proposal)."""

from __future__ import annotations

import emcee
import numpy as np
import pytest
from scipy import stats

from osteotrial.calibration import proposal

LOW, HIGH = np.array([-3.0, -1.0]), np.array([3.0, 4.0])


def banana(n: int, gen: np.random.Generator) -> np.ndarray:
    """Draws of a curved, skewed 2-D distribution inside the box (LOW, HIGH)."""
    a = gen.standard_normal(n)
    b = 0.6 * a**2 + 0.3 * gen.standard_normal(n)
    x = np.column_stack([a, b])
    return x[np.all((x > LOW) & (x < HIGH), axis=1)]


def test_a_marginal_samples_and_measures_the_same_distribution():
    gen = np.random.default_rng(1)
    values = gen.gamma(2.0, 0.5, size=20_000)
    marginal = proposal.Marginal.smoothed(values, 0.0, 10.0)
    assert marginal.grid[0] >= 0.0 and marginal.grid[-1] <= 10.0
    u = np.linspace(0.001, 0.999, 50)
    np.testing.assert_allclose(marginal.to_uniform(marginal.from_uniform(u)), u, atol=1e-12)
    density = np.exp(marginal.log_density(0.5 * (marginal.grid[1:] + marginal.grid[:-1])))
    assert np.sum(density * np.diff(marginal.grid)) == pytest.approx(1.0, abs=1e-9)
    assert marginal.log_density(np.array([-1.0, 11.0])).tolist() == [-np.inf, -np.inf]
    # the smoothed CDF is close to the sample's own
    assert stats.kstest(values[:2000], marginal.to_uniform).pvalue > 0.001


def test_the_proposal_density_is_normalized_and_describes_its_own_draws():
    gen = np.random.default_rng(2)
    q = proposal.CopulaMixture.fit(banana(20_000, gen), LOW, HIGH, n_components=6, seed=0)
    draws = q.draw(20_000, np.random.default_rng(3))
    log_q = q.log_density(draws)
    assert np.all(np.isfinite(log_q))
    # importance identity: E_q[u(y) / q(y)] = 1 for u uniform on the box
    area = np.prod(HIGH - LOW)
    uniform = np.random.default_rng(4).uniform(LOW, HIGH, size=(200_000, 2))
    assert abs(np.mean(np.exp(q.log_density(uniform))) * area - 1.0) < 0.02
    # its draws follow the banana it was fitted to (curved dependence kept)
    target = banana(20_000, np.random.default_rng(5))
    assert abs(np.mean(draws[:, 1]) - np.mean(target[:, 1])) < 0.03
    bend = np.corrcoef(draws[:, 0] ** 2, draws[:, 1])[0, 1]
    assert abs(bend - np.corrcoef(target[:, 0] ** 2, target[:, 1])[0, 1]) < 0.05  # 0.94


def test_independence_steps_sample_the_target_not_the_proposal():
    """A proposal fitted to the wrong distribution (shifted, too narrow in one value) still
    gives the target's moments: the Hastings factor corrects it."""
    gen = np.random.default_rng(6)
    mean, cov = np.array([0.5, 1.5]), np.array([[0.5, 0.3], [0.3, 0.6]])
    wrong = gen.multivariate_normal(mean + [0.4, -0.3], [[0.3, 0.0], [0.0, 0.8]], size=20_000)
    q = proposal.CopulaMixture.fit(wrong, LOW, HIGH, n_components=2, seed=0)
    precision = np.linalg.inv(cov)

    def log_target(x):
        inside = np.all((x > LOW) & (x < HIGH))
        return -0.5 * (x - mean) @ precision @ (x - mean) if inside else -np.inf

    moves = proposal.sampler_moves(0.2 * cov, 1.0, q, independence_share=1.0)
    sampler = emcee.EnsembleSampler(8, 2, log_target, moves=moves)
    sampler.random_state = np.random.RandomState(7).get_state()
    start = q.draw(8, np.random.default_rng(8))
    sampler.run_mcmc(start, 3000, skip_initial_state_check=True)
    flat = sampler.get_chain(discard=500).reshape(-1, 2)
    np.testing.assert_allclose(flat.mean(0), mean, atol=0.05)
    np.testing.assert_allclose(np.cov(flat, rowvar=False), cov, atol=0.06)
    assert 0.2 < np.mean(sampler.acceptance_fraction) < 0.95
