"""Young-adult BMD references that turn g/cm2 into T-scores and back, by sex.

Women. Total hip and femoral neck: NHANES III young (20-29 y) non-Hispanic white women,
Hologic (Looker AC et al. Osteoporos Int 1998;8:468-89): TH 0.942 +/- 0.122, FN 0.858 +/-
0.120 g/cm2. Lumbar spine (L1-L4): the Hologic manufacturer reference for young women,
1.047 +/- 0.110 g/cm2 (status R: recalled, not re-read).

Men. Total hip and femoral neck: NHANES III young (20-29 y) non-Hispanic white men (382 men;
Looker 1998, above; Looker AC et al. J Bone Miner Res 1997;12:1761-8, which sets the male
cut-offs from them): TH 1.041 +/- 0.144, FN 0.934 +/- 0.137 g/cm2 (R). Lumbar spine: the women's
reference above, as the ISCD Official Positions allow (a uniform white female reference for men
and women; ISCD 2013/2019, R): NHANES has no young-adult spine reference from the 1990s, the
manufacturers' male spine references differ by make, and young men's and women's spine BMD
differ by under 0.02 g/cm2 (NHANES 2005-2008, R), a fifth of an SD.

The references enter the model twice: here (cohort T-scores, tables) and in each parameter
set's site records (``model.records.pack_model`` by ``ModelParams.sex``), so the fracture
hazard's current T-score of a man uses the men's SD, as his baseline T-score does.
"""

from __future__ import annotations

import numpy as np

from osteotrial.arrays import FloatArray
from osteotrial.model.compiled import equation

SEXES: tuple[str, ...] = ("female", "male")
YOUNG_ADULT_MEAN_G_CM2: dict[str, float] = {"LS": 1.047, "TH": 0.942, "FN": 0.858}
YOUNG_ADULT_SD_G_CM2: dict[str, float] = {"LS": 0.110, "TH": 0.122, "FN": 0.120}
MEN_YOUNG_ADULT_MEAN_G_CM2: dict[str, float] = {"LS": 1.047, "TH": 1.041, "FN": 0.934}
MEN_YOUNG_ADULT_SD_G_CM2: dict[str, float] = {"LS": 0.110, "TH": 0.144, "FN": 0.137}
_REFERENCES: dict[str, tuple[dict[str, float], dict[str, float]]] = {
    "female": (YOUNG_ADULT_MEAN_G_CM2, YOUNG_ADULT_SD_G_CM2),
    "male": (MEN_YOUNG_ADULT_MEAN_G_CM2, MEN_YOUNG_ADULT_SD_G_CM2),
}


def _check_site(site: str) -> None:
    if site not in YOUNG_ADULT_MEAN_G_CM2:
        raise ValueError(f"site={site!r}; allowed: {tuple(YOUNG_ADULT_MEAN_G_CM2)}")


def reference_g_cm2(site: str, sex: str = "female") -> tuple[float, float]:
    """Return the young-adult (mean, SD) in g/cm2 of a site (LS, TH, FN) for a sex."""
    _check_site(site)
    if sex not in _REFERENCES:
        raise ValueError(f"sex={sex!r}; allowed: {SEXES}")
    mean, sd = _REFERENCES[sex]
    return mean[site], sd[site]


def _per_patient(site: str, sex: str | np.ndarray) -> tuple[FloatArray, FloatArray]:
    """Return the reference mean and SD for one sex or an array of sexes (per patient)."""
    if isinstance(sex, str):
        return tuple(np.asarray(v) for v in reference_g_cm2(site, sex))  # type: ignore[return-value]
    sex = np.asarray(sex)
    bad = sorted(set(np.unique(sex).tolist()) - set(SEXES))
    if bad:
        raise ValueError(f"sex values {bad}; allowed: {SEXES}")
    female, male = reference_g_cm2(site, "female"), reference_g_cm2(site, "male")
    is_male = sex == "male"
    return np.where(is_male, male[0], female[0]), np.where(is_male, male[1], female[1])


def tscore_to_bmd_g_cm2(
    tscore: float | FloatArray, site: str, sex: str | np.ndarray = "female"
) -> FloatArray:
    """Return BMD in g/cm2 for a T-score at a site (LS, TH, FN); ``sex`` one or per patient."""
    mean, sd = _per_patient(site, sex)
    return mean + np.asarray(tscore) * sd


def bmd_to_tscore(
    bmd_g_cm2: float | FloatArray, site: str, sex: str | np.ndarray = "female"
) -> FloatArray:
    """Return the T-score of a BMD in g/cm2 at a site (LS, TH, FN); ``sex`` one or per patient."""
    mean, sd = _per_patient(site, sex)
    return (np.asarray(bmd_g_cm2) - mean) / sd


@equation
def tscore_now(tscore_baseline: float, bmd_baseline_g_cm2: float, bmd_rel: float, sd_g_cm2: float):
    """Return the current T-score from the baseline T-score and BMD relative to baseline."""
    gain_g_cm2 = bmd_baseline_g_cm2 * (bmd_rel - 1.0)
    return tscore_baseline + gain_g_cm2 / sd_g_cm2
