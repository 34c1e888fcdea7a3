"""Re-runnable calibration of the parameters the literature leaves open, to targets.yaml only.

Stage ``remodeling`` fits the bone-cell, Wnt and BMD parameters on a typical FRAME/FREEDOM
patient (all variability multipliers 1) to: the romosozumab-vs-placebo P1NP and CTX course
(FRAME), FRAME 12-month BMD of the romosozumab arm per site, FREEDOM total-hip BMD of the
denosumab arm at 12/24/36 months, and denosumab's CTX suppression by day 5. Stage
``fracture`` fits the hazard scales and turnover effects to the FRAME placebo year-1
incidences and the 12-month relative risk reductions, on expected (not sampled) incidences
of a screened FRAME cohort. Weak log-normal priors keep each fitted value near its
literature start when the targets do not pin it down.

Run ``python -m osteotrial.calibration.calibrate --stage remodeling --write``
(or ``fracture``); with
--write the fitted values are written into config/model.yaml in place (comments kept).
"""

from __future__ import annotations

import argparse
import copy
import re
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

import numpy as np
import yaml
from scipy import optimize

from osteotrial.cohort.sampling import Cohort
from osteotrial.engine.simulate import simulate_arm
from osteotrial.model import pk
from osteotrial.model.params import ModelParams
from osteotrial.model.tscore import tscore_to_bmd_g_cm2
from osteotrial.trial.schedules import ArmSpec, Schedule
from osteotrial.units import DAYS_PER_MONTH

MONTH = DAYS_PER_MONTH
PRIOR_SD_LOG = 1.5

# (block, key) fitted in the remodeling stage; BMD sites LS/FN are fitted as scales of TH.
REMODELING_FIT: tuple[tuple[str, str], ...] = (
    ("denosumab", "vmax_mg_per_day"),
    ("denosumab", "km_mg_l"),
    ("romosozumab", "vc_l"),
    ("romosozumab", "cl_l_per_day"),
    ("remodeling", "denosumab_rankl_access_frac"),
    ("remodeling", "precursor_use_per_day"),
    ("remodeling", "oca_apoptosis_per_day"),
    ("remodeling", "obp_differentiation_per_day"),
    ("remodeling", "wnt_max_fold"),
    ("remodeling", "wnt_commitment_exponent"),
    ("remodeling", "wnt_differentiation_exponent"),
    ("remodeling", "wnt_opg_exponent"),
    ("remodeling", "tolerance_gain"),
    ("remodeling", "tolerance_per_day"),
    ("bmd.th", "gamma_ob"),
    ("bmd.th", "gamma_oc"),
    ("bmd.ls", "scale"),
    ("bmd.fn", "scale"),
)


def phase(drug: str, dose_mg: float, interval_days: float, start: float, stop: float) -> dict:
    """Return a regimen-phase mapping."""
    return {
        "drug": drug,
        "dose_mg": dose_mg,
        "interval_days": interval_days,
        "start_day": start,
        "stop_day": stop,
    }


DENOSUMAB_Q6M = phase("denosumab", 60.0, 182.625, 0.0, 36 * MONTH)
FRAME_ARMS = {
    "placebo": [phase("placebo", 0.0, MONTH, 0.0, 12 * MONTH)],
    "romosozumab": [phase("romosozumab", 210.0, MONTH, 0.0, 12 * MONTH)],
}


def typical_cohort(age_years: float, tscores: dict[str, float]) -> Cohort:
    """Return a one-patient cohort with the given age and T-scores and no variability."""
    columns: dict[str, np.ndarray] = {f.name: np.ones(1) for f in fields(Cohort)}
    columns.update(
        patient_id=np.zeros(1, np.int64),
        candidate_id=np.zeros(1, np.int64),
        arm=np.array(["typical"]),
        age_years=np.array([age_years]),
        bmi_kg_m2=np.array([25.0]),
        prevalent_vertebral_fracture_count=np.zeros(1, np.int64),
        prevalent_vertebral_fracture_max_grade=np.zeros(1, np.int64),
        prior_nonvertebral_fracture=np.zeros(1, bool),
        prior_hip_fracture=np.zeros(1, bool),
        dropout_day=np.array([np.inf]),
        threshold_death=np.array([1e9]),
    )
    for site, t in tscores.items():
        columns[f"tscore_{site.lower()}"] = np.array([t])
        columns[f"bmd_{site.lower()}_g_cm2"] = np.array([tscore_to_bmd_g_cm2(t, site)])
    return Cohort(**columns)


def pct(traj: np.ndarray) -> np.ndarray:
    """Return percent change from the first row, for patient 0."""
    return (traj[:, 0] / traj[0, 0] - 1.0) * 100.0


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


def _initial(model: dict[str, Any], names: Sequence[tuple[str, str]]) -> np.ndarray:
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


def pk_residuals(params: ModelParams, patient: Cohort) -> list[float]:
    """Return residuals of the single-dose PK targets (targets.yaml, pk block).

    Denosumab: tmax 10 +/- 4 days and the terminal half-life 25.4 days (log-linear fit over days
    30-120); romosozumab: Cmax 22.2 ug/mL, AUC 389 ug.day/mL (within their SD), tmax 5 days.
    """
    one_dose = Schedule(1.0, 150.0, (), (), ())
    den = simulate_arm(
        patient, ArmSpec.from_dict("d", [phase("denosumab", 60.0, 1e3, 0.0, 1.0)]), params, one_dose
    ).denosumab_ng_ml[:, 0]
    rom = (
        simulate_arm(
            patient,
            ArmSpec.from_dict("r", [phase("romosozumab", 210.0, 1e3, 0.0, 1.0)]),
            params,
            one_dose,
        ).romosozumab_ng_ml[:, 0]
        / 1e3
    )
    with np.errstate(divide="ignore"):
        half_life = pk.terminal_half_life_days(den)
    return [
        (np.argmax(den) - 10.0) / 4.0,
        (half_life - 25.4) / 4.0,
        (rom.max() - 22.2) / 2.9,
        (np.trapezoid(rom, dx=1.0) - 389.0) / 63.0,
        (np.argmax(rom) - 5.0) / 2.0,
    ]


def remodeling_residuals(model: dict[str, Any]) -> np.ndarray:
    """Return weighted residuals of the remodeling-stage targets for a model mapping."""
    params = ModelParams.from_dict(model)
    frame = typical_cohort(70.9, {"LS": -2.72, "TH": -2.47, "FN": -2.75})
    freedom = typical_cohort(72.3, {"LS": -2.8, "TH": -1.7, "FN": -1.8})
    days = (5.0, 14.0, 9 * MONTH, 12 * MONTH, 24 * MONTH, 36 * MONTH)
    year = Schedule(1.0, 12 * MONTH, (12.0,), days[:4], ())
    three = Schedule(1.0, 36 * MONTH, tuple(float(m) for m in range(1, 37)), (5.0,), ())
    pbo = simulate_arm(frame, ArmSpec.from_dict("p", FRAME_ARMS["placebo"]), params, year, False)
    rom = simulate_arm(
        frame, ArmSpec.from_dict("r", FRAME_ARMS["romosozumab"]), params, year, False
    )
    den = simulate_arm(freedom, ArmSpec.from_dict("d", [DENOSUMAB_Q6M]), params, three, False)
    i = {d: int(np.argmin(np.abs(rom.record_days - d))) for d in days[:4]}
    p1np = rom.p1np_rel[:, 0] / pbo.p1np_rel[:, 0]
    ctx = rom.ctx_rel[:, 0] / pbo.ctx_rel[:, 0]
    j = {d: int(np.argmin(np.abs(den.record_days - d))) for d in (5.0, *days[3:])}
    th_den = pct(den.bmd_th_g_cm2)
    return np.array(
        [
            *pk_residuals(params, frame),
            (p1np[i[14.0]] - 2.45) / 0.15,
            (p1np[i[days[2]]] - 1.0) / 0.08,
            (p1np[i[days[3]]] - 0.85) / 0.08,
            (ctx[i[14.0]] - 0.45) / 0.05,
            (ctx[i[days[3]]] - 0.75) / 0.05,
            (pct(rom.bmd_ls_g_cm2)[i[days[3]]] - 13.1) / 0.75,
            (pct(rom.bmd_th_g_cm2)[i[days[3]]] - 6.0) / 0.5,
            (pct(rom.bmd_fn_g_cm2)[i[days[3]]] - 5.2) / 0.75,
            max(0.0, den.ctx_rel[j[5.0], 0] - 0.18) / 0.02,
            (th_den[j[days[3]]] - 3.2) / 0.35,
            (th_den[j[days[4]]] - 4.4) / 0.35,
            (th_den[j[days[5]]] - 5.0) / 0.35,
            *continued_treatment_shape(den.ctx_rel[:, 0], th_den),
        ]
    )


def continued_treatment_shape(ctx_rel: np.ndarray, th_pct: np.ndarray) -> list[float]:
    """Return hinge residuals of two qualitative facts of continued denosumab (no trial number).

    Resorption stays below its untreated level through every dosing interval, and total-hip
    BMD does not fall from one monthly visit to the next while treatment continues.
    """
    return [
        max(0.0, float(ctx_rel.max()) - 1.0) / 0.02,
        max(0.0, float(-np.diff(th_pct).min())) / 0.05,
    ]


# Bounds of the fitted values: they keep the fixed-step integrator stable at dt <= 1 day.
BOUNDS: dict[str, tuple[float, float]] = {
    "denosumab_rankl_access_frac": (1e-3, 1.0),
    "precursor_use_per_day": (1e-4, 0.1),
    "oca_apoptosis_per_day": (0.2, 1.4),
    "obp_differentiation_per_day": (0.02, 0.3),
    "wnt_max_fold": (1.2, 6.0),
    "wnt_commitment_exponent": (0.05, 2.0),
    "wnt_differentiation_exponent": (0.05, 2.0),
    "wnt_opg_exponent": (0.05, 3.0),
    "tolerance_gain": (0.05, 5.0),
    "tolerance_per_day": (0.005, 0.2),
    "gamma_ob": (0.01, 1.5),
    "gamma_oc": (0.01, 1.5),
    "scale": (0.3, 5.0),
    "vmax_mg_per_day": (1e-3, 10.0),
    "km_mg_l": (1e-3, 10.0),
    "vc_l": (1.0, 10.0),
    "cl_l_per_day": (0.01, 2.0),
}


def fit(
    model: dict[str, Any],
    names: Sequence[tuple[str, str]],
    residuals: Callable[[dict[str, Any]], np.ndarray],
    max_nfev: int = 400,
    verbose: int = 1,
) -> dict[str, Any]:
    """Fit the named values (in log space, weak priors) and return the fitted model mapping."""
    x0 = np.log(_initial(model, names))
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
            value = f"{node[m.group(2)]:.4g}"
            lines[n] = f"{m.group(1)}{m.group(2)}:{m.group(3) or ' '}{value}{m.group(5)}"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: run one calibration stage and optionally write the values."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stage", choices=("remodeling", "fracture"), required=True)
    parser.add_argument("--model", default="config/model.yaml")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--max-nfev", type=int, default=400)
    args = parser.parse_args(argv)
    with open(args.model, encoding="utf-8") as handle:
        model = yaml.safe_load(handle)
    if args.stage == "remodeling":
        names, residuals = REMODELING_FIT, remodeling_residuals
    else:
        from osteotrial.calibration.fracture import FRACTURE_FIT, fracture_residuals

        names, residuals = FRACTURE_FIT, fracture_residuals
    fitted = fit(model, names, residuals, args.max_nfev)
    print("residuals:", np.round(residuals(fitted), 2))
    for block, key in names:
        print(block, key, _initial(fitted, [(block, key)])[0])
    if args.write:
        write_values(args.model, fitted, names)


if __name__ == "__main__":
    main()
