"""Trial arms as data: regimen phases, dose events and the time grid.

An arm is a list of regimen phases ``{drug, dose_mg, interval_days, start_day, stop_day}``;
drugs: the antibodies (denosumab, romosozumab) and the bisphosphonates (model.bisphosphonate).
A phase doses at start_day, start_day + interval_days, ... while the dose day is strictly
before stop_day. FRAME's romosozumab-then-denosumab arm is therefore two phases. A placebo
phase (drug ``placebo``) records the injections of a blinded arm and delivers no drug.

Dose days are placed on the integration grid by rounding to the nearest step, so that every
engine (fixed step, reference solver) applies exactly the same doses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from osteotrial.arrays import FloatArray
from osteotrial.model.bisphosphonate import DRUGS as BISPHOSPHONATES
from osteotrial.model.records import DRUGS as DRUGS_WITH_DOSES
from osteotrial.units import DAYS_PER_MONTH
from osteotrial.validation import reject_unknown_keys

DRUGS: tuple[str, ...] = ("placebo", "denosumab", "romosozumab", *BISPHOSPHONATES)
ACTIVE_DRUGS: tuple[str, ...] = DRUGS_WITH_DOSES  # model.records.DRUGS: drug index order
ENGINES: tuple[str, ...] = ("numba", "cuda")  # CPU and GPU builds of one loop; agree to 1e-9


@dataclass(frozen=True)
class RegimenPhase:
    """One dosing phase of an arm; days count from randomization (day 0)."""

    drug: str
    dose_mg: float
    interval_days: float
    start_day: float
    stop_day: float

    def __post_init__(self) -> None:
        if self.drug not in DRUGS:
            raise ValueError(f"phase.drug={self.drug!r} is not a known drug; allowed: {DRUGS}")
        if not 0.0 <= self.dose_mg <= 1000.0:
            raise ValueError(f"phase.dose_mg={self.dose_mg} is outside [0, 1000] mg")
        if not 1.0 <= self.interval_days <= 3650.0:
            raise ValueError(f"phase.interval_days={self.interval_days} is outside [1, 3650]")
        if self.start_day < 0.0:
            raise ValueError(f"phase.start_day={self.start_day} must be >= 0")
        if self.stop_day <= self.start_day:
            raise ValueError(
                f"phase.stop_day={self.stop_day} must be greater than start_day={self.start_day}"
            )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RegimenPhase:
        """Build a phase from a config mapping, rejecting unknown keys."""
        reject_unknown_keys(cls, values, "regimen phase")
        return cls(**values)

    def dose_days(self) -> FloatArray:
        """Return the nominal dose days of this phase (before grid rounding)."""
        n_doses = int(np.ceil((self.stop_day - self.start_day) / self.interval_days - 1e-9))
        days = self.start_day + self.interval_days * np.arange(max(n_doses, 0))
        return days[days < self.stop_day]


@dataclass(frozen=True)
class ArmSpec:
    """A named trial arm: an ordered tuple of regimen phases and its background exposures
    (``trial.exposures.ExposurePhase``: menopause, androgen deprivation, ...; none by default)."""

    name: str
    phases: tuple[RegimenPhase, ...]
    exposures: tuple[Any, ...] = ()

    @classmethod
    def from_dict(
        cls, name: str, phases: Sequence[Mapping[str, Any]], exposures: tuple[Any, ...] = ()
    ) -> ArmSpec:
        """Build an arm from its name, the list of phase mappings of the config and its
        exposure phases."""
        if len(phases) == 0:
            raise ValueError(f"arm {name!r} has no regimen phases; give at least one")
        return cls(name, tuple(RegimenPhase.from_dict(p) for p in phases), tuple(exposures))

    def doses_on_grid(self, drug: str, dt_days: float, n_steps: int) -> FloatArray:
        """Return the dose in mg applied at the start of each step, shape (n_steps,).

        Dose day d is applied at step round(d / dt_days); doses beyond the grid are dropped.
        """
        dosed = ACTIVE_DRUGS + BISPHOSPHONATES
        if drug not in dosed:
            raise ValueError(f"drug={drug!r}; doses exist only for {dosed}")
        doses = np.zeros(n_steps, dtype=np.float64)
        for phase in self.phases:
            if phase.drug != drug:
                continue
            steps = np.rint(phase.dose_days() / dt_days).astype(np.int64)
            steps = steps[steps < n_steps]
            np.add.at(doses, steps, phase.dose_mg)
        return doses

    def treatment_periods(self) -> list[tuple[str, float, float]]:
        """Return (drug, start_day, stop_day) of each active phase, for shading in figures."""
        return [(p.drug, p.start_day, p.stop_day) for p in self.phases if p.drug != "placebo"]


@dataclass(frozen=True)
class Schedule:
    """The time grid of a simulation.

    dt_days: integration step; duration_days: simulated span from day 0;
    visit_months: months at which BMD and markers are recorded; marker_days: extra early
    days at which markers are recorded (the first weeks matter for P1NP and CTX);
    imaging_months: months with vertebral imaging (morphometric fractures);
    chunk_size: patients integrated together (bounds memory); pk_substeps: PK splitting
    steps per half integration step (accuracy of the saturable elimination); engine: the
    simulate_arm kernel, ``numba`` (compiled per-patient loop) or ``numpy`` (vectorized over
    the chunk), equal to 1e-9 relative.
    """

    dt_days: float
    duration_days: float
    visit_months: tuple[float, ...]
    marker_days: tuple[float, ...]
    imaging_months: tuple[float, ...]
    chunk_size: int = 20000
    pk_substeps: int = 4
    engine: str = "numba"

    def __post_init__(self) -> None:
        if not 0.05 <= self.dt_days <= 7.0:
            raise ValueError(f"dt_days={self.dt_days} is outside [0.05, 7]")
        if self.duration_days < self.dt_days:
            raise ValueError(f"duration_days={self.duration_days} is shorter than dt_days")
        if not 1 <= self.pk_substeps <= 64:
            raise ValueError(f"pk_substeps={self.pk_substeps} is outside [1, 64]")
        if self.engine not in ENGINES:
            raise ValueError(f"engine={self.engine!r} is not known; allowed: {ENGINES}")
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size={self.chunk_size} must be >= 1")
        for month in self.imaging_months:
            if month not in self.visit_months:
                raise ValueError(f"imaging month {month} is not among visit_months")

    @property
    def n_steps(self) -> int:
        """Number of integration steps covering duration_days."""
        return int(np.ceil(self.duration_days / self.dt_days - 1e-9))

    def until(self, month: float) -> Schedule:
        """Return this schedule cut at ``month``: visits, marker days and imaging up to it."""
        day = month * DAYS_PER_MONTH
        return dataclasses.replace(
            self,
            duration_days=day,
            visit_months=tuple(m for m in self.visit_months if m <= month),
            marker_days=tuple(d for d in self.marker_days if d <= day),
            imaging_months=tuple(m for m in self.imaging_months if m <= month),
        )

    def record_days(self) -> FloatArray:
        """Return the sorted, unique days at which states are recorded (visits and markers)."""
        visit_days = np.asarray(self.visit_months, dtype=np.float64) * DAYS_PER_MONTH
        days = np.concatenate([[0.0], visit_days, np.asarray(self.marker_days, dtype=np.float64)])
        days = days[days <= self.n_steps * self.dt_days + 1e-9]
        return np.unique(days)

    def record_steps(self) -> np.ndarray:
        """Return the step index (0 = baseline) nearest to each record day."""
        return np.rint(self.record_days() / self.dt_days).astype(np.int64)
