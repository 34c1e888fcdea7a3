"""Accuracy guards of the fast kernel (issue 6) and a smoke run of the benchmark harness.

No speed-up may move BMD at 24 months by more than 0.1 % against the LSODA reference, or a
fracture incidence outside its Monte Carlo error against the reference integration; the numba
engine must equal the numpy engine to 1e-9 relative.
"""

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from model_fixtures import arm

from osteotrial.analyses.endpoints import cox_hazard_ratio, cox_hazard_ratio_lifelines
from osteotrial.engine.reference import reference_bmd_rel, reference_events
from osteotrial.engine.results import FRACTURE_TYPES
from osteotrial.engine.simulate import simulate_arm
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
}
ENGINES = ("numba", "numpy")


def _engine(schedule: Schedule, engine: str) -> Schedule:
    return dataclasses.replace(schedule, engine=engine)


@pytest.mark.parametrize("arm_name", sorted(ARMS))
def test_numba_engine_equals_numpy_engine(small_frame_cohort, params, arm_name):
    cohort = small_frame_cohort.select(np.arange(0, 800, 3))
    fast = simulate_arm(cohort, ARMS[arm_name], params, _engine(TWO_YEARS, "numba"))
    slow = simulate_arm(cohort, ARMS[arm_name], params, _engine(TWO_YEARS, "numpy"))
    for field in dataclasses.fields(fast):
        a, b = getattr(fast, field.name), getattr(slow, field.name)
        pairs = a.items() if isinstance(a, dict) else [(field.name, a)]
        for key, value in pairs:
            other = b[key] if isinstance(b, dict) else b
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                np.testing.assert_allclose(value, other, rtol=1e-9, atol=0, err_msg=key)
            elif isinstance(value, np.ndarray):
                np.testing.assert_array_equal(value, other, err_msg=key)
            else:
                assert value == other, key


@pytest.mark.parametrize("engine", ENGINES)
def test_bmd_at_24_months_within_0_1_pct_of_reference(small_frame_cohort, params, engine):
    sample = small_frame_cohort.select(np.array([2, 77, 190, 402, 613, 799]))
    for spec in ARMS.values():
        kernel = simulate_arm(sample, spec, params, _engine(TWO_YEARS, engine))
        reference = reference_bmd_rel(sample, spec, params, TWO_YEARS)
        for j, site in enumerate(("LS", "TH", "FN")):
            fixed = kernel.bmd_g_cm2(site)[-1] / kernel.bmd_g_cm2(site)[0]
            np.testing.assert_allclose(fixed, reference[j, -1], rtol=1e-3, err_msg=site)


def test_fracture_incidence_within_monte_carlo_error_of_reference(small_frame_cohort, params):
    """Same thresholds, kernel vs LSODA states: event counts within their binomial error."""
    sample = small_frame_cohort.select(np.arange(0, 800, 20))
    spec = ARMS["romosozumab_then_denosumab"]
    reference = reference_events(sample, spec, params, TWO_YEARS)
    for engine in ENGINES:
        kernel = simulate_arm(sample, spec, params, _engine(TWO_YEARS, engine))
        n = sample.n_patients
        for kind in FRACTURE_TYPES:
            k_kernel = int(np.sum(~np.isnan(kernel.fracture_days(kind)[0])))
            k_ref = int(np.sum(~np.isnan(reference.days[kind][0])))
            p = max(k_ref, 1) / n
            assert abs(k_kernel - k_ref) <= 1.96 * np.sqrt(n * p * (1 - p)), (engine, kind)
            # expected events (sum of cumulative hazards) within the Monte Carlo error
            expected_kernel = kernel.cumulative_hazard[kind][-1].sum()
            expected_ref = reference.cum[kind].sum()
            assert abs(expected_kernel - expected_ref) <= 1.96 * np.sqrt(expected_ref), kind


def test_cox_fit_matches_lifelines():
    rng = np.random.default_rng(5)
    for tied in (False, True):
        days = rng.exponential(2000.0, 3000) * np.where(rng.random(3000) < 0.5, 1.0, 1.5)
        if tied:
            days = np.round(days / 40.0) * 40.0
        treated = rng.random(3000) < 0.5
        event = (days < 700.0) & (rng.random(3000) < 0.9)
        duration = np.minimum(days, 700.0)
        ours = cox_hazard_ratio(duration, event, treated)
        np.testing.assert_allclose(
            ours, cox_hazard_ratio_lifelines(duration, event, treated), rtol=1e-6
        )


def test_bench_smoke(tmp_path):
    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench"] = bench  # the process pool pickles bench._simulate by name
    spec.loader.exec_module(bench)
    out = tmp_path / "latest.json"
    latest = bench.main(["--smoke", "--out", str(out)])
    keys = (
        "kernel_patient_days_per_s_1core",
        "kernel_patient_days_per_s_allcores",
        "reference_patient_days_per_s",
        "speedup_vs_reference",
        "e2e_frame_full_wall_s",
        "e2e_1m_wall_s",
        "e2e_1m_peak_rss_gib",
        "cpu_model",
        "n_cores",
    )
    assert set(keys) <= set(json.loads(out.read_text()))
    assert latest["kernel"][0]["allcores_identical"]
    assert latest["kernel_patient_days_per_s_1core"] > 0
