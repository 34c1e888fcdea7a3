"""The calibration's uncertainty: a Laplace covariance of the fitted values, per stage.

``calibrate.fit`` minimizes, over the log values x of the fitted parameters,

    S(x) = |r(x)|^2 + |(x - x0) / s_p|^2,

with r the weighted target residuals ((model - target) / SD, ``remodeling.remodeling_residuals``
or ``fracture.fracture_residuals``, every target read from config/targets.yaml), x0 the
literature starts and s_p = ``calibrate.PRIOR_SD_LOG``. Read as a negative log posterior
(times 2), its Laplace approximation at the fitted values x_hat is a normal distribution of x
with covariance

    C = (J^T J + I / s_p^2)^-1,

J = dr/dx at x_hat (Gauss-Newton Hessian; central differences of step ``STEP_LOG`` in log
space, one-sided into the box where a value sits on a bound of ``calibrate.BOUNDS``). Residuals
that are step functions of the parameters (``DISCRETE_RESIDUALS``) get zero rows. A value on a
bound of the fit is held there (log_sd 0) and the free values get the covariance of the reduced
problem (the Laplace approximation on the face of the box where the fit ended).

The two stages are fitted separately, on different targets, so they are independent blocks
(block-diagonal C): the fracture block is conditioned on the fitted remodeling values, and the
remodeling block ignores the fracture targets. How the fracture optimum moves with the
remodeling values is written too (``conditional_block``): its residuals at the fit r0, its
Jacobian J_f and the gain G = -P_f^-1 J_f^T J_x (J_x = dr_f / dx_remodeling, P_f = J_f^T J_f +
I / s_p^2), so that a drawn remodeling set finds its fracture optimum without a re-fit.
``python -m osteotrial.calibration.uncertainty --write``
writes both blocks to ``config/model_uncertainty.yaml`` (fitted values, log-SDs, correlations,
bounds, the sampler of each block, provenance);
``osteotrial.calibration.parameter_sets`` draws from it.
"""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from osteotrial.calibration import calibrate
from osteotrial.provenance import git_commit
from osteotrial.yaml_strict import safe_load_fast

STEP_LOG = 1e-3
DEFAULT_FILE = "config/model_uncertainty.yaml"
# Residuals that are step functions of the parameters (indices into the stage's residuals):
# denosumab and romosozumab tmax, argmax of a daily concentration grid. Their derivative is 0
# or a jump (~1/step), never a curvature, so their Jacobian rows are set to 0.
DISCRETE_RESIDUALS: dict[str, tuple[int, ...]] = {"remodeling": (0, 4), "fracture": ()}
# How parameter sets are drawn per block (osteotrial.calibration.parameter_sets): "posterior"
# (draw k of the posterior file written offline by osteotrial.calibration.posterior), "metropolis"
# (a chain on the stage's exact objective, the Laplace covariance as proposal; the remodeling
# stage is far from linear over its posterior), "laplace" (normal draws around the fitted values) or
# "conditional_laplace" (the fracture stage, near linear: normal draws around its values moved to
# their conditional optimum given the blocks drawn before it, ``conditional_block``).
SAMPLERS: dict[str, str] = {"remodeling": "posterior", "fracture": "conditional_laplace"}
# The draws of a "posterior" block (osteotrial.calibration.posterior).
POSTERIOR_FILES: dict[str, str] = {"remodeling": "config/model_posterior.yaml"}
# The stage a conditional block is conditioned on.
CONDITIONED_ON: dict[str, str] = {"fracture": "remodeling"}
Names = Sequence[tuple[str, str]]


def stages() -> dict[str, tuple[Names, Callable[[dict[str, Any]], np.ndarray]]]:
    """Return the calibration stages: name -> (fitted (block, key) names, residual function)."""
    from osteotrial.calibration.fracture import FRACTURE_FIT, fracture_residuals
    from osteotrial.calibration.remodeling import REMODELING_FIT, remodeling_residuals

    return {
        "remodeling": (REMODELING_FIT, remodeling_residuals),
        "fracture": (FRACTURE_FIT, fracture_residuals),
    }


def fit_bounds(key: str) -> tuple[float, float]:
    """Return the bounds ``calibrate.fit`` uses for a fitted key."""
    return calibrate.BOUNDS.get(key, (1e-6, 1e6))


def jacobian(
    residuals: Callable[[dict[str, Any]], np.ndarray],
    model: dict[str, Any],
    names: Names,
    step: float = STEP_LOG,
) -> np.ndarray:
    """Return dr/dx, shape (n_residuals, n_names), x the log values of ``names`` in ``model``.

    Central differences of ``step`` in log space; forward or backward (into the box) for a value
    that sits within ``step`` of a bound of ``fit_bounds``.
    """
    x = np.log(calibrate.initial_values(model, names))
    columns = []
    for j, (_, key) in enumerate(names):
        low, high = np.log(fit_bounds(key))
        up = step if x[j] + step <= high + 1e-12 else 0.0
        down = step if x[j] - step >= low - 1e-12 else 0.0
        if up == down == 0.0:
            raise ValueError(f"{key}: bounds {fit_bounds(key)} are narrower than step {step}")
        values = []
        for shift in (up, -down):
            shifted = x.copy()
            shifted[j] += shift
            values.append(residuals(calibrate.apply_values(model, names, np.exp(shifted))))
        columns.append((values[0] - values[1]) / (up + down))
    jac = np.column_stack(columns)
    if not np.all(np.isfinite(jac)):
        raise ValueError("the Jacobian has non-finite entries: a residual failed near the fit")
    return jac


def laplace_covariance(jac: np.ndarray, prior_sd_log: float = calibrate.PRIOR_SD_LOG) -> np.ndarray:
    """Return (J^T J + I / prior_sd_log^2)^-1, the Laplace covariance of the log values."""
    precision = jac.T @ jac + np.eye(jac.shape[1]) / prior_sd_log**2
    cov = np.linalg.inv(precision)
    return (cov + cov.T) / 2.0


def _at_bound(key: str, value: float) -> str | None:
    low, high = fit_bounds(key)
    if value >= high * (1 - 1e-9):
        return "upper"
    return "lower" if value <= low * (1 + 1e-9) else None


def stage_block(model: dict[str, Any], stage: str, step: float = STEP_LOG) -> dict[str, Any]:
    """Return the covariance block of one calibration stage, as written to the YAML file.

    A value on a bound of the fit is held there (log_sd 0): the free values get the covariance
    of the reduced problem, (P_ff)^-1 with P = J^T J + I / s_p^2 (the Laplace approximation on
    the face of the box where the fit ended). ``log_sd_unbounded`` is the SD every value would
    have without the bounds, sqrt(diag(P^-1)), for information.
    """
    names, residuals = stages()[stage]
    fitted = calibrate.initial_values(model, names)
    jac = jacobian(residuals, model, names, step)
    jac[list(DISCRETE_RESIDUALS[stage]), :] = 0.0
    bound = [_at_bound(key, value) for (_, key), value in zip(names, fitted, strict=True)]
    free = np.array([b is None for b in bound])
    unbounded_sd = np.sqrt(np.diag(laplace_covariance(jac)))
    corr = np.eye(len(names))
    sd = np.zeros(len(names))
    cov_free = laplace_covariance(jac[:, free])
    sd[free] = np.sqrt(np.diag(cov_free))
    corr[np.ix_(free, free)] = cov_free / np.outer(sd[free], sd[free])
    parameters = []
    for j, (block, key) in enumerate(names):
        parameters.append(
            {
                "name": f"{block}.{key}",
                "fitted": float(f"{fitted[j]:.6g}"),
                "log_sd": float(f"{sd[j]:.4g}"),
                "log_sd_unbounded": float(f"{unbounded_sd[j]:.4g}"),
                "sd_over_prior": float(f"{unbounded_sd[j] / calibrate.PRIOR_SD_LOG:.3g}"),
                "bounds": list(fit_bounds(key)),
                "at_bound": bound[j],
            }
        )
    block = {
        "sampler": SAMPLERS[stage],
        **({"posterior_file": POSTERIOR_FILES[stage]} if stage in POSTERIOR_FILES else {}),
        "n_residuals": int(residuals(model).size),
        "discrete_residuals_ignored": list(DISCRETE_RESIDUALS[stage]),
        "parameters": parameters,
        "correlation": [[float(f"{c:.6f}") for c in row] for row in corr],
    }
    if stage in CONDITIONED_ON:
        block["conditional"] = conditional_block(model, stage, jac, step)
    return block


def _rows(matrix: np.ndarray) -> list[list[float]]:
    return [[float(f"{v:.6g}") for v in row] for row in np.atleast_2d(matrix)]


def conditional_block(
    model: dict[str, Any], stage: str, jac: np.ndarray, step: float = STEP_LOG
) -> dict[str, Any]:
    """Return how a conditional stage's optimum moves with the stage it is conditioned on.

    ``jac``: dr/dx of the stage's own values at the fit. Linearizing the optimality condition
    J_f^T r + (x_f - x_0) / s_p^2 = 0 in both blocks gives the shift of the optimum
    dx_f = G dx_c, G = -P_f^-1 J_f^T J_x; r0 and J_f let ``parameter_sets`` take one
    Gauss-Newton step from there on the exact residuals.
    """
    on = CONDITIONED_ON[stage]
    names, residuals = stages()[stage]
    on_names = stages()[on][0]
    cross = jacobian(residuals, model, on_names, step)
    precision = jac.T @ jac + np.eye(jac.shape[1]) / calibrate.PRIOR_SD_LOG**2
    gain = -np.linalg.solve(precision, jac.T @ cross)
    return {
        "on": on,
        "residuals_at_fit": [float(f"{v:.6g}") for v in residuals(model)],
        "jacobian": _rows(jac),
        "gain": _rows(gain),
    }


def build_uncertainty(
    model: dict[str, Any], stage_names: Sequence[str], step: float = STEP_LOG
) -> dict[str, Any]:
    """Return the content of the uncertainty file for the given stages (block-diagonal)."""
    return {
        "method": (
            "Laplace approximation of the calibration posterior in log-parameter space: "
            "cov = (J^T J + I / prior_sd_log^2)^-1, J the Jacobian of the weighted target "
            "residuals (central differences, one-sided at bounds); values on a bound are held "
            "there (reduced problem of the free values); stages are independent blocks"
        ),
        "provenance": {
            "git_commit": git_commit(),
            "date": datetime.date.today().isoformat(),
            "stages": list(stage_names),
            "prior_sd_log": calibrate.PRIOR_SD_LOG,
            "step_log": step,
            "command": "python -m osteotrial.calibration.uncertainty --write",
        },
        "blocks": {stage: stage_block(model, stage, step) for stage in stage_names},
    }


def replace_blocks(data: Mapping[str, Any], path: str | Path) -> dict[str, Any]:
    """Return the uncertainty file at ``path`` with the blocks of ``data`` in place of its own.

    For a re-fit of one stage (the fracture stage after a change of its fixed inputs): the
    other blocks, and their provenance, stay as they were; ``provenance.regenerated`` records
    the commit, date and command of each replaced block.
    """
    old = load_uncertainty(path)
    new_provenance = {
        key: data["provenance"][key] for key in ("git_commit", "date", "step_log", "command")
    }
    regenerated = {**old["provenance"].get("regenerated", {})}
    regenerated.update({stage: new_provenance for stage in data["blocks"]})
    return {
        **old,
        "provenance": {**old["provenance"], "regenerated": regenerated},
        "blocks": {**old["blocks"], **data["blocks"]},
    }


def load_uncertainty(path: str | Path = DEFAULT_FILE) -> dict[str, Any]:
    """Read an uncertainty file written by ``write_uncertainty`` (path: ``locate.repo_path``)."""
    from osteotrial.trial.locate import repo_path

    with open(repo_path(path), encoding="utf-8") as handle:
        data = safe_load_fast(handle)
    if not isinstance(data, dict) or "blocks" not in data:
        raise ValueError(f"{path}: not an uncertainty file (no 'blocks'); see {DEFAULT_FILE}")
    return data


def write_uncertainty(data: Mapping[str, Any], path: str | Path = DEFAULT_FILE) -> None:
    """Write the uncertainty file (matrix rows and bounds in flow style)."""
    header = (
        "# Parameter uncertainty of the calibration (osteotrial.calibration.uncertainty;"
        " docs/analyses.md).\n"
        "# Generated by `python -m osteotrial.calibration.uncertainty --write`:"
        " do not edit by hand.\n"
        "# log_sd: SD of the natural log of the value (0: held on its bound); correlation: of the\n"
        "# log values, rows and columns in the order of `parameters`; log_sd_unbounded: the SD\n"
        "# without the bounds; sd_over_prior: log_sd_unbounded / prior_sd_log (near 1: the\n"
        "# targets do not identify the value; small: well identified).\n"
    )
    text = yaml.safe_dump(dict(data), sort_keys=False, default_flow_style=None, width=100)
    Path(path).write_text(header + text, encoding="utf-8")


def block_names(data: Mapping[str, Any], block: str) -> list[tuple[str, str]]:
    """Return the (block, key) names of one block of an uncertainty file, in file order."""
    return [tuple(p["name"].rsplit(".", 1)) for p in data["blocks"][block]["parameters"]]


def block_covariance(data: Mapping[str, Any], block: str) -> np.ndarray:
    """Return the covariance of the log values of one block, shape (n_names, n_names)."""
    parameters = data["blocks"][block]["parameters"]
    sd = np.array([p["log_sd"] for p in parameters], dtype=np.float64)
    return np.asarray(data["blocks"][block]["correlation"], dtype=np.float64) * np.outer(sd, sd)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: compute the covariance blocks, print a summary, optionally write the file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="config/model.yaml")
    parser.add_argument("--output", default=DEFAULT_FILE)
    parser.add_argument("--stages", nargs="+", default=["remodeling", "fracture"])
    parser.add_argument("--step", type=float, default=STEP_LOG)
    parser.add_argument("--check-step", type=float, default=None, help="compare with this step")
    parser.add_argument("--write", action="store_true")
    parser.add_argument(
        "--replace-blocks",
        action="store_true",
        help="keep the other blocks of --output and replace only those of --stages",
    )
    args = parser.parse_args(argv)
    with open(args.model, encoding="utf-8") as handle:
        model = safe_load_fast(handle)
    data = build_uncertainty(model, args.stages, args.step)
    if args.replace_blocks:
        data["provenance"]["command"] += " --stages " + " ".join(args.stages) + " --replace-blocks"
    for stage, block in data["blocks"].items():
        print(f"[{stage}] {block['n_residuals']} residuals")
        for p in block["parameters"]:
            print(f"  {p['name']:46s} {p['fitted']:<10.4g} log_sd {p['log_sd']:<7.3g}", end="")
            print(f" unbounded {p['log_sd_unbounded']:<7.3g} {p['at_bound'] or ''}")
    if args.check_step:
        other = build_uncertainty(model, args.stages, args.check_step)
        ratio = np.log(
            [p["log_sd_unbounded"] for b in other["blocks"].values() for p in b["parameters"]]
        ) - np.log(
            [p["log_sd_unbounded"] for b in data["blocks"].values() for p in b["parameters"]]
        )
        print(
            f"step {args.check_step} vs {args.step}: "
            f"max |log ratio| of log-SDs {abs(ratio).max():.3g}"
        )
        data["provenance"]["step_check"] = {
            "step_log": args.check_step,
            "max_abs_log_ratio_of_log_sd_unbounded": float(f"{np.abs(ratio).max():.3g}"),
        }
    if args.write:
        if args.replace_blocks:
            data = replace_blocks(data, args.output)
        write_uncertainty(data, args.output)
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
