"""Fault injection for the cluster tests (tests/cluster): fail one job once, on request.

If the environment variable OSTEOTRIAL_FAIL_ONCE names a file that does not exist yet, the
first job to call ``maybe_fail_once`` creates it and raises, before writing any output; every
later call passes. The retry test of `make test-cluster` uses it to show a job failing once and
being retried. Without the variable nothing happens.
"""

from __future__ import annotations

import os
import sys

FAIL_ONCE_ENV = "OSTEOTRIAL_FAIL_ONCE"


def maybe_fail_once(label: str) -> None:
    """Raise RuntimeError once per marker file named by OSTEOTRIAL_FAIL_ONCE, else return."""
    marker_path = os.environ.get(FAIL_ONCE_ENV)
    if not marker_path:
        return
    try:
        marker = os.open(marker_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    message = f"injected failure of {label} ({marker_path})"
    os.write(marker, message.encode())
    os.close(marker)
    print(message, file=sys.__stderr__)  # the job's (SLURM) log; the rule log is rewritten
    raise RuntimeError(message)
