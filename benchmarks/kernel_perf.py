"""Where the CPU kernel's time goes, by compiled function: make bench's kernel under ``perf``.

    perf record -e cpu-clock -F 2000 -o perf.data .venv/bin/python benchmarks/kernel_perf.py
    perf report -i perf.data --sort dso,sym --stdio

Runs make bench's kernel (FRAME, 2,000 patients of one arm, 24 months, 1 core) three times
after compiling it (not from numba's cache), then writes /tmp/perf-PID.map, the map from
addresses to names that perf reads for code it finds in no file: numba's compiled functions
of the CPU engine (those not inlined into their callers: engine.loop ``simulate_block``,
``advance_pk``, engine.loop_bone ``advance_bone``, ``restep_lane``, model.pk
``wright_omega``, model.calcium ``step``, ...), each from its entry point to the next one's. The
samples in libm (exp, log) are the transcendental functions called from all of them.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
from numba import njit  # noqa: E402

from osteotrial.engine import cpu  # noqa: E402

# compiled here, not loaded from numba's cache: a cached library has no module to list
cpu.run_chunk = njit(error_model="numpy")(cpu.run_chunk.py_func)


def write_perf_map() -> int:
    """Write /tmp/perf-PID.map for every function defined in the CPU engine's compiled code."""
    entries = []
    for cres in cpu.run_chunk.overloads.values():
        library = cres.library
        for fn in library._final_module.functions:
            if fn.is_declaration:
                continue
            address = library.get_pointer_to_function(fn.name)
            if address:
                entries.append((address, fn.name))
    entries.sort()
    with open(f"/tmp/perf-{os.getpid()}.map", "w") as f:
        ends = [*entries[1:], (entries[-1][0] + 4096, "")]
        for (address, name), (after, _) in zip(entries, ends, strict=True):
            short = name.split("osteotrial")[-1][:90] if "osteotrial" in name else name[:90]
            f.write(f"{address:x} {max(after - address, 1):x} {short}\n")
    return len(entries)


cohort = bench.base_cohort(2000)
bench.kernel_run(cohort.select(list(range(50))), 24, 1)  # compile or load the cache
for _ in range(3):
    bench.kernel_run(cohort, 24, 1)
print(f"perf map: {write_perf_map()} functions")
