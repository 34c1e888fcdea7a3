"""The posterior file (``config/model_posterior.yaml``) and the checks of a chain.

``calibration.posterior`` runs the chain and writes the file; this module holds what readers
and the writer share: the convergence diagnostics (R-hat, ESS, autocorrelation), the thinning of
a chain into draws, reading the file, and draw k's log shifts checked against the model's
fitted values (``calibration.parameter_sets`` reads them for the sampler ``posterior``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from osteotrial.calibration import calibrate, shifts, uncertainty
from osteotrial.yaml_strict import safe_load_fast

BLOCK = "remodeling"  # the block of fitted values that the chain samples
DEFAULT_FILE = uncertainty.POSTERIOR_FILES[BLOCK]
RHAT_MAX = 1.01
# What a posterior file's draws were sampled under (its ``likelihood`` field): the likelihood
# of ``calibration.likelihood`` (published SEs plus a stated discrepancy) with the literature
# priors of ``calibration.priors``, or, for files written before issue 24 (no field, or this
# value), exp(-S/2) of the fit's objective with a prior centred on the fitted values.
LIKELIHOOD = "published-se-plus-discrepancy"
OLD_LIKELIHOOD = "objective-weights"


def diagnostics(chain: np.ndarray, names: Sequence[tuple[str, str]], burn: int) -> dict:
    """Return R-hat, bulk and tail ESS per parameter (arviz) and emcee's autocorrelation time.

    ``chain``: (n_steps, n_walkers, d); each walker is a chain, the first ``burn`` steps dropped.
    """
    import arviz
    import emcee

    kept = chain[burn:]
    per_chain = np.swapaxes(kept, 0, 1)  # (chains, draws, d)
    dataset = arviz.convert_to_dataset({"x": per_chain})
    rhat = arviz.rhat(dataset, method="rank")["x"].values
    ess_bulk = arviz.ess(dataset, method="bulk")["x"].values
    ess_tail = arviz.ess(dataset, method="tail")["x"].values
    tau = emcee.autocorr.integrated_time(kept, quiet=True)
    return {
        f"{block}.{key}": {
            "rhat": float(rhat[i]),
            "ess_bulk": float(ess_bulk[i]),
            "ess_tail": float(ess_tail[i]),
            "autocorr_steps": float(tau[i]),
        }
        for i, (block, key) in enumerate(names)
    }


def thinned_draws(chain: np.ndarray, burn: int, n_draws: int) -> np.ndarray:
    """Return (n_draws, d): draws equally spaced over the kept steps, walkers interleaved."""
    flat = chain[burn:].reshape(-1, chain.shape[-1])  # step-major: all walkers of a step
    if flat.shape[0] < n_draws:
        raise ValueError(f"{flat.shape[0]} kept draws, fewer than the {n_draws} asked for")
    index = np.linspace(0, flat.shape[0] - 1, n_draws).round().astype(np.int64)
    return flat[index]


def load_posterior(path: str | Path = DEFAULT_FILE) -> dict[str, Any]:
    """Return the content of a posterior file (``path`` as ``locate.repo_path``)."""
    from osteotrial.trial.locate import repo_path

    with open(repo_path(path), encoding="utf-8") as handle:
        return safe_load_fast(handle)


def likelihood_of(posterior: Mapping[str, Any]) -> str:
    """Return what a posterior file's draws were sampled under (``LIKELIHOOD`` or
    ``OLD_LIKELIHOOD``; a file without the field predates issue 24: the old one)."""
    return str(posterior.get("likelihood", OLD_LIKELIHOOD))


def posterior_shifts(posterior: Mapping[str, Any], model: Mapping[str, Any], k: int) -> np.ndarray:
    """Return draw k's log shifts, after checking the model holds the values it was drawn at."""
    names = [tuple(n.rsplit(".", 1)) for n in posterior["names"]]
    values = calibrate.initial_values(dict(model), names)
    stored = np.asarray(posterior["fitted_values"])
    if not np.allclose(values, stored, rtol=1e-9, atol=0.0):
        changed = [n for n, a, b in zip(posterior["names"], values, stored, strict=True) if a != b]
        raise ValueError(
            f"the posterior draws were sampled at other fitted values ({', '.join(changed)}): "
            "rerun `python -m osteotrial.calibration.posterior --write`, or use the "
            "'metropolis' sampler for a model whose remodeling values differ from the fit"
        )
    draws = posterior["log_shifts"]
    if not 0 <= k < len(draws):
        raise ValueError(
            f"parameter set {k}: the posterior holds {len(draws)} draws; allowed: "
            f"uncertainty.n_parameter_sets <= {len(draws)}"
        )
    return np.asarray(draws[k], dtype=np.float64)


def stable_draws(
    draws: np.ndarray, n_draws: int, model: Mapping[str, Any], names: Sequence, dt_days: float
) -> tuple[np.ndarray, float]:
    """Return the first ``n_draws`` rows of ``draws`` whose model passes the stability screen
    (``shifts.stable``), and the share of rows that failed it.

    Dropping the draws outside the stable region samples the posterior restricted to it
    (rejection), as a screen inside the chain would, at a fraction of the cost.
    """
    kept, failed = [], 0
    for row in draws:
        if shifts.stable(shifts.apply_shifts(model, names, row), dt_days):
            kept.append(row)
        else:
            failed += 1
        if len(kept) == n_draws:
            break
    if len(kept) < n_draws:
        raise ValueError(f"only {len(kept)} stable draws; {n_draws} asked for")
    return np.asarray(kept), failed / (len(kept) + failed)
