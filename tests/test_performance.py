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


def test_bench_smoke(tmp_path, capsys):
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
    # make bench's one table: throughput on 1 core and on every core, then the end-to-end runs
    # (FRAME full and one million patients: wall time and peak memory; not run at smoke size)
    capsys.readouterr()
    runs = {"full": {"wall_s": 30.0, "peak_rss_gib": 0.9}, "500000": {"wall_s": 300.0,
            "peak_rss_gib": 2.5}}  # fmt: skip
    bench.print_table({**latest, "e2e": runs})
    table = capsys.readouterr().out
    assert f"| 1 core | all {latest['n_cores']} cores |" in table
    assert "FRAME 1,000,000 patients (n_per_arm=500000), analyses off" in table
    assert "| 300 s / 2.5 GiB |" in table
