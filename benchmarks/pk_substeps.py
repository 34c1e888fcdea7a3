"""Accuracy and cost of the PK splitting (``schedule.pk_substeps``) on FRAME: a study for a
value-changing speed-up of issue 28, not a change of the default.

    .venv/bin/python benchmarks/pk_substeps.py [N_PER_ARM] [--time]

For each FRAME arm (24 months, N patients, default 16) and pk_substeps 1, 2, 4 (the default)
and 16: the % change of BMD at every site and the P1NP and CTX % change at every record day,
and the fracture and death cumulative hazards at month 24, against pk_substeps 16 and against
the LSODA reference (``engine.reference``, rtol 1e-8); the largest absolute difference in
percentage points (BMD, markers) and the largest relative difference (hazards). ``--time``
also times make bench's kernel (2,000 patients, romosozumab -> denosumab, 1 core, best of 3)
at each pk_substeps: run it on a quiet machine.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402

from osteotrial.cohort.sampling import CohortSpec, sample_cohort  # noqa: E402
from osteotrial.engine.reference import reference_bmd_rel  # noqa: E402
from osteotrial.engine.simulate import simulate_arm  # noqa: E402

SUBSTEPS = (1, 2, 4, 16)


def pct(values: np.ndarray) -> np.ndarray:
    """Return % change from the first record (day 0)."""
    return (values / values[:1] - 1.0) * 100.0


def arm_study(trial, cohort, name: str) -> dict:
    """Return the differences of one arm (module docstring)."""
    arm = trial.arms[name]
    patients = cohort.select(cohort.arm == name)
    out = {}
    for k in SUBSTEPS:
        schedule = dataclasses.replace(trial.schedule, pk_substeps=k)
        r = simulate_arm(patients, arm, trial.params, schedule, record_pk=False)
        bmd = np.stack([pct(r.bmd_g_cm2(s)) for s in ("LS", "TH", "FN")])
        markers = np.stack([pct(r.p1np_rel), pct(r.ctx_rel)])
        hazards = np.stack([v[-1] for v in r.cumulative_hazard.values()])
        out[k] = (bmd, markers, hazards)
    ref = reference_bmd_rel(patients, arm, trial.params, trial.schedule, rtol=1e-8, atol=1e-12)
    ref_pct = (ref / ref[:, :1] - 1.0) * 100.0
    rows = {}
    for k in SUBSTEPS:
        bmd, markers, hazards = out[k]
        fine = out[SUBSTEPS[-1]]
        rows[k] = {
            "bmd_pp_vs_fine": float(np.max(np.abs(bmd - fine[0]))),
            "markers_pp_vs_fine": float(np.max(np.abs(markers - fine[1]))),
            "hazard_rel_vs_fine": float(np.max(np.abs(hazards / fine[2] - 1.0))),
            "bmd_pp_vs_lsoda": float(np.max(np.abs(bmd - ref_pct))),
        }
    return rows


def kernel_seconds(k: int) -> float:
    """Return make bench's kernel CPU time (best of 3) at pk_substeps k."""
    cohort = bench.base_cohort(2000)
    t = bench.trial(24, 2000)
    schedule = dataclasses.replace(t.schedule, pk_substeps=k)
    arm = t.arms[bench.ARM]
    simulate_arm(cohort.select(list(range(20))), arm, t.params, schedule, False)
    best = np.inf
    for _ in range(3):
        start = time.thread_time()
        simulate_arm(cohort, arm, t.params, schedule, False)
        best = min(best, time.thread_time() - start)
    return best


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 16
    trial = bench.trial(24, n)
    cohort = sample_cohort(CohortSpec.from_dict(trial.cohort_spec), trial.allocation, trial.seed)
    for name in trial.arms:
        print(name)
        for k, row in arm_study(trial, cohort, name).items():
            print(f"  pk_substeps {k:2d}: " + ", ".join(f"{a} {b:.2e}" for a, b in row.items()))
    if "--time" in sys.argv:
        for k in SUBSTEPS:
            print(f"kernel, pk_substeps {k:2d}: {kernel_seconds(k):.3f} s")


if __name__ == "__main__":
    main()
