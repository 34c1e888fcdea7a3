"""Calibration stage ``men``: the one fitted men's parameter, every shared value held fixed.

With the women's bone biology (and ``men.activation_early_postmenopause_frac`` = 1: no
menopause, the women's plateau of activation) the men's trials miss: BRIDGE's romosozumab arm
gains 13.8 % at the spine against 12.1 +- 1.5 published, while its placebo arm is within; the
model's men respond like women of the same age and BMD. Older men's bone turnover is lower
than late-postmenopausal women's (turnover markers about 20-40 % lower in men over 60 than in
postmenopausal women: Szulc P et al. JBMR 2001;16:1642 (MINOS) against OFELY's women, Garnero
P et al. JBMR 1996;11:337; R), and a drug's aBMD gain follows the turnover it acts on. So one
men's parameter, ``men.activation_rel`` (a man's remodeling activation over a
late-postmenopausal woman's, start 0.8 from those markers), is fitted to the men's rows of
``targets.yaml`` (``men_denosumab``, ``men_romosozumab``: BMD % change, weight 1 / tol) on each
trial file's own cohort (``N_PER_ARM`` patients per arm, no dropout, the trial's seed).

Run ``python -m osteotrial.calibration.men [--write]``; it reads ``config/model.yaml`` as it
is, so after the shared values change (the posterior re-fit) one command re-fits it.
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import yaml

from osteotrial.calibration.calibrate import fit, initial_values, write_values
from osteotrial.calibration.targets import load_targets
from osteotrial.cohort.sampling import CohortSpec, sample_cohort
from osteotrial.engine.simulate import simulate_arm
from osteotrial.model.params import ModelParams
from osteotrial.trial.config import load_config

MEN_FIT: list[tuple[str, str]] = [("men", "activation_rel")]
MEN_TRIALS: tuple[str, ...] = ("men_denosumab", "men_romosozumab")
N_PER_ARM = 400  # SE of an arm's mean 12-month LS change about 0.15 point


def trial_runs(trial: str, model: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Return arm -> site -> mean % BMD change at month 12 of a men's trial at ``model``."""
    config = load_config(trial)
    block = copy.deepcopy(config.cohort_spec)
    block["dropout_per_year"] = 0.0
    allocation = {arm: N_PER_ARM for arm in config.allocation}
    cohort = sample_cohort(CohortSpec.from_dict(block), allocation, config.seed)
    params = ModelParams.from_dict(model)
    out: dict[str, dict[str, float]] = {}
    for name, arm in config.arms.items():
        result = simulate_arm(
            cohort.select(cohort.arm == name), arm, params, config.schedule, record_pk=False
        )
        month = int(np.argmin(np.abs(result.record_days / 30.4375 - 12.0)))
        out[name] = {
            site: float(
                np.mean(100.0 * (result.bmd_g_cm2(site)[month] / result.bmd_g_cm2(site)[0] - 1))
            )
            for site in ("LS", "TH", "FN")
        }
    return out


def men_residuals(model: dict[str, Any]) -> np.ndarray:
    """Return (emulated - published) / tol of every BMD row of the men's target blocks."""
    residuals = []
    for trial in MEN_TRIALS:
        emulated = trial_runs(trial, model)
        for row in load_targets(None, trial)["bmd_pct_change"]:
            value = emulated[row["arm"]][row["site"]]
            residuals.append((value - row["value"]) / row["tol"])
    return np.asarray(residuals)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: fit ``men.activation_rel`` and optionally write it into the model file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="config/model.yaml")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--max-nfev", type=int, default=20)
    args = parser.parse_args(argv)
    with open(args.model, encoding="utf-8") as handle:
        model = yaml.safe_load(handle)
    fitted = fit(model, MEN_FIT, men_residuals, args.max_nfev)
    print("residuals:", np.round(men_residuals(fitted), 2))
    print("men activation_rel", initial_values(fitted, MEN_FIT)[0])
    if args.write:
        write_values(args.model, fitted, MEN_FIT)


if __name__ == "__main__":
    main()
