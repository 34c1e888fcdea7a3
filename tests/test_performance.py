"""The fast Cox fit against lifelines, and a smoke run of the benchmark harness.

The accuracy guards of the engines against the LSODA reference are in test_engines.py.
"""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

from osteotrial.stats.cox import cox_hazard_ratio, cox_hazard_ratio_lifelines

ROOT = Path(__file__).resolve().parents[1]


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
