"""Fit the shared source population to the screened baselines of FRAME and FREEDOM.

The only calibration data are the ``baseline`` blocks of targets.yaml. One source population
(age mean and SD, T-score means, age-hip T-score correlation, VF intercept) is fitted so that
the FRAME and the FREEDOM screening of it land on both trials' baselines: residuals are
(screened mean - target) / tol, minimized by ``scipy.optimize.least_squares``. Screened means
use every eligible candidate among ``n_candidates`` common draws (common random numbers, so
the objective is deterministic). Run ``python -m osteotrial.cohort.fit`` to re-fit; copy the
printed values into the defaults of ``PopulationParams``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize

from osteotrial.calibration.targets import read_targets
from osteotrial.cohort.population import (
    PopulationParams,
    covariates_from_draws,
    raw_candidate_draws,
)
from osteotrial.cohort.spec import Eligibility, is_eligible

FIT_SEED = 20240601
FIT_CANDIDATES = 400_000
FREE_PARAMETERS: tuple[str, ...] = (
    "age_years_mean",
    "age_years_sd",
    "tscore_ls_mean",
    "tscore_th_mean",
    "tscore_fn_mean",
    "corr_age_tscore_hip",
    "vf_logit_intercept",
    "tscore_ls_sd",
    "vf_log_or_per_decade",
)
# Starting values (literature-shaped guesses, see docs/cohort.md) and bounds of the fit; the
# fit always starts here, so re-running it reproduces the defaults of PopulationParams.
FIT_START: dict[str, float] = {
    "age_years_mean": 66.0,
    "age_years_sd": 9.0,
    "tscore_ls_mean": -1.5,
    "tscore_th_mean": -1.2,
    "tscore_fn_mean": -1.6,
    "corr_age_tscore_hip": -0.3,
    "vf_logit_intercept": -1.5,
    "tscore_ls_sd": 1.3,
    "vf_log_or_per_decade": 0.47,
}
# Weak priors: (value - FIT_START) / scale is appended to the residuals so that the fit is
# well posed (more free parameters than targets) and re-runs land on the same values.
PRIOR_SCALE: dict[str, float] = {
    "age_years_mean": 10.0,
    "age_years_sd": 5.0,
    "tscore_ls_mean": 2.0,
    "tscore_th_mean": 2.0,
    "tscore_fn_mean": 2.0,
    "corr_age_tscore_hip": 0.3,
    "vf_logit_intercept": 2.0,
    "tscore_ls_sd": 1.0,
    "vf_log_or_per_decade": 0.5,
}
_BOUNDS = {
    "age_years_mean": (50.0, 85.0),
    "age_years_sd": (4.0, 15.0),
    "corr_age_tscore_hip": (-0.7, 0.0),
    "vf_logit_intercept": (-6.0, 2.0),
    "tscore_ls_sd": (0.7, 1.6),
    "vf_log_or_per_decade": (0.3, 0.9),  # OR 1.35-2.5 per decade of age
}
# Absolute finite-difference steps: large enough that the screened means (which move in
# steps of 1 / n_eligible as candidates cross a window edge) change smoothly.
_FD_STEP = {"age_years_mean": 0.2, "age_years_sd": 0.1, "corr_age_tscore_hip": 0.01}
# Trial eligibility as in targets.yaml design blocks (Cosman 2016 S1; Cummings 2009).
TRIAL_ELIGIBILITY: dict[str, Eligibility] = {
    "frame": Eligibility(55.0, 90.0, -3.5, -2.5, ("TH", "FN"), True, True, 2),
    "freedom_bmd_only": Eligibility(60.0, 90.0, -4.0, -2.5, ("LS", "TH"), False, True, 2),
}
_BASELINE_COLUMNS = {
    "age_mean_years": "age_years",
    "LS": "tscore_ls",
    "TH": "tscore_th",
    "FN": "tscore_fn",
}


def baseline_targets(path: Path | None = None) -> dict[str, dict[str, tuple[float, float]]]:
    """Return {trial: {quantity: (value, tol)}} from the ``baseline`` blocks of targets.yaml.

    Quantities: age_mean_years, prevalent_vertebral_fracture, LS, TH, FN (those present).
    ``path``: a targets file (default config/targets.yaml), read by the one loader,
    ``osteotrial.calibration.targets.read_targets``.
    """
    data = read_targets(path)
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for trial in TRIAL_ELIGIBILITY:
        base = data["trials"][trial]["baseline"]
        targets = {k: (base[k]["value"], base[k]["tol"]) for k in base if k != "t_score_mean"}
        tscores = base.get("t_score_mean", {})
        targets |= {s: (tscores[s], tscores["tol"]) for s in ("LS", "TH", "FN") if s in tscores}
        out[trial] = targets
    return out


def screened_baseline(covariates: Mapping[str, np.ndarray], eligibility: Eligibility) -> dict:
    """Return baseline summaries of the eligible candidates (means; shares as fractions)."""
    ok = is_eligible(covariates, eligibility)
    summary = {key: float(covariates[col][ok].mean()) for key, col in _BASELINE_COLUMNS.items()}
    summary["prevalent_vertebral_fracture"] = float(
        np.mean(covariates["prevalent_vertebral_fracture_count"][ok] > 0)
    )
    summary["bmi_kg_m2"] = float(covariates["bmi_kg_m2"][ok].mean())
    summary["prior_nonvertebral_fracture"] = float(
        np.mean(covariates["prior_nonvertebral_fracture"][ok])
    )
    summary["eligible_frac"] = float(ok.mean())
    return summary


def _residuals(
    raw: Mapping[str, np.ndarray],
    pop: PopulationParams,
    targets: Mapping[str, Mapping[str, tuple[float, float]]],
) -> np.ndarray:
    """Return (screened - target) / tol for every baseline target of every trial, shape (k,)."""
    covariates = covariates_from_draws(raw, pop)
    res = []
    for trial, trial_targets in targets.items():
        summary = screened_baseline(covariates, TRIAL_ELIGIBILITY[trial])
        res += [(summary[k] - value) / tol for k, (value, tol) in trial_targets.items()]
    return np.array(res)


def fit_population(
    seed: int = FIT_SEED,
    n_candidates: int = FIT_CANDIDATES,
    free: Sequence[str] = FREE_PARAMETERS,
    start: PopulationParams | None = None,
    targets_path: Path | None = None,
) -> tuple[PopulationParams, dict[str, Any]]:
    """Fit the free population parameters to both trials' screened baselines.

    Returns
    -------
    (PopulationParams, dict)
        The fitted parameters and a report with the fitted values, the residuals in units of
        tol, and the screened baseline summaries per trial.
    """
    start = start or dataclasses.replace(PopulationParams(), **FIT_START)
    targets = baseline_targets(targets_path)
    raw = raw_candidate_draws(seed, np.arange(n_candidates, dtype=np.int64))
    x0 = np.array([getattr(start, name) for name in free])
    lower = np.array([_BOUNDS.get(n, (-6.0, 3.0))[0] for n in free])
    upper = np.array([_BOUNDS.get(n, (-6.0, 3.0))[1] for n in free])
    steps = np.array([_FD_STEP.get(n, 0.02) for n in free])
    scales = np.array([PRIOR_SCALE.get(n, 1.0) for n in free])

    def fun(x: np.ndarray) -> np.ndarray:
        pop = dataclasses.replace(start, **dict(zip(free, map(float, x), strict=True)))
        return np.concatenate([_residuals(raw, pop, targets), (x - x0) / scales])

    def jac(x: np.ndarray) -> np.ndarray:
        f0 = fun(x)
        return np.stack(
            [(fun(x + h * e) - f0) / h for h, e in zip(steps, np.eye(len(x)), strict=True)], 1
        )

    result = optimize.least_squares(fun, x0, jac=jac, bounds=(lower, upper), x_scale=steps)
    fitted = dataclasses.replace(start, **dict(zip(free, map(float, result.x), strict=True)))
    covariates = covariates_from_draws(raw, fitted)
    report = {
        "fitted": {name: getattr(fitted, name) for name in free},
        "residuals_in_tol": result.fun[: -len(free)].round(3).tolist(),
        "prior_residuals": result.fun[-len(free) :].round(3).tolist(),
        "screened": {t: screened_baseline(covariates, e) for t, e in TRIAL_ELIGIBILITY.items()},
        "targets": targets,
        "seed": seed,
        "n_candidates": n_candidates,
    }
    return fitted, report


def main() -> None:
    """Run the fit and print the fitted values and the screened baselines vs targets."""
    _, report = fit_population()
    print(f"fitted to targets.yaml frame/freedom baseline by cohort_fit.py, seed {report['seed']}")
    for name, value in report["fitted"].items():
        print(f"    {name}: float = {value:.4f}")
    print("residuals / tol:", report["residuals_in_tol"])
    for trial, summary in report["screened"].items():
        print(trial, {k: round(v, 3) for k, v in summary.items()})
        print("  targets", report["targets"][trial])


if __name__ == "__main__":
    main()
