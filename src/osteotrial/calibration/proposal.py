"""How the posterior sampler proposes: starts, random-walk moves and an independence proposal.

``calibration.posterior`` samples the remodeling calibration's posterior over log shifts x (26
values). A random walk alone mixes slowly there: the posterior is pressed against the box of
``shifts.log_box`` in several values, skewed in others, and its correlations bend, so
a chain of 8 random walkers had autocorrelation times of 300-1,000 steps (issue 13).

The independence proposal (``CopulaMixture``) is a map of the posterior learnt from an
earlier chain: each value's marginal distribution (a smoothed, piecewise-linear CDF on a grid
inside the box, ``Marginal``) sends x to normal scores z = Phi^-1(F(x)), and a Gaussian
mixture fitted to the scores by EM (``fit_mixture``) holds their dependence, curved ridges
included. Its density in x is exact,

    log q(x) = log g(z) - sum_i log phi(z_i) + sum_i log f_i(x_i),

so a Metropolis-Hastings step that proposes y ~ q whatever the current x, accepted with
min(1, p(y) q(x) / (p(x) q(y))) (``independence_move``), leaves the posterior invariant
however well or badly q fits: the fit decides only how fast the chain mixes. Mixed with
random-walk steps (which reach values outside q's grid), the chain is exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from scipy import linalg, special, stats

from osteotrial.calibration import uncertainty

STEP_FRAC = 1.2  # random-walk proposal: STEP_FRAC / sqrt(d) times the Laplace spread
ADAPTED_STEP_FRAC = 2.38  # ... or 2.38 / sqrt(d) times a chain's spread (Roberts 1997)
START_SPREAD = 0.5  # walkers start at this fraction of the Laplace spread
GRID_POINTS = 4000  # points of each marginal's CDF grid
BANDWIDTH_WIDEN = 1.5  # x Silverman's bandwidth: marginals a little wider than the chain's
CDF_FLOOR = 1e-6  # share of a uniform on the grid in each marginal: no flat CDF cells
MIXTURE_RIDGE = 1e-3  # added to each component's covariance of the normal scores
BLOCK = "remodeling"


def varied_covariance(cov: np.ndarray) -> np.ndarray:
    """Return the Laplace covariance with a variance of 0.01 for values it holds fixed."""
    varied = np.diag(cov) > 0.0
    return np.where(np.outer(varied, varied), cov, 0.0) + np.diag(np.where(varied, 0.0, 0.01))


def initial_walkers(
    cov: np.ndarray, low: np.ndarray, high: np.ndarray, n_walkers: int, gen: np.random.Generator
) -> np.ndarray:
    """Return (n_walkers, d) starts: Laplace draws at START_SPREAD, inside the box."""
    cov = varied_covariance(cov)
    x = START_SPREAD * gen.multivariate_normal(np.zeros(cov.shape[0]), cov, size=n_walkers)
    margin = 1e-3 * (high - low)
    return np.clip(x, low + margin, high - margin)


def proposal_covariance(
    data: Mapping[str, Any], chain: np.ndarray | None, n_dim: int, scale: float = 1.0
) -> np.ndarray:
    """Return the random-walk proposal covariance: (2.38 ``scale``)^2 / d times the covariance
    of ``chain`` (steps, walkers, d) pooled over its steps and walkers, or STEP_FRAC^2 / d times
    the Laplace covariance when no chain is given."""
    if chain is not None:
        pooled = chain.reshape(-1, n_dim)
        return np.cov(pooled, rowvar=False) * (scale * ADAPTED_STEP_FRAC) ** 2 / n_dim
    return varied_covariance(uncertainty.block_covariance(data, BLOCK)) * STEP_FRAC**2 / n_dim


def chosen_walkers(walkers: np.ndarray, n_walkers: int) -> np.ndarray:
    """Return ``n_walkers`` of an earlier ensemble's walkers, evenly spaced over it."""
    if n_walkers >= walkers.shape[0]:
        return walkers
    return walkers[np.linspace(0, walkers.shape[0] - 1, n_walkers).round().astype(np.int64)]


@dataclass(frozen=True)
class Marginal:
    """One value's proposal marginal: a CDF, linear between the points of ``grid``.

    The density is constant on each cell, so sampling (``from_uniform``) and the density
    (``log_density``) describe exactly the same distribution.
    """

    grid: np.ndarray
    cdf: np.ndarray

    @classmethod
    def smoothed(cls, values: np.ndarray, low: float, high: float) -> Marginal:
        """Return the Gaussian-kernel-smoothed CDF of ``values`` on a grid inside (low, high)."""
        values = np.asarray(values, dtype=np.float64)
        width = BANDWIDTH_WIDEN * 1.06 * values.std() * values.size ** (-0.2)
        start, stop = max(low, values.min() - 4 * width), min(high, values.max() + 4 * width)
        grid = np.linspace(start, stop, GRID_POINTS)
        kernel_at = values[:: max(1, values.size // 4000)]
        cdf = np.zeros(GRID_POINTS)
        for chunk in np.array_split(np.arange(GRID_POINTS), 8):
            cdf[chunk] = stats.norm.cdf((grid[chunk, None] - kernel_at[None, :]) / width).mean(1)
        cdf = (cdf - cdf[0]) / (cdf[-1] - cdf[0])
        cdf = (1 - CDF_FLOOR) * cdf + CDF_FLOOR * (grid - start) / (stop - start)
        return cls(grid=grid, cdf=cdf)

    def to_uniform(self, x: np.ndarray) -> np.ndarray:
        """Return F(x) (0 below the grid, 1 above it)."""
        return np.interp(x, self.grid, self.cdf)

    def from_uniform(self, u: np.ndarray) -> np.ndarray:
        """Return F^-1(u)."""
        return np.interp(u, self.cdf, self.grid)

    @cached_property
    def _log_slope(self) -> np.ndarray:
        """log of the CDF's slope on each grid cell, computed once per marginal."""
        return np.log(np.diff(self.cdf) / np.diff(self.grid))

    def log_density(self, x: np.ndarray) -> np.ndarray:
        """Return log f(x): the CDF's slope on x's cell, -inf off the grid."""
        cell = np.clip(np.searchsorted(self.grid, x) - 1, 0, self._log_slope.size - 1)
        inside = (x >= self.grid[0]) & (x <= self.grid[-1])
        return np.where(inside, self._log_slope[cell], -np.inf)


def fit_mixture(
    z: np.ndarray, n_components: int, seed: int, iterations: int = 200
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the weights (K,), means (K, d) and Cholesky factors (K, d, d) of a Gaussian
    mixture fitted to the rows of ``z`` by EM, from K rows chosen at random as means."""
    n, d = z.shape
    gen = np.random.default_rng(seed)
    means = z[gen.choice(n, n_components, replace=False)]
    start_cov = np.cov(z, rowvar=False) + MIXTURE_RIDGE * np.eye(d)
    covs = np.repeat(start_cov[None], n_components, axis=0)
    weights = np.full(n_components, 1.0 / n_components)
    for _ in range(iterations):
        chol = np.linalg.cholesky(covs)
        log_joint = np.log(weights) + _component_log_densities(z, means, chol)
        resp = np.exp(log_joint - special.logsumexp(log_joint, axis=1, keepdims=True))
        counts = resp.sum(0) + 1e-12
        weights = counts / n
        means = (resp.T @ z) / counts[:, None]
        for k in range(n_components):
            dz = z - means[k]
            covs[k] = (resp[:, k, None] * dz).T @ dz / counts[k] + MIXTURE_RIDGE * np.eye(d)
    return weights, means, np.linalg.cholesky(covs)


def _component_log_densities(z: np.ndarray, means: np.ndarray, chol: np.ndarray) -> np.ndarray:
    """Return (n, K): log N(z_n; mean_k, L_k L_k^T)."""
    d = z.shape[1]
    out = np.empty((z.shape[0], means.shape[0]))
    for k in range(means.shape[0]):
        white = linalg.solve_triangular(chol[k], (z - means[k]).T, lower=True)
        log_det = 2.0 * np.log(np.diag(chol[k])).sum()
        out[:, k] = -0.5 * (np.sum(white**2, axis=0) + log_det + d * np.log(2 * np.pi))
    return out


@dataclass(frozen=True)
class CopulaMixture:
    """The independence proposal (module docstring): marginals and a mixture of the scores."""

    marginals: tuple[Marginal, ...]
    weights: np.ndarray
    means: np.ndarray
    chol: np.ndarray

    @classmethod
    def fit(
        cls,
        samples: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
        n_components: int = 8,
        seed: int = 0,
        max_rows: int = 10_000,
    ) -> CopulaMixture:
        """Return the proposal fitted to ``samples`` (n, d) of an earlier chain, inside the box
        (low, high); the mixture from at most ``max_rows`` evenly spaced rows."""
        marginals = tuple(
            Marginal.smoothed(samples[:, i], low[i], high[i]) for i in range(samples.shape[1])
        )
        rows = samples[:: max(1, samples.shape[0] // max_rows)]
        z = _scores(marginals, rows)
        z = z[np.all(np.isfinite(z), axis=1)]  # rows on or outside the box's edge
        weights, means, chol = fit_mixture(z, n_components, seed)
        return cls(marginals=marginals, weights=weights, means=means, chol=chol)

    def draw(self, n: int, random: Any) -> np.ndarray:
        """Return n draws (n, d), from ``random`` (numpy RandomState or Generator)."""
        component = random.choice(self.weights.size, size=n, p=self.weights)
        normal = random.standard_normal((n, self.means.shape[1]))
        z = self.means[component] + np.einsum("nij,nj->ni", self.chol[component], normal)
        u = stats.norm.cdf(z)
        return np.column_stack([m.from_uniform(u[:, i]) for i, m in enumerate(self.marginals)])

    def log_density(self, x: np.ndarray) -> np.ndarray:
        """Return log q(x) for the rows of x (-inf off the marginals' grids)."""
        x = np.atleast_2d(x)
        log_f = sum(m.log_density(x[:, i]) for i, m in enumerate(self.marginals))
        z = _scores(self.marginals, x)
        finite = np.all(np.isfinite(z), axis=1) & np.isfinite(log_f)
        out = np.full(x.shape[0], -np.inf)
        zf = z[finite]
        log_g = special.logsumexp(
            np.log(self.weights) + _component_log_densities(zf, self.means, self.chol), axis=1
        )
        out[finite] = log_g - stats.norm.logpdf(zf).sum(1) + log_f[finite]
        return out


def _scores(marginals: tuple[Marginal, ...], x: np.ndarray) -> np.ndarray:
    """Return the normal scores Phi^-1(F_i(x_i)) (+-inf at or beyond a grid's ends)."""
    u = np.column_stack([m.to_uniform(x[:, i]) for i, m in enumerate(marginals)])
    return stats.norm.ppf(u)


def independence_move(proposal: CopulaMixture) -> Any:
    """Return an emcee move proposing from ``proposal`` whatever the walker's position, with the
    Hastings factor log q(x) - log q(y) (a proposal q cannot return to is refused)."""
    import emcee

    def propose(coords: np.ndarray, random: Any) -> tuple[np.ndarray, np.ndarray]:
        new = proposal.draw(coords.shape[0], random)
        with np.errstate(invalid="ignore"):
            factor = proposal.log_density(coords) - proposal.log_density(new)
        return new, np.where(np.isfinite(factor), factor, -np.inf)

    return emcee.moves.MHMove(propose)


def sampler_moves(
    proposal: np.ndarray,
    gaussian_share: float,
    independence: CopulaMixture | None = None,
    independence_share: float = 0.0,
) -> list:
    """Return emcee's moves with their shares. Without ``independence``: random-walk
    Metropolis with ``proposal`` for each walker on its own (``gaussian_share``) and
    differential evolution for the rest; with a share of 1 the walkers are independent
    random-walk chains, the classical setting of R-hat. With ``independence``: that share of
    independence steps, the rest random-walk steps (walkers stay independent chains)."""
    import emcee

    gaussian = emcee.moves.GaussianMove(proposal, mode="vector")
    if independence is not None:
        share = float(np.clip(independence_share, 0.0, 1.0))
        return [(independence_move(independence), share), (gaussian, 1.0 - share)]
    if gaussian_share >= 1.0:
        return [(gaussian, 1.0)]
    return [(gaussian, gaussian_share), (emcee.moves.DEMove(), 1.0 - gaussian_share)]
