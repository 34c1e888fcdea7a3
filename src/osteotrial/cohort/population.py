"""Source population of postmenopausal women from which trial candidates are screened.

Covariates (Gaussian copula, our own Cholesky factor; never ``multivariate_normal``)::

    z ~ N(0, I_5) from stream "screening.covariates" (draw j = variable j, order COPULA_VARIABLES)
    x = L z,  L L^T = R (correlation matrix of age, BMI, T-scores at LS, TH, FN)
    age_years  = truncated-normal(mean, sd, [lower, upper]).ppf(Phi(x_age))
    bmi_kg_m2  = log-normal with the given mean and SD, driven by x_bmi
    tscore_s   = mean_s + sd_s * x_s;   bmd_s_g_cm2 = ref_mean_s + tscore_s * ref_sd_s

Sex: male iff u < ``male_frac`` (u from stream "screening.sex"; 0 all women, 1 all men); a
man's T-scores are on the men's references (``model.tscore``): BMD ref_mean_s(male) + T sd.
One covariate model per population (a preset, ``cohort.presets``); a mixed cohort shares it.

Prevalent vertebral fractures (ordinal logistic, proportional odds)::

    eta = b0 + b_age (age - 70) / 10 + b_ls (-2.5 - tscore_ls)
    P(count >= k) = expit(eta - c_k), c_1 = 0 < c_2 < c_3 < c_4;  count in 0..4
    grade of fracture j = 1 mild, 2 moderate, 3 severe with fixed shares (iid per fracture)

Prior fractures (logistic; hip fracture is a nonvertebral fracture, so both use one uniform
and ``prior_hip`` implies ``prior_nonvertebral``)::

    logit p = logit(p_ref) + b_age (age - 70) / 10 + b_th (-1 - tscore_th) + b_vf [count > 0]

Inter-individual variability: ``cohort.variability`` (log-normal multipliers of stream "iiv",
median the population's typical value ``<name>_typical_rel``).

Sources: see ``docs/cohort.md``. Status letters: V read in a source, R recalled,
A assumption, F fitted by ``osteotrial.cohort.fit`` to targets.yaml baselines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from scipy import special

from osteotrial import rng
from osteotrial.arrays import FloatArray, IntArray
from osteotrial.cohort import calcium, safety, tumour
from osteotrial.cohort.sex import male_frac_of_sex, sex_from_uniform
from osteotrial.model.tscore import (
    YOUNG_ADULT_MEAN_G_CM2,
    YOUNG_ADULT_SD_G_CM2,
    tscore_to_bmd_g_cm2,
)
from osteotrial.validation import check_range

# Young-adult reference for T-scores (T = (BMD - mean) / SD); sources in reference.py.
YOUNG_REF_MEAN_G_CM2 = YOUNG_ADULT_MEAN_G_CM2
YOUNG_REF_SD_G_CM2 = YOUNG_ADULT_SD_G_CM2

COPULA_VARIABLES: tuple[str, ...] = ("age", "bmi", "LS", "TH", "FN")
MAX_PREVALENT_VERTEBRAL = 4
# Whom the default source population (preset postmenopausal_women) and its fitted covariates
# describe; a cohort table without a ``sex`` column is taken as this sex.
POPULATION_SEX = "female"
POPULATION_DESCRIPTION = "postmenopausal women"


@dataclass(frozen=True)
class PopulationParams:
    """Parameters of the source population (defaults fitted or from the literature, see docs;
    units in the names, ``*_frac`` fractions 0-1, ``*_log_or_*`` natural-log odds ratios)."""

    # share of men in the source population (0: women, 1: men; a trial file may say ``sex``)
    male_frac: float = 0.0
    # F = fitted to targets.yaml frame/freedom baseline by cohort_fit.py (seed 20240601,
    # 400,000 candidates, start values and weak priors in cohort_fit); age truncation A.
    age_years_mean: float = 67.5340  # F (start 66)
    age_years_sd: float = 10.3387  # F (start 9)
    age_years_lower: float = 50.0  # A: postmenopausal
    age_years_upper: float = 100.0  # A
    # BMI of US women 60-79 (NHANES 2007-2010 mean about 28-29, SD about 6) (R)
    bmi_kg_m2_mean: float = 28.0
    bmi_kg_m2_sd: float = 6.0
    tscore_ls_mean: float = -1.7291  # F
    tscore_th_mean: float = -0.6692  # F
    tscore_fn_mean: float = -0.8477  # F
    # SD of T-scores in older women: hip SDs near 1 (NHANES III women 70-79, R). LS: F (start
    # 1.3, lower bound 0.7); the fit pulls it down because FREEDOM's LS-window entrants must
    # average about -2.8 while FRAME's hip-selected women average -2.72 (see docs/cohort.md)
    tscore_ls_sd: float = 0.7853
    tscore_th_sd: float = 1.0
    tscore_fn_sd: float = 1.0
    corr_age_bmi: float = -0.10  # A: BMI falls slightly in old age
    corr_age_tscore_hip: float = -0.1548  # F (start -0.3): hip BMD falls with age
    corr_age_tscore_ls: float = -0.15  # A: half the hip value (spinal osteophytes)
    corr_bmi_tscore: float = 0.30  # A: BMI-BMD r about 0.3 (literature range 0.2-0.4, R)
    corr_ls_th: float = 0.65  # R: LS-TH r 0.6-0.7 in DXA cohorts
    corr_ls_fn: float = 0.60  # R
    corr_th_fn: float = 0.88  # R: TH-FN r 0.85-0.9
    # prevalent vertebral fractures
    vf_logit_intercept: float = -1.3461  # F: at age 70, LS T-score -2.5
    vf_log_or_per_decade: float = 0.4776  # F within [0.3, 0.9] (start 0.47): OR 1.6
    vf_log_or_per_sd_lower_ls: float = 0.64  # R: OR 1.9 per SD lower LS BMD (Marshall 1996 S30)
    vf_count_cut_2: float = 1.05  # A: 40% of women with a VF have >= 2
    vf_count_cut_3: float = 1.90  # A: 18% have >= 3
    vf_count_cut_4: float = 2.70  # A: 8% have 4
    vf_grade_mild_frac: float = 0.45  # A: Genant grade shares per fracture
    vf_grade_moderate_frac: float = 0.40  # A (severe = the rest, 0.15)
    # prior fractures since menopause, reference woman aged 70 with TH T-score -1.0
    prior_nvf_ref_frac: float = 0.22  # A: about 1 in 5 women of 70 report a prior fracture
    prior_nvf_log_or_per_decade: float = 0.34  # A: OR 1.4 per decade
    prior_nvf_log_or_per_sd_lower_th: float = 0.41  # V: RR 1.5 per SD, any fracture (S30)
    prior_hip_ref_frac: float = 0.0075  # A: about 1% of women of 70 (rises to 3-4% in FREEDOM)
    prior_hip_log_or_per_decade: float = 0.92  # A: OR 2.5 per decade (steep age rise, S49)
    prior_hip_log_or_per_sd_lower_th: float = 0.96  # V: RR 2.6 per SD, hip BMD -> hip (S30)
    # R: a prevalent vertebral fracture about doubles the risk of other fractures
    # (Klotzbuecher CM et al., J Bone Miner Res 2000;15:721-39: RR about 2 for hip and NVF)
    prior_fracture_log_or_if_vf: float = 0.69
    # log-normal IIV, CV as a fraction (A: typical population-PK / PD magnitudes)
    iiv_cv_denosumab_clearance_frac: float = 0.40
    iiv_cv_denosumab_volume_frac: float = 0.25
    iiv_cv_romosozumab_clearance_frac: float = 0.35
    iiv_cv_romosozumab_volume_frac: float = 0.25
    iiv_cv_bone_turnover_frac: float = 0.25
    # normal (NORMAL_IIV), SD / mean of the untreated loss: A, checked against the SD of the TH
    # change on placebo (targets.yaml additions, Austin 2012 S13: 1.4-4.8 points at month 12)
    iiv_cv_bmd_loss_rate_frac: float = 1.5
    iiv_cv_fracture_frailty_frac: float = 0.40
    # bone biology (issue 12): sensitivity of the bone to each drug's concentration (an EC50-like
    # IIV: the patient's RANKL or sclerostin binding sees concentration x multiplier; typical PD
    # IIV of antibodies 30-50 %, R) and the secondary mineralization rate (assumption, 20 %)
    iiv_cv_denosumab_sensitivity_frac: float = 0.35
    iiv_cv_romosozumab_sensitivity_frac: float = 0.35
    iiv_cv_mineralization_rate_frac: float = 0.20
    # typical PK relative to the model's (cohort.variability; 1: the osteoporosis model's own)
    denosumab_clearance_typical_rel: float = 1.0
    denosumab_volume_typical_rel: float = 1.0
    # kidney function (cohort.kidney; issue 25): eGFR (CKD-EPI) log-normal around a median that
    # falls with age. NHANES 1999-2004 by CKD-EPI: median eGFR about 85 at 60-69 and 75 at 70-79
    # (Levey AS et al. Ann Intern Med 2009;150:604-12, R); eGFR < 60 in about a third of people
    # of 70 or more (Coresh J et al. JAMA 2007;298:2038-47: 38 % by MDRD, R; here 28 % at 75)
    egfr_median_at_70_ml_min_1_73m2: float = 75.0  # R
    egfr_log_per_decade: float = -0.15  # R: -14 % per decade, 85 at 62 -> 66 at 79
    egfr_log_sd: float = 0.25  # R: 10th-90th percentile 54-103 at 70 (A: same in men)
    # heights for Cockcroft-Gault's weight from BMI: NHANES 2015-2018 adults 60 and older,
    # about 160 cm women and 174 cm men (Fryar CD et al. Natl Health Stat Report 2021;160, R)
    height_female_m: float = 1.60
    height_male_m: float = 1.74
    # on dialysis below this eGFR (cohort.calcium; A: CKD stage G5, KDIGO, all on dialysis)
    dialysis_below_egfr_ml_min_1_73m2: float = 15.0
    kidney_failure_frac: float = 0.0  # in kidney failure, eGFR from cohort.kidney.FAILURE_EGFR
    tumour_burden_median_rel: float = 0.0
    tumour_burden_log_sd: float = 0.7
    lesion_lytic_frac: float = 1.0
    cancer_death_per_year: float = 0.0
    prior_skeletal_event_frac: float = 0.0
    # issue 27 (rest27): covariates of the rare harms (cohort.safety). A: share of women of
    # about 74 with osteoporosis with a prior cardiovascular event (no baseline value of ARCH
    # at hand); A: the dental procedure propensity gamma-distributed (mean 1), many never have one
    prior_cardiovascular_disease_frac: float = 0.2
    dental_procedure_gamma_shape: float = 0.5
    # issue 27: share with vitamin D deficiency (cohort.calcium; 0: trials screen it out)
    vitamin_d_deficient_frac: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            if not np.isfinite(getattr(self, f.name)):
                raise ValueError(f"{f.name} = {getattr(self, f.name)!r} must be finite")
        check_range("male_frac", self.male_frac, 0.0, 1.0)
        check_range("age_years_mean", self.age_years_mean, 18.0, 100.0)
        check_range("age_years_lower", self.age_years_lower, 18.0, 100.0)
        for site in ("ls", "th", "fn"):
            check_range(f"tscore_{site}_mean", getattr(self, f"tscore_{site}_mean"), -6.0, 3.0)
        check_range("age_years_upper", self.age_years_upper, self.age_years_lower + 1.0, 110.0)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_sd") or f.name.startswith("bmi_"):
                check_range(f.name, value, 1e-6, 100.0)
            elif f.name.startswith("corr_"):
                check_range(f.name, value, -0.99, 0.99)
            elif f.name.endswith("_ref_frac") or f.name.startswith("vf_grade"):
                check_range(f.name, value, 1e-6, 1.0 - 1e-6)
            elif f.name.startswith("iiv_cv_"):
                check_range(f.name, value, 0.0, 3.0)
            elif f.name.endswith("_typical_rel"):
                check_range(f.name, value, 0.1, 10.0)
        calcium.check_population(self)
        tumour.check_population(self)
        safety.check_population(self)
        for name in ("height_female_m", "height_male_m"):
            check_range(name, getattr(self, name), 1.2, 2.2)
        if self.vf_grade_mild_frac + self.vf_grade_moderate_frac >= 1.0:
            raise ValueError("vf_grade_mild_frac + vf_grade_moderate_frac must be < 1")
        cuts = (0.0, self.vf_count_cut_2, self.vf_count_cut_3, self.vf_count_cut_4)
        if not all(a < b for a, b in zip(cuts[:-1], cuts[1:], strict=True)):
            raise ValueError(f"vf_count_cut_2 < _3 < _4 must be increasing and > 0, got {cuts[1:]}")
        try:
            np.linalg.cholesky(self.correlation_matrix())
        except np.linalg.LinAlgError as err:
            raise ValueError("the corr_* values do not form a positive-definite matrix") from err

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> PopulationParams:
        """Return the defaults overridden by ``values``; unknown keys raise KeyError.

        ``sex: female`` or ``sex: male`` is a shorthand for ``male_frac`` 0 or 1.
        """
        values = dict(values)
        if "sex" in values:
            values["male_frac"] = male_frac_of_sex(values.pop("sex"), values.get("male_frac"))
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(valid))
        if unknown:
            raise KeyError(f"Unknown population key(s) {unknown}; valid keys are {valid}")
        return cls(**{k: float(v) for k, v in values.items()})

    @property
    def sexes(self) -> tuple[str, ...]:
        """Return the sexes the population holds ("female", "male" or both)."""
        return tuple(s for s, f in (("female", 1 - self.male_frac), ("male", self.male_frac)) if f)

    def correlation_matrix(self) -> FloatArray:
        """Return the copula correlation matrix, shape (5, 5), order COPULA_VARIABLES."""
        a_h, a_l, b_t = self.corr_age_tscore_hip, self.corr_age_tscore_ls, self.corr_bmi_tscore
        return np.array(
            [
                [1.0, self.corr_age_bmi, a_l, a_h, a_h],
                [self.corr_age_bmi, 1.0, b_t, b_t, b_t],
                [a_l, b_t, 1.0, self.corr_ls_th, self.corr_ls_fn],
                [a_h, b_t, self.corr_ls_th, 1.0, self.corr_th_fn],
                [a_h, b_t, self.corr_ls_fn, self.corr_th_fn, 1.0],
            ]
        )


def raw_candidate_draws(seed: int, candidate_ids: IntArray) -> dict[str, FloatArray]:
    """Return the parameter-free random draws of candidates.

    Returns
    -------
    dict
        ``z``: standard normals, shape (5, n); ``u_vf``: uniforms, shape (5, n) (row 0 the
        count, rows 1-4 the grades of fractures 1-4); ``u_prior`` and ``u_sex``: uniforms,
        shape (n,).
    """
    return {
        "z": rng.normals(seed, "screening.covariates", candidate_ids, len(COPULA_VARIABLES)),
        "u_vf": rng.uniforms(seed, "screening.prevalent_fracture", candidate_ids, 5),
        "u_prior": rng.uniforms(seed, "screening.prior_fracture", candidate_ids, 1)[0],
        "u_sex": rng.uniforms(seed, "screening.sex", candidate_ids, 1)[0],
    }


def covariates_from_draws(
    raw: Mapping[str, FloatArray], pop: PopulationParams
) -> dict[str, np.ndarray]:
    """Map raw draws to candidate covariates, each of shape (n,).

    Keys are the covariate fields of ``Cohort`` (sex, age_years, bmi_kg_m2, tscore_*,
    bmd_*_g_cm2, prevalent_vertebral_fracture_count/max_grade, prior_nonvertebral/hip_fracture)
    plus ``prevalent_vertebral_fracture_moderate_count`` (used by screening only).
    """
    x = np.linalg.cholesky(pop.correlation_matrix()) @ raw["z"]
    sex = sex_from_uniform(raw["u_sex"], pop.male_frac)
    out: dict[str, np.ndarray] = {"sex": sex, **latent_to_covariates(x, pop, sex)}
    count = vertebral_fracture_count(raw["u_vf"][0], out["age_years"], out["tscore_ls"], pop)
    out["prevalent_vertebral_fracture_count"] = count
    out.update(vertebral_fracture_grades(raw["u_vf"][1:], count, pop))
    p_nvf, p_hip = prior_fracture_probabilities(out["age_years"], out["tscore_th"], count > 0, pop)
    out["prior_nonvertebral_fracture"] = raw["u_prior"] < p_nvf
    out["prior_hip_fracture"] = raw["u_prior"] < p_hip  # nested thresholds on one uniform
    return out


def age_bounds_frac(pop: PopulationParams) -> tuple[float, float]:
    """Return the normal CDF at the age truncation bounds (lower, upper)."""
    lo = special.ndtr((pop.age_years_lower - pop.age_years_mean) / pop.age_years_sd)
    hi = special.ndtr((pop.age_years_upper - pop.age_years_mean) / pop.age_years_sd)
    return float(lo), float(hi)


def _bmi_log_params(pop: PopulationParams) -> tuple[float, float]:
    """Return (mu, sigma) of log BMI for the log-normal with the given mean and SD."""
    sigma_log = float(np.sqrt(np.log1p((pop.bmi_kg_m2_sd / pop.bmi_kg_m2_mean) ** 2)))
    return float(np.log(pop.bmi_kg_m2_mean) - 0.5 * sigma_log**2), sigma_log


def latent_to_covariates(
    x: FloatArray, pop: PopulationParams, sex: str | np.ndarray = "female"
) -> dict[str, FloatArray]:
    """Return age_years, bmi_kg_m2, tscore_* and bmd_*_g_cm2, shape (n,), from the copula
    normals x, shape (5, n) in the order COPULA_VARIABLES (the marginals of the module doc);
    BMD from each patient's T-score on the references of ``sex`` (one, or one per patient)."""
    lo, hi = age_bounds_frac(pop)
    age = pop.age_years_mean + pop.age_years_sd * special.ndtri(lo + special.ndtr(x[0]) * (hi - lo))
    mu_log, sigma_log = _bmi_log_params(pop)
    out = {
        "age_years": np.clip(age, pop.age_years_lower, pop.age_years_upper),
        "bmi_kg_m2": np.exp(mu_log + sigma_log * x[1]),
    }
    for row, site in enumerate(("LS", "TH", "FN"), start=2):
        mean, sd = (getattr(pop, f"tscore_{site.lower()}_{s}") for s in ("mean", "sd"))
        tscore = mean + sd * x[row]
        out[f"tscore_{site.lower()}"] = tscore
        out[f"bmd_{site.lower()}_g_cm2"] = tscore_to_bmd_g_cm2(tscore, site, sex)
    return out


def covariates_to_latent(values: Mapping[str, FloatArray], pop: PopulationParams) -> FloatArray:
    """Return the copula normals, shape (5, n), of age_years, bmi_kg_m2 and tscore_ls/th/fn.

    The inverse of ``latent_to_covariates``; NaN (a missing value) stays NaN. Ages at the
    truncation bounds map to about +-7 (the CDF is kept inside [1e-12, 1 - 1e-12]).
    """
    lo, hi = age_bounds_frac(pop)
    age_z = (np.asarray(values["age_years"], dtype=float) - pop.age_years_mean) / pop.age_years_sd
    u_age = np.clip((special.ndtr(age_z) - lo) / (hi - lo), 1e-12, 1.0 - 1e-12)
    mu_log, sigma_log = _bmi_log_params(pop)
    rows = [special.ndtri(u_age), (np.log(values["bmi_kg_m2"]) - mu_log) / sigma_log]
    for site in ("ls", "th", "fn"):
        mean, sd = (getattr(pop, f"tscore_{site}_{s}") for s in ("mean", "sd"))
        rows.append((np.asarray(values[f"tscore_{site}"], dtype=float) - mean) / sd)
    return np.stack(rows)


def vertebral_fracture_probabilities(
    age_years: FloatArray, tscore_ls: FloatArray, pop: PopulationParams
) -> FloatArray:
    """Return P(prevalent VF count >= k) for k = 1..4, shape (4, n) (ordinal logistic)."""
    eta = (
        pop.vf_logit_intercept
        + pop.vf_log_or_per_decade * (age_years - 70.0) / 10.0
        + pop.vf_log_or_per_sd_lower_ls * (-2.5 - tscore_ls)
    )
    cuts = np.array([0.0, pop.vf_count_cut_2, pop.vf_count_cut_3, pop.vf_count_cut_4])
    return special.expit(eta[np.newaxis, :] - cuts[:, np.newaxis])


def vertebral_fracture_count(
    u_count: FloatArray, age_years: FloatArray, tscore_ls: FloatArray, pop: PopulationParams
) -> IntArray:
    """Return the prevalent VF count (0-4), shape (n,), from one uniform per woman."""
    p_at_least = vertebral_fracture_probabilities(age_years, tscore_ls, pop)
    return np.sum(u_count[np.newaxis, :] < p_at_least, axis=0).astype(np.int64)


def vertebral_fracture_grades(
    u_grades: FloatArray, count: IntArray, pop: PopulationParams
) -> dict[str, IntArray]:
    """Return the max grade (0-3) and the number of moderate VFs, shape (n,), of ``count``
    fractures whose grades are iid from the grade shares (u_grades: shape (4, n))."""
    edges = np.array([pop.vf_grade_mild_frac, pop.vf_grade_mild_frac + pop.vf_grade_moderate_frac])
    grade = 1 + np.searchsorted(edges, u_grades, side="right")  # (4, n) in 1..3
    present = np.arange(1, MAX_PREVALENT_VERTEBRAL + 1)[:, np.newaxis] <= count[np.newaxis, :]
    grade = np.where(present, grade, 0)
    return {
        "prevalent_vertebral_fracture_max_grade": grade.max(axis=0).astype(np.int64),
        "prevalent_vertebral_fracture_moderate_count": np.sum(grade == 2, axis=0).astype(np.int64),
    }


def prior_fracture_probabilities(
    age_years: FloatArray, tscore_th: FloatArray, has_vf: np.ndarray, pop: PopulationParams
) -> tuple[FloatArray, FloatArray]:
    """Return (P(prior NVF), P(prior hip)), shape (n,) each; P(hip) <= P(NVF), because one
    uniform u decides both (hip iff u < P(hip), NVF iff u < P(NVF)): hip implies NVF."""
    decades = (age_years - 70.0) / 10.0
    sd_lower = -1.0 - tscore_th
    vf_term = pop.prior_fracture_log_or_if_vf * has_vf
    p_nvf = special.expit(
        special.logit(pop.prior_nvf_ref_frac)
        + pop.prior_nvf_log_or_per_decade * decades
        + pop.prior_nvf_log_or_per_sd_lower_th * sd_lower
        + vf_term
    )
    p_hip = special.expit(
        special.logit(pop.prior_hip_ref_frac)
        + pop.prior_hip_log_or_per_decade * decades
        + pop.prior_hip_log_or_per_sd_lower_th * sd_lower
        + vf_term
    )
    return p_nvf, np.minimum(p_hip, p_nvf)
