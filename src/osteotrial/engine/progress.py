"""Progress lines for long jobs (one line per simulated chunk, written to a job's log)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


def chunk_logger(label: str, stream: TextIO | None = None) -> Callable[[int, int], None]:
    """Return a ``progress(n_done, n_total)`` callback that writes one timestamped line per call.

    The line reads e.g. ``2026-11-23 14:31:02 frame/placebo/s000: 2000/3589 patients (55.7 %),
    12.3 s elapsed``; ``stream`` defaults to the current ``sys.stderr`` (a job's log).
    """
    start = time.perf_counter()

    def progress(n_done: int, n_total: int) -> None:
        out = stream if stream is not None else sys.stderr
        share = 100.0 * n_done / n_total if n_total else 100.0
        elapsed = time.perf_counter() - start
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        line = f"{stamp} {label}: {n_done}/{n_total} patients ({share:.1f} %)"
        print(f"{line}, {elapsed:.1f} s elapsed", file=out, flush=True)

    return progress
