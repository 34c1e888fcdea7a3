"""Provenance of every Parquet file: the configuration hash, seed, trial, package version and
git commit that produced it (``io.write_parquet`` stores it as file metadata)."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

from osteotrial.version import __version__


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """Return the git commit of the osteotrial source tree, or "unknown"."""
    source_dir = Path(__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "-C", str(source_dir), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else "unknown"


def provenance(config_hash: str, seed: int, trial: str, **extra: str) -> dict[str, str]:
    """Return the metadata stored in every Parquet file (values are strings)."""
    meta = {
        "config_hash": config_hash,
        "seed": str(seed),
        "trial": trial,
        "osteotrial_version": __version__,
        "git_commit": git_commit(),
    }
    meta.update({key: str(value) for key, value in extra.items()})
    return meta
