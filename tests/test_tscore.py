"""T-scores by sex: the young-adult references of model.tscore and their use in a set's records."""

from __future__ import annotations

import numpy as np
import pytest

from osteotrial.model.records import SITES, pack_model
from osteotrial.model.sex import params_for_sex
from osteotrial.model.tscore import bmd_to_tscore, reference_g_cm2, tscore_to_bmd_g_cm2


def test_mens_femoral_neck_reference_is_nhanes_iii_young_white_men():
    # Looker 1997/1998 (NHANES III, 382 non-Hispanic white men aged 20-29): FN 0.934 +/- 0.137
    # g/cm2, so the men's osteoporosis cut-off (T = -2.5) is 0.592 g/cm2 and a man at the
    # young mean has T = 0; total hip 1.041 +/- 0.144.
    assert reference_g_cm2("FN", "male") == (0.934, 0.137)
    assert reference_g_cm2("TH", "male") == (1.041, 0.144)
    assert tscore_to_bmd_g_cm2(-2.5, "FN", "male") == pytest.approx(0.5915)
    assert bmd_to_tscore(0.934, "FN", "male") == pytest.approx(0.0)
    # the same BMD is a lower T-score in a man than in a woman at the hip; alike at the spine
    assert bmd_to_tscore(0.70, "TH", "male") < bmd_to_tscore(0.70, "TH", "female") - 0.3
    assert bmd_to_tscore(0.90, "LS", "male") == bmd_to_tscore(0.90, "LS", "female")


def test_per_patient_sexes_and_round_trip():
    sex = np.array(["female", "male", "male"])
    tscore = np.array([-2.5, -2.5, 0.0])
    bmd = tscore_to_bmd_g_cm2(tscore, "TH", sex)
    assert bmd == pytest.approx([0.942 - 2.5 * 0.122, 1.041 - 2.5 * 0.144, 1.041])
    assert bmd_to_tscore(bmd, "TH", sex) == pytest.approx(tscore)
    with pytest.raises(ValueError, match="sex values"):
        bmd_to_tscore(bmd, "TH", np.array(["female", "x", "male"]))
    with pytest.raises(ValueError, match="allowed"):
        reference_g_cm2("TH", "men")


def test_a_mens_set_carries_the_mens_references(params):
    women, men = pack_model(params), pack_model(params_for_sex(params, "male"))
    for j, site in enumerate(SITES):
        assert women.sites[j].young_adult_sd_g_cm2 == reference_g_cm2(site, "female")[1]
        assert men.sites[j].young_adult_mean_g_cm2 == reference_g_cm2(site, "male")[0]
        assert men.sites[j].young_adult_sd_g_cm2 == reference_g_cm2(site, "male")[1]
