"""CPU time of make bench's kernel: FRAME, 2,000 patients of one arm, 24 months, 1 core.

    .venv/bin/python benchmarks/kernel_cpu.py LABEL [ARM]

Prints the best and every one of three timed runs (CPU time of this thread, then wall time),
after a compile or cache load on 50 patients. CPU time, best of 3, because the machine is
shared: alternate runs of the two versions compared, and note the load (``uptime``).
ARM: ``romosozumab_then_denosumab`` (make bench's, the default) or ``placebo_then_denosumab``.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402

if len(sys.argv) > 2:
    bench.ARM = sys.argv[2]
cohort = bench.base_cohort(2000)
bench.kernel_run(cohort.select(list(range(50))), 24, 1)  # compile or load the cache
cpus, walls = [], []
for _ in range(3):
    start = time.thread_time()
    walls.append(bench.kernel_run(cohort, 24, 1)[0])
    cpus.append(time.thread_time() - start)
print(
    f"{sys.argv[1]} {bench.ARM}: cpu best {min(cpus):.3f} s {[round(c, 3) for c in cpus]}"
    f" wall best {min(walls):.3f} s"
)
