"""GPU engine throughput: patient-days/s for 1e6 and 1e7 patients x 24 months, float64.

Two figures per size, beside the CPU engine of BENCHMARKS.md:
- end to end: ``simulate_arm(..., schedule.engine="cuda")`` on one chunk: packing the inputs,
  copies to and from the device, the kernel, building the ArmResult;
- kernel only: ``engine.gpu.launch`` on inputs already on the device, after a warm-up launch
  that compiles the kernel.

Run on a machine with an NVIDIA GPU and numba-cuda (``pip install '.[gpu]'``):
``python benchmarks/gpu_bench.py --out benchmarks/gpu_latest.json``. ``--smoke`` runs 64 patients
x 10 days (with NUMBA_ENABLE_CUDASIM=1 it runs on the CPU, to check the script itself).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench import ARM, base_cohort, tiled, trial  # noqa: E402

from osteotrial.engine import gpu, inputs  # noqa: E402
from osteotrial.engine.simulate import simulate_arm  # noqa: E402


def measure(n: int, days: float) -> dict:
    """Return end-to-end and kernel-only patient-days/s of n patients over ``days``."""
    t = trial(24)
    cohort = tiled(base_cohort(2000), n)
    schedule = dataclasses.replace(
        t.schedule, duration_days=days, engine="cuda", chunk_size=max(n, 1)
    )
    arm = t.arms[ARM]
    simulate_arm(tiled(cohort, 256), arm, t.params, schedule, record_pk=False)  # compile
    start = time.perf_counter()
    result = simulate_arm(cohort, arm, t.params, schedule, record_pk=False)
    e2e = time.perf_counter() - start
    plan = inputs.plan_of(arm, schedule, record_pk=False)
    pat, table = inputs.patients_and_table(cohort, t.params, None)
    device = gpu.to_device(pat, plan, table, inputs.empty_outputs(plan, n))
    gpu.launch(*device)  # warm-up
    start = time.perf_counter()
    gpu.launch(*device)
    kernel = time.perf_counter() - start
    patient_days = n * schedule.n_steps * schedule.dt_days
    return {
        "n_patients": n,
        "days": schedule.n_steps * schedule.dt_days,
        "e2e_s": e2e,
        "e2e_patient_days_per_s": patient_days / e2e,
        "kernel_s": kernel,
        "kernel_patient_days_per_s": patient_days / kernel,
        "ls_bmd_month_24_mean": float(np.mean(result.bmd_ls_g_cm2[-1])),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    """Measure each size, print one line each, write the JSON file."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1000000,10000000")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "gpu_latest.json"))
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args(argv)
    sizes, days = ([64], 10.0) if args.smoke else ([int(s) for s in args.sizes.split(",")], 730.5)
    rows = [measure(n, days) for n in sizes]
    for r in rows:
        print(
            f"{r['n_patients']:.0e} patients x {r['days']:.0f} d: end to end "
            f"{r['e2e_patient_days_per_s']:.3g} ({r['e2e_s']:.2f} s), kernel "
            f"{r['kernel_patient_days_per_s']:.3g} patient-days/s ({r['kernel_s']:.2f} s)"
        )
    Path(args.out).write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
