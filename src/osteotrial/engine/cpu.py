"""The CPU engine: the shared time loop (engine.loop), compiled by numba, LANES patients a block.

``run_chunk`` allocates one set of work arrays and walks the chunk's patients in blocks of
``LANES``: the patients of a block advance together (independent work for the out-of-order
core) but never share state, so a patient's result does not depend on its block. float64
throughout, no fastmath; ``error_model="numpy"`` drops Python's zero-division checks (a division
by zero gives inf or nan, and the caller stops with the non-finite-state error).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from osteotrial.engine import model_cache
from osteotrial.engine.loop import Work, simulate_block
from osteotrial.model.bone import N_BONE_STATES, N_COMPARTMENTS, N_SITE_CONSTANTS, N_SITES
from osteotrial.model.calcium import N_WORK
from osteotrial.model.fracture import N_HAZARDS, N_STATUS
from osteotrial.model.pk import N_PK_STATES

LANES = 16  # patients advanced together per block (16: 2-5 % faster than 8, BENCHMARKS.md)


@njit(cache=model_cache.ENABLED)
def new_work(lanes: int) -> Work:
    """Return heap work arrays for blocks of ``lanes`` patients (shapes: engine.loop.Work)."""
    return Work(
        np.empty((lanes, N_BONE_STATES)),
        np.empty((4, lanes, N_BONE_STATES)),
        np.empty((lanes, N_BONE_STATES)),
        np.empty((2, lanes, N_PK_STATES)),
        np.empty((2, 3, lanes)),
        np.empty((3, lanes)),
        np.empty((3, lanes)),
        np.empty((2, lanes, 3, 3)),
        np.empty((2, lanes, 3, 3)),
        np.empty((3, 3, 3)),
        np.empty((2, lanes, 3)),
        np.empty((lanes, N_SITE_CONSTANTS, N_COMPARTMENTS)),
        np.empty((lanes, N_HAZARDS)),
        np.empty((lanes, N_HAZARDS)),
        np.empty((lanes, N_HAZARDS)),
        np.empty((lanes, N_STATUS)),
        np.empty(N_SITES),
        np.empty((lanes, N_BONE_STATES)),
        np.empty((lanes, N_WORK)),
        np.empty((lanes, N_HAZARDS)),
        np.empty((lanes, N_HAZARDS)),
        np.empty((lanes, N_HAZARDS)),
        np.empty((lanes, N_STATUS)),
    )


@njit(cache=model_cache.ENABLED, error_model="numpy")
def run_chunk(pat, plan, table, out) -> None:
    """Simulate every patient of the chunk (the inputs of engine.inputs); fills ``out``.

    ``table``: the parameter sets (model.records.ParameterTable), patient i running set
    ``pat.param_index[i]``; the lanes of a block may run different sets.
    """
    n = pat.age_years.shape[0]
    w = new_work(LANES)
    for lo in range(0, n, LANES):
        simulate_block(lo, min(LANES, n - lo), pat, plan, table, out, w)
