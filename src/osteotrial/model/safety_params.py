"""Parameters of the rare harms (block ``safety`` of config/model.yaml; values and sources
there): the thresholds of the exposure slots the engines integrate (``model.safety``) and the
hazards drawn afterwards (``analyses.safety_frames``): osteonecrosis of the jaw (ONJ),
atypical femoral fractures (AFF), major adverse cardiovascular events (MACE).

Only ``KERNEL_FIELDS`` travel in the remodeling record (``model.records``); the others are
read by the analyses after the run, so a new hazard scale needs no new simulation.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from osteotrial.validation import check_positive_fields as _check_positive

KERNEL_FIELDS: tuple[str, ...] = (
    "onj_suppression_threshold_rel",
    "aff_on_treatment_threshold_rel",
    "aff_offset_per_year",
)
FRACTIONS: tuple[str, ...] = (
    "onj_suppression_threshold_rel",
    "aff_on_treatment_threshold_rel",
)


@dataclass(frozen=True)
class SafetyParams:
    """ONJ: log-depth threshold c_onj of resorption, hazard per year per year of exposure,
    its multiplier within ``onj_procedure_window_days`` after an invasive dental procedure,
    the mean procedure rate per year (times each patient's propensity, a cohort column:
    ``cohort.safety``).
    AFF: the on-treatment threshold c_aff, the memory's offset rate, the hazard at the
    reference duration and its power on duration. MACE: the rate at the reference age without
    prior cardiovascular disease, its log hazard ratio per year of age, the rate ratio of prior
    disease (its prevalence: a population key, ``cohort.safety``), romosozumab's hazard ratio
    while exposed with its 95 % CI (drawn log-normally for the prediction intervals,
    ``calibration.parameter_sets``)."""

    onj_suppression_threshold_rel: float
    onj_per_year_per_exposure_year: float
    onj_procedure_rr: float
    onj_procedure_window_days: float
    dental_procedures_per_year: float
    aff_on_treatment_threshold_rel: float
    aff_offset_per_year: float
    aff_per_year_at_reference: float
    aff_reference_years: float
    aff_duration_power: float
    mace_per_year_at_reference_age: float
    mace_reference_age_years: float
    mace_log_hr_per_year_of_age: float
    mace_prior_cardiovascular_rr: float
    mace_romosozumab_hr: float
    mace_romosozumab_hr_ci_low: float
    mace_romosozumab_hr_ci_high: float

    def __post_init__(self) -> None:
        _check_positive(self, "model.safety")
        for name in FRACTIONS:
            if getattr(self, name) >= 1.0:
                raise ValueError(f"model.safety.{name}={getattr(self, name)} must be < 1")
        if self.onj_procedure_rr < 1.0:
            raise ValueError(f"model.safety.onj_procedure_rr={self.onj_procedure_rr} must be >= 1")
        low, high = self.mace_romosozumab_hr_ci_low, self.mace_romosozumab_hr_ci_high
        if not low < high:
            raise ValueError(
                "model.safety: mace_romosozumab_hr_ci_low < mace_romosozumab_hr_ci_high must "
                f"hold, got {low}, {high}"
            )


SAFETY_FIELDS = tuple(f.name for f in fields(SafetyParams))
