"""The fracture hazard's pieces: remodeling space, waning imminent risk, hip-fracture mortality.

The remodeling space (model.remodeling) replaces an instantaneous CTX multiplier: it lags
turnover, closes when formation outpaces resorption (so an anabolic that raises CTX less than
formation is not harmful) and reopens when an antiresorptive stops.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from osteotrial.calibration.hip_base import hip_base_per_year
from osteotrial.cohort.population import PopulationParams
from osteotrial.model import fracture, remodeling
from osteotrial.model.records import pack_model
from osteotrial.units import DAYS_PER_YEAR


@pytest.fixture(scope="module")
def records(params):
    return pack_model(params)


def space_rate(records, oba: float, oca: float, space: float) -> float:
    """Return d(remodeling space)/dt of model.remodeling.cell_rhs for given cell pools."""
    y = np.ones(remodeling.N_CELL_STATES)
    y[remodeling.TOLERANCE] = 0.0
    y[remodeling.OBA], y[remodeling.OCA], y[remodeling.REMODELING_SPACE] = oba, oca, space
    dy = np.empty_like(y)
    remodeling.cell_rhs(y, 1.0, 0.0, 0.0, records.remodeling[0], dy)
    return dy[remodeling.REMODELING_SPACE]


@pytest.mark.parametrize(
    "oba,oca,closes",
    [
        (1.0, 1.0, None),  # untreated: steady at 1
        (0.5, 0.2, True),  # antiresorptive: resorption falls more than formation
        (2.5, 0.5, True),  # romosozumab: formation up, resorption down
        (3.0, 2.0, True),  # an anabolic that raises CTX, formation more: not harmful
        (1.0, 1.8, False),  # rebound after stopping an antiresorptive: the space reopens
    ],
)
def test_remodeling_space_follows_resorption_over_formation(records, oba, oca, closes):
    rate = space_rate(records, oba, oca, 1.0)
    if closes is None:
        assert rate == 0.0
    else:
        assert (rate < 0.0) == closes
        # its quasi-steady state is resorption over formation
        assert space_rate(records, oba, oca, oca / oba) == pytest.approx(0.0, abs=1e-15)


def test_smaller_remodeling_space_lowers_every_fracture_hazard(records):
    fp = records.fracture[0]
    for ft in records.fracture_types:
        base = fracture.fracture_hazard_per_year(ft, fp, 0.0, 70.0, -2.5, 0.0, 0.0)
        closed = fracture.fracture_hazard_per_year(ft, fp, 0.0, 70.0, -2.5, math.log(0.5), 0.0)
        assert 0.0 < closed < base
        assert closed / base == pytest.approx(0.5**ft.remodeling_space_log_hr)


def test_imminent_risk_wanes(records):
    fp = records.fracture[0]
    tau = fp.incident_risk_waning_years
    assert fracture.waning(-np.inf, tau) == 0.0  # no fracture yet
    assert fracture.waning(np.nan, tau) == 0.0
    assert fracture.waning(0.0, tau) == 1.0
    assert fracture.waning(tau * DAYS_PER_YEAR, tau) == pytest.approx(math.exp(-1.0))
    ft = records.fracture_types[0]
    fresh = fracture.fracture_hazard_per_year(ft, fp, 0.0, 70.0, -2.5, 0.0, 1.0)
    later = fracture.fracture_hazard_per_year(ft, fp, 0.0, 70.0, -2.5, 0.0, math.exp(-2.0))
    none = fracture.fracture_hazard_per_year(ft, fp, 0.0, 70.0, -2.5, 0.0, 0.0)
    assert fresh / none == pytest.approx(fp.rr_incident_fracture)
    assert none < later < fresh


def test_excess_death_after_a_hip_fracture_wanes(records):
    fp = records.fracture[0]
    base = fracture.death_hazard_per_year(fp, 75.0, 0.0)
    just_after = fracture.death_hazard_per_year(fp, 75.0, 1.0)
    two_years = fracture.death_hazard_per_year(
        fp, 75.0, fracture.waning(2 * DAYS_PER_YEAR, fp.hip_death_excess_waning_years)
    )
    assert just_after / base == pytest.approx(fp.rr_death_after_hip_fracture)
    assert base < two_years < 0.5 * (base + just_after)


def test_hip_base_follows_the_source_population(params):
    """A frailer or lower-BMD source population means a lower base for the same rate: frailty
    enters through its log-normal mean sqrt(1 + CV^2) exactly, a lower hip T-score through the
    RR per SD (and the prior fractures it brings)."""
    base = hip_base_per_year(params.fracture, n=50_000)
    frail = PopulationParams(iiv_cv_fracture_frailty_frac=0.8)
    ratio = hip_base_per_year(params.fracture, frail, n=50_000) / base
    assert ratio == pytest.approx(np.sqrt((1 + 0.4**2) / (1 + 0.8**2)), rel=1e-9)
    low_bmd = PopulationParams(tscore_th_mean=-1.5)
    assert hip_base_per_year(params.fracture, low_bmd, n=50_000) < 0.5 * base
