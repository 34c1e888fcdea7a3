"""Results on disk you can trust: checked inputs, no stale shards, no stale temporary files.

Four guarantees:

- ``check_inputs``: every job reads only files written by its own configuration. A file whose
  ``config_hash`` differs from the run's, or that is not a readable Parquet file, stops the job
  with a message naming the file (never a bare "magic bytes" error).
- ``tidy_results`` (the workflow's ``onstart``, before any job and only when jobs are to run):
  removes shard files that are not part of the current layout (another ``n_shards``, arm or
  older naming), so that ``results/T/simulations/*/*.parquet`` always holds one configuration's
  patients once; removes temporary files of writers that are no longer alive; and stops the run,
  naming the files, if a Parquet file there cannot be read. Failing there, before any job
  starts, keeps the good outputs: Snakemake deletes a job's old outputs when the job starts.
- Temporary files are ``<name>.tmp-<pid>`` (``io.write_parquet``); one whose process is not
  alive on this machine is stale. Snakemake's directory lock means no other run of the workflow
  writes there; after a killed run on a cluster, cancel its jobs first (README.md).
- ``check_shards`` (the workflow's ``onstart`` too): every cohort or simulation shard that a job
  of this run will read, and that no job of it rewrites, is checked before the first job: its
  ``config_hash``, its data against the checksum and row count recorded when it was written
  (``osteotrial.integrity``), and its patient count against the configuration (cohort shards)
  or its cohort shard (simulation shards). A corrupt, truncated or foreign shard is named with
  what is wrong and how to recover, and no output has been removed. The cost is one read of
  the bytes of each shard checked, without decompression (README.md gives figures).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from osteotrial import integrity

SHARD_FILE = re.compile(r"^s\d{3}(-of-\d{3})?\.parquet$")
TEMPORARY_FILE = re.compile(r"\.tmp-(\d+)$")


def _flatten(paths: str | Path | Iterable) -> list[Path]:
    """Return ``paths`` (a path, or nested lists of paths as Snakemake gives) as a flat list."""
    if isinstance(paths, (str, Path)):
        return [Path(paths)]
    return [p for item in paths for p in _flatten(item)]


def read_provenance(path: str | Path) -> dict[str, str]:
    """Return the provenance metadata of a Parquet file; ValueError naming it if unreadable."""
    try:
        raw = pq.read_schema(path).metadata or {}
    except (OSError, ValueError) as error:  # ArrowInvalid is a ValueError
        raise ValueError(
            f"{path} cannot be read as a Parquet file ({error}); delete it, then regenerate it: "
            f"{regenerate_command(path)}"
        ) from error
    return {k.decode(): v.decode() for k, v in raw.items() if not k.startswith(b"ARROW:")}


def regenerate_command(*paths: str | Path) -> str:
    """Return the snakemake command that regenerates ``paths`` (and what depends on them).

    The files are named as targets, with ``all``, *before* ``--config``: snakemake reads every
    word after ``--config`` as a config value, so a target typed after it fails. The trial is
    the folder below ``results/`` of the first path (``<trial>`` when it has none).
    """
    parts = Path(paths[0]).parts
    trial = parts[parts.index("results") + 1] if "results" in parts[:-2] else "<trial>"
    names = " ".join(str(p) for p in paths)
    return (
        f"snakemake --profile workflow/profiles/default --cores all all {names} "
        f"--config trial={trial}"
    )


def check_inputs(paths: str | Path | Iterable, config_hash: str) -> None:
    """Raise ValueError naming every file of ``paths`` that cannot be read or whose
    ``config_hash`` is not ``config_hash`` (written by another configuration)."""
    problems = []
    for path in _flatten(paths):
        try:
            found = read_provenance(path).get("config_hash", "<none>")
        except ValueError as error:
            problems.append(str(error))
            continue
        if found != config_hash:
            problems.append(
                f"{path} has config_hash {found[:12]}..., this run's is {config_hash[:12]}...: "
                "it was written by another configuration; delete it and rerun"
            )
    if problems:
        raise ValueError("input files that cannot be trusted:\n  " + "\n  ".join(problems))


def pid_alive(pid: int) -> bool:
    """Return whether a process ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def stale_temporaries(root: str | Path) -> list[Path]:
    """Return the ``*.tmp-<pid>`` files under ``root`` whose writer is not alive."""
    found = []
    for path in sorted(Path(root).rglob("*.tmp-*")):
        match = TEMPORARY_FILE.search(path.name)
        if match and path.is_file() and not pid_alive(int(match.group(1))):
            found.append(path)
    return found


def stale_shards(root: str | Path, expected: Iterable[str | Path]) -> list[Path]:
    """Return the shard files (``s000.parquet``, ``s000-of-004.parquet``) under ``root`` that
    are not among ``expected``: another layout, an arm no longer in the trial, older names."""
    keep = {Path(p).resolve() for p in expected}
    return [
        path
        for path in sorted(Path(root).rglob("s*.parquet"))
        if SHARD_FILE.match(path.name) and path.resolve() not in keep
    ]


def unreadable_parquet(root: str | Path) -> list[str]:
    """Return one message per ``*.parquet`` file under ``root`` whose footer cannot be read."""
    problems = []
    for path in sorted(Path(root).rglob("*.parquet")):
        try:
            read_provenance(path)
        except ValueError as error:
            problems.append(str(error))
    return problems


def tidy_results(root: str | Path, expected_shards: Iterable[str | Path]) -> list[Path]:
    """Remove stale temporary files and stale shards under ``root``; check every Parquet file.

    Returns the removed files (also listed on stderr). Raises ValueError naming every Parquet
    file under ``root`` that cannot be read, after the removals; see the module docstring.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    removed = stale_temporaries(root) + stale_shards(root, expected_shards)
    for path in removed:
        path.unlink(missing_ok=True)
        print(f"removed stale {path}", file=sys.stderr)
    problems = unreadable_parquet(root)
    if problems:
        raise ValueError("\n".join(problems))
    return removed


STOPPED = "Stopped before any job ran: no output was removed."


def recovery(paths: Iterable[str | Path]) -> str:
    """Return how to recover from untrusted shards: delete them, then ask for them again as
    targets (a missing shard whose tables are up to date is otherwise left missing); the
    targets go before any --config, whose values would swallow them."""
    paths = list(paths)
    names = " ".join(str(p) for p in paths)
    return (
        f"{STOPPED} To recover, delete these files and ask for them again (targets before "
        f"--config; add the run's other --config values):\n  rm {names}\n  "
        f"{regenerate_command(*paths)}"
    )


@dataclass(frozen=True)
class ShardSpec:
    """What one shard file must hold.

    ``patients`` is the patient count when the configuration fixes it (a cohort shard: the
    cohort size split into shards). Otherwise the shard simulates the patients of the cohort
    shard ``cohort`` randomized to ``arm``, or every one of them when ``arm`` is None (the
    counterfactual and power twins). ``patient_rows`` False: the shard holds sums over its
    patients, not their rows (a simulation's expected sums), so only its configuration and
    data are checked, not a patient count.
    """

    patients: int | None = None
    cohort: str | None = None
    arm: str | None = None
    patient_rows: bool = True


def expected_patients(spec: ShardSpec) -> int:
    """Return the number of patients a shard must hold (reads the cohort shard's arm column)."""
    if spec.patients is not None:
        return spec.patients
    if spec.cohort is None:
        raise ValueError("a ShardSpec needs patients or cohort")
    arms = pq.read_table(spec.cohort, columns=["arm"]).column("arm")
    if spec.arm is None:
        return len(arms)
    return int(pc.sum(pc.equal(arms, spec.arm)).as_py() or 0)


def shard_problem(path: str | Path, spec: ShardSpec, config_hash: str) -> str | None:
    """Return what is wrong with a shard file (None if nothing): unreadable, another
    configuration, data changed since written, or not the patients it must hold."""
    try:
        num_rows, meta = integrity.recorded(path)
        found = meta.get("config_hash", "<none>")
        if found != config_hash:
            return (
                f"was written by another configuration (config_hash {found[:12]}..., "
                f"this run's is {config_hash[:12]}...)"
            )
        problem = integrity.verify_file(path, meta, num_rows)
    except (OSError, ValueError) as error:  # ArrowInvalid is a ValueError
        return f"cannot be read as a Parquet file ({error})"
    if problem is not None or not spec.patient_rows:
        return problem
    try:
        expected = expected_patients(spec)
    except (OSError, ValueError) as error:
        return f"its patients cannot be counted: its cohort shard {spec.cohort} ({error})"
    held = meta.get(integrity.PATIENTS_KEY, "no record of its")
    if held != str(expected):
        source = f"{spec.cohort}, arm {spec.arm}" if spec.arm else spec.cohort or "the config"
        return f"holds {held} patients where {expected} are expected (from {source})"
    return None


def check_shards(
    specs: Mapping[str, ShardSpec], config_hash: str, read: Iterable[str | Path]
) -> list[Path]:
    """Check every shard of ``specs`` that is among ``read`` (the files that the jobs to run
    read and do not write) and exists; return them. Raise ValueError naming each shard that
    fails ``shard_problem``, with how to recover (``recovery``)."""
    wanted = {Path(p).resolve() for p in read}
    checked, problems = [], {}
    for path, spec in specs.items():
        if Path(path).resolve() not in wanted or not Path(path).is_file():
            continue
        checked.append(Path(path))
        problem = shard_problem(path, spec, config_hash)
        if problem is not None:
            problems[path] = f"{path} {problem}"
    if problems:
        lines = ["shards that cannot be trusted:", *problems.values(), recovery(problems)]
        raise ValueError("\n".join(lines))
    return checked
