"""Bone by compartment (model.bmd, model.bone): structure in published ranges, a bounded
balance under long denosumab, and the strength index.

Sources of the ranges (docs/model.md, "Bone by compartment"): vertebral trabecular BV/TV of
older women about 0.05-0.20 (Hildebrand 1999), down to about 0.03 in the most osteoporotic
vertebrae (Mosekilde 1988), and proximal femur 0.10-0.30 (R); cortical porosity of older women
5-30 % at the proximal femur (Bousson 2001), higher with the transitional zone in the oldest,
most osteoporotic women (Zebaze 2010, R). Every FRAME woman, not only the typical one, must lie
in them: the BV/TV and porosity powers of baseline BMD are literature values (model.yaml), not
fitted ones.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest

from osteotrial.calibration.comparison import strength_rows
from osteotrial.calibration.objective import typical_patient
from osteotrial.engine.reference import reference_bone
from osteotrial.engine.simulate import simulate_arm
from osteotrial.model import bmd, bone
from osteotrial.model.records import SITES, pack_model
from osteotrial.trial.schedules import ArmSpec, Schedule
from osteotrial.units import DAYS_PER_YEAR

# every patient (extremes included) and the typical woman (middle of the published ranges)
BVTV_RANGE = {"LS": (0.03, 0.20), "TH": (0.07, 0.35), "FN": (0.07, 0.35)}
POROSITY_RANGE = (0.03, 0.45)
TYPICAL_BVTV = {"LS": (0.05, 0.15), "TH": (0.10, 0.30), "FN": (0.10, 0.30)}
TYPICAL_POROSITY = (0.05, 0.30)
YEARS = 10


def denosumab(years: float) -> ArmSpec:
    return ArmSpec.from_dict(
        "denosumab",
        [
            {
                "drug": "denosumab",
                "dose_mg": 60,
                "interval_days": 182.625,
                "start_day": 0,
                "stop_day": years * DAYS_PER_YEAR,
            }
        ],
    )


PLACEBO = ArmSpec.from_dict(
    "placebo",
    [{"drug": "placebo", "dose_mg": 0, "interval_days": 182.625, "start_day": 0, "stop_day": 1096}],
)
THREE_YEARS = Schedule(1.0, 3 * DAYS_PER_YEAR, (12, 24, 36), (), ())


def test_baseline_structure_in_published_ranges(small_frame_cohort, params):
    """Every patient's baseline trabecular BV/TV and cortical porosity lie in published ranges
    (extremes included), the typical FRAME woman's in the middle ones, and trabecular bone has
    far more surface per volume than cortical bone."""
    result = simulate_arm(small_frame_cohort, PLACEBO, params, THREE_YEARS)
    typical = simulate_arm(typical_patient("frame"), PLACEBO, params, THREE_YEARS)
    for site in SITES:
        bvtv = result.structure[f"trabecular_bvtv_{site.lower()}"][0]
        porosity = result.structure[f"cortical_porosity_{site.lower()}"][0]
        low, high = BVTV_RANGE[site]
        assert low <= bvtv.min() and bvtv.max() <= high, (site, bvtv.min(), bvtv.max())
        assert POROSITY_RANGE[0] <= porosity.min(), (site, porosity.min())
        assert porosity.max() <= POROSITY_RANGE[1], (site, porosity.max())
        one_bvtv = typical.structure[f"trabecular_bvtv_{site.lower()}"][0, 0]
        one_porosity = typical.structure[f"cortical_porosity_{site.lower()}"][0, 0]
        assert TYPICAL_BVTV[site][0] <= one_bvtv <= TYPICAL_BVTV[site][1], (site, one_bvtv)
        assert TYPICAL_POROSITY[0] <= one_porosity <= TYPICAL_POROSITY[1], (site, one_porosity)
        ratio = bmd.surface_per_volume(one_bvtv) / bmd.surface_per_volume(1.0 - one_porosity)
        assert ratio > 5.0, (site, ratio)


def test_denosumab_fills_pores_and_strengthens_placebo_loses(small_frame_cohort, params):
    """Cortical porosity falls on denosumab as pores refill and rises untreated; the strength
    index rises on denosumab and falls on placebo at both the hip and the spine."""
    den = simulate_arm(small_frame_cohort, denosumab(3.0), params, THREE_YEARS)
    pbo = simulate_arm(small_frame_cohort, PLACEBO, params, THREE_YEARS)
    for site in ("ls", "th"):
        por_den, por_pbo = (
            den.structure[f"cortical_porosity_{site}"],
            pbo.structure[f"cortical_porosity_{site}"],
        )
        assert np.mean(por_den[-1] - por_den[0]) < 0.0 < np.mean(por_pbo[-1] - por_pbo[0])
        assert np.mean(den.structure[f"strength_rel_{site}"][-1]) > 1.02
        assert np.mean(pbo.structure[f"strength_rel_{site}"][-1]) < 0.99


def ten_year_states(params):
    """The typical FREEDOM woman's bone state at each year of 10 years of denosumab (LSODA)."""
    patient = typical_patient("freedom")
    schedule = Schedule(1.0, YEARS * DAYS_PER_YEAR, (), (), ())
    days = np.rint(np.arange(YEARS + 1) * DAYS_PER_YEAR)
    return reference_bone(patient, denosumab(YEARS), params, schedule, days)[:, :, 0], patient


def _constants(params, patient):
    par = pack_model(params)
    const = np.empty((bone.N_SITE_CONSTANTS, bone.N_COMPARTMENTS))
    bmd0 = np.array([getattr(patient, f"bmd_{s.lower()}_g_cm2")[0] for s in SITES])
    bone.site_constants(
        par.sites, par.remodeling[0], 1.0, 1.0, 1.0, bmd0, patient.age_years[0], const
    )
    bone.initial_bone(np.empty(bone.N_BONE_STATES), par.sites, const)
    return par.sites, const


def _courses(params, site):
    """Return (BMD rel, aBMD-share-weighted volume rel, compartment volumes (2, 11), their
    capacities) of a site over 10 years of denosumab."""
    states, patient = ten_year_states(params)
    sites, const = _constants(params, patient)
    j = SITES.index(site)
    rows = [bone.compartment_row(2 * j + k) for k in range(2)]
    vols = np.array([[bmd.bone_volume(states[:, t], r) for t in range(YEARS + 1)] for r in rows])
    shares = np.array([bmd.bmd_share(sites[j], k) for k in range(2)])
    bmd_rel = np.array([bone.bmd_rel(states[:, t], j, sites, const) for t in range(YEARS + 1)])
    return bmd_rel, shares @ vols, vols, const[bone.CAPACITY, 2 * j : 2 * j + 2]


@pytest.fixture(scope="module")
def unbounded_params(params):
    """The default parameters with a modeling capacity so large it never binds."""
    remodeling = dataclasses.replace(params.remodeling, modeling_capacity_frac=1e6)
    return dataclasses.replace(params, remodeling=remodeling)


@pytest.mark.parametrize("site", ["LS", "TH"])
def test_long_denosumab_gain_slows_and_volume_is_bounded(params, unbounded_params, site):
    """Under 10 years of continuous denosumab the yearly BMD gain declines, the first year's
    gain is mostly mineral, each compartment's volume gain stays below its modeling capacity
    and slows year after year, and without the capacity the volume would keep growing faster
    (the bounded balance of model.bmd.formed)."""
    bmd_rel, volume, vols, capacity = _courses(params, site)
    gains = np.diff(bmd_rel)
    assert np.all(gains > 0.0) and np.all(np.diff(gains) < 1e-4), gains
    assert volume[1] - 1.0 < 0.5 * (bmd_rel[1] - 1.0), (volume[1], bmd_rel[1])
    assert np.all(vols - 1.0 < capacity[:, None]), (vols[:, -1], capacity)
    assert np.all(np.diff(np.diff(volume)) < 0.0), np.diff(volume)
    _, free_volume, _, _ = _courses(unbounded_params, site)
    assert volume[10] - volume[5] < 0.9 * (free_volume[10] - free_volume[5])


def test_strength_rows_read_the_structure_table():
    """A bone_strength target is within when the structure table's mean strength change at the
    mapped site (hip: TH, spine: LS) is within tol; a month the table lacks is compared and
    missed."""
    structure = pl.DataFrame(
        {
            "arm": ["denosumab", "denosumab"],
            "site": ["TH", "LS"],
            "measure": ["strength_pct_change"] * 2,
            "month": [36.0, 36.0],
            "n_patients": [100, 100],
            "mean": [8.0, 12.0],
            "ci_low": [7.0, 11.0],
            "ci_high": [9.0, 13.0],
            "sd": [3.0, 4.0],
        }
    )
    entries = [
        {"arm": "denosumab", "site": "hip", "month": 36, "value": 8.6, "tol": 2.0},
        {"arm": "denosumab", "site": "spine", "month": 36, "value": 18.2, "tol": 3.0},
        {"arm": "denosumab", "site": "hip", "month": 12, "value": 5.3, "tol": 2.0},
    ]
    rows = strength_rows(entries, structure)
    assert [r["within"] for r in rows] == [True, False, False]
    assert [r["measure"] for r in rows] == ["TH", "LS", "TH"]
    assert rows[0]["emulated"] == 8.0 and np.isnan(rows[2]["emulated"])


def test_activation_rises_for_years_after_menopause_then_levels_off(params):
    """Recker 2004's shape: activation one year after menopause well below its late level,
    rising over about a decade, level after that (the remodeling rate a follows it; the
    untreated loss does not)."""
    r = pack_model(params).remodeling[0]
    menopause = params.remodeling.menopause_age_years
    ages = menopause + np.array([0.0, 1.0, 4.0, 8.0, 12.0, 13.0, 20.0, 40.0])
    factor = np.array([bmd.activation_age_factor(r, a) for a in ages])
    assert 0.4 < factor[1] < 0.8 and factor[0] == factor[1]
    assert np.all(np.diff(factor[1:6]) > 0.0)
    assert factor[5] == factor[6] == factor[7] == 1.0
    patient = typical_patient("freedom")
    const = {}
    for age in (menopause + 8.0, menopause + 21.0):
        younger = dataclasses.replace(patient, age_years=np.array([age]))
        const[age] = _constants(params, younger)[1]
    young, old = const[menopause + 8.0], const[menopause + 21.0]
    ratio = young[bone.REMODELING] / old[bone.REMODELING]
    assert np.allclose(ratio, ratio[0]) and 0.5 < ratio[0] < 1.0
    loss_young = young[bone.REMODELING] - young[bone.FORMATION]
    assert np.allclose(loss_young, old[bone.REMODELING] - old[bone.FORMATION])
