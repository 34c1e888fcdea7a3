"""A men's parameter set from a women's: the few parameters that differ by sex.

Everything of the bone (PK, remodeling, BMD rates) is shared: no source gives men's values
for this model's biology, and the sex-steroid lever comes with issue 25's exposures. What
differs (``ModelParams.men``, sources in ``config/model.yaml``):

- T-scores on the men's young-adult references (``model.tscore``; the set's site records);
- fracture hazards: a man's hazard is a woman's at the same age and the same absolute BMD at
  the hazard's site, times ``fracture_rr_same_age_bmd``. The model's hazard reads the T-score,
  so with woman's T = (m_M + s_M T_M - m_F) / s_F (m, s: the site's young-adult mean and SD)::

      base_M = base_F * r * RR^-(T_F(T_ref) - T_ref),   RR_M per men's SD = RR^(s_M / s_F)

  exactly a woman's hazard at the same BMD at every T-score (RR: ``rr_per_sd``);
- death: ``death_per_year_at_70`` times ``death_rr`` and the men's excess after a hip fracture;
- remodeling: no menopause (``menopause_age_years`` never reached), so the activation of
  ``bmd.activation_age_factor`` is the men's ``activation_early_postmenopause_frac`` (1: no
  early-postmenopausal level) times ``activation_rel`` (men's turnover over the
  late-postmenopausal women's plateau, fitted: ``calibration.men``) at every age;
- untreated loss at the lumbar spine: ``untreated_loss_spine_frac`` of a woman's (older men's
  spine aBMD does not fall with age on DXA); at the hip the same as a woman's.
"""

from __future__ import annotations

import dataclasses
import math

from osteotrial.model.params import FractureParams, FractureTypeParams, MenParams, ModelParams
from osteotrial.model.records import FRACTURE_TYPES
from osteotrial.model.tscore import reference_g_cm2

NO_MENOPAUSE_AGE_YEARS = 1000.0  # a men's set's menopause age: never, so activation is flat


def men_fracture_type(
    ft: FractureTypeParams, men: MenParams, reference_tscore: float
) -> FractureTypeParams:
    """Return a fracture type's men's parameters (base at the men's T_ref, slope per men's SD)."""
    mean_f, sd_f = reference_g_cm2(ft.bmd_site, "female")
    mean_m, sd_m = reference_g_cm2(ft.bmd_site, "male")
    tscore_f = (mean_m + sd_m * reference_tscore - mean_f) / sd_f
    log_rr = math.log(ft.rr_per_sd)
    base = ft.base_per_year * men.fracture_rr_same_age_bmd
    base *= math.exp(-log_rr * (tscore_f - reference_tscore))
    return dataclasses.replace(ft, base_per_year=base, rr_per_sd=math.exp(log_rr * sd_m / sd_f))


def men_fracture(fp: FractureParams, men: MenParams) -> FractureParams:
    """Return the men's fracture and mortality block of a women's one (module docstring)."""
    types = {t: men_fracture_type(fp.of(t), men, fp.reference_tscore) for t in FRACTURE_TYPES}
    return dataclasses.replace(
        fp,
        **types,
        death_per_year_at_70=fp.death_per_year_at_70 * men.death_rr,
        rr_death_after_hip_fracture=men.rr_death_after_hip_fracture,
    )


def men_activation(men: MenParams) -> float:
    """Return a man's activation factor at every age, relative to the women's plateau."""
    return men.activation_early_postmenopause_frac * men.activation_rel


def params_for_sex(params: ModelParams, sex: str) -> ModelParams:
    """Return the parameter set of ``sex`` ("female" or "male") made from a women's set (a
    set already of that sex is returned as it is; a men's set cannot be turned back)."""
    if sex not in ("female", "male"):
        raise ValueError(f"sex={sex!r}; allowed: female, male")
    if params.sex == sex:
        return params
    if params.sex != "female":
        raise ValueError(f"params_for_sex starts from a women's set, got sex={params.sex!r}")
    remodeling = dataclasses.replace(
        params.remodeling,
        activation_early_postmenopause_frac=men_activation(params.men),
        menopause_age_years=NO_MENOPAUSE_AGE_YEARS,
    )
    ls = params.bmd.ls
    ls = dataclasses.replace(
        ls,
        untreated_loss_pct_per_year=ls.untreated_loss_pct_per_year
        * params.men.untreated_loss_spine_frac,
    )
    return dataclasses.replace(
        params,
        fracture=men_fracture(params.fracture, params.men),
        remodeling=remodeling,
        bmd=dataclasses.replace(params.bmd, ls=ls),
        sex="male",
    )
