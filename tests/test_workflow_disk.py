"""Results you can trust on disk, through snakemake: no leftover shards, checked inputs, stale
temporary files removed, execution-only settings rerun nothing (osteotrial.storage).

The tests share one run directory and run in file order: the corrupt-file test restores the
file it breaks, the last test changes the configuration.
"""

from __future__ import annotations

import glob

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import NO_ANALYSES, dead_pid, run_workflow

from osteotrial import io, storage

CONFIG = ("--config", "trial=smoke", "n_per_arm=20", *NO_ANALYSES)
NOTHING = "Nothing to be done"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A smoke run with 4 shards and 20 patients per arm, the analyses off."""
    workdir = tmp_path_factory.mktemp("disk")
    done = run_workflow(workdir, *CONFIG, "n_shards=4")
    assert done.returncode == 0, done.stderr[-4000:]
    return workdir


def rerun(workdir, *args: str):
    return run_workflow(workdir, *CONFIG, *args, copy=False)


def test_execution_only_settings_rerun_nothing(workdir):
    profile = ("--profile", "workflow/profiles/default", "--dry-run")
    assert NOTHING in rerun(workdir, "n_shards=2", *profile).stdout
    assert NOTHING in rerun(workdir, "n_shards=4", "schedule={chunk_size: 7}", "--dry-run").stdout


def test_corrupt_simulation_is_named_and_good_tables_are_kept(workdir):
    results = workdir / "results" / "smoke"
    tables = {p: p.read_bytes() for p in (results / "endpoints").glob("*.parquet")}
    victim = results / "simulations" / "placebo" / "s001-of-004.parquet"
    good = victim.read_bytes()
    victim.write_bytes(good[:200])  # newer and corrupt: compute_endpoints would rerun
    done = rerun(workdir, "n_shards=4")
    victim.write_bytes(good)
    assert done.returncode != 0
    assert f"{victim.relative_to(workdir)} cannot be read as a Parquet file" in done.stderr
    assert {p: p.read_bytes() for p in tables} == tables


def rerun_with_shard(workdir, victim, damage) -> str:
    """Damage the shard ``victim`` (made newer: the endpoint tables would rerun), rerun, restore
    it; return stderr. Asserts the run failed and left every endpoint table as it was."""
    tables = {p: p.read_bytes() for p in (workdir / "results/smoke/endpoints").glob("*.parquet")}
    good = victim.read_bytes()
    damage(victim)
    try:
        done = rerun(workdir, "n_shards=4")
    finally:
        victim.write_bytes(good)
    assert done.returncode != 0
    assert {p: p.read_bytes() if p.exists() else None for p in tables} == tables
    assert storage.STOPPED in done.stderr and f"rm {victim.relative_to(workdir)}" in done.stderr
    return done.stderr


def flip_bytes_in_a_data_page(path):
    """Invert up to 200 bytes in the middle of the largest column chunk (footer intact)."""
    meta = pq.read_metadata(path)
    chunks = [
        c
        for g in range(meta.num_row_groups)
        for c in (meta.row_group(g).column(i) for i in range(meta.num_columns))
    ]
    chunk = max(chunks, key=lambda c: c.total_compressed_size)
    count = min(200, chunk.total_compressed_size // 2)
    start = chunk.data_page_offset + (chunk.total_compressed_size - count) // 2
    data = bytearray(path.read_bytes())
    data[start : start + count] = bytes(255 - b for b in data[start : start + count])
    path.write_bytes(bytes(data))


def test_bytes_flipped_in_a_data_page_are_named_before_anything_is_removed(workdir):
    victim = workdir / "results/smoke/simulations/placebo/s001-of-004.parquet"
    stderr = rerun_with_shard(workdir, victim, flip_bytes_in_a_data_page)
    assert f"{victim.relative_to(workdir)} its data bytes changed after it was written" in stderr


def test_a_shard_with_patients_removed_is_named(workdir):
    victim = workdir / "results/smoke/simulations/placebo/s002-of-004.parquet"
    n_patients = pl.read_parquet(victim)["patient_id"].n_unique()

    def remove_half_the_patients(path):  # a valid file with a consistent integrity record
        table = pq.read_table(path)
        ids = sorted(set(table["patient_id"].to_pylist()))
        keep = pc.is_in(table["patient_id"], pa.array(ids[: len(ids) // 2]))
        io.write_parquet(table.filter(keep), path, io.read_metadata(path))

    stderr = rerun_with_shard(workdir, victim, remove_half_the_patients)
    expected = f"holds {n_patients // 2} patients where {n_patients} are expected"
    assert f"{victim.relative_to(workdir)} {expected}" in stderr


def test_a_shard_of_another_configuration_is_named_before_anything_is_removed(workdir):
    victim = workdir / "results/smoke/simulations/placebo/s003-of-004.parquet"

    def other_configuration(path):
        io.write_parquet(
            pq.read_table(path), path, {**io.read_metadata(path), "config_hash": "f" * 64}
        )

    stderr = rerun_with_shard(workdir, victim, other_configuration)
    assert f"{victim.relative_to(workdir)} was written by another configuration" in stderr


def test_a_lost_simulation_is_redone_and_the_other_shards_sums_are_kept(workdir):
    """Naming a lost simulation as a target redoes its job (which rewrites its shard's expected
    sums); the run's start keeps every other shard's sums, which expected_fractures reads
    (removed as another layout's shards, they failed the cluster test's resumed run)."""
    results = workdir / "results" / "smoke"
    sums = sorted((results / "expected_sums").rglob("*.parquet"))
    assert len(sums) == len(list((results / "simulations").rglob("*.parquet"))) > 1
    before = {p: p.read_bytes() for p in sums}
    victim = results / "simulations" / "placebo" / "s001-of-004.parquet"
    victim.unlink()
    target = str(victim.relative_to(workdir))
    done = run_workflow(workdir, "all", target, *CONFIG, "n_shards=4", copy=False)
    assert done.returncode == 0, done.stderr[-4000:]
    assert victim.exists() and {p: p.read_bytes() for p in sums} == before


def test_expected_sums_of_another_configuration_are_named(workdir):
    victim = workdir / "results/smoke/expected_sums/placebo/s000-of-004.parquet"

    def other_configuration(path):
        io.write_parquet(
            pq.read_table(path), path, {**io.read_metadata(path), "config_hash": "f" * 64}
        )

    stderr = rerun_with_shard(workdir, victim, other_configuration)
    assert f"{victim.relative_to(workdir)} was written by another configuration" in stderr


def test_a_new_configuration_never_mixes_with_old_shards(workdir):
    results = workdir / "results" / "smoke"
    stale = results / "endpoints" / f"bmd.parquet.tmp-{dead_pid()}"
    stale.write_bytes(b"left by a killed run")
    done = rerun(workdir, "n_shards=2", "seed=99")
    assert done.returncode == 0, done.stderr[-4000:]
    assert not stale.exists()
    files = glob.glob(str(results / "simulations" / "*" / "*.parquet"))  # as README.md reads
    patients = pl.scan_parquet(files).filter(pl.col("day") == 0).collect()
    assert patients.height == patients["patient_id"].n_unique() == 40 and len(files) == 4
    expected = io.read_metadata(results / "endpoints" / "bmd.parquet")["config_hash"]
    cohort = glob.glob(str(results / "cohort" / "*.parquet"))
    assert {io.read_metadata(p)["config_hash"] for p in files + cohort} == {expected}
