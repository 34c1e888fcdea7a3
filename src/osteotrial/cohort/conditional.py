"""Missing covariates of given patients, drawn from the source population conditional on the rest.

The source population (``osteotrial.cohort.population``) is a Gaussian copula ``x ~ N(0, R)``
over (age, BMI, T-score LS, TH, FN), followed by prevalent vertebral fractures (VF) given age and
LS, and prior fractures given age, TH and VF. For a patient of a baseline table
(``osteotrial.cohort.table``) the given covariates are mapped to their copula normals ``x_g``
through the population's own marginals, and the missing ones are drawn from the conditional
normal of the copula::

    x_m | x_g ~ N(A x_g, C),  A = R_mg R_gg^-1,  C = R_mm - A R_gm,  x_m = A x_g + chol(C) z_m

with ``z`` the patient's own draws of stream "screening.covariates" (row j for variable j).
Missing VF counts, grades and prior fractures are drawn as the model draws them, from the
completed covariates; a prior-fracture flag given alone restricts the one uniform that decides
both flags (hip implies NVF) to its allowed interval, which is its exact conditional draw.

A given fracture history also informs missing BMD (a woman with a vertebral fracture has a
lower LS T-score). Where fractures are given and LS, TH or the VF count is missing, the draw is
sampling-importance-resampling: ``N_PROPOSALS`` completions from the model given the covariates
(proposal 0 is the direct draw), weighted by the probability of the given fractures, one chosen
with a uniform from stream "screening.conditional". It converges to the exact conditional as
``N_PROPOSALS`` grows. Every draw is keyed by (seed, stream, source key), never by row order.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from osteotrial import rng
from osteotrial.arrays import BoolArray, FloatArray, IntArray
from osteotrial.cohort.population import (
    COPULA_VARIABLES,
    PopulationParams,
    covariates_to_latent,
    latent_to_covariates,
    prior_fracture_probabilities,
    vertebral_fracture_count,
    vertebral_fracture_grades,
    vertebral_fracture_probabilities,
)
from osteotrial.model.tscore import tscore_to_bmd_g_cm2

N_PROPOSALS = 128
BLOCK_ROWS = 2048
CONTINUOUS: tuple[str, ...] = ("age_years", "bmi_kg_m2", "tscore_ls", "tscore_th", "tscore_fn")
GRADES: tuple[str, ...] = tuple(
    f"prevalent_vertebral_fracture_{grade}_count" for grade in ("mild", "moderate", "severe")
)


def complete_latent(x_given: FloatArray, z: FloatArray, correlation: FloatArray) -> FloatArray:
    """Return copula normals, shape (5, n): given entries kept, NaN entries drawn conditionally.

    ``x_given`` has NaN where a variable is missing; ``z`` (5, n) are the patients' standard
    normals; patients are grouped by their pattern of missing variables (at most 2^5).
    """
    x = x_given.copy()
    missing = np.isnan(x_given)
    patterns, group = np.unique(missing.T, axis=0, return_inverse=True)
    for index, pattern in enumerate(patterns):
        if not pattern.any():
            continue
        cols = np.flatnonzero(group.ravel() == index)
        m, g = np.flatnonzero(pattern), np.flatnonzero(~pattern)
        gain = correlation[np.ix_(m, g)] @ np.linalg.inv(correlation[np.ix_(g, g)])
        cov = correlation[np.ix_(m, m)] - gain @ correlation[np.ix_(g, m)]
        chol = np.linalg.cholesky(cov)
        x[np.ix_(m, cols)] = gain @ x_given[np.ix_(g, cols)] + chol @ z[np.ix_(m, cols)]
    return x


def complete_covariates(
    values: Mapping[str, FloatArray], keys: IntArray, seed: int, pop: PopulationParams
) -> dict[str, np.ndarray]:
    """Return the covariates of ``covariates_from_draws`` for given patients, shape (n,) each.

    ``values`` are the columns of ``BaselineTable.values`` (NaN = missing); ``keys`` key every
    stream of each patient. Given values are returned as given (BMD from the given T-score).
    """
    keys = np.asarray(keys, dtype=np.int64)
    draws = {
        "z": rng.normals(seed, "screening.covariates", keys, len(COPULA_VARIABLES)),
        "u_vf": rng.uniforms(seed, "screening.prevalent_fracture", keys, 5),
        "u_prior": rng.uniforms(seed, "screening.prior_fracture", keys, 1)[0],
    }
    out, _ = _complete_once(values, draws, pop)
    importance = needs_importance(values)
    for start in range(0, keys.size, BLOCK_ROWS):
        rows = np.arange(start, min(start + BLOCK_ROWS, keys.size))
        rows = rows[importance[rows]]
        if rows.size:
            chosen = _importance_block(
                {k: v[rows] for k, v in values.items()}, keys[rows], seed, pop
            )
            for name, column in chosen.items():
                out[name][rows] = column
    return out


def needs_importance(values: Mapping[str, FloatArray]) -> BoolArray:
    """Return, shape (n,), where given fractures bear on something missing (LS, TH, VF count)."""
    vf_given = ~np.isnan(_given_vf_count(values))
    prior_given = ~np.isnan(values["prior_nonvertebral_fracture"]) | ~np.isnan(
        values["prior_hip_fracture"]
    )
    ls_missing, th_missing = np.isnan(values["tscore_ls"]), np.isnan(values["tscore_th"])
    return (vf_given & ls_missing) | (prior_given & (th_missing | ls_missing | ~vf_given))


def _given_vf_count(values: Mapping[str, FloatArray]) -> FloatArray:
    """Return the given prevalent VF count, shape (n,) (the grade counts' sum if only they are)."""
    count = values["prevalent_vertebral_fracture_count"]
    total = np.sum([values[name] for name in GRADES], axis=0)
    return np.where(np.isnan(count), total, count)


def _importance_block(
    values: Mapping[str, FloatArray], keys: IntArray, seed: int, pop: PopulationParams
) -> dict[str, np.ndarray]:
    """Return the covariates of one block of patients by sampling-importance-resampling."""
    n, k = keys.size, N_PROPOSALS

    def stacked(draws: FloatArray, per: int) -> FloatArray:  # (k * per, n) -> (per, k * n)
        return draws.reshape(k, per, n).transpose(1, 0, 2).reshape(per, k * n)

    draws = {
        "z": stacked(rng.normals(seed, "screening.covariates", keys, 5 * k), 5),
        "u_vf": stacked(rng.uniforms(seed, "screening.prevalent_fracture", keys, 5 * k), 5),
        "u_prior": rng.uniforms(seed, "screening.prior_fracture", keys, k).reshape(k * n),
    }
    tiled = {name: np.tile(column, k) for name, column in values.items()}
    proposals, likelihood = _complete_once(tiled, draws, pop)
    weights = likelihood.reshape(k, n)
    cumulative = np.cumsum(weights, axis=0)
    u = rng.uniforms(seed, "screening.conditional", keys, 1)[0] * cumulative[-1]
    pick = np.minimum(np.sum(cumulative < u[np.newaxis, :], axis=0), k - 1)
    pick = np.where(cumulative[-1] > 0.0, pick, 0)
    flat = pick * n + np.arange(n)
    return {name: column[flat] for name, column in proposals.items()}


def _complete_once(
    values: Mapping[str, FloatArray], draws: Mapping[str, FloatArray], pop: PopulationParams
) -> tuple[dict[str, np.ndarray], FloatArray]:
    """Return one completion of each patient and the probability of its given fractures, (n,)."""
    x = complete_latent(covariates_to_latent(values, pop), draws["z"], pop.correlation_matrix())
    out: dict[str, np.ndarray] = dict(latent_to_covariates(x, pop))
    for name in CONTINUOUS:
        given = ~np.isnan(values[name])
        out[name] = np.where(given, values[name], out[name])
    for site in ("LS", "TH", "FN"):  # BMD of the given T-score (the inverse of the table's)
        tscore = out[f"tscore_{site.lower()}"]
        out[f"bmd_{site.lower()}_g_cm2"] = tscore_to_bmd_g_cm2(tscore, site)
    age, tscore_ls = out["age_years"], out["tscore_ls"]
    given_count = _given_vf_count(values)
    model_count = vertebral_fracture_count(draws["u_vf"][0], age, tscore_ls, pop)
    count = np.where(np.isnan(given_count), model_count, given_count).astype(np.int64)
    likelihood = _count_probability(given_count, age, tscore_ls, pop)
    out["prevalent_vertebral_fracture_count"] = count
    out.update(_grades(values, draws["u_vf"][1:], count, pop))
    p_nvf, p_hip = prior_fracture_probabilities(age, out["tscore_th"], count > 0, pop)
    low, high = _allowed_interval(values, p_nvf, p_hip)
    u = low + draws["u_prior"] * (high - low)
    out["prior_nonvertebral_fracture"] = u < p_nvf
    out["prior_hip_fracture"] = u < p_hip
    return out, likelihood * (high - low)


def _count_probability(
    given_count: FloatArray, age_years: FloatArray, tscore_ls: FloatArray, pop: PopulationParams
) -> FloatArray:
    """Return P(VF count = given count | age, LS), shape (n,); 1 where the count is missing."""
    p_at_least = vertebral_fracture_probabilities(age_years, tscore_ls, pop)  # (4, n)
    n = age_years.shape[0]
    bounds = np.vstack([np.ones(n), p_at_least, np.zeros(n)])  # P(>= 0), ..., P(>= 5)
    c = np.nan_to_num(given_count, nan=0.0).astype(np.int64)
    p = bounds[c, np.arange(n)] - bounds[c + 1, np.arange(n)]
    return np.where(np.isnan(given_count), 1.0, p)


def _grades(
    values: Mapping[str, FloatArray], u_grades: FloatArray, count: IntArray, pop: PopulationParams
) -> dict[str, IntArray]:
    """Return max grade and moderate count, (n,): from given grade counts, else drawn iid."""
    drawn = vertebral_fracture_grades(u_grades, count, pop)
    mild, moderate, severe = (values[name] for name in GRADES)
    given = ~np.isnan(mild)
    max_grade = np.select([severe > 0, moderate > 0, mild > 0], [3, 2, 1], default=0)
    return {
        "prevalent_vertebral_fracture_max_grade": np.where(
            given, max_grade, drawn["prevalent_vertebral_fracture_max_grade"]
        ).astype(np.int64),
        "prevalent_vertebral_fracture_moderate_count": np.where(
            given,
            np.nan_to_num(moderate),
            drawn["prevalent_vertebral_fracture_moderate_count"],
        ).astype(np.int64),
    }


def _allowed_interval(
    values: Mapping[str, FloatArray], p_nvf: FloatArray, p_hip: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Return [low, high), shape (n,) each, of the prior-fracture uniform allowed by the flags.

    One uniform u decides both flags (hip iff u < p_hip, NVF iff u < p_nvf, p_hip <= p_nvf); a
    given flag restricts u to an interval, and a uniform rescaled to it is u's exact conditional
    draw. Its length is the probability of the given flags.
    """
    nvf, hip = values["prior_nonvertebral_fracture"], values["prior_hip_fracture"]
    low = np.zeros_like(p_nvf)
    high = np.ones_like(p_nvf)
    high = np.where(nvf == 1, np.minimum(high, p_nvf), high)
    low = np.where(nvf == 0, np.maximum(low, p_nvf), low)
    high = np.where(hip == 1, np.minimum(high, p_hip), high)
    low = np.where(hip == 0, np.maximum(low, p_hip), low)
    return low, np.maximum(high, low)
