"""Compile the GPU kernel with numba-cuda for the H100/H200 (compute capability 9.0), no GPU needed.

The CUDA simulator runs the kernel body as plain Python, so it cannot see typing errors of the
real CUDA compiler: on 2026-11-28 the kernel that passed every simulator test failed to compile
on an H200 (``mul(omitted, omitted)`` in ``model.bmd.surface_factor``; fixed in
``model.compiled.equation``). This check types, lowers and compiles the kernel to PTX for sm_90
with the pinned numba-cuda of the ``gpu`` extra (``make test-gpu-compile``, own venv
``.venv-gpu``), then runs the CPU engine in the same process (the order that works: see
``engine.gpu.launch``) and checks it still runs.

Without a GPU, numba-cuda asks the driver for the current device's compute capability when it
compiles a device function called by the kernel; the check answers (9, 0) in its place
(``numba.cuda.dispatcher.get_current_device``), which is what ``compile_ptx(..., cc=(9, 0))``
asks for the kernel itself.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numba.cuda.dispatcher as cuda_dispatcher
import numpy as np
from numba import cuda
from numba.cuda.typing.typeof import typeof as cuda_typeof

from osteotrial.cohort.sampling import CohortSpec, sample_cohort
from osteotrial.engine import gpu, inputs
from osteotrial.engine.simulate import simulate_arm
from osteotrial.trial.config import load_config

ROOT = Path(__file__).resolve().parents[2]
CC = (9, 0)  # H100 and H200


class _Hopper:
    """Stands for the current device when there is none: only its compute capability is read."""

    compute_capability = CC


def main() -> int:
    cuda_dispatcher.get_current_device = _Hopper
    trial = load_config("frame", config_dir=ROOT / "config")
    arm_name = "romosozumab_then_denosumab"
    spec = CohortSpec.from_dict(trial.cohort_spec)
    cohort = sample_cohort(spec, dict.fromkeys(trial.arms, 4), trial.seed)
    patients = cohort.select(np.flatnonzero(cohort.arm == arm_name))
    plan = inputs.plan_of(trial.arms[arm_name], trial.schedule, record_pk=False)
    pat, table = inputs.patients_and_table(patients, trial.params, None)
    args = (pat, plan, table, inputs.empty_outputs(plan, patients.n_patients))
    start = time.perf_counter()
    ptx, _ = cuda.compile_ptx(gpu.simulate_patients, tuple(cuda_typeof(a) for a in args), cc=CC)
    if ".target sm_90" not in ptx:
        print("the PTX does not target sm_90", file=sys.stderr)
        return 1
    print(
        f"GPU kernel compiled for sm_90 in {time.perf_counter() - start:.1f} s ({len(ptx)} chars)"
    )
    schedule = dataclasses.replace(trial.schedule, duration_days=60.0, engine="numba")
    result = simulate_arm(patients, trial.arms[arm_name], trial.params, schedule)
    if not np.isfinite(result.bmd_ls_g_cm2).all():
        print("the CPU engine gave non-finite BMD after the GPU compile", file=sys.stderr)
        return 1
    print("CPU engine ran after the GPU compile")
    return 0


if __name__ == "__main__":
    sys.exit(main())
