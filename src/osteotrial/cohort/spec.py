"""What a trial asks of its cohort: the eligibility criteria, the ``cohort:`` block of a trial
file (``CohortSpec``) and the screening test of a candidate against them.

The sampled cohort (``cohort.sampling``) and a cohort from a table of given patients
(``cohort.from_table``) both screen with ``is_eligible``; it lives here, below both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from osteotrial.arrays import BoolArray
from osteotrial.cohort.kidney import EGFR_LIMITS
from osteotrial.cohort.population import PopulationParams
from osteotrial.cohort.presets import population_values
from osteotrial.model.records import SITES
from osteotrial.validation import check_range, reject_unknown_keys

_AGE_LIMITS_YEARS = (18.0, 110.0)
_TSCORE_LIMITS = (-7.0, 4.0)
_MAX_DROPOUT_PER_YEAR = 5.0


@dataclass(frozen=True)
class Eligibility:
    """Inclusion and exclusion criteria of a trial; windows are inclusive.

    A candidate is eligible if age is in [age_years_min, age_years_max], the T-score of at least
    one site in ``tscore_sites_any`` is in [tscore_min, tscore_max] (or, for a candidate with a
    prior fracture, vertebral or nonvertebral, in [tscore_min, tscore_max_with_prior_fracture]
    if that is given: ADAMO, BRIDGE), the eGFR is at least
    ``egfr_min_ml_min_1_73m2`` (if given; ``cohort.kidney``) and no exclusion applies.
    """

    age_years_min: float
    age_years_max: float
    tscore_min: float
    tscore_max: float
    tscore_sites_any: tuple[str, ...]
    exclude_prior_hip_fracture: bool = False
    exclude_severe_vertebral_fracture: bool = True
    max_moderate_vertebral_fractures: int = 2
    egfr_min_ml_min_1_73m2: float | None = None  # inclusion: eGFR at least this (CKD-EPI)
    tscore_max_with_prior_fracture: float | None = None  # the window's top with a fracture

    def __post_init__(self) -> None:
        for name in ("age_years_min", "age_years_max"):
            check_range(name, getattr(self, name), *_AGE_LIMITS_YEARS)
        for name in ("tscore_min", "tscore_max"):
            check_range(name, getattr(self, name), *_TSCORE_LIMITS)
        if self.age_years_min > self.age_years_max:
            raise ValueError(
                f"age window admits no one: age_years_min = {self.age_years_min} > "
                f"age_years_max = {self.age_years_max}"
            )
        if self.tscore_min > self.tscore_max:
            raise ValueError(
                f"T-score window admits no one: tscore_min = {self.tscore_min} > "
                f"tscore_max = {self.tscore_max}"
            )
        bad = [s for s in self.tscore_sites_any if s not in SITES]
        if not self.tscore_sites_any or bad or isinstance(self.tscore_sites_any, str):
            raise ValueError(
                f"tscore_sites_any = {self.tscore_sites_any!r} must be a non-empty list of {SITES}"
            )
        if self.tscore_max_with_prior_fracture is not None:
            check_range(
                "tscore_max_with_prior_fracture",
                self.tscore_max_with_prior_fracture,
                self.tscore_min,
                _TSCORE_LIMITS[1],
            )
        check_range("max_moderate_vertebral_fractures", self.max_moderate_vertebral_fractures, 0, 4)
        if self.egfr_min_ml_min_1_73m2 is not None:
            check_range("egfr_min_ml_min_1_73m2", self.egfr_min_ml_min_1_73m2, *EGFR_LIMITS)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Eligibility:
        """Build from a config mapping; unknown keys raise KeyError listing the valid keys."""
        reject_unknown_keys(cls, values, "eligibility")
        args = dict(values)
        if "tscore_sites_any" in args:
            sites = args["tscore_sites_any"]
            args["tscore_sites_any"] = (sites,) if isinstance(sites, str) else tuple(sites)
        return cls(**args)


@dataclass(frozen=True)
class CohortSpec:
    """The ``cohort:`` block of a trial file: eligibility, dropout, the source population (a
    preset of ``config/populations/`` and overrides, ``cohort.presets``; ``preset`` its name) and
    an optional baseline table of given patients (``table``: a CSV or Parquet path, see
    ``osteotrial.cohort.from_table``)."""

    eligibility: Eligibility
    dropout_per_year: float = 0.0
    population: PopulationParams = PopulationParams()
    table: str | None = None
    preset: str | None = None

    def __post_init__(self) -> None:
        check_range("dropout_per_year", self.dropout_per_year, 0.0, _MAX_DROPOUT_PER_YEAR)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> CohortSpec:
        """Build from a config mapping; unknown keys (at any level) raise KeyError."""
        reject_unknown_keys(cls, values, "cohort")
        if "eligibility" not in values:
            raise KeyError("cohort block needs 'eligibility'")
        return cls(
            eligibility=Eligibility.from_dict(values["eligibility"]),
            dropout_per_year=float(values.get("dropout_per_year", 0.0)),
            population=PopulationParams.from_dict(population_values(values.get("population"))),
            table=None if values.get("table") is None else str(values["table"]),
            preset=(values.get("population") or {}).get("preset"),
        )


def is_eligible(candidates: Mapping[str, np.ndarray], eligibility: Eligibility) -> BoolArray:
    """Return the eligibility of each candidate, shape (n,).

    ``candidates`` holds the arrays of ``covariates_from_draws`` (age_years, tscore_*,
    prior_hip_fracture, prevalent_vertebral_fracture_max_grade and _moderate_count).
    """
    e = eligibility
    age = candidates["age_years"]
    ok = (age >= e.age_years_min) & (age <= e.age_years_max)
    top = np.full(age.shape, e.tscore_max)
    if e.tscore_max_with_prior_fracture is not None:
        fractured = (candidates["prevalent_vertebral_fracture_count"] > 0) | candidates[
            "prior_nonvertebral_fracture"
        ]
        top = np.where(fractured, max(e.tscore_max, e.tscore_max_with_prior_fracture), top)
    in_window = np.zeros(age.shape, dtype=bool)
    for site in e.tscore_sites_any:
        tscore = candidates[f"tscore_{site.lower()}"]
        in_window |= (tscore >= e.tscore_min) & (tscore <= top)
    ok &= in_window
    if e.exclude_prior_hip_fracture:
        ok &= ~candidates["prior_hip_fracture"]
    if e.exclude_severe_vertebral_fracture:
        ok &= candidates["prevalent_vertebral_fracture_max_grade"] < 3
    ok &= candidates["prevalent_vertebral_fracture_moderate_count"] <= (
        e.max_moderate_vertebral_fractures
    )
    if e.egfr_min_ml_min_1_73m2 is not None:
        ok &= candidates["egfr_ml_min_1_73m2"] >= e.egfr_min_ml_min_1_73m2
    return ok
