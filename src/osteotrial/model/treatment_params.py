"""Parameters of what a patient may be under besides the two antibodies: the bisphosphonates
(``model.bisphosphonate``) and the background exposures (``model.exposure``); blocks
``bisphosphonate`` and ``exposure`` of ``config/model.yaml`` (values and sources there).
``model.params.ModelParams`` holds one of each."""

from __future__ import annotations

from dataclasses import dataclass, fields

from osteotrial.validation import check_positive_fields as _check_positive


@dataclass(frozen=True)
class BisphosphonateParams:
    """Bisphosphonate PK-PD (model.bisphosphonate): class rates, then per drug its oral
    bioavailability, urinary share at ``reference_crcl_ml_min`` and potency per mg on the bone
    surface relative to alendronate. Copied into the remodeling record, names prefixed bp_."""

    reference_crcl_ml_min: float
    surface_resorption_per_day: float
    surface_burial_per_day: float
    buried_release_per_year: float
    apoptosis_max_rel: float
    surface_ec50_mg: float
    alendronate_bioavailability_frac: float
    alendronate_urine_frac: float
    alendronate_potency_rel: float
    risedronate_bioavailability_frac: float
    risedronate_urine_frac: float
    risedronate_potency_rel: float
    zoledronic_acid_bioavailability_frac: float
    zoledronic_acid_urine_frac: float
    zoledronic_acid_potency_rel: float

    def __post_init__(self) -> None:
        _check_positive(self, "bisphosphonate")
        for f in fields(self):
            value = getattr(self, f.name)
            if (f.name.endswith("_frac")) and not value <= 1.0:
                raise ValueError(f"bisphosphonate.{f.name}={value} must be in (0, 1]")


@dataclass(frozen=True)
class ExposureParams:
    """Background exposures (model.exposure: equations; config/model.yaml: values, sources):
    withdrawal depths, glucocorticoid effects, van Staa 2000 fracture relative rates."""

    menopause_rankl_rise_frac: float
    androgen_deprivation_rankl_rise_frac: float
    aromatase_inhibitor_rankl_rise_frac: float
    sex_steroid_oba_apoptosis_gain: float
    sex_steroid_cortical_activation_gain: float
    glucocorticoid_half_effect_mg_per_day: float
    glucocorticoid_hill: float
    glucocorticoid_oba_apoptosis_gain: float
    glucocorticoid_differentiation_fall_frac: float
    glucocorticoid_sclerostin_rise_frac: float
    glucocorticoid_opg_fall_frac: float
    glucocorticoid_rankl_rise_frac: float
    gc_vertebral_rr_low: float
    gc_vertebral_rr_medium: float
    gc_vertebral_rr_high: float
    gc_hip_rr_low: float
    gc_hip_rr_medium: float
    gc_hip_rr_high: float
    gc_nonvertebral_rr_low: float
    gc_nonvertebral_rr_medium: float
    gc_nonvertebral_rr_high: float
    gc_fracture_offset_days: float

    def __post_init__(self) -> None:
        zero_ok = tuple(f.name for f in fields(self) if not f.name.startswith(("gc_", "gluco")))
        _check_positive(self, "model.exposure", allow_zero=zero_ok)
        for name in ("glucocorticoid_differentiation_fall_frac", "glucocorticoid_opg_fall_frac"):
            if getattr(self, name) >= 1.0:
                raise ValueError(f"model.exposure.{name}={getattr(self, name)} must be < 1")


@dataclass(frozen=True)
class MetastasisParams:
    """Tumour in bone and skeletal-related events (model.metastasis: equations; block
    ``metastasis`` of config/model.yaml: values, sources). Growth rates per year; the RANKL and
    differentiation gains per unit of burden; each SRE type's hazard per year at burden 1 and
    healthy resorption, and its exponent on resorption; the cancer death rate's exponent on
    burden (the rate itself is the patient's, ``cohort.population``); the relative risk of
    every SRE type for a patient with a skeletal event before entry; the SRE hazards' exponent on
    the burden."""

    tumour_intrinsic_growth_per_year: float
    tumour_resorption_growth_per_year: float
    tumour_capacity_rel: float
    tumour_rankl_gain_per_burden: float
    tumour_formation_gain_per_burden: float
    sre_pathologic_fracture_per_year: float
    sre_radiation_to_bone_per_year: float
    sre_surgery_to_bone_per_year: float
    sre_spinal_cord_compression_per_year: float
    sre_pathologic_fracture_resorption_exponent: float
    sre_radiation_to_bone_resorption_exponent: float
    sre_surgery_to_bone_resorption_exponent: float
    sre_spinal_cord_compression_resorption_exponent: float
    cancer_death_burden_exponent: float
    sre_prior_event_hazard_ratio: float = 1.0  # every SRE hazard x RR after a prior SRE
    sre_burden_exponent: float = 1.0  # every SRE hazard x burden^a

    def __post_init__(self) -> None:
        zero_ok = tuple(
            f.name for f in fields(self) if f.name.endswith(("_exponent", "_gain_per_burden"))
        ) + ("tumour_intrinsic_growth_per_year", "tumour_resorption_growth_per_year")
        _check_positive(self, "model.metastasis", allow_zero=zero_ok)


@dataclass(frozen=True)
class CalciumParams:
    """Calcium homeostasis (model.calcium: equations; block ``calcium`` of config/model.yaml:
    values, sources): serum calcium by kidney status, the bone, gut and kidney fluxes, PTH
    and calcitriol, dialysis exchange, supplements, and the hypocalcemia grade thresholds.
    Copied into the remodeling record, names prefixed ca_."""

    serum_calcium_mmol_l: float
    serum_calcium_sd_mmol_l: float
    dialysis_serum_calcium_mmol_l: float
    dialysis_serum_calcium_sd_mmol_l: float
    bone_flux_mmol_per_day: float
    resorption_share_frac: float
    diet_calcium_mmol_per_day: float
    gut_absorption_frac: float
    gut_calcitriol_exponent: float
    urine_calcium_mmol_per_day: float
    pth_bone_release_mmol_per_day: float
    reference_egfr_ml_min_1_73m2: float
    calcitriol_half_egfr_ml_min_1_73m2: float
    dialysis_calcitriol_synthesis_frac: float
    calcitriol_time_days: float
    calcitriol_pth_exponent: float
    pth_calcium_exponent: float
    pth_max_rel: float
    reabsorption_pth_exponent: float
    reabsorption_calcitriol_exponent: float
    dialysis_exchange_l_per_day: float
    vitamin_d_calcitriol_gain_per_1000_iu: float
    grade_1_below_mmol_l: float
    grade_2_below_mmol_l: float
    grade_3_below_mmol_l: float
    mineralization_lag_days: float  # bone uptake follows formation with this first-order lag
    deficient_calcitriol_synthesis_frac: float  # calcitriol synthesis in vitamin D deficiency

    def __post_init__(self) -> None:
        zero_ok = tuple(f.name for f in fields(self) if f.name.endswith("_exponent")) + (
            "vitamin_d_calcitriol_gain_per_1000_iu",
            "mineralization_lag_days",
            "pth_bone_release_mmol_per_day",
            "serum_calcium_sd_mmol_l",
            "dialysis_serum_calcium_sd_mmol_l",
        )
        _check_positive(self, "model.calcium", allow_zero=zero_ok)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_frac") and not value <= 1.0:
                raise ValueError(f"model.calcium.{f.name}={value}; allowed: (0, 1]")
        if not self.pth_max_rel > 1.0:
            raise ValueError(f"model.calcium.pth_max_rel={self.pth_max_rel}; allowed: > 1")
        grades = (self.grade_1_below_mmol_l, self.grade_2_below_mmol_l, self.grade_3_below_mmol_l)
        if not grades[0] > grades[1] > grades[2]:
            raise ValueError(
                f"model.calcium.grade_<k>_below_mmol_l={grades}; allowed: strictly decreasing"
            )

    def grade_thresholds_mmol_l(self) -> tuple[float, float, float]:
        """Return the three hypocalcemia thresholds (mmol/L), grade 1 first."""
        return (self.grade_1_below_mmol_l, self.grade_2_below_mmol_l, self.grade_3_below_mmol_l)
