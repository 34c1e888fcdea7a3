"""Parameter sets drawn from the calibration's uncertainty (``config/model_uncertainty.yaml``).

Set k of a trial (k = 0, 1, ...) shifts the log values of the fitted parameters away from the
trial's own values x_trial (``config/model.yaml`` unless the trial overrides them), one block of
the uncertainty file at a time, with the stream ``rng.make_generator(seed, "parameter_set", k,
b)`` of block b: set k depends on (seed, k) only, never on how many sets are drawn. s is
``uncertainty.spread_scale``.

- ``laplace`` blocks: shift = s L z, z standard normals, L the Cholesky factor of the block's
  covariance (values with log_sd 0 are not shifted); each value is then clipped to
  ``draw_bounds``, a documented truncation.
- ``conditional_laplace`` blocks (fracture): the same draws around the block's optimum given
  the blocks drawn before it (``conditional_centre``): a "cut" posterior, p(remodeling | its
  targets) p(fracture | remodeling, fracture targets). Without it, a remodeling set that
  suppresses resorption more also cuts fractures more, with turnover effects fitted to the
  nominal remodeling: the fracture relative risks then leave the published ones they were
  fitted to (docs/analyses.md). The optimum is not re-fitted from scratch (20-60 s a set): the
  file's linear gain moves it with the drawn remodeling shift, then ``REFINE_STEPS``
  Gauss-Newton steps on the exact residuals (one evaluation each, about 1.4 s) correct it.
- ``posterior`` blocks (remodeling, the default): set k is draw k of the block's posterior file
  (``calibration.posterior``: an ensemble sampler run offline, with R-hat and ESS), its log
  shifts times s (s = 1: the posterior itself). No chain runs per set, so a set costs only its
  fracture conditional optimum.
- ``metropolis`` blocks (the remodeling sampler before issue 13, kept for a model whose fitted
  values differ from those the posterior was drawn at): over its posterior this stage is far
  from linear, and Laplace draws miss the calibration targets much more than the linearization
  predicts (median target chi-square 64 against about 18 expected; docs/analyses.md) and one in
  ten makes the fixed-step integration unstable. Set k is instead the state after ``N_STEPS`` of
  a random-walk Metropolis chain started at x_trial, with proposals s (STEP_FRAC / sqrt(d)) L z
  and target exp(-S(x) / (2 s^2)) on the box of ``draw_bounds`` where ``stable`` holds, with
  S(x) = |r(x)|^2 + |(x - x_trial) / s_p|^2 the fit's objective (the prior is centred on the
  fitted values, as the literature starts are not kept; it is weak, s_p = 1.5). At s = 1 the
  chain samples the calibration posterior; s acts as a temperature (for a linear model it
  multiplies the SDs exactly).

s = 0 returns the trial's values bit for bit: shifts are applied as factors exp(shift) on the
trial's values. A ``scale`` name (``bmd.ls.scale``, the site gamma over the TH gamma, as in
``calibrate.apply_values``) multiplies the site's gamma_ob and gamma_oc, as do the TH gammas.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from osteotrial import rng
from osteotrial.calibration import calibrate, posterior_file, uncertainty
from osteotrial.calibration.shifts import Name, apply_shifts, log_box, model_node, stable
from osteotrial.io import PARAMETER_SETS_SCHEMA, to_table, write_parquet

REFINE_STEPS = 1  # Gauss-Newton steps from the linear conditional optimum (one evaluation each)
N_STEPS = 600  # chain length: marginal SDs as with 1500 steps (docs/analyses.md)
STEP_FRAC = 1.2  # proposal scale / sqrt(d): about a third of proposals accepted at s = 1


def laplace_shifts(cov: np.ndarray, spread_scale: float, gen: np.random.Generator) -> np.ndarray:
    """Return s L z, shape (n_names,): values with zero variance get no shift."""
    varied = np.diag(cov) > 0.0
    chol = np.linalg.cholesky(cov[np.ix_(varied, varied)])
    shifts = np.zeros(cov.shape[0])
    shifts[varied] = spread_scale * (chol @ gen.standard_normal(int(varied.sum())))
    return shifts


def metropolis_shifts(
    model: Mapping[str, Any],
    block: str,
    cov: np.ndarray,
    spread_scale: float,
    gen: np.random.Generator,
    dt_days: float,
    n_steps: int = N_STEPS,
) -> np.ndarray:
    """Return the state (log shifts, shape (n_names,)) after ``n_steps`` of the chain of a block."""
    names, residuals = uncertainty.stages()[block]
    low, high = log_box(model, names)

    def objective(shifts: np.ndarray) -> float:
        """S(x), inf outside the box or where the residuals fail (stability is checked only
        for proposals that pass the Metropolis test: same chain, fewer screens)."""
        if np.any(shifts < low) or np.any(shifts > high):
            return np.inf
        try:
            with np.errstate(all="ignore"):
                res = residuals(apply_shifts(model, names, shifts))
        except (FloatingPointError, ValueError):
            return np.inf
        value = float(res @ res + np.sum((shifts / calibrate.PRIOR_SD_LOG) ** 2))
        return value if np.isfinite(value) else np.inf

    varied = np.diag(cov) > 0.0
    chol = np.linalg.cholesky(cov[np.ix_(varied, varied)])
    step = spread_scale * STEP_FRAC / np.sqrt(varied.sum())
    state, value = np.zeros(len(names)), objective(np.zeros(len(names)))
    for _ in range(n_steps):
        proposal = state.copy()
        proposal[varied] += step * (chol @ gen.standard_normal(int(varied.sum())))
        new_value = objective(proposal)
        accept = np.log(gen.uniform()) < -(new_value - value) / (2.0 * spread_scale**2)
        if accept and stable(apply_shifts(model, names, proposal), dt_days):
            state, value = proposal, new_value
    return state


def conditional_centre(
    data: Mapping[str, Any],
    block: str,
    drawn: Mapping[str, Any],
    drawn_shifts: Mapping[Name, float],
    refine_steps: int = REFINE_STEPS,
) -> np.ndarray:
    """Return the log shifts of a conditional block's optimum given the drawn blocks.

    ``drawn`` is the model with the blocks drawn so far applied, ``drawn_shifts`` their log
    shifts by name. Start from the linear prediction G dx (``uncertainty.conditional_block``),
    then take ``refine_steps`` Gauss-Newton steps on the block's exact residuals with the
    stored Jacobian J_f: d <- d - P_f^-1 (J_f^T (r(d) - r0) + d / s_p^2), which is the
    optimality condition of the fit (prior included) linearized in d around the fit.
    """
    content = data["blocks"][block]["conditional"]
    names, residuals = uncertainty.stages()[block]
    on_names = uncertainty.block_names(data, content["on"])
    shift_on = np.array([drawn_shifts.get(name, 0.0) for name in on_names])
    jac = np.asarray(content["jacobian"], dtype=np.float64)
    r0 = np.asarray(content["residuals_at_fit"], dtype=np.float64)
    precision = jac.T @ jac + np.eye(jac.shape[1]) / calibrate.PRIOR_SD_LOG**2
    shift = np.asarray(content["gain"], dtype=np.float64) @ shift_on
    low, high = log_box(drawn, names)
    for _ in range(refine_steps):
        with np.errstate(all="ignore"):
            res = residuals(apply_shifts(drawn, names, shift))
        if not np.all(np.isfinite(res)):
            break
        gradient = jac.T @ (res - r0) + shift / calibrate.PRIOR_SD_LOG**2
        shift = np.clip(shift - np.linalg.solve(precision, gradient), low, high)
    return shift


@dataclasses.dataclass(frozen=True)
class ParameterSet:
    """Parameter set k: the full model mapping and the log shift of every drawn name."""

    k: int
    model: dict[str, Any]
    shifts: dict[str, float]


def parameter_set(
    model: Mapping[str, Any],
    data: Mapping[str, Any],
    spread_scale: float,
    seed: int,
    k: int,
    dt_days: float = 1.0,
    n_steps: int = N_STEPS,
) -> ParameterSet:
    """Return parameter set k of ``model`` (see the module docstring).

    Build the parameters with ``ModelParams.from_dict(result.model)``.
    """
    if k < 0 or spread_scale < 0:
        raise ValueError(f"k={k} and spread_scale={spread_scale} must be >= 0")
    names: list[Name] = []
    shifts: list[np.ndarray] = []
    for index, (block, content) in enumerate(data["blocks"].items()):
        block_names = uncertainty.block_names(data, block)
        cov = uncertainty.block_covariance(data, block)
        gen = rng.make_generator(seed, "parameter_set", k, index)
        if spread_scale == 0.0:
            shift = np.zeros(len(block_names))
        elif content["sampler"] == "metropolis":
            shift = metropolis_shifts(model, block, cov, spread_scale, gen, dt_days, n_steps)
        elif content["sampler"] == "posterior":
            drawn_at = posterior_file.load_posterior(content["posterior_file"])
            shift = spread_scale * posterior_file.posterior_shifts(drawn_at, model, k)
        elif content["sampler"] == "laplace":
            shift = laplace_shifts(cov, spread_scale, gen)
        elif content["sampler"] == "conditional_laplace":
            flat = np.concatenate(shifts) if names else np.zeros(0)
            drawn = apply_shifts(model, names, flat) if names else model
            by_name = dict(zip(names, flat, strict=True))
            centre = conditional_centre(data, block, drawn, by_name)
            shift = centre + laplace_shifts(cov, spread_scale, gen)
        else:
            raise ValueError(
                f"block {block}: sampler {content['sampler']!r}; allowed: posterior, laplace, "
                "conditional_laplace, metropolis"
            )
        names += block_names
        shifts.append(shift)
    low, high = log_box(model, names)
    flat = np.clip(np.concatenate(shifts), low, high)
    mapping = apply_shifts(model, names, flat)
    return ParameterSet(
        k, mapping, {f"{b}.{key}": float(s) for (b, key), s in zip(names, flat, strict=True)}
    )


def trial_parameter_set(
    trial: Any, k: int, covariance_file: str | Path | None = None, n_steps: int = N_STEPS
) -> ParameterSet:
    """Return ``parameter_set`` k of a ``TrialConfig`` (its uncertainty block, seed and step).

    ``covariance_file`` defaults to ``uncertainty.covariance_file`` of the trial.
    """
    block = trial.uncertainty
    data = uncertainty.load_uncertainty(covariance_file or block["covariance_file"])
    spread = float(block["spread_scale"])
    model = trial.raw["model"]
    return parameter_set(model, data, spread, trial.seed, k, trial.schedule.dt_days, n_steps)


def changed_keys(names: Sequence[str]) -> list[str]:
    """Return the dotted model keys a set of drawn names changes (a scale changes two gammas)."""
    keys = []
    for name in names:
        block, key = name.rsplit(".", 1)
        keys += [f"{block}.gamma_ob", f"{block}.gamma_oc"] if key == "scale" else [name]
    return list(dict.fromkeys(keys))


def set_name(k: int) -> str:
    """Return the name of parameter set k (``p000``, ``p001``, ...)."""
    return f"p{k:03d}"


def write_parameter_sets(
    results: Sequence[ParameterSet],
    trial_model: Mapping[str, Any],
    path: str | Path,
    metadata: Mapping,
) -> None:
    """Write sets as rows (parameter_set, parameter, trial_value, value, log_shift)."""
    rows: dict[str, list] = {name: [] for name in PARAMETER_SETS_SCHEMA.names}
    trial = dict(trial_model)
    for result in results:
        for key in changed_keys(list(result.shifts)):
            block, leaf = key.rsplit(".", 1)
            rows["parameter_set"].append(set_name(result.k))
            rows["parameter"].append(key)
            rows["trial_value"].append(float(model_node(trial, block)[leaf]))
            rows["value"].append(float(model_node(result.model, block)[leaf]))
            rows["log_shift"].append(result.shifts.get(key, float("nan")))
    write_parquet(to_table(rows, PARAMETER_SETS_SCHEMA, "parameter_sets"), path, metadata)


def write_parameter_set(
    result: ParameterSet, trial_model: Mapping[str, Any], path: str | Path, metadata: Mapping
) -> None:
    """Write one set (``write_parameter_sets``)."""
    write_parameter_sets([result], trial_model, path, metadata)


def read_parameter_set(
    path: str | Path, trial_model: Mapping[str, Any], pset: str | None = None
) -> dict[str, Any]:
    """Return the model mapping of a set written by ``write_parameter_sets`` (set ``pset`` of
    a file holding several)."""
    table = pq.read_table(path, columns=["parameter_set", "parameter", "value"]).to_pydict()
    model = copy.deepcopy(dict(trial_model))
    rows = zip(table["parameter_set"], table["parameter"], table["value"], strict=True)
    for name, key, value in rows:
        if pset is None or name == pset:
            block, leaf = key.rsplit(".", 1)
            model_node(model, block)[leaf] = float(value)
    return model


def posterior_files(covariance_file: str | Path) -> list[str]:
    """Return the posterior files an uncertainty file's ``posterior`` blocks read."""
    from osteotrial.trial.locate import repo_path

    data = uncertainty.load_uncertainty(covariance_file)
    return [
        str(repo_path(content["posterior_file"]))
        for content in data["blocks"].values()
        if content["sampler"] == "posterior"
    ]


def posterior_likelihoods(covariance_file: str | Path) -> str:
    """Return what the posterior draws an uncertainty file reads were sampled under, as
    "file: likelihood" (``posterior_file.likelihood_of``; "none" without a posterior block):
    the prediction intervals' metadata says which meaning their parameter sets carry."""
    files = posterior_files(covariance_file)
    of = [posterior_file.likelihood_of(posterior_file.load_posterior(path)) for path in files]
    return "; ".join(f"{Path(p).name}: {m}" for p, m in zip(files, of, strict=True)) or "none"
