"""Re-runnable calibration of the parameters the literature leaves open, to targets.yaml only.

The fitting machinery of the two stages: ``fit`` (weighted least squares in log space with weak
log-normal priors that keep each fitted value near its literature start when the targets do not
pin it down), ``BOUNDS``, ``apply_values`` / ``initial_values`` and ``write_values``. The
objectives are ``remodeling.remodeling_residuals`` (PK, bone cells, Wnt, BMD) and
``fracture.fracture_residuals`` (hazard scales, remodeling-space effects); every published value in
them is read from config/targets.yaml through ``targets.read_targets`` and every design from
config/trials/*.yaml (``remodeling.remodeling_targets`` and ``fracture.fracture_targets`` list
their terms, each with where it comes from).

Run ``python -m osteotrial.calibration.calibrate --stage remodeling --write``
(or ``fracture``; or ``exposure``: the background-exposure block alone,
``calibration.exposure``; the bisphosphonate and men's stages have their own commands,
``python -m osteotrial.calibration.bisphosphonate`` and ``... .men``); with --write the fitted
values are written into config/model.yaml in place (comments kept).
"""

from __future__ import annotations

import argparse
import copy
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import optimize

from osteotrial.units import DAYS_PER_MONTH
from osteotrial.yaml_strict import safe_load_fast

MONTH = DAYS_PER_MONTH
PRIOR_SD_LOG = 1.5


def apply_values(
    model: dict[str, Any], names: Sequence[tuple[str, str]], values: Sequence[float]
) -> dict[str, Any]:
    """Return a copy of the model mapping with fitted values set (LS/FN scales applied)."""
    out = copy.deepcopy(model)
    scales = {}
    for (block, key), value in zip(names, values, strict=True):
        if key == "scale":
            scales[block] = value
            continue
        node = out
        for part in block.split("."):
            node = node[part]
        node[key] = float(value)
    for block, scale in scales.items():
        site = block.split(".")[1]
        for key in ("gamma_ob", "gamma_oc"):
            out["bmd"][site][key] = float(out["bmd"]["th"][key] * scale)
    return out


def initial_values(model: Mapping[str, Any], names: Sequence[tuple[str, str]]) -> np.ndarray:
    """Return the values of the fitted ``names`` in a model mapping, in the order of ``names``.

    The inverse of ``apply_values``: a ``(bmd.<site>, scale)`` name gives the site's gamma_ob
    over the total-hip gamma_ob; any other ``(block, key)`` the value at ``model[block][key]``
    (``block`` dotted for nested blocks).
    """
    values = []
    for block, key in names:
        if key == "scale":
            site = block.split(".")[1]
            values.append(model["bmd"][site]["gamma_ob"] / model["bmd"]["th"]["gamma_ob"])
            continue
        node = model
        for part in block.split("."):
            node = node[part]
        values.append(node[key])
    return np.asarray(values, dtype=float)


# Bounds of the fitted values: they keep the fixed-step integrator stable at dt <= 1 day.
BOUNDS: dict[str, tuple[float, float]] = {
    "denosumab_rankl_access_frac": (1e-3, 1.0),
    "precursor_use_per_day": (1e-4, 0.1),
    # slow rates need no stability guard: the schema's lower end (a fit on 1e-3 put the
    # posterior's box edge at the fit, and log p = -inf there)
    "precursor_renewal_per_day": (1e-4, 0.05),
    # the schema's range (config.schema.json), not a stability guard: the engines' stiff
    # re-stepping (engine/loop.py restep_lane) follows fast osteoclast removal (issue 24)
    "oca_apoptosis_per_day": (0.08, 8.0),
    "obp_differentiation_per_day": (0.02, 1.0),
    "wnt_max_fold": (1.2, 20.0),
    "wnt_commitment_exponent": (0.05, 2.0),
    "wnt_differentiation_exponent": (0.05, 2.0),
    "wnt_opg_exponent": (0.05, 3.0),
    "tolerance_gain": (0.05, 20.0),
    "tolerance_per_day": (1e-4, 0.2),
    "turnover_um_per_year": (2.0, 40.0),
    "cortical_loss_share_frac": (0.05, 0.95),
    "strength_trabecular_share_frac": (0.05, 0.95),
    "modeling_formation_frac": (0.01, 0.8),
    "remodeling_space_log_hr": (0.01, 3.0),
    "gamma_ob": (0.01, 3.0),
    "gamma_oc": (0.01, 3.0),
    "scale": (0.3, 5.0),
    "vmax_mg_per_day": (1e-3, 10.0),
    "km_mg_l": (1e-3, 10.0),
    "vc_l": (1.0, 10.0),
    "cl_l_per_day": (0.01, 2.0),
    "apoptosis_max_rel": (0.05, 50.0),  # bisphosphonate stage (calibration.bisphosphonate)
    "risedronate_potency_rel": (0.05, 50.0),  # bisphosphonate stage, part risedronate
    # stage exposure (calibration.exposure)
    "androgen_deprivation_rankl_rise_frac": (0.01, 10.0),
    "aromatase_inhibitor_rankl_rise_frac": (0.01, 10.0),
    "sex_steroid_cortical_activation_gain": (0.01, 10.0),
    "glucocorticoid_half_effect_mg_per_day": (1.0, 300.0),
    "glucocorticoid_hill": (0.5, 6.0),
    "glucocorticoid_oba_apoptosis_gain": (0.01, 20.0),
    "glucocorticoid_rankl_rise_frac": (0.01, 20.0),
}


def fit(
    model: dict[str, Any],
    names: Sequence[tuple[str, str]],
    residuals: Callable[[dict[str, Any]], np.ndarray],
    max_nfev: int = 400,
    verbose: int = 1,
) -> dict[str, Any]:
    """Fit the named values (in log space, weak priors) and return the fitted model mapping."""
    x0 = np.log(initial_values(model, names))
    low = np.log([BOUNDS.get(k, (1e-6, 1e6))[0] for _, k in names])
    high = np.log([BOUNDS.get(k, (1e-6, 1e6))[1] for _, k in names])
    n_res = residuals(model).size

    def objective(x: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            res = residuals(apply_values(model, names, np.exp(x)))
        if not np.all(np.isfinite(res)):
            res = np.full(n_res, 1e3)
        return np.concatenate([res, (x - x0) / PRIOR_SD_LOG])

    start = np.clip(x0, low + 1e-9, high - 1e-9)
    result = optimize.least_squares(
        objective,
        start,
        bounds=(low, high),
        method="trf",
        diff_step=1e-3,
        max_nfev=max_nfev,
        verbose=verbose,
    )
    return apply_values(model, names, np.exp(result.x))


def write_values(path: str, model: dict[str, Any], names: Sequence[tuple[str, str]]) -> None:
    """Write the fitted values into the YAML file in place, keeping every comment."""
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    targets = {(b, k) for b, k in names if k != "scale"}
    targets |= {(f"bmd.{s}", g) for s in ("ls", "fn") for g in ("gamma_ob", "gamma_oc")}
    stack: list[tuple[int, str]] = []
    for n, line in enumerate(lines):
        m = re.match(r"^(\s*)([A-Za-z_0-9]+):(\s*)([^#\n]*?)(\s*(#.*)?)$", line)
        if not m or line.lstrip().startswith("#"):
            continue
        indent = len(m.group(1))
        stack = [(i, k) for i, k in stack if i < indent]
        block = ".".join(k for _, k in stack)
        if m.group(4) == "":
            stack.append((indent, m.group(2)))
            continue
        if (block, m.group(2)) in targets:
            node = model
            for part in block.split("."):
                node = node[part]
            value = f"{node[m.group(2)]:.6g}"
            lines[n] = f"{m.group(1)}{m.group(2)}:{m.group(3) or ' '}{value}{m.group(5)}"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: run one calibration stage and optionally write the values."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--stage",
        choices=("remodeling", "fracture", "exposure"),
        required=True,
    )
    parser.add_argument("--model", default="config/model.yaml")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--max-nfev", type=int, default=400)
    args = parser.parse_args(argv)
    with open(args.model, encoding="utf-8") as handle:
        model = safe_load_fast(handle)
    if args.stage == "remodeling":
        from osteotrial.calibration.remodeling import REMODELING_FIT, remodeling_residuals

        names, residuals = REMODELING_FIT, remodeling_residuals
    elif args.stage == "exposure":  # only the exposure block; every shared value fixed
        from osteotrial.calibration.exposure import EXPOSURE_FIT, exposure_residuals

        names, residuals = EXPOSURE_FIT, exposure_residuals
    else:
        from osteotrial.calibration.fracture import FRACTURE_FIT, fracture_residuals

        names, residuals = FRACTURE_FIT, fracture_residuals
    fitted = fit(model, names, residuals, args.max_nfev)
    print("residuals:", np.round(residuals(fitted), 2))
    for block, key in names:
        print(block, key, initial_values(fitted, [(block, key)])[0])
    if args.write:
        write_values(args.model, fitted, names)


if __name__ == "__main__":
    main()
