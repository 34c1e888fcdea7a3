"""The bone step (engine.loop_bone) skips only work whose result it throws away.

``advance_bone`` tests stiffness stage by stage, drops a lane at its first stiff stage, and
``restep_lane`` reuses the step's first stage and starts at the first split whose first stage
passes (issue 28). Here the step is also computed the plain way (every stage of every lane,
then the whole test; every split from 2, each computing its first stage): the two must give
bit-identical states, on steps that are stiff (romosozumab's first dose) and
steps that are not. Both run as plain Python (the equations are plain functions), on two
FRAME patients per arm, so no compilation is needed; ``first_split`` on its own, at the
rates that make it skip splits.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from osteotrial.cohort.sampling import CohortSpec, sample_cohort
from osteotrial.engine import inputs, loop, loop_bone
from osteotrial.engine.cpu import new_work
from osteotrial.engine.loop_bone import MAX_SUBSTEPS, RK4_CONC, RK4_TIME, rk4_stage, rk4_update
from osteotrial.model import remodeling
from osteotrial.model.bone import N_BONE_STATES
from osteotrial.model.records import pack_table, records_of
from osteotrial.trial.config import load_config

ROOT = Path(__file__).resolve().parents[1]
STEPS = 40  # romosozumab's first dose at day 0 makes its first step stiff
LANES = 2


def _stiff_step(y, ks, q, h) -> bool:
    return any(loop_bone.stage_stiff(y, ks, stage, q, h) for stage in range(4))


def _restep_plain(s, i, q, pat, plan, table, w) -> None:
    """engine.loop_bone.restep_lane before issue 28: every split from 2, every stage."""
    par = records_of(table, pat.param_index[i])
    r = par.remodeling[0]
    w.y_start[q] = w.y[q]
    n = 2
    while n <= MAX_SUBSTEPS:
        h = plan.dt_days / n
        ok = True
        for k in range(n):
            for stage in range(4):
                tau = (k + RK4_TIME[stage]) / n
                den = loop_bone.quadratic(w.conc_nm[0, :, q], tau)
                romo = loop_bone.quadratic(w.conc_nm[1, :, q], tau) * pat.sensitivity[1, i]
                wnt = remodeling.wnt_raw(romo, r)
                rk4_stage(stage, q, h, den, wnt, math.log(wnt), plan.exposure[s], r, par, w)
            if _stiff_step(w.y[q], w.ks, q, h):
                ok = False
                break
            rk4_update(w.y[q], w.ks, q, h)
        if ok:
            return
        w.y[q] = w.y_start[q]
        n *= 2
    w.y[q] = math.nan


def _advance_bone_plain(s, lo, m, pat, plan, table, w) -> int:
    """engine.loop_bone.advance_bone before issue 28; returns how many lanes were stiff."""
    h = plan.dt_days
    loop_bone.drug_signals(lo, m, pat, table, w)
    for stage in range(4):
        c = RK4_CONC[stage]
        for q in range(m):
            par = records_of(table, pat.param_index[lo + q])
            den, wnt, log_wnt = w.conc_nm[0, c, q], w.wnt[c, q], w.log_wnt[c, q]
            rk4_stage(stage, q, h, den, wnt, log_wnt, plan.exposure[s], par.remodeling[0], par, w)
    stiff = 0
    for q in range(m):
        if _stiff_step(w.y[q], w.ks, q, h):
            stiff += 1
            _restep_plain(s, lo + q, q, pat, plan, table, w)
        else:
            rk4_update(w.y[q], w.ks, q, h)
    return stiff


@pytest.fixture(scope="module")
def frame():
    t = load_config("frame", overrides={"n_per_arm": 20}, config_dir=ROOT / "config")
    cohort = sample_cohort(CohortSpec.from_dict(t.cohort_spec), t.allocation, t.seed)
    return t, cohort


def _copy(w):
    return type(w)(*(np.array(a, copy=True) for a in w))


@pytest.mark.parametrize("arm_name", ["romosozumab_then_denosumab", "placebo_then_denosumab"])
def test_stage_by_stage_step_equals_the_plain_step(frame, arm_name):
    t, cohort = frame
    part = cohort.select(np.flatnonzero(cohort.arm == arm_name)[:LANES])
    sets, index = inputs.parameter_sets(t.params, None, part.n_patients)
    sets, index = inputs.sets_by_sex(sets, index, part.sex)
    table = pack_table(sets)
    plan = inputs.plan_of(t.arms[arm_name], t.schedule, False)
    pat = inputs.patients_of(part, table, index)
    w = new_work(LANES)
    for q in range(LANES):
        loop.start_patient(q, q, pat, plan, table, w)
    stiff = 0
    for s in range(STEPS):
        loop.advance_pk(s, 0, LANES, pat, plan, table, w)
        plain = _copy(w)
        loop_bone.advance_bone(s, 0, LANES, pat, plan, table, w)
        stiff += _advance_bone_plain(s, 0, LANES, pat, plan, table, plain)
        assert np.array_equal(w.y, plain.y), f"step {s}"
        assert np.isfinite(w.y).all()
    if arm_name == "romosozumab_then_denosumab":
        assert stiff >= LANES  # the first dose makes the first step stiff in every lane
    assert w.y.shape == (LANES, N_BONE_STATES)


@pytest.mark.parametrize(
    "rate,expected",
    [(0.5, 2), (1.5, 2), (2.5, 4), (7.9, 8), (40.0, 64), (64.5, 2 * MAX_SUBSTEPS), (np.nan, 128)],
)
def test_first_split_is_the_first_whose_first_stage_passes(rate, expected):
    """A first stage moving a cell state at ``rate`` times its value per day over a day: the
    splits n with rate / n > 1 (``MAX_STAGE_CHANGE``) would each fail their first sub-step's
    first stage; NaN fails every split."""
    y = np.full(N_BONE_STATES, 2.0)
    ks = np.zeros((4, 1, N_BONE_STATES))
    ks[0, 0, remodeling.OBA] = -rate * y[remodeling.OBA]
    assert loop_bone.first_split(y, ks, 0, 1.0) == expected
    n = loop_bone.first_split(y, ks, 0, 1.0)
    skipped = [k for k in (2, 4, 8, 16, 32, 64) if k < n]
    assert all(loop_bone.stage_stiff(y, ks, 0, 0, 1.0 / k) for k in skipped)
