"""Posterior sampling of the remodeling calibration with an ensemble sampler (emcee), offline.

Target: the calibration posterior of the remodeling block (``uncertainty.stages``), over the log
shifts x of its fitted values from the fit (value = fitted * exp(x)),

    log p(x) = log prior(value) - |r(x)|^2 / 2,

the prior from the literature values of config/priors.yaml (``calibration.priors``) and r the
likelihood residuals (emulated - published) / SD, SD from the published SE plus a stated model
discrepancy (``calibration.likelihood``; not the fit's weights), restricted to the box of
``shifts.log_box`` and to values the fixed step integrates (``shifts.stable``, applied to the
kept draws: ``posterior_file.stable_draws``). Files sampled before issue 24 used exp(-S/2) of
the fit's objective with a prior centred on the fit: their ``likelihood`` field says which.

Coordinates: the sampler moves x itself, and a proposal outside the box has density 0 (no
fitted value sits on a bound since the issue-12 re-fit; a logit map of the box was tried and
dropped: docs/analyses.md).

Sampler: ``emcee.EnsembleSampler``, with the moves of ``calibration.proposal``. Ensemble mode
(the default): half random-walk Metropolis steps of each walker (1.2 / sqrt(d) times the
Laplace spread), half differential evolution (``DEMove``); 56 walkers. Chain mode
(``--gaussian-share 1``): walkers are independent random-walk chains, the setting of R-hat,
with a proposal fixed from an earlier chain's covariance (``--proposal-from``,
``--proposal-scale``). Learnt mode (``--independence-from``, the file's run): independent
chains alternating random-walk steps with independence steps from a map of the posterior
fitted to an earlier chain (``proposal.CopulaMixture``): random walks alone had
autocorrelation times of 300-1,000 steps here, the mixture about 90 (docs/analyses.md). The
first ``burn`` steps are discarded. Diagnostics (``diagnostics``): rank-normalized split R-hat
and bulk/tail ESS of every parameter (arviz, each walker a chain), emcee's integrated
autocorrelation time, the acceptance fraction. ``N_DRAWS`` stable draws, equally spaced over
the kept steps and walkers, are written to ``config/model_posterior.yaml`` with the fitted
values they were sampled at, the settings and the diagnostics; ``parameter_sets`` reads draw k
as set k.

Evaluation: the walkers that step together run as patients of the same engine calls
(``log_posteriors``, emcee's ``vectorize=True``, ``PooledPosterior``), bit-identical to one
walker at a time.

The stages of a run from scratch: ``tools/posterior_chain.sh`` (about 50 minutes on 2 cores,
estimated in issue 24 under the new likelihood, not yet run; docs/analyses.md).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import multiprocessing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from osteotrial.calibration import calibrate, likelihood, priors, shifts, uncertainty
from osteotrial.calibration.posterior_file import (
    BLOCK,
    DEFAULT_FILE,
    LIKELIHOOD,
    RHAT_MAX,
    diagnostics,
    load_posterior,
    posterior_shifts,
    stable_draws,
    thinned_draws,
)
from osteotrial.calibration.proposal import (
    CopulaMixture,
    chosen_walkers,
    initial_walkers,
    proposal_covariance,
    sampler_moves,
)
from osteotrial.calibration.targets import read_targets
from osteotrial.model.params import ModelParams
from osteotrial.provenance import git_commit
from osteotrial.yaml_strict import safe_load_fast

N_WALKERS = 56  # at least twice the dimension (26), for the DE moves
N_STEPS = 2000
BURN = 700
GAUSSIAN_SHARE = 0.5  # share of random-walk moves; the rest differential evolution
N_DRAWS = 500  # at least uncertainty.n_parameter_sets' maximum
_STATE: dict[str, Any] = {}


def _setup(model: Mapping[str, Any], dt_days: float, priors_file: str = priors.DEFAULT_FILE):
    """Keep what ``log_posterior`` needs in this process (also in pool workers)."""
    names = uncertainty.stages()[BLOCK][0]
    low, high = shifts.log_box(model, names)
    targets = read_targets()  # once: reading the file is a tenth of an evaluation
    rows = likelihood.likelihood_rows(targets)
    residuals = functools.partial(
        likelihood.likelihood_residuals_of_sets, targets=targets, rows=rows
    )
    prior = priors.Priors.of(names, priors.load_priors(priors_file))
    fitted = calibrate.initial_values(dict(model), names)
    _STATE.update(
        model=dict(model), names=names, residuals=residuals, low=low, high=high, dt=dt_days,
        prior=prior, fitted=fitted, priors_file=str(priors_file),
    )  # fmt: skip


def log_objective(x: np.ndarray) -> float:
    """Return log prior + log likelihood at x, or -inf where the residuals fail (the stability
    screen is applied to the kept draws afterwards, ``posterior_file.stable_draws``: a quarter
    of the cost of every evaluation)."""
    return float(log_objectives(np.asarray(x)[None, :])[0])


def log_objectives(xs: np.ndarray) -> np.ndarray:
    """Return ``log_objective`` of each row of ``xs`` (n, d), every row a patient of the same
    engine calls (``likelihood.likelihood_residuals_of_sets``); equal to the rows one at a
    time, exactly. If the batch fails (a row's integration turns non-finite), each row is
    evaluated alone, so that only the failing rows get -inf."""
    box = (_STATE["low"], _STATE["high"])
    models = [shifts.apply_shifts(_STATE["model"], _STATE["names"], x, box) for x in xs]
    try:
        with np.errstate(all="ignore"):
            res = _STATE["residuals"]([ModelParams.from_dict(m) for m in models])
    except (FloatingPointError, ValueError):
        if len(xs) == 1:
            return np.array([-np.inf])
        return np.array([log_objective(x) for x in xs])
    values = _STATE["fitted"] * np.exp(np.clip(xs, *box))  # the values apply_shifts sets
    log_prior = _STATE["prior"].log_density(values)
    value = -0.5 * np.array([row @ row for row in res]) + log_prior  # ddot per row: as alone
    return np.where(np.isfinite(value), value, -np.inf)


def log_posterior(x: np.ndarray) -> float:
    """Return the log posterior density of x: ``log_objective`` in the box, -inf outside."""
    if not np.all((x > _STATE["low"]) & (x < _STATE["high"])):
        return -np.inf
    return log_objective(x)


def log_posteriors(xs: np.ndarray) -> np.ndarray:
    """Return ``log_posterior`` of each row of ``xs`` (n, d): the rows inside the box in one
    pass (``log_objectives``), -inf for the others."""
    xs = np.asarray(xs, dtype=np.float64)
    out = np.full(xs.shape[0], -np.inf)
    inside = np.all((xs > _STATE["low"]) & (xs < _STATE["high"]), axis=1)
    if inside.any():
        out[inside] = log_objectives(xs[inside])
    return out


class PooledPosterior:
    """``log_posteriors`` of a batch of walkers, split into ``processes`` parts: the first
    evaluated in this process, the others in the pool's ``processes - 1`` workers.

    The sampler's vectorized log probability (``emcee.EnsembleSampler(vectorize=True)``): the
    walkers that step together (all of them in the independent-chain modes, half in
    differential evolution) are evaluated as patients of the same engine calls, one part per
    core, instead of one walker per pool task; the sampler's own process takes a part rather
    than waiting, so ``processes`` processes share ``processes`` cores.
    """

    def __init__(self, pool: Any, processes: int) -> None:
        self.pool, self.processes = pool, max(1, processes)

    def __call__(self, xs: np.ndarray) -> np.ndarray:
        parts = [part for part in np.array_split(xs, self.processes) if len(part)]
        if self.pool is None or len(parts) == 1:
            return log_posteriors(xs)
        others = [self.pool.apply_async(log_posteriors, (part,)) for part in parts[1:]]
        first = log_posteriors(parts[0])
        return np.concatenate([first, *(task.get() for task in others)])


def run(
    model: Mapping[str, Any],
    data: Mapping[str, Any],
    n_walkers: int = N_WALKERS,
    n_steps: int = N_STEPS,
    seed: int = 20261128,
    processes: int = 2,
    dt_days: float = 1.0,
    backend: str | Path | None = None,
    progress: bool = False,
    adapt_steps: int = 0,
    start_from: np.ndarray | None = None,
    proposal_chain: np.ndarray | None = None,
    gaussian_share: float = GAUSSIAN_SHARE,
    proposal_scale: float = 1.0,
    independence: CopulaMixture | None = None,
    independence_share: float = 0.0,
    priors_file: str = priors.DEFAULT_FILE,
) -> dict[str, np.ndarray]:
    """Run (or continue) the ensemble sampler; return the chain of x (n_steps, n_walkers, d),
    its log posterior (n_steps, n_walkers) and the acceptance fraction per walker.

    ``backend``: an HDF5 file (emcee.backends.HDFBackend) that keeps the chain as it grows;
    when it already holds steps, the run continues from its last state for ``n_steps`` more,
    with the random-walk proposal taken from the ensemble's covariance over its last
    ``adapt_steps`` steps if that is > 0 (a one-off adaptation: the steps before belong to the
    burn-in). ``start_from``: walkers to start a new chain from, e.g. the ``last_walkers`` of a
    posterior file (``--start-from``), of which ``n_walkers`` evenly spaced ones are taken.
    ``proposal_chain``: an earlier chain (steps, walkers, d) whose covariance sets the
    random-walk proposal of a new chain (``--proposal-from``), times ``proposal_scale``^2.
    ``independence``: a proposal fitted to an earlier chain (``--independence-from``), used for
    ``independence_share`` of the steps; a new chain without ``start_from`` starts from its
    draws (``calibration.proposal``). ``priors_file``: the priors (``calibration.priors``).
    """
    import emcee

    _setup(model, dt_days, priors_file)
    n_dim = len(_STATE["names"])
    store = emcee.backends.HDFBackend(str(backend)) if backend else None
    resume = store is not None and Path(backend).exists() and store.iteration > 0
    start = None
    if not resume:
        if start_from is not None:  # a previous run's last ensemble state
            start = chosen_walkers(np.asarray(start_from, dtype=np.float64), n_walkers)
            n_walkers = start.shape[0]
        elif independence is not None:  # draws of the learnt map of the posterior
            start = independence.draw(n_walkers, np.random.default_rng(seed))
        else:
            cov = uncertainty.block_covariance(data, BLOCK)
            gen = np.random.default_rng(seed)
            start = initial_walkers(cov, _STATE["low"], _STATE["high"], n_walkers, gen)
        if store is not None:
            store.reset(n_walkers, start.shape[1])
    if resume and adapt_steps > 0:  # the ensemble's own covariance, from its last steps
        proposal_chain = store.get_chain()[-adapt_steps:]
    proposal = proposal_covariance(data, proposal_chain, n_dim, proposal_scale)
    context = multiprocessing.get_context("fork")
    workers = context.Pool(processes - 1) if processes > 1 else contextlib.nullcontext()
    with workers as pool:
        sampler = emcee.EnsembleSampler(
            n_walkers,
            n_dim,
            PooledPosterior(pool, processes),
            moves=sampler_moves(proposal, gaussian_share, independence, independence_share),
            backend=store,
            vectorize=True,
        )
        if not resume:
            sampler.random_state = np.random.RandomState(seed).get_state()
        # independent chains may be fewer than the dimension: no ensemble check then
        independent = gaussian_share >= 1.0 or independence is not None
        sampler.run_mcmc(start, n_steps, progress=progress, skip_initial_state_check=independent)
    return chain_of(sampler.backend)


def chain_of(source: Any) -> dict[str, np.ndarray]:
    """Return the chain of x, the log posterior and the acceptance fraction per walker, of a
    sampler or a backend."""
    return {
        "chain": source.get_chain(),
        "log_prob": source.get_log_prob(),
        "acceptance": source.accepted / max(source.iteration, 1),
    }


def read_backend(
    model: Mapping[str, Any], backend: str | Path, priors_file: str = priors.DEFAULT_FILE
) -> dict[str, np.ndarray]:
    """Return ``chain_of`` a finished or running HDF5 backend (read only)."""
    import emcee

    _setup(model, 1.0, priors_file)
    return chain_of(emcee.backends.HDFBackend(str(backend), read_only=True))


def learnt_proposal(
    model: Mapping[str, Any], paths: Sequence[str], burns: Sequence[int], components: int, seed: int
) -> CopulaMixture:
    """Return the independence proposal fitted to earlier chains (HDF5 files), each without its
    first ``burns[i]`` steps (one value: the same for all)."""
    burns = list(burns) * len(paths) if len(burns) == 1 else list(burns)
    if len(burns) != len(paths):
        raise ValueError(f"--independence-burn: one value or one per chain ({len(paths)})")
    samples = []
    for path, burn in zip(paths, burns, strict=True):
        chain = read_backend(model, path)["chain"][burn:]
        samples.append(chain.reshape(-1, chain.shape[-1]))
    low, high = _STATE["low"], _STATE["high"]
    return CopulaMixture.fit(np.vstack(samples), low, high, components, seed)


def posterior_content(model, data, result, burn: int, n_draws: int, settings: Mapping) -> dict:
    """Return the content of the posterior file (module docstring)."""
    names = uncertainty.block_names(data, BLOCK)
    fitted = calibrate.initial_values(dict(model), names)
    diag = diagnostics(result["chain"], names, burn)
    thinned = thinned_draws(result["chain"], burn, 2 * n_draws)
    draws, unstable = stable_draws(thinned, n_draws, model, _STATE["names"], _STATE["dt"])
    return {
        "block": BLOCK,
        "likelihood": LIKELIHOOD,  # calibration.likelihood; the priors: priors_file
        "priors_file": _STATE["priors_file"],
        "names": [f"{b}.{k}" for b, k in names],
        "fitted_values": [float(v) for v in fitted],
        "log_shifts": [[round(float(v), 8) for v in row] for row in draws],
        # the ensemble's last state: ``--start-from`` continues the chain from here
        "last_walkers": [[float(v) for v in row] for row in result["chain"][-1]],
        "diagnostics": diag,
        "max_rhat": max(d["rhat"] for d in diag.values()),
        "converged": bool(max(d["rhat"] for d in diag.values()) < RHAT_MAX),
        "min_ess_bulk": min(d["ess_bulk"] for d in diag.values()),
        "acceptance_fraction": float(np.mean(result["acceptance"])),
        "unstable_fraction": unstable,
        "settings": {**settings, "burn": burn, "n_draws": n_draws},
        "provenance": {
            "written": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "git_commit": git_commit(),
            "command": "python -m osteotrial.calibration.posterior --write",
        },
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: run the sampler, print the diagnostics, optionally write the file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--walkers", type=int, default=N_WALKERS)
    parser.add_argument("--steps", type=int, default=N_STEPS, help="steps to run (0: none)")
    parser.add_argument("--burn", type=int, default=BURN)
    parser.add_argument("--draws", type=int, default=N_DRAWS)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--model", default="config/model.yaml")
    parser.add_argument("--backend", default=None, help="HDF5 file keeping the chain (resumes)")
    parser.add_argument("--adapt", type=int, default=0, help="resume: proposal from last steps")
    parser.add_argument("--start-from", default=None, help="posterior file or .h5 chain")
    parser.add_argument("--proposal-from", default=None, help="HDF5 chain: proposal covariance")
    parser.add_argument("--proposal-steps", type=int, default=1000, help="... of its last steps")
    parser.add_argument("--proposal-scale", type=float, default=1.0, help="x 2.38 / sqrt(d)")
    parser.add_argument("--gaussian-share", type=float, default=GAUSSIAN_SHARE)
    parser.add_argument("--independence-from", nargs="+", help="HDF5 chains: learnt proposal")
    parser.add_argument("--independence-burn", type=int, nargs="+", default=[0], help="each's")
    parser.add_argument("--independence-share", type=float, default=0.5)
    parser.add_argument("--components", type=int, default=8, help="of the learnt proposal")
    parser.add_argument("--priors", default=priors.DEFAULT_FILE, help="literature priors")
    parser.add_argument("--output", default=DEFAULT_FILE)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    with open(args.model, encoding="utf-8") as handle:
        model = safe_load_fast(handle)
    data = uncertainty.load_uncertainty()
    start = None
    if args.start_from and args.start_from.endswith(".h5"):  # an earlier chain's last state
        start = read_backend(model, args.start_from)["chain"][-1]
    elif args.start_from:
        previous = load_posterior(args.start_from)
        posterior_shifts(previous, model, 0)  # refuses walkers drawn at other fitted values
        start = np.asarray(previous["last_walkers"])
    proposal_chain = None
    if args.proposal_from:
        proposal_chain = read_backend(model, args.proposal_from)["chain"][-args.proposal_steps :]
    independence = None
    if args.independence_from:
        independence = learnt_proposal(
            model, args.independence_from, args.independence_burn, args.components, args.seed
        )
    if args.steps > 0:
        result = run(
            model, data, args.walkers, args.steps, args.seed, args.processes,
            backend=args.backend, progress=True, adapt_steps=args.adapt, start_from=start,
            proposal_chain=proposal_chain, gaussian_share=args.gaussian_share,
            proposal_scale=args.proposal_scale, independence=independence,
            independence_share=args.independence_share, priors_file=args.priors,
        )  # fmt: skip
    else:
        result = read_backend(model, args.backend, args.priors)
    n_steps = result["chain"].shape[0]
    settings = {
        "walkers": int(result["chain"].shape[1]), "steps": n_steps, "seed": args.seed,
        "proposal_from": args.proposal_from, "proposal_scale": args.proposal_scale,
        "independence_from": args.independence_from, "components": args.components,
        "independence_share": args.independence_share if args.independence_from else 0.0,
    }  # fmt: skip
    content = posterior_content(model, data, result, args.burn, args.draws, settings)
    for name, d in content["diagnostics"].items():
        tau = d["autocorr_steps"]
        print(f"{name:50s} rhat {d['rhat']:.4f} ess {d['ess_bulk']:7.0f} tau {tau:6.1f}")
    accepted = content["acceptance_fraction"]
    print(f"steps {n_steps}, max R-hat {content['max_rhat']:.4f}, min bulk ESS "
          f"{content['min_ess_bulk']:.0f}, acceptance {accepted:.3f}")  # fmt: skip
    if args.write:
        Path(args.output).write_text(
            "# Posterior draws of the remodeling calibration (osteotrial.calibration.posterior)\n"
            + yaml.safe_dump(content, sort_keys=False, width=100),
            encoding="utf-8",
        )
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
