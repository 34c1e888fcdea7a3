"""Model parameters as frozen dataclasses, with units in their names.

Each block maps to one block of ``config/model.yaml``; the defaults below are the values in
that file (which carries the source of each value and, for fitted values, what they were
fitted to). ``from_dict`` rejects unknown keys and lists the valid ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from osteotrial.model.safety_params import SafetyParams
from osteotrial.model.treatment_params import (
    BisphosphonateParams,
    CalciumParams,
    ExposureParams,
    MetastasisParams,
)
from osteotrial.validation import check_positive_fields as _check_positive
from osteotrial.validation import reject_unknown_keys

T = TypeVar("T")


def _build(cls: type[T], values: Mapping[str, Any], where: str) -> T:
    reject_unknown_keys(cls, values, where)
    return cls(**values)


@dataclass(frozen=True)
class PKParams:
    """Two-compartment PK with first-order SC absorption and linear + saturable elimination.

    dA_depot/dt = -ka A_depot (each dose adds F * dose_mg to the depot)
    dA_c/dt = ka A_depot - (cl/vc) A_c - vmax C/(km + C) - (q/vc) A_c + (q/vp) A_p
    dA_p/dt = (q/vc) A_c - (q/vp) A_p,  C = A_c / vc (mg/L)
    """

    bioavailability_frac: float
    ka_per_day: float
    vc_l: float
    vp_l: float
    q_l_per_day: float
    cl_l_per_day: float
    vmax_mg_per_day: float
    km_mg_l: float
    molar_mass_kda: float

    def __post_init__(self) -> None:
        _check_positive(self, "pk", allow_zero=("vmax_mg_per_day",))
        if self.bioavailability_frac > 1.0:
            raise ValueError(f"pk.bioavailability_frac={self.bioavailability_frac} must be <= 1")


@dataclass(frozen=True)
class RemodelingParams:
    """Bone cell populations (Lemaire/Pivonka family), scaled so that baseline = 1.

    See remodeling.py for the equations; *_rel constants are ratios to the baseline value.
    """

    obp_differentiation_per_day: float
    oba_apoptosis_per_day: float
    oca_apoptosis_per_day: float
    tgfb_kd_obu_rel: float
    modeling_formation_frac: float
    modeling_capacity_frac: float
    tgfb_kd_obp_rel: float
    tgfb_kd_oca_rel: float
    rankl_opg_binding_rel: float
    rankl_rank_binding_rel: float
    rankl_osteocyte_frac: float
    rank_activation_kd_rel: float
    precursor_renewal_per_day: float
    precursor_use_per_day: float
    denosumab_rankl_ka_per_nm: float
    denosumab_rankl_access_frac: float
    sclerostin_kout_per_day: float
    sclerostin_complex_kout_per_day: float
    romosozumab_sclerostin_kd_nm: float
    wnt_max_fold: float
    wnt_commitment_exponent: float
    wnt_differentiation_exponent: float
    wnt_opg_exponent: float
    tolerance_per_day: float
    tolerance_off_per_day: float
    tolerance_gain: float
    remodeling_space_days: float
    remodeling_space_refill_exponent: float
    menopause_age_years: float
    activation_early_postmenopause_frac: float
    activation_rise_years: float

    def __post_init__(self) -> None:
        _check_positive(
            self,
            "remodeling",
            allow_zero=(
                "wnt_commitment_exponent",
                "wnt_differentiation_exponent",
                "wnt_opg_exponent",
                "tolerance_gain",
                "precursor_use_per_day",
                "rankl_osteocyte_frac",
                "modeling_formation_frac",
                "remodeling_space_refill_exponent",
            ),
        )
        if self.wnt_max_fold <= 1.0:
            raise ValueError(f"remodeling.wnt_max_fold={self.wnt_max_fold} must be > 1")
        if self.rankl_osteocyte_frac >= 1.0:
            raise ValueError("remodeling.rankl_osteocyte_frac must be < 1")
        if self.modeling_formation_frac >= 1.0:
            raise ValueError("remodeling.modeling_formation_frac must be < 1")
        if self.remodeling_space_refill_exponent > 1.0:
            raise ValueError("remodeling.remodeling_space_refill_exponent must be in [0, 1]")
        if self.activation_early_postmenopause_frac > 1.0:
            raise ValueError("remodeling.activation_early_postmenopause_frac must be <= 1")


@dataclass(frozen=True)
class SiteBMDParams:
    """Bone balance of one site (model.bmd): two compartments, cell exponents, untreated loss.

    Each site holds a trabecular and a cortical compartment. Formation adds (a - lambda)
    b^gamma_ob and resorption removes a c^gamma_oc of a compartment's bone volume per day, a the
    compartment's remodeling rate: ``turnover_um_per_year`` (bone volume turned over per unit
    bone surface) times its surface per volume at its volume fraction (trabecular BV/TV,
    cortical 1 - porosity, both for a woman at T-score -2.5 and scaled with a patient's baseline
    BMD to the powers ``bvtv_bmd_exponent`` and -``porosity_bmd_exponent``: model.bmd.volume_frac).
    lambda is the untreated loss (``untreated_loss_pct_per_year`` of the site's aBMD a year for
    a woman at T-score -2.5, ``cortical_loss_share_frac`` of it cortical). Formation beyond
    the refilling of resorbed bone builds at most ``remodeling.modeling_capacity_frac`` of a
    compartment's baseline volume (model.bmd.formed).
    ``trabecular_share_frac``: the trabecular share of the site's areal BMD. The strength index
    (model.bone.strength_rel) weighs the compartments by ``strength_trabecular_share_frac``,
    trabecular apparent density to ``trabecular_strength_exponent`` and cortical bone volume
    fraction to ``cortical_porosity_exponent``.
    """

    turnover_um_per_year: float
    trabecular_bvtv_frac: float
    cortical_porosity_frac: float
    bvtv_bmd_exponent: float
    porosity_bmd_exponent: float
    trabecular_share_frac: float
    cortical_loss_share_frac: float
    gamma_ob: float
    gamma_oc: float
    untreated_loss_pct_per_year: float
    strength_trabecular_share_frac: float
    trabecular_strength_exponent: float
    cortical_porosity_exponent: float

    def __post_init__(self) -> None:
        # untreated_loss_pct_per_year: >= 0 in config/model.yaml (schema); a men's set may hold
        # a gain (negative, model.sex: men.untreated_loss_spine_frac), as a patient's IIV may
        _check_positive(self, "bmd site", skip=("untreated_loss_pct_per_year",))
        for name in (
            "trabecular_bvtv_frac",
            "cortical_porosity_frac",
            "trabecular_share_frac",
            "cortical_loss_share_frac",
            "strength_trabecular_share_frac",
        ):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ValueError(f"bmd site {name}={value} must be in (0, 1) (a fraction)")


@dataclass(frozen=True)
class MineralizationParams:
    """Mineralization of newly formed bone (Martinez-Reina & Pivonka 2019; model.bmd).

    A packet is osteoid for ``osteoid_lag_days``, mineralizes linearly to
    ``primary_mineral_frac`` over ``primary_days``, then exponentially towards
    ``max_mineral_frac`` at ``secondary_per_day`` (mineral volume per matrix volume).
    """

    osteoid_lag_days: float
    primary_days: float
    primary_mineral_frac: float
    max_mineral_frac: float
    secondary_per_day: float

    def __post_init__(self) -> None:
        _check_positive(self, "bmd.mineralization")
        if not self.primary_mineral_frac < self.max_mineral_frac < 1.0:
            raise ValueError(
                "bmd.mineralization needs primary_mineral_frac < max_mineral_frac < 1, got "
                f"{self.primary_mineral_frac} and {self.max_mineral_frac}"
            )


@dataclass(frozen=True)
class BMDParams:
    """Bone balance per site and the mineralization law shared by every site."""

    ls: SiteBMDParams
    th: SiteBMDParams
    fn: SiteBMDParams
    mineralization: MineralizationParams

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> BMDParams:
        """Build from {'ls': {...}, 'th': {...}, 'fn': {...}, 'mineralization': {...}}."""
        sites = ["ls", "th", "fn"]
        valid = [*sites, "mineralization"]
        unknown = sorted(set(values) - set(valid))
        missing = sorted(set(valid) - set(values))
        if unknown or missing:
            raise KeyError(f"bmd: unknown {unknown}, missing {missing}; valid keys are {valid}")
        blocks = {s: _build(SiteBMDParams, values[s], f"bmd.{s}") for s in sites}
        mineral = _build(MineralizationParams, values["mineralization"], "bmd.mineralization")
        return cls(**blocks, mineralization=mineral)

    def site(self, site: str) -> SiteBMDParams:
        """Return the parameters of site LS, TH or FN."""
        return getattr(self, site.lower())


@dataclass(frozen=True)
class FractureTypeParams:
    """Hazard of one fracture type (per year); see fracture.py for the equation."""

    base_per_year: float
    age_log_per_year: float
    rr_per_sd: float
    bmd_site: str
    rr_prevalent_vertebral: float
    rr_prior_nonvertebral: float
    bmi_log_per_kg_m2: float
    remodeling_space_log_hr: float

    def __post_init__(self) -> None:
        if self.bmd_site not in ("LS", "TH", "FN"):
            raise ValueError(f"fracture bmd_site={self.bmd_site!r}; allowed: LS, TH, FN")
        if not 0.0 <= self.remodeling_space_log_hr <= 5.0:
            raise ValueError(
                f"fracture remodeling_space_log_hr={self.remodeling_space_log_hr} must be in "
                "[0, 5] (log hazard ratio per log remodeling space)"
            )
        for name in (
            "base_per_year",
            "rr_per_sd",
            "rr_prevalent_vertebral",
            "rr_prior_nonvertebral",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"fracture {name}={getattr(self, name)} must be > 0")


@dataclass(frozen=True)
class FractureParams:
    """Fracture hazards per type, competing mortality and clinical recognition."""

    vertebral: FractureTypeParams
    hip: FractureTypeParams
    nonvertebral: FractureTypeParams
    reference_age_years: float
    reference_tscore: float
    rr_incident_fracture: float
    rr_two_or_more_vertebral: float
    incident_risk_waning_years: float
    vertebral_clinical_frac: float
    death_per_year_at_70: float
    death_age_log_per_year: float
    rr_death_after_hip_fracture: float
    hip_death_excess_waning_years: float

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> FractureParams:
        """Build from the nested `fracture` block of the config."""
        types = ("vertebral", "hip", "nonvertebral")
        flat = {k: v for k, v in values.items() if k not in types}
        missing = [t for t in types if t not in values]
        if missing:
            raise KeyError(f"fracture: missing block(s) {missing}")
        nested = {t: _build(FractureTypeParams, values[t], f"fracture.{t}") for t in types}
        return _build(cls, {**flat, **nested}, "fracture")

    def __post_init__(self) -> None:
        for name in ("incident_risk_waning_years", "hip_death_excess_waning_years"):
            if not 0.0 < getattr(self, name) <= 20.0:
                raise ValueError(f"fracture.{name}={getattr(self, name)} must be in (0, 20]")

    def of(self, fracture_type: str) -> FractureTypeParams:
        """Return the parameters of one fracture type."""
        return getattr(self, fracture_type)


@dataclass(frozen=True)
class MenParams:
    """What differs in men (``model.sex.params_for_sex``); the remodeling biology is shared.

    fracture_rr_same_age_bmd: a man's fracture hazard over a woman's of the same age and the
    same absolute BMD at the hazard's site; death_rr: men's all-cause death hazard over
    women's at the same age; rr_death_after_hip_fracture: men's excess after a hip fracture;
    activation_early_postmenopause_frac: the men's value of the remodeling key (1: no
    menopause, so no early-postmenopausal rise of activation); untreated_loss_spine_frac: a
    man's untreated lumbar-spine aBMD loss over a woman's at the same T-score, negative a gain
    (hip: the same; fitted with activation_rel);
    activation_rel: a man's remodeling activation over a late-postmenopausal woman's (fitted,
    ``calibration.men``).
    """

    fracture_rr_same_age_bmd: float
    death_rr: float
    rr_death_after_hip_fracture: float
    activation_early_postmenopause_frac: float = 1.0
    untreated_loss_spine_frac: float = 0.0
    activation_rel: float = 1.0

    def __post_init__(self) -> None:
        spine = self.untreated_loss_spine_frac  # negative: a gain (model.sex)
        _check_positive(self, "model.men", skip=("untreated_loss_spine_frac",))
        if not -3.0 <= spine <= 2.0:
            raise ValueError(f"men.untreated_loss_spine_frac={spine} must be in [-3, 2]")
        if self.activation_early_postmenopause_frac * self.activation_rel > 1.0:
            raise ValueError(
                "men.activation_early_postmenopause_frac x men.activation_rel must be <= 1"
            )


@dataclass(frozen=True)
class ModelParams:
    """All model parameters: PK of both antibodies, remodeling, BMD, fracture, men's,
    bisphosphonate, exposure, metastasis, safety and calcium blocks.

    ``sex`` is not read from the config: a set is a women's set unless ``model.sex.
    params_for_sex`` made it a men's one (the T-score references its records carry follow it).
    """

    denosumab: PKParams
    romosozumab: PKParams
    remodeling: RemodelingParams
    bmd: BMDParams
    fracture: FractureParams
    men: MenParams
    bisphosphonate: BisphosphonateParams
    exposure: ExposureParams
    metastasis: MetastasisParams
    safety: SafetyParams
    calcium: CalciumParams
    sex: str = "female"

    def __post_init__(self) -> None:
        if self.sex not in ("female", "male"):
            raise ValueError(f"ModelParams.sex={self.sex!r}; allowed: female, male")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ModelParams:
        """Build from the `model` block of the config (nested mappings)."""
        valid = [f.name for f in fields(cls) if f.name != "sex"]
        unknown = sorted(set(values) - set(valid))
        missing = sorted(set(valid) - set(values))
        if unknown or missing:
            raise KeyError(f"model: unknown {unknown}, missing {missing}; valid keys are {valid}")
        return cls(
            denosumab=_build(PKParams, values["denosumab"], "model.denosumab"),
            romosozumab=_build(PKParams, values["romosozumab"], "model.romosozumab"),
            remodeling=_build(RemodelingParams, values["remodeling"], "model.remodeling"),
            bmd=BMDParams.from_dict(values["bmd"]),
            fracture=FractureParams.from_dict(values["fracture"]),
            men=_build(MenParams, values["men"], "model.men"),
            bisphosphonate=_build(
                BisphosphonateParams, values["bisphosphonate"], "model.bisphosphonate"
            ),
            exposure=_build(ExposureParams, values["exposure"], "model.exposure"),
            metastasis=_build(MetastasisParams, values["metastasis"], "model.metastasis"),
            safety=_build(SafetyParams, values["safety"], "model.safety"),
            calcium=_build(CalciumParams, values["calcium"], "model.calcium"),
        )


def load_model_params(path: str = "config/model.yaml") -> ModelParams:
    """Read the default model parameters from a YAML file."""
    from osteotrial import yaml_strict

    return ModelParams.from_dict(yaml_strict.load_file(path))
