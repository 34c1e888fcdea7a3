"""Calibration stage of the calcium block: the dialysate's exchange and the calcitriol synthesis
of vitamin D deficiency, every other value fixed.

Calcium homeostasis (``model.calcium``) takes its fluxes, PTH and calcitriol responses and the
population's serum calcium from the literature or states them as assumptions (config/model.yaml,
block ``calcium``). The one value the literature leaves open is how hard dialysis holds a
patient's calcium when the bone stops giving it: ``dialysis_exchange_l_per_day`` (mmol/day per
mmol/L, averaged over the week), fitted here to P11 (targets.yaml ``safety``: 41.1 % of women
>= 65 on dialysis below 7.5 mg/dL = 1.875 mmol/L within 12 weeks of denosumab 60 mg),
simulated on the denosumab arm of config/trials/dialysis_denosumab.yaml (part ``dialysis``).
P12 (0.2 % of adults over 65 of all kidney function below 1.8 mmol/L within 180 days,
config/trials/denosumab_older_adults.yaml) fits ``deficient_calcitriol_synthesis_frac`` (part
``deficiency``): the calcitriol synthesis capacity of the population's patients with vitamin D
deficiency (4 %, CHMS, a population input of the trial file), the one way in the model for a
patient with working kidneys to fall that far. Kidney failure alone (0.25 % on dialysis, a
registry input) gave 0.065 %, and patients in CKD stage 4 do not fall below 1.8 mmol/L (eGFR 17:
0.4 %, 22 and 30: none), so without deficiency P12 missed; the fit is the share of the miss the
deficient patients must carry, and the factor it gives is the model's reading of P12 (one value,
one row: it is identified, not checked; docs/model.md "Calcium homeostasis").

Tolerances (targets.yaml gives neither n nor tol): ``REL_TOL`` of the value (A: no source n
to derive a binomial interval from; 15 % of 41 % is about the binomial CI of an arm of 200, and
50 % of a 0.2 % share: a rare-event share known to a factor of about 1.5 each way).

    python -m osteotrial.calibration.calcium [--write] [--part dialysis|deficiency]
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import polars as pl

from osteotrial.analyses.calcium_frames import share_with_event
from osteotrial.calibration.block_rows import SCHEMA, missed, row
from osteotrial.calibration.objective import trial_design
from osteotrial.calibration.stage_cli import Part, stage_main
from osteotrial.calibration.targets import read_targets
from osteotrial.cohort.sampling import Cohort, CohortSpec, sample_cohort
from osteotrial.engine.simulate import simulate_arm
from osteotrial.model.params import ModelParams
from osteotrial.trial.schedules import Schedule

SECTION = "safety"
FIT: list[tuple[str, str]] = [("calcium", "dialysis_exchange_l_per_day")]
FIT_DEFICIENCY: list[tuple[str, str]] = [("calcium", "deficient_calcitriol_synthesis_frac")]
# (targets.yaml safety.events index, trial file, arm, event, window in days)
ROWS: tuple[tuple[int, str, str, str, float], ...] = (
    (0, "dialysis_denosumab", "denosumab", "hypocalcemia_grade_2", 84.0),
    (1, "denosumab_older_adults", "denosumab", "hypocalcemia_grade_3", 180.0),
)
REL_TOL: dict[int, float] = {0: 0.15, 1: 0.5}  # A: module docstring
STAGE_COHORT = 1000  # dialysis patients per evaluation of the fit


@lru_cache(maxsize=4)
def _cohort(trial: str, arm: str, n: int | None) -> Cohort:
    """Return the arm's patients of a trial file (``n`` per arm, or the file's allocation)."""
    design = trial_design(trial)
    allocation = dict(design.allocation) if n is None else dict.fromkeys(design.arms, n)
    cohort = sample_cohort(CohortSpec.from_dict(design.cohort_spec), allocation, design.seed)
    return cohort.select(np.flatnonzero(cohort.arm == arm))


def emulated_share(
    params: ModelParams, trial: str, arm: str, event: str, days: float, n: int | None
) -> float:
    """Return the share of an arm's patients with a first ``event`` within ``days``."""
    design = trial_design(trial)
    schedule = Schedule(1.0, days, (days / 30.4375,), (), ())
    result = simulate_arm(_cohort(trial, arm, n), design.arms[arm], params, schedule)
    return share_with_event(result, event, days)


def _target(k: int) -> dict[str, Any]:
    return read_targets()["trials"][SECTION]["events"][k]


def _row_residual(model: dict[str, Any], index: int, n: int | None) -> np.ndarray:
    """Return the weighted residual of row ``ROWS[index]`` for a model mapping."""
    k, trial, arm, event, days = ROWS[index]
    value = float(_target(k)["value"])
    share = emulated_share(ModelParams.from_dict(model), trial, arm, event, days, n)
    return np.array([(share - value) / (REL_TOL[k] * value)])


def residuals(model: dict[str, Any]) -> np.ndarray:
    """Return the weighted residual of P11 (part ``dialysis``) for a model mapping."""
    return _row_residual(model, 0, STAGE_COHORT)


def deficiency_residuals(model: dict[str, Any]) -> np.ndarray:
    """Return the weighted residual of P12 (part ``deficiency``), on the trial file's cohort
    (20,000: a 0.2 % share is 40 patients)."""
    return _row_residual(model, 1, None)


def calcium_rows(params: ModelParams, sizes: Sequence[int | None] = (None, None)) -> pl.DataFrame:
    """Return the calibration rows of P11 and P12 (``block_rows.SCHEMA``), each simulated on its
    trial file at ``sizes`` patients per arm (None: the file's allocation)."""
    rows = []
    for (k, trial, arm, event, days), n in zip(ROWS, sizes, strict=True):
        t = _target(k)
        value, tol = float(t["value"]), REL_TOL[k] * float(t["value"])
        share = emulated_share(params, trial, arm, event, days, n)
        month = days / 30.4375
        within = abs(share - value) <= tol
        nan = float("nan")
        rows.append(row(SECTION, arm, t["measure"], month, value, tol, share, nan, nan, within))
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def bisect_log(
    model: dict[str, Any], key: str, bounds: tuple[float, float], residual, max_nfev: int
) -> dict[str, Any]:
    """Return the model mapping with ``calcium.<key>`` at its row by bisection in log space
    over ``bounds`` (the share is a step function of the value, flat between events, so a
    gradient fit stalls; it falls monotonically as the value rises: more exchange holds
    calcium, more synthesis defends it); the value of the smallest residual seen, 4 decimals."""
    lo, hi = (float(np.log(v)) for v in bounds)
    best: tuple[float, float] = (np.inf, model["calcium"][key])
    for _ in range(max_nfev):
        mid = 0.5 * (lo + hi)
        trial = {**model, "calcium": {**model["calcium"], key: float(np.exp(mid))}}
        r = float(residual(trial)[0])
        best = min(best, (abs(r), float(np.exp(mid))))
        lo, hi = (mid, hi) if r > 0.0 else (lo, mid)  # too many events: a larger value
        if abs(r) < 0.05:
            break
    return {**model, "calcium": {**model["calcium"], key: round(best[1], 4)}}


def workflow_rows(trial: str, tables: dict[str, pl.DataFrame]) -> list[dict[str, Any]]:
    """Return the calibration rows (``block_rows.row``) of the ``ROWS`` a workflow run of trial
    file ``trial`` emulates, from its ``safety_events`` table (``analyses.safety_endpoints``:
    the share of the arm with the event by the end of follow-up, with its Wilson CI): the
    files' follow-up is each row's window, so the share is the row's. A table without the arm
    and event, or with another follow-up, gives a missed row (emulated NaN)."""
    events = tables.get("safety_events")
    rows = []
    for k, name, arm, event, days in ROWS:
        if name != trial:
            continue
        t = _target(k)
        value, tol, month = float(t["value"]), REL_TOL[k] * float(t["value"]), days / 30.4375
        mine = (
            pl.DataFrame()
            if events is None
            else events.filter((pl.col("arm") == arm) & (pl.col("event") == event))
        )
        if mine.height != 1 or abs(float(mine["month"].item()) - month) > 0.05:
            rows.append(missed(SECTION, arm, t["measure"], month, value, tol))
            continue
        share, low, high = (
            float(mine[c].item()) for c in ("share", "share_ci_low", "share_ci_high")
        )
        rows.append(row(SECTION, arm, t["measure"], month, value, tol, share, low, high,
                        abs(share - value) <= tol))  # fmt: skip
    return rows


def fit_exchange(model: dict[str, Any], max_nfev: int) -> dict[str, Any]:
    """Return the model mapping with the dialysis exchange at P11 (``EXCHANGE_RANGE``)."""
    return bisect_log(model, FIT[0][1], EXCHANGE_RANGE, residuals, max_nfev)


def fit_deficiency(model: dict[str, Any], max_nfev: int) -> dict[str, Any]:
    """Return the model mapping with the deficient patients' calcitriol synthesis at P12
    (``DEFICIENCY_RANGE``)."""
    return bisect_log(model, FIT_DEFICIENCY[0][1], DEFICIENCY_RANGE, deficiency_residuals, max_nfev)


EXCHANGE_RANGE = (1.0, 100.0)  # L/day searched
DEFICIENCY_RANGE = (0.01, 1.0)  # relative synthesis searched
PARTS = {
    "dialysis": Part(FIT, residuals, fitter=fit_exchange),
    "deficiency": Part(FIT_DEFICIENCY, deficiency_residuals, fitter=fit_deficiency),
}


def main(argv: Sequence[str] | None = None) -> None:
    """Command line (``stage_cli``); ``--write``: the fitted value into the model file."""
    stage_main(__doc__.split("\n")[0], PARTS, argv, max_nfev=14)


if __name__ == "__main__":
    main()
