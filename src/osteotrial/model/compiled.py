"""The one decorator of model equations: a plain function that every engine compiles.

``equation`` registers a Python function with numba (``model.compiled.equation``): plain Python can
call it, numba compiles it into any ``njit`` function that calls it (the CPU loop, the LSODA
reference's right-hand side) and numba-cuda into any kernel or device function (the GPU engine).
``error_model="numpy"``: a division by zero gives inf or nan instead of raising, as numpy does
(the engines stop with a non-finite-state error). ``_nrt=False``: these functions allocate
nothing, and without numba's reference counting the array views they take (one patient's row
of a work array) cost no atomic operations; with it the CPU loop ran at 0.6 of its speed.

``inline=True`` inlines a function into its callers in numba's IR. Only the engine loop's
functions that take its big tuples (``pat``, ``plan``, ``table``, ``w``: some 400 machine words a
call) use it, and ``model.records.records_of``. The model's small scalar functions do not: LLVM
inlines them at -O3 all the same, and numba's IR inlining types and re-runs its passes at every
call site. With the 77 model functions inlined in the IR the CPU kernel took 116 s to compile
cold, without them 24 s, the kernel as fast and every record of every trial file bit-identical
(BENCHMARKS.md, 2026-12-07).

numba-cuda (0.30) types kernels with a compiler of its own, whose templates live in their own
registry: typed through numba's core templates, the IR-inlined functions lost the types of their
arguments (``mul(omitted, omitted)`` in ``bmd.surface_factor``; seen on an H200, 2026-11-28,
while the CUDA simulator, which runs plain Python, passed). So where numba-cuda is installed
each equation is also registered with numba-cuda's own ``register_jitable``, not inlined in
the IR (NVVM's LLVM passes inline small device functions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from numba.extending import register_jitable

try:  # the GPU extra; absent on CPU-only installs (and the CUDA simulator needs no registry)
    from numba.cuda.extending import register_jitable as cuda_register_jitable
except ImportError:  # pragma: no cover - depends on the install
    cuda_register_jitable = None

F = TypeVar("F", bound=Callable)


def equation(fn: F | None = None, *, inline: bool = False) -> F | Callable[[F], F]:
    """Register ``fn`` as a compiled scalar model function (usable bare or with inline=...)."""

    def wrap(f: F) -> F:
        mode = "always" if inline else "never"
        if cuda_register_jitable is not None:
            cuda_register_jitable(error_model="numpy")(f)
        return register_jitable(error_model="numpy", _nrt=False, inline=mode)(f)

    return wrap(fn) if fn is not None else wrap
