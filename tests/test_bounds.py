"""Physiological bounds on recorded values (engine.bounds): nonsense stops the run with a
message naming the quantity, the patient, the day and the likely causes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from model_fixtures import arm

from osteotrial.engine import bounds
from osteotrial.engine.simulate import simulate_arm
from osteotrial.trial.schedules import Schedule

ROMOSOZUMAB = arm(("romosozumab", 210, 30.4375, 0, 365.25))
SHORT = Schedule(1.0, 91.3125, (1, 3), (14.0,), (3,))


@pytest.fixture(scope="module")
def patients(small_frame_cohort):
    return small_frame_cohort.select(np.arange(8))


def test_default_model_stays_within_bounds(patients, params):
    result = simulate_arm(patients, ROMOSOZUMAB, params, SHORT)
    bounds.check_chunk(result)  # no error
    assert result.p1np_rel.max() > 1.5  # the drug acts


@pytest.mark.parametrize(("exponent", "error"), [(3.75, bounds.PhysiologyError), (10.0, None)])
def test_a_switch_like_wnt_exponent_stops_with_quantity_patient_and_day(
    patients, params, exponent, error
):
    """Through the Python API (the schema refuses these values: at most 3): at 3.75 the run
    stops at a formation marker beyond 50 times baseline within two weeks (bone by compartment,
    issue 24: at 4 and above the state is no longer finite, before any bound is reached), at 10
    the state is no longer finite; both messages name the patient and the likely causes."""
    remodeling = dataclasses.replace(params.remodeling, wnt_commitment_exponent=exponent)
    extreme = dataclasses.replace(params, remodeling=remodeling)
    with pytest.raises(error or FloatingPointError) as raised:
        simulate_arm(patients, ROMOSOZUMAB, extreme, SHORT)
    text = str(raised.value)
    assert "patient" in text and "model: block" in text and "dt_days" in text
    if error is bounds.PhysiologyError:
        assert "p1np_rel" in text and "day" in text and "physiological range" in text


def _result_with(result, **changes):
    return dataclasses.replace(result, **changes)


def test_each_bound_names_its_quantity(patients, params):
    result = simulate_arm(patients, ROMOSOZUMAB, params, SHORT)
    bmd = result.bmd_ls_g_cm2.copy()
    bmd[2, 3] = -0.1  # negative BMD
    with pytest.raises(bounds.PhysiologyError, match=r"patient \d+, day [\d.]+: BMD LS"):
        bounds.check_chunk(_result_with(result, bmd_ls_g_cm2=bmd))
    ctx = result.ctx_rel.copy()
    ctx[1, 0] = 80.0
    with pytest.raises(bounds.PhysiologyError, match=r"ctx_rel = 80 is outside"):
        bounds.check_chunk(_result_with(result, ctx_rel=ctx))
    hazards = {k: v.copy() for k, v in result.cumulative_hazard.items()}
    hazards["hip"][-1] += 5.0  # 5 hip fractures expected within two months
    with pytest.raises(bounds.PhysiologyError, match=r"hip hazard per year"):
        bounds.check_chunk(_result_with(result, cumulative_hazard=hazards))
