"""Measurement error of the trial's readings (analyses.measurement): DXA precision, markers."""

from __future__ import annotations

import numpy as np
import pytest

from osteotrial.analyses import measurement as measure
from osteotrial.analyses.measurement import EXACT, Measurement

DEFAULT = Measurement(7, {"LS": 1.0, "TH": 1.0, "FN": 1.7}, 20.0, 12.0)
IDS = np.arange(20000)


def test_without_error_the_readings_are_the_true_values():
    bmd0 = np.full(IDS.size, 0.8)
    bmd = bmd0 * 1.05
    np.testing.assert_allclose(measure.bmd_pct_change(EXACT, "LS", IDS, 365.25, bmd, bmd0), 5.0)
    true = np.linspace(-80, 50, IDS.size)
    np.testing.assert_array_equal(measure.marker_pct_change(EXACT, "CTX", IDS, 28.0, true), true)


def test_dxa_precision_gives_the_spread_and_the_lsc_of_two_readings():
    """No true change: measured changes have SD sqrt(2) x precision; 2.5 % exceed the LSC."""
    bmd0 = np.full(IDS.size, 0.8)
    pct = measure.bmd_pct_change(DEFAULT, "TH", IDS, 365.25, bmd0, bmd0)
    assert np.std(pct) == pytest.approx(np.sqrt(2.0) * 1.0, rel=0.03)
    assert np.mean(pct > DEFAULT.lsc_pct("TH")) == pytest.approx(0.025, abs=0.004)


def test_placebo_marker_quartiles_are_not_degenerate():
    pct = measure.marker_pct_change(DEFAULT, "CTX", IDS, 365.25, np.zeros(IDS.size))
    q25, median, q75 = np.quantile(pct, [0.25, 0.5, 0.75])
    assert q25 < -10.0 < 0.0 < 10.0 < q75  # two readings at CV 20 %: IQR about 36 points
    assert abs(median) < 1.0


def test_a_reading_depends_only_on_its_patient_site_and_day():
    """Same patient, same day: same error in any subset; another day or site: another error."""
    bmd0 = np.full(IDS.size, 0.8)
    whole = measure.bmd_pct_change(DEFAULT, "LS", IDS, 365.25, bmd0, bmd0)
    pick = np.array([5, 999, 17000])
    part = measure.bmd_pct_change(DEFAULT, "LS", IDS[pick], 365.25, bmd0[pick], bmd0[pick])
    np.testing.assert_array_equal(part, whole[pick])
    other_day = measure.bmd_pct_change(DEFAULT, "LS", IDS, 730.5, bmd0, bmd0)
    other_site = measure.bmd_pct_change(DEFAULT, "TH", IDS, 365.25, bmd0, bmd0)
    assert abs(np.corrcoef(whole, other_day)[0, 1]) < 0.6  # the baseline reading is shared
    assert not np.array_equal(whole, other_site)


def test_a_day_outside_the_key_range_is_an_error():
    with pytest.raises(ValueError, match="record day"):
        measure.bmd_pct_change(DEFAULT, "LS", IDS[:2], 1e6, np.ones(2), np.ones(2))
