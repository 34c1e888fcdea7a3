"""Calibration stage ``men``: the two fitted men's parameters, every shared value held fixed.

With the women's bone biology, ``men.activation_early_postmenopause_frac`` = 1 (no menopause:
the women's plateau of activation) and no untreated spine loss (``men.untreated_loss_spine_frac``
= 0, its literature start), the men's trials miss: BRIDGE's romosozumab arm gains 13.8 % at the
spine against 12.1 +- 1.5 published, and ADAMO's denosumab arm 3.0 % at the hip against
2.4 +- 0.8 (in, at its edge); the model's men respond like women of the same age and BMD.
Older men's bone turnover is lower than late-postmenopausal women's (turnover markers about
20-40 % lower in men over 60: Szulc P et al. JBMR 2001;16:1642, MINOS, against OFELY's women,
Garnero P et al. JBMR 1996;11:337; R), and a drug's aBMD gain follows the turnover it acts on:
``men.activation_rel``, start 0.8. With turnover lowered, BRIDGE's placebo spine change (1.2
+- 1.0 published) comes out near 0: untreated older men's spine aBMD does not fall on DXA and
may rise (osteophytes, aortic calcification: Orwoll ES et al. JCEM 1990;70:1202, R), which
``men.untreated_loss_spine_frac`` (negative: a gain) carries. Both are fitted, in linear space
with weak priors at their starts (``PRIOR_SD``), to the men's rows of ``targets.yaml``
(``men_denosumab``, ``men_romosozumab``: BMD % change, weight 1 / tol), each trial file's own
cohort (``N_PER_ARM`` patients per arm, no dropout, the trial's seed).

Run ``python -m osteotrial.calibration.men [--write]``; it reads ``config/model.yaml`` as it
is, so after the shared values change (the posterior re-fit) one command re-fits both.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import optimize

from osteotrial.calibration.calibrate import apply_values, initial_values
from osteotrial.calibration.stage_cli import Part, stage_main
from osteotrial.calibration.targets import load_targets
from osteotrial.cohort.sampling import CohortSpec, sample_cohort
from osteotrial.engine.simulate import simulate_arm
from osteotrial.model.params import ModelParams
from osteotrial.trial.config import load_config

MEN_FIT: list[tuple[str, str]] = [("men", "activation_rel"), ("men", "untreated_loss_spine_frac")]
START: tuple[float, float] = (0.8, 0.0)  # the literature starts (module docstring)
PRIOR_SD: tuple[float, float] = (0.3, 2.0)  # weak: a third of the start; +-0.8 %/yr at LS
BOUNDS: tuple[tuple[float, float], tuple[float, float]] = ((0.3, 1.0), (-3.0, 2.0))
MEN_TRIALS: tuple[str, ...] = ("men_denosumab", "men_romosozumab")
N_PER_ARM = 300  # SE of an arm's mean 12-month LS change about 0.15-0.2 point


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


def fit_men(model: dict[str, Any], max_nfev: int = 12) -> dict[str, Any]:
    """Return the model mapping with the ``MEN_FIT`` values fitted (module docstring)."""
    start, sd = np.asarray(START), np.asarray(PRIOR_SD)

    def objective(x: np.ndarray) -> np.ndarray:
        res = men_residuals(apply_values(model, MEN_FIT, x))
        return np.concatenate([res, (x - start) / sd])

    x0 = np.clip(initial_values(model, MEN_FIT), *np.transpose(BOUNDS))
    result = optimize.least_squares(
        objective, x0, bounds=tuple(np.transpose(BOUNDS)), diff_step=0.05, max_nfev=max_nfev
    )
    return apply_values(model, MEN_FIT, result.x)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: fit the men's values and optionally write them into the model file
    (``stage_cli``: ``--write``, ``--max-nfev``)."""
    part = Part(MEN_FIT, men_residuals, fit_men)
    stage_main(__doc__.split("\n")[0], {"men": part}, argv, max_nfev=12)


if __name__ == "__main__":
    main()
