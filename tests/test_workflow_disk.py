"""Results you can trust on disk, through snakemake: no leftover shards, checked inputs, stale
temporary files removed, execution-only settings rerun nothing (osteotrial.storage).

The tests share one run directory and run in file order: the corrupt-file test restores the
file it breaks, the last test changes the configuration.
"""

from __future__ import annotations

import glob

import polars as pl
import pytest
from conftest import NO_ANALYSES, dead_pid, run_workflow

from osteotrial import io

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
