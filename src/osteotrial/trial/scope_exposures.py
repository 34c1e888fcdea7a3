"""What the model was calibrated on for background exposures (``trial.scope``'s ``exposures``).

A background exposure (``trial.exposures``: menopause, androgen deprivation, aromatase
inhibitor, glucocorticoid) is calibrated where a calibrated trial file carries it: for the
sexes of that trial's population, for as long as an arm of it was on it (from the phase's
start, before randomization included, to the end of follow-up) and, for a glucocorticoid, at
the prednisone doses it gave. The exposure stage (``calibration.exposure``) adds the
glucocorticoid courses whose marker responses it fits (targets.yaml
``glucocorticoid.remodeling_inputs``: the P4 doses and the P5 dose, ``COURSE_DAYS`` long, in
a typical woman of 70); an emulated glucocorticoid trial file widens that. Nothing is typed
here: the statement follows the trial files and the targets file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from osteotrial.calibration.targets import read_targets
from osteotrial.trial.config import TrialConfig
from osteotrial.trial.strata import arm_for_stratum
from osteotrial.units import DAYS_PER_MONTH

STAGE = "calibration stage exposure (glucocorticoid marker courses)"


@dataclass(frozen=True)
class ExposureScope:
    """What one exposure kind was calibrated on: the sexes it was given to, the longest time
    on it in one arm (months), the prednisone doses (mg/day, glucocorticoid only; else None)
    and where (trials, or the exposure stage)."""

    kind: str
    sex: tuple[str, ...]
    months: float
    prednisone_mg_per_day: tuple[float, float] | None
    sources: tuple[str, ...]


def exposure_records(config: TrialConfig) -> list[dict[str, Any]]:
    """Return one record per exposure phase of every arm, as each stratum's patients get it
    (``trial.strata``; the arm itself without strata): arm (``arm/stratum`` in a stratum),
    index (the phase's place among the arm's exposures), kind, prednisone_mg_per_day,
    start_day and stop_day (cut at the end of follow-up)."""
    end_day = config.schedule.duration_days
    arms = [(arm, spec) for arm, spec in sorted(config.arms.items())]
    if config.strata:
        arms = [
            (f"{arm}/{stratum.name}", arm_for_stratum(spec, stratum))
            for arm, spec in arms
            for stratum in config.strata
        ]
    return [
        {
            "arm": arm,
            "index": index,
            "kind": phase.kind,
            "prednisone_mg_per_day": float(phase.prednisone_mg_per_day),
            "start_day": float(phase.start_day),
            "stop_day": float(min(phase.stop_day, end_day)),
        }
        for arm, spec in arms
        for index, phase in enumerate(spec.exposures)
    ]


def exposure_months(records: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    """Return (arm, kind) -> months from the kind's first start to its last stop in the arm."""
    spans: dict[tuple[str, str], tuple[float, float]] = {}
    for r in records:
        key = (r["arm"], r["kind"])
        first, last = spans.get(key, (r["start_day"], r["stop_day"]))
        spans[key] = (min(first, r["start_day"]), max(last, r["stop_day"]))
    return {key: (last - first) / DAYS_PER_MONTH for key, (first, last) in spans.items()}


def stage_courses() -> list[dict[str, Any]]:
    """Return the glucocorticoid courses of the exposure stage as records (sex, dose, days)."""
    from osteotrial.calibration import exposure as stage  # the stage imports the engine

    inputs = read_targets()["trials"]["glucocorticoid"]["remodeling_inputs"]
    doses = [float(d) for d in inputs[0]["dose_mg_per_day"]] + [stage.P5_DOSE_MG]
    return [
        {"kind": "glucocorticoid", "sex": "female", "prednisone_mg_per_day": dose,
         "months": stage.COURSE_DAYS / DAYS_PER_MONTH, "source": STAGE}
        for dose in doses
    ]  # fmt: skip


def exposure_scopes(configs: Iterable[TrialConfig], sexes: dict[str, str]) -> dict:
    """Return kind -> ExposureScope over the calibrated trial files (``sexes``: trial name ->
    its population's sexes, "female, male" for a mixed one) and the exposure stage."""
    seen: list[dict[str, Any]] = []
    for config in configs:
        records = exposure_records(config)
        months = exposure_months(records)
        seen += [
            {**r, "sex": sexes[config.name], "months": months[(r["arm"], r["kind"])],
             "source": config.name}
            for r in records
        ]  # fmt: skip
    seen += stage_courses()
    out = {}
    for kind in sorted({r["kind"] for r in seen}):
        mine = [r for r in seen if r["kind"] == kind]
        doses = [r["prednisone_mg_per_day"] for r in mine]
        out[kind] = ExposureScope(
            kind=kind,
            sex=tuple(sorted({s for r in mine for s in r["sex"].split(", ")})),
            months=round(max(r["months"] for r in mine), 6),
            prednisone_mg_per_day=(min(doses), max(doses)) if kind == "glucocorticoid" else None,
            sources=tuple(sorted({r["source"] for r in mine})),
        )
    return out
