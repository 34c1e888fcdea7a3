"""Young-adult BMD references that turn g/cm2 into T-scores and back.

Total hip and femoral neck: NHANES III young (20-29 y) non-Hispanic white women, Hologic
(Looker AC et al. Osteoporos Int 1998;8:468-89): TH 0.942 +/- 0.122, FN 0.858 +/- 0.120 g/cm2.
Lumbar spine (L1-L4): the Hologic manufacturer reference for young women, 1.047 +/- 0.110 g/cm2
(status R: recalled, not re-read).
"""

from __future__ import annotations

import numpy as np

from osteotrial.arrays import FloatArray
from osteotrial.model.compiled import equation

YOUNG_ADULT_MEAN_G_CM2: dict[str, float] = {"LS": 1.047, "TH": 0.942, "FN": 0.858}
YOUNG_ADULT_SD_G_CM2: dict[str, float] = {"LS": 0.110, "TH": 0.122, "FN": 0.120}


def _check_site(site: str) -> None:
    if site not in YOUNG_ADULT_MEAN_G_CM2:
        raise ValueError(f"site={site!r}; allowed: {tuple(YOUNG_ADULT_MEAN_G_CM2)}")


def tscore_to_bmd_g_cm2(tscore: float | FloatArray, site: str) -> FloatArray:
    """Return BMD in g/cm2 for a T-score at a site (LS, TH, FN)."""
    _check_site(site)
    return YOUNG_ADULT_MEAN_G_CM2[site] + np.asarray(tscore) * YOUNG_ADULT_SD_G_CM2[site]


def bmd_to_tscore(bmd_g_cm2: float | FloatArray, site: str) -> FloatArray:
    """Return the T-score of a BMD in g/cm2 at a site (LS, TH, FN)."""
    _check_site(site)
    return (np.asarray(bmd_g_cm2) - YOUNG_ADULT_MEAN_G_CM2[site]) / YOUNG_ADULT_SD_G_CM2[site]


@equation(inline=True)
def tscore_now(tscore_baseline: float, bmd_baseline_g_cm2: float, bmd_rel: float, sd_g_cm2: float):
    """Return the current T-score from the baseline T-score and BMD relative to baseline."""
    gain_g_cm2 = bmd_baseline_g_cm2 * (bmd_rel - 1.0)
    return tscore_baseline + gain_g_cm2 / sd_g_cm2
