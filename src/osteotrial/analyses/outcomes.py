"""Potential outcomes: each patient's exit and event days under every arm, and the per-column
(endpoint, month) matrices a replicate trial is counted from.

The data that ``analyses.power`` reads from the super-cohort's simulations and
``analyses.replicates`` draws trials from; kept here, below both, so that neither imports the
other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from osteotrial.analyses import vocabulary
from osteotrial.arrays import BoolArray, FloatArray, IntArray
from osteotrial.units import DAYS_PER_MONTH

Column = tuple[str, float]


@dataclass(frozen=True)
class PotentialOutcomes:
    """Potential outcomes of every super-cohort patient under every arm, as event days.

    ``columns`` lists the (endpoint, month) pairs. Arrays have shape (n_patients,), rows in
    ``patient_id`` order, days from randomization, +inf for never (``endpoints.patient_events``):
    ``exit_day[arm]`` the day the patient leaves the study under that arm (death or dropout),
    ``event_day[arm][endpoint]`` the first event day of every endpoint of ``columns``, for
    the clinical endpoints only events before the exit (observed).
    """

    patient_id: IntArray
    columns: tuple[Column, ...]
    exit_day: dict[str, FloatArray]
    event_day: dict[str, dict[str, FloatArray]]

    def __post_init__(self) -> None:
        if sorted(self.exit_day) != sorted(self.event_day):
            raise ValueError(
                f"exit_day has arms {sorted(self.exit_day)}, event_day {sorted(self.event_day)}"
            )
        for arm in self.exit_day:
            self._check_arm(arm)

    def _check_arm(self, arm: str) -> None:
        """Raise ValueError unless the arrays of ``arm`` are complete and observable.

        Every array is there, of shape (n_patients,), without nan; no clinical event comes on
        or after the exit (it would not have been observed).
        """
        days, exit_day = self.event_day[arm], self.exit_day[arm]
        arrays = {"exit_day": exit_day} | {f"event_day[{e!r}]": days.get(e) for e in self.endpoints}
        for name, values in arrays.items():
            if values is None or values.shape != self.patient_id.shape or np.isnan(values).any():
                raise ValueError(
                    f"{name} of arm {arm!r} is missing, has nan or not the shape of the "
                    f"{self.patient_id.size} patients"
                )
        for endpoint in (e for e in self.endpoints if not vocabulary.at_imaging(e)):
            happened = np.isfinite(days[endpoint])
            if np.any(days[endpoint][happened] >= exit_day[happened]):
                raise ValueError(f"event_day[{endpoint!r}] of arm {arm!r} has events after exit")

    @property
    def arms(self) -> list[str]:
        """Return the arm names, sorted."""
        return sorted(self.exit_day)

    @property
    def endpoints(self) -> tuple[str, ...]:
        """Return the endpoints of ``columns``, in their order."""
        return tuple(dict.fromkeys(endpoint for endpoint, _ in self.columns))

    def outcome_matrices(self, arm: str) -> tuple[BoolArray, BoolArray]:
        """Return (defined, event) of ``arm`` (``outcome_matrices``)."""
        return outcome_matrices(self.exit_day[arm], self.event_day[arm], self.columns)


def outcome_matrices(exit_day: FloatArray, event_day: Mapping[str, FloatArray], columns):
    """Return (defined, event), bool of shape (n_patients, n_columns), of one arm.

    ``exit_day`` and ``event_day`` as in ``PotentialOutcomes``; the definitions are those of
    ``endpoints.fracture_counts``: an imaging endpoint (``vocabulary.at_imaging``) assessed in
    the patients on study at the month, the clinical endpoints in every patient; event by the month.
    """
    defined = np.ones((exit_day.size, len(columns)), dtype=bool)
    event = np.zeros_like(defined)
    for k, (endpoint, month) in enumerate(columns):
        day = month * DAYS_PER_MONTH
        if vocabulary.at_imaging(endpoint):
            defined[:, k] = exit_day > day
        event[:, k] = defined[:, k] & (event_day[endpoint] <= day)
    return defined, event
