"""Background exposures of a trial file: menopause, androgen deprivation, aromatase inhibitor,
glucocorticoid, calcium and vitamin D supplements (``calcium_vitamin_d``: ``calcium_mg_per_day``,
``vitamin_d_iu_per_day``; model.calcium), each with a start and a stop, for all arms or some.

A trial file's top-level ``exposures`` is a list of phases like regimen phases::

    exposures:
      - {kind: androgen_deprivation, arms: all, start: month 0, for: 9 months}
      - {kind: androgen_deprivation, arms: [intermittent], start: month 18, for: 9 months}
      - {kind: glucocorticoid, prednisone_mg_per_day: 10, arms: all, start: day 0}

``start``/``for``/``stop`` read as in regimen phases (``trial.phase_units``; or ``start_day``,
``stop_day``); without a stop the exposure lasts to the end of the trial. A start before
randomization (``start: month -12``: on it for a year already) leaves the part of a withdrawal
not yet adapted to (``_on_level``). Intermittent
exposure is several phases of one kind. ``prednisone_mg_per_day`` (prednisone-equivalent) is
required for a glucocorticoid and refused for the other kinds. ``levels_on_grid`` turns an
arm's phases into the plan's exposure channels per step (``model.exposure.CHANNELS``): how
deep each withdrawal is at the middle of each step (first order towards 1 while on and back
to 0 after, with the kind's ``ONSET_DAYS`` / ``OFFSET_DAYS``, times the adaptation of
``model.exposure.ADAPTATION_DAYS``), the glucocorticoid dose not yet adapted to
(``GC_ADAPTATION_DAYS``), and the latest course's dose and days since its stop (the fracture
risk beyond BMD fades with it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from osteotrial.model import exposure as model_exposure
from osteotrial.model.exposure import KINDS, OFFSET_DAYS, ONSET_DAYS
from osteotrial.trial.phase_units import normalize_phase
from osteotrial.units import DAYS_PER_MONTH

MAX_PREDNISONE_MG_PER_DAY = 1000.0  # pulse doses of methylprednisolone are about 1 g
MAX_CALCIUM_MG_PER_DAY = 4000.0  # calcium supplements: up to a few g a day (schema, too)
MAX_VITAMIN_D_IU_PER_DAY = 50000.0
MAX_BEFORE_DAYS = 30 * 365.25  # an exposure may have started up to 30 years before randomization
# Bone adapts to a lasting glucocorticoid dose as to a lasting withdrawal: the loss is fastest
# in the first months and slows after (about 6-12 % at the spine in year 1 in some series, a
# few % a year later: LoCascio 1990, van Staa 2002 meta-analysis; R), so the plan's
# glucocorticoid dose channel carries the part not yet adapted to, D x exp(-(t - start) /
# GC_ADAPTATION_DAYS), with the withdrawal's e-fold time (model.exposure.ADAPTATION_DAYS, 3
# years; A: one adaptation for every exposure, no new value). Patients long on glucocorticoids
# are nearer the model's baseline. The fracture risk beyond BMD keeps the full dose (van Staa
# 2000, P6: the excess lasts while the drug is taken).
GC_ADAPTATION_DAYS = model_exposure.ADAPTATION_DAYS


@dataclass(frozen=True)
class ExposurePhase:
    """One phase of a background exposure; days from randomization (stop inf: to the end)."""

    kind: str
    start_day: float
    stop_day: float = math.inf
    prednisone_mg_per_day: float = 0.0
    calcium_mg_per_day: float = 0.0  # kind calcium_vitamin_d only (model.calcium)
    vitamin_d_iu_per_day: float = 0.0

    def __post_init__(self) -> None:
        self._check_supplement()
        if self.kind not in KINDS:
            raise ValueError(f"exposure.kind={self.kind!r} is not known; allowed: {KINDS}")
        if self.start_day < -MAX_BEFORE_DAYS:
            raise ValueError(
                f"exposure.start_day={self.start_day}; allowed: >= -{MAX_BEFORE_DAYS:g} "
                "(at most 30 years before randomization)"
            )
        if self.stop_day <= self.start_day:
            raise ValueError(
                f"exposure.stop_day={self.stop_day} must be greater than start_day={self.start_day}"
            )
        gc = self.kind == "glucocorticoid"
        if gc and not 0.0 < self.prednisone_mg_per_day <= MAX_PREDNISONE_MG_PER_DAY:
            raise ValueError(
                f"exposure.prednisone_mg_per_day={self.prednisone_mg_per_day} for a "
                f"glucocorticoid; allowed: (0, {MAX_PREDNISONE_MG_PER_DAY:g}]"
            )
        if not gc and self.prednisone_mg_per_day != 0.0:
            raise ValueError(
                f"exposure.prednisone_mg_per_day is for kind glucocorticoid only, not {self.kind}"
            )

    def _check_supplement(self) -> None:
        """Refuse supplement doses out of range, or on a kind that is not a supplement."""
        supplement = self.kind == "calcium_vitamin_d"
        doses = (self.calcium_mg_per_day, self.vitamin_d_iu_per_day)
        limits = (MAX_CALCIUM_MG_PER_DAY, MAX_VITAMIN_D_IU_PER_DAY)
        names = ("calcium_mg_per_day", "vitamin_d_iu_per_day")
        for name, dose, top in zip(names, doses, limits, strict=True):
            if not 0.0 <= dose <= top:
                raise ValueError(f"exposure.{name}={dose}; allowed: [0, {top:g}]")
            if dose and not supplement:
                raise ValueError(f"exposure.{name} is for kind calcium_vitamin_d, not {self.kind}")
        if supplement and not any(doses):
            raise ValueError(
                "exposure kind calcium_vitamin_d needs calcium_mg_per_day or vitamin_d_iu_per_day "
                "(> 0)"
            )


def normalize_exposures(exposures: Any) -> Any:
    """Return the ``exposures`` block with ``start``/``for``/``stop`` turned into day fields
    (anything that is not a list of mappings as it is, for the schema to report)."""
    if not isinstance(exposures, list):
        return exposures
    return [
        normalize_phase(e, f"exposures[{i}]") if isinstance(e, Mapping) else e
        for i, e in enumerate(exposures)
    ]


def applies_to(entry: Mapping[str, Any], arm: str) -> bool:
    """Return whether an exposure entry's ``arms`` (``all`` or a list of names) holds ``arm``."""
    arms = entry.get("arms", "all")
    return arms == "all" or arm in arms


def phases_of_arm(exposures: Sequence[Mapping[str, Any]] | None, arm: str) -> tuple:
    """Return the ExposurePhase tuple of one arm from the (normalized) ``exposures`` block."""
    return tuple(
        ExposurePhase(
            kind=e["kind"],
            start_day=float(e["start_day"]),
            stop_day=float(e.get("stop_day", math.inf)),
            prednisone_mg_per_day=float(e.get("prednisone_mg_per_day", 0.0)),
            calcium_mg_per_day=float(e.get("calcium_mg_per_day", 0.0)),
            vitamin_d_iu_per_day=float(e.get("vitamin_d_iu_per_day", 0.0)),
        )
        for e in exposures or ()
        if applies_to(e, arm)
    )


def arms_with_exposures(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Return the ``ArmSpec`` of every arm of a validated configuration, with its exposures."""
    from osteotrial.trial.schedules import ArmSpec

    return {
        name: ArmSpec.from_dict(name, phases, phases_of_arm(raw.get("exposures"), name))
        for name, phases in raw["arms"].items()
    }


def withdrawal_level(phases: Sequence[ExposurePhase], kind: str, t: np.ndarray) -> np.ndarray:
    """Return the withdrawal level of ``kind`` (0..1) at days ``t``: first order towards 1
    from each start (``ONSET_DAYS``) times the adaptation exp(-(t - start) / ADAPTATION_DAYS),
    and first order towards 0 from each stop (``OFFSET_DAYS``)."""
    on, off = ONSET_DAYS[kind], OFFSET_DAYS[kind]
    level = np.zeros_like(t)
    at_stop, last_stop = 0.0, 0.0
    for p in sorted((p for p in phases if p.kind == kind), key=lambda p: p.start_day):
        start_level = at_stop * math.exp(-(p.start_day - last_stop) / off) if at_stop else 0.0
        during = (t >= p.start_day) & (t < p.stop_day)
        level[during] = _on_level(t[during], p.start_day, start_level, on)
        if math.isinf(p.stop_day):
            break
        at_stop = float(_on_level(np.array([p.stop_day]), p.start_day, start_level, on)[0])
        last_stop = p.stop_day
        after = t >= p.stop_day
        level[after] = at_stop * np.exp(-(t[after] - p.stop_day) / off)
    return level


def _on_level(t: np.ndarray, start: float, start_level: float, on_days: float) -> np.ndarray:
    """Return the level at days ``t`` of a phase from ``start`` that began at ``start_level``.

    A phase that started before randomization (``start`` < 0) finds the patient at the
    model's baseline steady state, which holds the part of the withdrawal already adapted to:
    the rest, exp(-(t - start) / ADAPTATION_DAYS), sets in from day 0 at the onset rate (A).
    """
    rise = 1.0 - (1.0 - start_level) * np.exp(-(t - max(start, 0.0)) / on_days)
    return rise * np.exp(-(t - start) / model_exposure.ADAPTATION_DAYS)


def levels_on_grid(phases: Sequence[ExposurePhase], dt_days: float, n_steps: int) -> np.ndarray:
    """Return the plan's exposure channels per step, shape (n_steps, N_CHANNELS).

    Withdrawal levels and the glucocorticoid dose not yet adapted to (``GC_ADAPTATION_DAYS``)
    at the middle of each step; the latest
    glucocorticoid course's dose and the days since its stop at the end of the step (0 while
    taken; dose 0 before any course).
    """
    mid = (np.arange(n_steps) + 0.5) * dt_days
    end = mid + 0.5 * dt_days
    out = np.zeros((n_steps, model_exposure.N_CHANNELS))
    for k, kind in enumerate(model_exposure.SEX_STEROID_KINDS):
        out[:, k] = withdrawal_level(phases, kind, mid)
    gc = sorted((p for p in phases if p.kind == "glucocorticoid"), key=lambda p: p.start_day)
    for p in gc:
        taken = (mid >= p.start_day) & (mid < p.stop_day)
        unadapted = np.exp(-(mid[taken] - p.start_day) / GC_ADAPTATION_DAYS)
        out[taken, model_exposure.GC_MG] = p.prednisone_mg_per_day * unadapted
        since = mid >= p.start_day  # a later course overwrites an earlier one
        out[since, model_exposure.GC_LAST_MG] = p.prednisone_mg_per_day
        out[since, model_exposure.GC_DAYS_OFF] = np.maximum(end[since] - p.stop_day, 0.0)
    for p in phases:
        if p.kind == "calcium_vitamin_d":
            taken = (mid >= p.start_day) & (mid < p.stop_day)
            out[taken, model_exposure.CALCIUM_MG] += p.calcium_mg_per_day
            out[taken, model_exposure.VITAMIN_D_IU] += p.vitamin_d_iu_per_day
    return out


def check_exposures(merged: Mapping[str, Any]) -> None:
    """Refuse exposures naming unknown arms, starting after the trial or overlapping one of
    the same kind in an arm (ValueError naming the field and what is allowed)."""
    exposures = merged.get("exposures") or []
    arms = sorted(merged["arms"])
    duration = float(merged["schedule"]["duration_months"]) * DAYS_PER_MONTH
    for i, e in enumerate(exposures):
        names = e.get("arms", "all")
        unknown = [] if names == "all" else [a for a in names if a not in arms]
        if unknown:
            raise ValueError(f"exposures[{i}].arms names {unknown}; allowed: 'all' or {arms}")
        if e["start_day"] >= duration:
            raise ValueError(
                f"exposures[{i}].start_day={e['start_day']} is at or after the end of the trial "
                f"({duration:g} days); allowed: start_day < {duration:g}"
            )
    for arm in arms:
        phases = sorted(phases_of_arm(exposures, arm), key=lambda p: (p.kind, p.start_day))
        for a, b in zip(phases, phases[1:], strict=False):
            if a.kind == b.kind and b.start_day < a.stop_day:
                raise ValueError(
                    f"exposures: two {a.kind} phases of arm {arm!r} overlap (one from day "
                    f"{a.start_day:g} to {a.stop_day:g}, one from day {b.start_day:g}); "
                    "allowed: phases of one kind one after the other"
                )
