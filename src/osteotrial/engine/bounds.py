"""Physiological bounds on what the engine records: a run that leaves them stops with a message.

A finite state is not a plausible one. With a rate parameter far outside its calibrated range
the engine can return a lumbar-spine BMD change of -1e143 %, a 3e8-fold P1NP or a negative BMD,
all finite; the endpoint tables would then report them. ``check_chunk`` looks at every recorded
value of a simulated chunk (visits and marker days) and raises ``PhysiologyError`` at the first
one outside its range, naming the quantity, the patient, the day and the likely causes.

The ranges are wide on purpose: they flag nonsense, not unusual patients. Measured on 1,500
screened patients per arm of every trial file at the default step (2026-11-28), relative to the
patient's own baseline:

- areal BMD at each site within 0.3-3.0 of baseline; seen: 0.82-1.62 (lumbar spine after years
  of denosumab or a sequence, ten untreated years).
- P1NP (active osteoblasts) and CTX (active osteoclasts), the model's cell pools as markers,
  within 0.002-50 times baseline; seen: P1NP 0.17-2.7, CTX 0.032-1.25.
- each hazard (vertebral, hip, nonvertebral fracture and death) at most 5 events per year;
  seen: up to 0.95 (vertebral, right after a new fracture), death 0.19.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from osteotrial.engine.results import ArmResult

LIKELY_CAUSES = (
    "a model parameter far from its calibrated value (the model: block of the trial file or of "
    "--config; see the ranges in config/README.md), or schedule.dt_days too large for the arm"
)


class PhysiologyError(ValueError):
    """A recorded quantity left its physiological range (see the module docstring)."""


@dataclass(frozen=True)
class Bound:
    """An allowed range of a recorded quantity and why."""

    low: float
    high: float
    reason: str


BMD_REL = Bound(0.3, 3.0, "areal BMD relative to the patient's baseline")
MARKER_REL = Bound(0.002, 50.0, "a turnover marker relative to the patient's baseline")
HAZARD_PER_YEAR = Bound(0.0, 5.0, "events per woman-year")


def _first_outside(values: np.ndarray, bound: Bound) -> tuple[int, int] | None:
    """Return (time index, patient index) of the first value outside ``bound``, or None."""
    outside = ~((values >= bound.low) & (values <= bound.high))
    if not outside.any():
        return None
    t, p = np.argwhere(outside)[0]
    return int(t), int(p)


def _raise(quantity: str, value: float, bound: Bound, patient_id: int, arm: str, day: float):
    raise PhysiologyError(
        f"arm {arm!r}, patient {patient_id}, day {day:g}: {quantity} = {value:.4g} is outside "
        f"its physiological range [{bound.low:g}, {bound.high:g}] ({bound.reason}). "
        f"Likely causes: {LIKELY_CAUSES}"
    )


def hazard_rates_per_year(result: ArmResult) -> dict[str, np.ndarray]:
    """Return each hazard's mean rate per year between consecutive record days,
    (n_times - 1, n_patients), from the recorded cumulative hazards."""
    if result.cumulative_hazard is None or result.record_days.shape[0] < 2:
        return {}
    years = np.diff(result.record_days)[:, None] / 365.25
    return {k: np.diff(v, axis=0) / years for k, v in result.cumulative_hazard.items()}


def check_chunk(result: ArmResult) -> None:
    """Raise PhysiologyError at the first recorded value outside its bound (module docstring)."""
    days, ids = result.record_days, result.patient_id
    for site in ("LS", "TH", "FN"):
        bmd = result.bmd_g_cm2(site)
        rel = bmd / bmd[0]
        if (hit := _first_outside(rel, BMD_REL)) is not None:
            t, p = hit
            _raise(f"BMD {site} / baseline", rel[t, p], BMD_REL, ids[p], result.arm, days[t])
    for name in ("p1np_rel", "ctx_rel"):
        values = getattr(result, name)
        if (hit := _first_outside(values, MARKER_REL)) is not None:
            t, p = hit
            _raise(name, values[t, p], MARKER_REL, ids[p], result.arm, days[t])
    for kind, rate in hazard_rates_per_year(result).items():
        if (hit := _first_outside(rate, HAZARD_PER_YEAR)) is not None:
            t, p = hit
            label = f"{kind} hazard per year"
            _raise(label, rate[t, p], HAZARD_PER_YEAR, ids[p], result.arm, days[t + 1])
