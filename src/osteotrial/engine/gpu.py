"""The GPU engine (``schedule.engine: cuda``): the shared time loop as a numba-cuda kernel.

One thread per patient, float64 throughout: each thread allocates its work arrays in local
memory (``engine.loop.Work`` with one lane) and runs ``engine.loop.simulate_block`` for its
patient, the very function the CPU engine compiles, over the same inputs (``engine.inputs``,
``model.records``). Outputs are written at record steps only, with the patient on the last axis
(coalesced across threads). Thread i reads its parameters from row ``pat.param_index[i]`` of
the parameter table (``model.records.ParameterTable``). ``run_chunk`` copies the inputs to the
device, launches the kernel and copies the outputs back; ``launch`` runs on inputs already on
the device (kernel-only timing in benchmarks).

Needs numba-cuda and an NVIDIA GPU (``pip install 'osteotrial[gpu]'``); without one it fails
with a message saying so. ``NUMBA_ENABLE_CUDASIM=1`` runs the kernel in numba's CUDA simulator
on the CPU (interpreted, a few patients only): that is how CI checks it against the CPU engine.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from numba import float64

try:  # the kernel body refers to the global name `cuda` (the simulator swaps it)
    from numba import cuda
except ImportError:  # pragma: no cover
    cuda = None

from osteotrial.engine.inputs import Outputs, Patients, Plan
from osteotrial.engine.loop import Work, simulate_block
from osteotrial.model.bone import N_BONE_STATES, N_COMPARTMENTS, N_SITE_CONSTANTS
from osteotrial.model.calcium import N_WORK
from osteotrial.model.fracture import N_STATUS
from osteotrial.model.records import ParameterTable

THREADS_PER_BLOCK = 128


def cuda_module() -> Any:
    """Return ``numba.cuda`` if a GPU (or the simulator) is usable; raise a clear error if not."""
    if cuda is None:  # pragma: no cover - numba without its CUDA target
        raise RuntimeError(
            "schedule.engine: cuda needs numba-cuda; install the extra: pip install "
            "'osteotrial[gpu]' (or use schedule.engine: numba)"
        )
    if not cuda.is_available():
        raise RuntimeError(
            "schedule.engine: cuda found no usable NVIDIA GPU (numba.cuda.is_available() is "
            "False); use schedule.engine: numba, or NUMBA_ENABLE_CUDASIM=1 to run the kernel "
            "in numba's CUDA simulator (slow; tests only)"
        )
    return cuda


def simulated() -> bool:
    """Return True when numba runs CUDA kernels in its CPU simulator."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


def simulate_patients(pat, plan, table, out):  # pragma: no cover - compiled for the device
    """Kernel body: thread i simulates patient i (engine.loop.simulate_block, one lane), with
    parameter set ``pat.param_index[i]`` of ``table``."""
    i = cuda.grid(1)
    if i < pat.age_years.shape[0]:
        w = Work(
            cuda.local.array((1, N_BONE_STATES), float64),
            cuda.local.array((4, 1, N_BONE_STATES), float64),
            cuda.local.array((1, N_BONE_STATES), float64),
            cuda.local.array((2, 1, 4), float64),
            cuda.local.array((2, 3, 1), float64),
            cuda.local.array((3, 1), float64),
            cuda.local.array((3, 1), float64),
            cuda.local.array((2, 1, 3, 3), float64),
            cuda.local.array((2, 1, 3, 3), float64),
            cuda.local.array((3, 3, 3), float64),
            cuda.local.array((2, 1, 3), float64),
            cuda.local.array((1, N_SITE_CONSTANTS, N_COMPARTMENTS), float64),
            cuda.local.array((1, 4), float64),
            cuda.local.array((1, 4), float64),
            cuda.local.array((1, 4), float64),
            cuda.local.array((1, N_STATUS), float64),
            cuda.local.array(3, float64),
            cuda.local.array((1, N_BONE_STATES), float64),
            cuda.local.array((1, N_WORK), float64),
            cuda.local.array((1, 4), float64),
            cuda.local.array((1, 4), float64),
            cuda.local.array((1, 4), float64),
            cuda.local.array((1, N_STATUS), float64),
        )
        simulate_block(i, 1, pat, plan, table, out, w)


@functools.cache
def kernel() -> Any:
    """Return the compiled kernel (compiled once per process, on first use)."""
    return cuda_module().jit(simulate_patients)


def to_device(pat: Patients, plan: Plan, table: ParameterTable, out: Outputs) -> tuple:
    """Return the four inputs with every array copied to the device."""
    cuda = cuda_module()

    def dev(arrays: tuple) -> list:
        return [cuda.to_device(a) for a in arrays]

    return (
        Patients(*dev(pat)),
        Plan(*plan[:4], *dev(plan[4:])),
        ParameterTable(*dev(table)),
        Outputs(*dev(out)),
    )


def launch(d_pat: Patients, d_plan: Plan, d_table: ParameterTable, d_out: Outputs) -> None:
    """Run the kernel on device-resident inputs, one thread per patient, and wait for it.

    The first launch compiles the kernel. With numba-cuda 0.30 that compile fails when numba's
    CPU target has already compiled the model equations in the same process (the CPU engine, the
    LSODA reference; loading them from the on-disk cache does not count): a TypingError
    (``mul(omitted, omitted)`` in ``model.bmd.surface_factor``) while the model's functions were
    inlined in numba's IR, an AssertionError in numba-cuda's variable-deletion pass (its IR
    classes and numba's mixed) since they are not (``model.compiled``, 2026-12-07). The other
    order works (seen on an H200 and reproduced without a GPU, tests/gpu/compile_kernel.py).
    So a process compiles the GPU kernel first: the error below says so instead of numba's page.
    """
    from numba.core.errors import TypingError

    cuda = cuda_module()
    n = d_pat.age_years.shape[0]
    blocks = max(1, (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK)
    try:
        kernel()[blocks, THREADS_PER_BLOCK](d_pat, d_plan, d_table, d_out)
    except (TypingError, AssertionError) as error:  # pragma: no cover - needs a GPU
        raise RuntimeError(
            "schedule.engine: cuda could not compile the GPU kernel. With numba-cuda 0.30 this "
            "happens when the CPU engine or the LSODA reference compiled the model earlier in "
            "the same process: run the GPU engine first, or in a process of its own"
        ) from error
    cuda.synchronize()


def run_chunk(pat: Patients, plan: Plan, table: ParameterTable, out: Outputs) -> None:
    """Simulate the chunk on the GPU; fills ``out`` (host arrays) like engine.cpu.run_chunk."""
    d_pat, d_plan, d_table, d_out = to_device(pat, plan, table, out)
    launch(d_pat, d_plan, d_table, d_out)
    for host, device in zip(out, d_out, strict=True):
        device.copy_to_host(host)
