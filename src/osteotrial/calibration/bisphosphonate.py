"""Calibration stage of the bisphosphonate class: its one open value, every other value fixed.

The bisphosphonate PK-PD (``model.bisphosphonate``) takes its rates, bioavailabilities and
urinary shares from the literature (config/model.yaml, each with its source). What the
literature leaves open is the size of the effect on osteoclasts: ``apoptosis_max_rel``, E_max
(at most a share E_max / (1 + E_max) of newly recruited osteoclasts dies), fitted here to the
``alendronate`` block of config/targets.yaml (McClung 2006, open-label alendronate 70 mg
weekly: mean % change of LS and TH BMD at 12 months), simulated on the screened cohort of the
trial file config/trials/alendronate.yaml (``BISPHOSPHONATE_COHORT`` women, half of them in its
alendronate arm). The
half-maximal surface amount ``surface_ec50_mg`` stays an assumption: two BMD values of one
regimen cannot tell a larger effect from a more potent one.

Every other block (remodeling, bmd, fracture, the antibodies) is held fixed at its values in
the model file, so the stage is re-run in one command after those change:

    python -m osteotrial.calibration.bisphosphonate --write

Risedronate and zoledronic acid keep their literature potencies relative to alendronate
(not yet calibrated: their targets come with the glucocorticoid trial, issue 26).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import yaml

from osteotrial.calibration.calibrate import fit, initial_values, write_values
from osteotrial.calibration.objective import Target, pct, trial_cohort, trial_design
from osteotrial.calibration.targets import read_targets
from osteotrial.engine.simulate import simulate_arm
from osteotrial.model.params import ModelParams
from osteotrial.trial.schedules import Schedule
from osteotrial.units import DAYS_PER_MONTH

TRIAL = "alendronate"
BISPHOSPHONATE_FIT: list[tuple[str, str]] = [("bisphosphonate", "apoptosis_max_rel")]
BISPHOSPHONATE_COHORT = 400  # screened women of the trial file, half of them on alendronate


def bisphosphonate_targets(data: Mapping[str, Any] | None = None) -> list[Target]:
    """Return the stage's terms: each ``bmd_pct_change`` entry of the ``alendronate`` block,
    scaled by its tolerance."""
    block = (read_targets() if data is None else data)["trials"][TRIAL]
    return [
        Target(
            source=f"trials.{TRIAL}.bmd_pct_change[{k}]",
            value=float(t["value"]),
            scale=float(t["tol"]),
            probe=("bmd", TRIAL, t["arm"], t["site"], float(t["month"])),
        )
        for k, t in enumerate(block["bmd_pct_change"])
    ]


def emulated(params: ModelParams, goals: Sequence[Target]) -> np.ndarray:
    """Return the mean % change of each target's site, arm and month on the trial's cohort."""
    design = trial_design(TRIAL)
    cohort = trial_cohort(TRIAL, BISPHOSPHONATE_COHORT)
    months = sorted({g.probe[4] for g in goals})
    schedule = Schedule(1.0, max(months) * DAYS_PER_MONTH, tuple(months), (), ())
    values, runs = [], {}
    for goal in goals:
        _, _, arm, site, month = goal.probe
        if arm not in runs:
            patients = cohort.select(np.flatnonzero(cohort.arm == arm))
            runs[arm] = simulate_arm(patients, design.arms[arm], params, schedule, False)
        run = runs[arm]
        row = int(np.argmin(np.abs(run.record_days - month * DAYS_PER_MONTH)))
        values.append(float(pct(run.bmd_g_cm2(site))[row].mean()))
    return np.asarray(values)


def bisphosphonate_residuals(model: dict[str, Any]) -> np.ndarray:
    """Return the weighted residuals of the stage's targets for a model mapping."""
    goals = bisphosphonate_targets()
    values = emulated(ModelParams.from_dict(model), goals)
    return np.array([g.residual(v) for g, v in zip(goals, values, strict=True)])


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: fit the stage's value (``--write``: into the model file, comments kept)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="config/model.yaml")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--max-nfev", type=int, default=60)
    args = parser.parse_args(argv)
    with open(args.model, encoding="utf-8") as handle:
        model = yaml.safe_load(handle)
    fitted = fit(model, BISPHOSPHONATE_FIT, bisphosphonate_residuals, args.max_nfev)
    goals = bisphosphonate_targets()
    values = emulated(ModelParams.from_dict(fitted), goals)
    for goal, value in zip(goals, values, strict=True):
        print(f"{goal.source}: target {goal.value} +/- {goal.scale}, emulated {value:.2f}")
    for block, key in BISPHOSPHONATE_FIT:
        print(block, key, initial_values(fitted, [(block, key)])[0])
    if args.write:
        write_values(args.model, fitted, BISPHOSPHONATE_FIT)


if __name__ == "__main__":
    main()
