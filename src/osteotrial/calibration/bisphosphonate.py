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

Risedronate's potency relative to alendronate (``risedronate_potency_rel``, per mg bound;
its literature start 2.0: the labelled doses are equi-effective) is fitted next, alendronate's
effect fixed, to the two risedronate rows of the ``glucocorticoid`` block (Saag 2018: LS at
month 12 in the glucocorticoid-initiating and -continuing strata), simulated on
``RISEDRONATE_COHORT`` screened patients of config/trials/glucocorticoid.yaml, each on his or
her stratum's plan (``trial.strata``). Zoledronic acid keeps its literature potency (issue 26).

Every other block (remodeling, bmd, fracture, the antibodies, the exposures) is held fixed at
its values in the model file, so the stage is re-run in one command after those change:

    python -m osteotrial.calibration.bisphosphonate --write [--part alendronate|risedronate]

(``stage_cli``: the parts in order, or one of them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from osteotrial.calibration.objective import Target, pct, trial_cohort, trial_design
from osteotrial.calibration.stage_cli import Part, stage_main
from osteotrial.calibration.targets import read_targets
from osteotrial.engine.simulate import simulate_strata
from osteotrial.model.params import ModelParams
from osteotrial.trial.schedules import Schedule
from osteotrial.trial.strata import assign
from osteotrial.units import DAYS_PER_MONTH

TRIAL = "alendronate"
BISPHOSPHONATE_FIT: list[tuple[str, str]] = [("bisphosphonate", "apoptosis_max_rel")]
BISPHOSPHONATE_COHORT = 400  # screened women of the trial file, half of them on alendronate
RISEDRONATE_TRIAL = "glucocorticoid"
RISEDRONATE_FIT: list[tuple[str, str]] = [("bisphosphonate", "risedronate_potency_rel")]
RISEDRONATE_COHORT = 2000  # screened patients, half on risedronate: about 365 initiating
COHORT_SIZES = {TRIAL: BISPHOSPHONATE_COHORT, RISEDRONATE_TRIAL: RISEDRONATE_COHORT}


def bisphosphonate_targets(
    data: Mapping[str, Any] | None = None, trial: str = TRIAL, arm: str | None = None
) -> list[Target]:
    """Return the stage's terms of one trial block: each ``bmd_pct_change`` entry (of ``arm``
    if given), scaled by its tolerance; a ``subgroup`` entry reads that stratum's patients."""
    block = (read_targets() if data is None else data)["trials"][trial]
    return [
        Target(
            source=f"trials.{trial}.bmd_pct_change[{k}]",
            value=float(t["value"]),
            scale=float(t["tol"]),
            probe=("bmd", trial, t["arm"], t["site"], float(t["month"]), t.get("subgroup")),
        )
        for k, t in enumerate(block["bmd_pct_change"])
        if arm is None or t["arm"] == arm
    ]


def risedronate_targets(data: Mapping[str, Any] | None = None) -> list[Target]:
    """Return the risedronate rows of the glucocorticoid block (one per stratum)."""
    return bisphosphonate_targets(data, RISEDRONATE_TRIAL, "risedronate")


def emulated(params: ModelParams, goals: Sequence[Target]) -> np.ndarray:
    """Return the mean % change of each target's site, arm, month (and stratum) on its trial's
    cohort (``COHORT_SIZES`` screened patients, split evenly across the arms)."""
    values, runs = [], {}
    for goal in goals:
        _, trial, arm, site, month, subgroup = goal.probe
        if (trial, arm) not in runs:
            runs[(trial, arm)] = _run(params, trial, arm, goal_months(goals))
        run, labels = runs[(trial, arm)]
        row = int(np.argmin(np.abs(run.record_days - month * DAYS_PER_MONTH)))
        mine = np.ones(labels.size, bool) if subgroup is None else labels == subgroup
        values.append(float(pct(run.bmd_g_cm2(site))[row][mine].mean()))
    return np.asarray(values)


def goal_months(goals: Sequence[Target]) -> tuple[float, ...]:
    """Return the months the goals read, sorted."""
    return tuple(sorted({g.probe[4] for g in goals}))


def _run(params: ModelParams, trial: str, arm: str, months: tuple[float, ...]):
    """Return one arm's run on its trial's cohort and its patients' strata (names; "" none)."""
    design = trial_design(trial)
    cohort = trial_cohort(trial, COHORT_SIZES[trial])
    patients = cohort.select(np.flatnonzero(cohort.arm == arm))
    schedule = Schedule(1.0, max(months) * DAYS_PER_MONTH, months, (), ())
    run = simulate_strata(
        patients, design.arms[arm], design.strata, design.seed, params, schedule, False
    )
    return run, assign(design.strata, design.seed, patients.candidate_id)


def residuals_of(goals: Sequence[Target]):
    """Return the residual function of a part: its goals' weighted residuals for a model."""

    def residuals(model: dict[str, Any]) -> np.ndarray:
        values = emulated(ModelParams.from_dict(model), goals)
        return np.array([g.residual(v) for g, v in zip(goals, values, strict=True)])

    return residuals


def bisphosphonate_residuals(model: dict[str, Any]) -> np.ndarray:
    """Return the weighted residuals of the alendronate targets for a model mapping."""
    return residuals_of(bisphosphonate_targets())(model)


def risedronate_residuals(model: dict[str, Any]) -> np.ndarray:
    """Return the weighted residuals of the risedronate targets for a model mapping."""
    return residuals_of(risedronate_targets())(model)


PARTS = {
    "alendronate": Part(BISPHOSPHONATE_FIT, bisphosphonate_residuals),
    "risedronate": Part(RISEDRONATE_FIT, risedronate_residuals),
}


def main(argv: Sequence[str] | None = None) -> None:
    """Command line (``stage_cli``): fit the parts in order; ``--write``: into the model
    file, comments kept."""
    stage_main(__doc__.split("\n")[0], PARTS, argv, max_nfev=60)


if __name__ == "__main__":
    main()
