"""GPU engine against the CPU engine on a real GPU: every arm of every trial file, full length.

``tests/test_engines.py`` checks the two engines bit for bit under numba's CUDA simulator, on
two patients and a short span. On a GPU the kernel is compiled by NVVM for the device, with its
own ``exp``/``log``/``pow`` and fused multiply-adds, so the two engines can differ in the last
bits; this script measures by how much, on ``--patients`` screened patients per arm over each
trial's whole schedule, and how many event-relevant quantities (cumulative hazards) move.

Run on a machine with an NVIDIA GPU and numba-cuda:
``python benchmarks/gpu_parity.py --out gpu_parity.json``. ``--smoke`` runs 2 patients per arm
over 40 days (with NUMBA_ENABLE_CUDASIM=1 it runs on the CPU, to check the script itself; the
differences must then be 0).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from osteotrial.cohort.sampling import CohortSpec, sample_cohort
from osteotrial.engine.simulate import simulate_arm
from osteotrial.trial.config import load_config

ROOT = Path(__file__).resolve().parents[1]
FIELDS = ("bmd_ls_g_cm2", "bmd_th_g_cm2", "bmd_fn_g_cm2", "p1np_rel", "ctx_rel")


def differences(cpu: np.ndarray, gpu: np.ndarray) -> dict:
    """Return the largest absolute and relative difference of two arrays of one output."""
    cpu, gpu = np.asarray(cpu, dtype=np.float64), np.asarray(gpu, dtype=np.float64)
    absolute = np.abs(gpu - cpu)
    scale = np.maximum(np.abs(cpu), 1e-300)
    return {
        "max_abs": float(absolute.max(initial=0.0)),
        "max_rel": float((absolute / scale).max(initial=0.0)),
        "finite": bool(np.isfinite(gpu).all() and np.isfinite(cpu).all()),
    }


def compare_arm(trial, name: str, patients, days: float | None) -> dict:
    """Run one arm on both engines; return the differences per output and the run times."""
    schedule = trial.schedule
    if days is not None:
        schedule = dataclasses.replace(schedule, duration_days=days)
    row: dict = {"n_patients": patients.n_patients}
    results = {}
    for engine in ("cuda", "numba"):  # the GPU kernel first: see engine.gpu.kernel
        run = dataclasses.replace(schedule, engine=engine, chunk_size=max(patients.n_patients, 1))
        start = time.perf_counter()
        results[engine] = simulate_arm(patients, trial.arms[name], trial.params, run)
        row[f"{engine}_s"] = time.perf_counter() - start
    cpu, gpu = results["numba"], results["cuda"]
    for field in FIELDS:
        row[field] = differences(getattr(cpu, field), getattr(gpu, field))
    for kind, cum in cpu.cumulative_hazard.items():
        row[f"cum_{kind}"] = differences(cum, gpu.cumulative_hazard[kind])
    return row


def main(argv: list[str] | None = None) -> dict:
    """Compare every arm of every trial file; print one line per arm, write the JSON file."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patients", type=int, default=500, help="screened patients per arm")
    ap.add_argument("--out", default="gpu_parity.json")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args(argv)
    n, days = (2, 40.0) if args.smoke else (args.patients, None)
    report: dict = {}
    for trial_file in sorted((ROOT / "config" / "trials").glob("*.yaml")):
        trial = load_config(trial_file.stem, config_dir=ROOT / "config")
        spec = CohortSpec.from_dict(trial.cohort_spec)
        cohort = sample_cohort(spec, dict.fromkeys(trial.arms, n), trial.seed)
        for name in trial.arms:
            patients = cohort.select(np.flatnonzero(cohort.arm == name))
            row = compare_arm(trial, name, patients, days)
            report[f"{trial_file.stem}.{name}"] = row
            worst = max(v["max_rel"] for v in row.values() if isinstance(v, dict))
            times = f"cpu {row['numba_s']:.2f} s, gpu {row['cuda_s']:.2f} s"
            print(f"{trial_file.stem}.{name}: {n} patients, largest relative difference "
                  f"{worst:.2e}, {times}")  # fmt: skip
            Path(args.out).write_text(json.dumps(report, indent=2))  # so far
    return report


if __name__ == "__main__":
    main()
