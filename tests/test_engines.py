"""The engines: one model, three consumers (CPU loop, GPU kernel, LSODA reference).

- The GPU engine gives the CPU engine's numbers (1e-9 relative) on every arm of every trial
  file, under numba's CUDA simulator (tests/engines/cudasim_parity.py, in a subprocess because
  numba reads NUMBA_ENABLE_CUDASIM at import).
- The fixed-step CPU engine stays within 0.1 % of the LSODA reference on BMD at 24 months, and
  within 1e-3 on expected fracture counts (sums of cumulative hazards), using the same
  equations (the reference's right-hand side is compiled from model/).
- A step too stiff for RK4 (a fast osteoclast pool shut off by a denosumab dose) is redone in
  sub-steps: it stays finite and as accurate as the others.
- Parameters reach the kernels by name: every dataclass field is in its record.
- Parameters per patient: patients of different parameter sets in one engine call (one CPU
  block, one GPU launch, one reference call) give exactly what separate calls give.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from model_fixtures import arm, other_parameters, patient_columns

from osteotrial.engine import inputs
from osteotrial.engine.reference import reference_bmd_rel, reference_events
from osteotrial.engine.results import FRACTURE_TYPES
from osteotrial.engine.simulate import simulate_arm
from osteotrial.model import records
from osteotrial.model.params import FractureTypeParams, PKParams, RemodelingParams, SiteBMDParams
from osteotrial.trial.schedules import Schedule

ROOT = Path(__file__).resolve().parents[1]
TWO_YEARS = Schedule(1.0, 730.5, (1, 3, 6, 9, 12, 18, 24), (5.0, 14.0), (12, 24))
ARMS = {
    "placebo_then_denosumab": arm(
        ("placebo", 0, 30.4375, 0, 365.25), ("denosumab", 60, 182.625, 365.25, 730.5)
    ),
    "romosozumab_then_denosumab": arm(
        ("romosozumab", 210, 30.4375, 0, 365.25), ("denosumab", 60, 182.625, 365.25, 730.5)
    ),
    "alendronate_then_zoledronic_acid": arm(
        ("alendronate", 70, 7, 0, 365.25), ("zoledronic_acid", 5, 365.25, 365.25, 730.5)
    ),
}


@pytest.fixture(scope="module")
def cudasim_results(tmp_path_factory):
    """CPU and simulated-GPU results of every arm of every trial file (short spans)."""
    out = tmp_path_factory.mktemp("cudasim") / "parity.npz"
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    script = ROOT / "tests" / "engines" / "cudasim_parity.py"
    done = subprocess.run(
        [sys.executable, str(script), str(out)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return np.load(out)


def test_gpu_engine_equals_cpu_engine_on_every_arm_of_every_trial(cudasim_results):
    cpu_keys = [k for k in cudasim_results.files if ".numba." in k]
    trials = {k.split(".")[0] for k in cpu_keys}
    assert trials == {p.stem for p in (ROOT / "config" / "trials").glob("*.yaml")}
    for key in cpu_keys:
        cpu = cudasim_results[key]
        gpu = cudasim_results[key.replace(".numba.", ".cuda.")]
        assert cpu.shape == gpu.shape and cpu.size > 0, key
        np.testing.assert_allclose(gpu, cpu, rtol=1e-9, atol=1e-300, err_msg=key)
    treated = cudasim_results["frame.romosozumab_then_denosumab.numba.romosozumab_ng_ml"]
    assert treated.max() > 1e3  # the spans do reach drug exposure


def test_cuda_engine_without_a_gpu_fails_with_a_clear_message(small_frame_cohort, params):
    pytest.importorskip("numba.cuda")
    from numba import cuda

    if cuda.is_available():
        pytest.skip("a GPU (or the simulator) is available here")
    schedule = dataclasses.replace(TWO_YEARS, duration_days=10.0, engine="cuda")
    with pytest.raises(RuntimeError, match="schedule.engine: cuda found no usable NVIDIA GPU"):
        simulate_arm(
            small_frame_cohort.select(np.arange(2)),
            ARMS["placebo_then_denosumab"],
            params,
            schedule,
        )  # noqa: E501


@pytest.mark.parametrize("arm_name", sorted(ARMS))
def test_bmd_at_24_months_within_0_1_pct_of_reference(small_frame_cohort, params, arm_name):
    sample = small_frame_cohort.select(np.array([2, 77, 190, 613]))
    kernel = simulate_arm(sample, ARMS[arm_name], params, TWO_YEARS)
    reference = reference_bmd_rel(sample, ARMS[arm_name], params, TWO_YEARS)
    for j, site in enumerate(("LS", "TH", "FN")):
        fixed = kernel.bmd_g_cm2(site)[-1] / kernel.bmd_g_cm2(site)[0]
        np.testing.assert_allclose(fixed, reference[j, -1], rtol=1e-3, err_msg=site)


def test_a_stiff_step_is_redone_in_substeps_and_stays_accurate(small_frame_cohort, params):
    """Osteoclast apoptosis 2/day (fitted 0.8; drawn parameter sets reached 1.3): the first
    denosumab dose empties the pool faster than one RK4 step of a day can follow (a stage went
    negative, and the run stopped non-finite, before engine.loop.restep_lane)."""
    fast = dataclasses.replace(params.remodeling, oca_apoptosis_per_day=2.0)
    stiff = dataclasses.replace(params, remodeling=fast)
    sample = small_frame_cohort.select(np.array([2, 77, 190, 613]))
    spec = ARMS["romosozumab_then_denosumab"]
    kernel = simulate_arm(sample, spec, stiff, TWO_YEARS)
    reference = reference_bmd_rel(sample, spec, stiff, TWO_YEARS)
    assert kernel.ctx_rel.min(axis=0).max() < 0.5  # denosumab did shut resorption off
    for j, site in enumerate(("LS", "TH", "FN")):
        fixed = kernel.bmd_g_cm2(site)[-1] / kernel.bmd_g_cm2(site)[0]
        np.testing.assert_allclose(fixed, reference[j, -1], rtol=1e-3, err_msg=site)


def test_cumulative_hazards_within_1e_3_of_reference(small_frame_cohort, params):
    """Expected fracture counts (summed cumulative hazards) of kernel vs LSODA states.

    Both apply the same hazards and trapezoid rule on the step grid (engine.loop), so they
    differ only by the states; death depends on age alone here and must agree exactly.
    """
    sample = small_frame_cohort.select(np.arange(0, 800, 40))
    spec = ARMS["romosozumab_then_denosumab"]
    reference = reference_events(sample, spec, params, TWO_YEARS, rtol=1e-9)
    kernel = simulate_arm(sample, spec, params, TWO_YEARS)
    for kind in (*FRACTURE_TYPES, "death"):
        fixed = kernel.cumulative_hazard[kind][-1].sum()
        exact = reference.cum[kind][-1].sum()
        assert fixed > 0.05, kind  # hazards are not zero: the comparison can fail
        assert abs(fixed / exact - 1.0) < 1e-3, (kind, fixed, exact)
    np.testing.assert_allclose(
        kernel.cumulative_hazard["death"], reference.cum["death"], rtol=1e-12
    )


@pytest.mark.parametrize(
    "cls,record",
    [
        (PKParams, records.PK_RECORD),
        (RemodelingParams, records.REMODELING_RECORD),
        (SiteBMDParams, records.SITE_RECORD),
        (FractureTypeParams, records.FRACTURE_TYPE_RECORD),
    ],
)
def test_every_parameter_reaches_the_kernels_by_name(cls, record):
    for field in dataclasses.fields(cls):
        name = records.CONVERTED.get((cls, field.name), field.name)
        assert name in record.names, (cls.__name__, field.name)


def test_packed_records_carry_the_parameter_values(params):
    packed = records.pack_model(params)
    assert packed.drugs[1].vc_l == params.romosozumab.vc_l
    assert packed.remodeling[0].wnt_max_fold == params.remodeling.wnt_max_fold
    assert packed.sites[2].gamma_oc == params.bmd.fn.gamma_oc
    hip = packed.fracture_types[records.FRACTURE_TYPES.index("hip")]
    assert records.SITES[int(hip.bmd_site_index)] == params.fracture.hip.bmd_site
    assert hip.log_rr_per_sd == pytest.approx(np.log(params.fracture.hip.rr_per_sd))


def test_patients_with_different_parameters_in_one_call_equal_separate_calls(
    small_frame_cohort, params
):
    """Parameters per patient: five patients of two parameter sets, mixed within one block of
    the CPU engine (LANES 8), give bit for bit what each gives alone with its own set."""
    sets = (params, other_parameters(params))
    index = np.array([1, 0, 1, 1, 0])
    sample = small_frame_cohort.select(np.array([2, 77, 190, 613, 5]))
    spec = ARMS["romosozumab_then_denosumab"]
    mixed = simulate_arm(sample, spec, sets, TWO_YEARS, param_index=index)
    for i, k in enumerate(index):
        alone = simulate_arm(sample.select(np.array([i])), spec, sets[k], TWO_YEARS)
        want = patient_columns(alone, 0)
        for name, got in patient_columns(mixed, i).items():
            np.testing.assert_array_equal(got, want[name], err_msg=f"patient {i}: {name}")
    one_set = simulate_arm(sample, spec, params, TWO_YEARS)
    for name in ("bmd_ls_g_cm2", "romosozumab_ng_ml", "ctx_rel", "cumulative_hazard.vertebral"):
        base, other = patient_columns(one_set, 0)[name], patient_columns(mixed, 0)[name]
        assert not np.allclose(base, other, rtol=1e-6), name  # the second set does differ
    per_patient = simulate_arm(sample, spec, [sets[k] for k in index], TWO_YEARS)
    for name, got in patient_columns(per_patient, slice(None)).items():
        np.testing.assert_array_equal(got, patient_columns(mixed, slice(None))[name], name)


def test_one_parameter_set_is_todays_run(small_frame_cohort, params):
    """One ModelParams, the same set as a one-element sequence with index zeros, and the same
    set once per patient give the same arrays."""
    sample = small_frame_cohort.select(np.arange(10))
    spec = ARMS["placebo_then_denosumab"]
    short = dataclasses.replace(TWO_YEARS, duration_days=200.0)
    base = patient_columns(simulate_arm(sample, spec, params, short), slice(None))
    zeros = np.zeros(10, dtype=np.int64)
    for kwargs in ({"params": [params], "param_index": zeros}, {"params": [params] * 10}):
        again = simulate_arm(sample, spec, schedule=short, **kwargs)
        for name, got in patient_columns(again, slice(None)).items():
            np.testing.assert_array_equal(got, base[name], name)


@pytest.mark.parametrize(
    "sets,index,match",
    [
        ("one", [0, 0], "needs a sequence"),
        ("two", None, "2 parameter sets for 3 patients"),
        ("two", [0, 2, 1], r"lie in \[0, 2\)"),
        ("two", [0, 1], "3 integers"),
        ("two", [0.0, 1.0, 1.0], "3 integers"),
    ],
)
def test_parameter_sets_refuses_a_wrong_index(params, sets, index, match):
    given = params if sets == "one" else [params, params]
    n = 2 if sets == "one" else 3
    with pytest.raises(ValueError, match=match):
        inputs.parameter_sets(given, None if index is None else np.array(index), n)


def test_reference_integrates_each_patient_with_its_own_parameters(small_frame_cohort, params):
    """The LSODA reference takes parameters per patient too: mixed equals alone, exactly."""
    sets = (params, other_parameters(params))
    index = np.array([1, 0])
    sample = small_frame_cohort.select(np.array([2, 77]))
    spec = ARMS["romosozumab_then_denosumab"]
    short = Schedule(1.0, 90.0, (1.0, 3.0), (14.0,), ())
    mixed = reference_events(sample, spec, sets, short, param_index=index)
    mixed_bmd = reference_bmd_rel(sample, spec, sets, short, param_index=index)
    for i, k in enumerate(index):
        one = sample.select(np.array([i]))
        alone = reference_events(one, spec, sets[k], short)
        for kind, cum in alone.cum.items():
            np.testing.assert_array_equal(mixed.cum[kind][:, i], cum[:, 0], kind)
        bmd = reference_bmd_rel(one, spec, sets[k], short)
        np.testing.assert_array_equal(mixed_bmd[:, :, i], bmd[:, :, 0])
    assert (
        mixed.cum["vertebral"][-1, 0]
        != reference_events(sample.select(np.array([0])), spec, params, short).cum["vertebral"][
            -1, 0
        ]
    )


def test_gpu_engine_runs_each_patient_with_its_own_parameters(cudasim_results):
    """Two patients of two parameter sets in one launch (CUDA simulator) give exactly what
    each gives alone with its set, and the CPU engine's mixed call (1e-9)."""
    prefix = "per_patient/mixed/cuda/"
    fields = [k.removeprefix(prefix) for k in cudasim_results.files if k.startswith(prefix)]
    assert "bmd_ls_g_cm2" in fields and "cumulative_hazard.vertebral" in fields
    for field in fields:
        mixed = cudasim_results[prefix + field]
        for i in range(2):
            alone = cudasim_results[f"per_patient/alone{i}/cuda/{field}"]
            np.testing.assert_array_equal(mixed[..., i], alone, err_msg=f"{field}, patient {i}")
        cpu = cudasim_results[f"per_patient/mixed/numba/{field}"]
        if mixed.dtype.kind == "f":
            np.testing.assert_allclose(mixed, cpu, rtol=1e-9, atol=1e-300, err_msg=field)
        else:
            np.testing.assert_array_equal(mixed, cpu, err_msg=field)
    one_set = cudasim_results["per_patient/one_set/numba/romosozumab_ng_ml"]
    mixed = cudasim_results[prefix + "romosozumab_ng_ml"]
    assert not np.allclose(mixed[:, 0], one_set[:, 0], rtol=1e-3)  # patient 0's set differs
    np.testing.assert_allclose(mixed[:, 1], one_set[:, 1], rtol=1e-9)  # patient 1's does not


def test_men_run_on_their_per_patient_sets_in_a_mixed_cohort(small_frame_cohort, params):
    """Parameters per patient by sex: in a mixed cohort each man runs on the men's version of
    the set (bit for bit a woman-labelled copy of him on that set), his death hazard is the
    women's times ``men.death_rr`` and, at the same absolute BMD, his hip hazard a woman's."""
    from osteotrial.model.sex import params_for_sex
    from osteotrial.model.tscore import bmd_to_tscore

    sample = small_frame_cohort.select(np.array([3, 3, 40, 40]))
    sex = np.array(["female", "male", "female", "male"])
    male = sex == "male"
    tscores = {  # the men's T-scores of the same BMD
        f"tscore_{s.lower()}": np.where(
            male,
            bmd_to_tscore(sample.bmd_g_cm2(s), s, "male"),
            getattr(sample, f"tscore_{s.lower()}"),
        )
        for s in records.SITES
    }
    mixed_cohort = dataclasses.replace(sample, sex=sex, **tscores)
    spec, short = ARMS["placebo_then_denosumab"], dataclasses.replace(TWO_YEARS, duration_days=60)
    mixed = simulate_arm(mixed_cohort, spec, params, short)
    men = params_for_sex(params, "male")
    for i in (1, 3):
        as_woman = dataclasses.replace(mixed_cohort.select(np.array([i])), sex=np.array(["female"]))
        want = patient_columns(simulate_arm(as_woman, spec, men, short), 0)
        for name, got in patient_columns(mixed, i).items():
            np.testing.assert_array_equal(got, want[name], err_msg=f"patient {i}: {name}")
    death, hip = (mixed.cumulative_hazard[k][-1] for k in ("death", "hip"))  # day 60
    assert death[[1, 3]] / death[[0, 2]] == pytest.approx(params.men.death_rr, rel=1e-9)
    assert hip[[1, 3]] / hip[[0, 2]] == pytest.approx(params.men.fracture_rr_same_age_bmd, rel=1e-2)
    assert np.all(mixed_cohort.tscore_th[[1, 3]] < mixed_cohort.tscore_th[[0, 2]])
