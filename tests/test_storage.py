"""Results on disk (osteotrial.storage): checked inputs, stale shards and temporary files."""

from __future__ import annotations

import os

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import dead_pid, synthetic_cohort, synthetic_result

from osteotrial import io, storage


def test_inputs_of_another_configuration_or_unreadable_are_named(tmp_path):
    good, other, broken = (tmp_path / f"{n}.parquet" for n in ("good", "other", "broken"))
    result = synthetic_result("a", [0, 1])
    io.write_simulation(result, good, io.provenance("h" * 64, 1, "t"))
    io.write_simulation(result, other, io.provenance("x" * 64, 1, "t"))
    broken.write_bytes(good.read_bytes()[:100])
    storage.check_inputs([str(good), [good]], "h" * 64)
    with pytest.raises(ValueError) as error:
        storage.check_inputs([good, [other, broken]], "h" * 64)
    message = str(error.value)
    assert f"{other} has config_hash xxxxxxxxxxxx..." in message
    assert f"{broken} cannot be read as a Parquet file" in message and str(good) not in message


def test_only_temporary_files_of_dead_writers_are_stale(tmp_path):
    (tmp_path / "sub").mkdir()
    dead = tmp_path / "sub" / f"bmd.parquet.tmp-{dead_pid()}"
    alive = tmp_path / f"bmd.parquet.tmp-{os.getpid()}"
    for path in (dead, alive, tmp_path / "notes.tmp-x"):
        path.write_bytes(b"")
    assert storage.stale_temporaries(tmp_path) == [dead]


def test_tidy_results_removes_other_layouts_and_stops_on_unreadable_files(tmp_path):
    folder = tmp_path / "simulations" / "a"
    folder.mkdir(parents=True)
    current = [folder / "s000-of-002.parquet", folder / "s001-of-002.parquet"]
    stale = [folder / "s002-of-004.parquet", folder / "s000.parquet"]
    for path in current + stale:
        io.write_simulation(synthetic_result("a", [0]), path, {})
    (tmp_path / "keep.parquet").write_bytes(b"not parquet")
    with pytest.raises(ValueError, match="keep.parquet cannot be read as a Parquet file"):
        storage.tidy_results(tmp_path, current)
    assert sorted(folder.iterdir()) == current  # removed before the check
    (tmp_path / "keep.parquet").unlink()
    assert storage.tidy_results(tmp_path, current) == []


def test_nan_is_written_as_null_and_tables_compare_equal(tmp_path):
    hip = np.full((2, 2), np.nan)
    hip[0, 1] = 50.0
    path = tmp_path / "sim.parquet"
    io.write_simulation(synthetic_result("a", [0, 1], hip_fracture_days=hip), path, {})
    table = pq.read_table(path)
    assert table["hip_fracture_day_1"].to_pylist() == [None, None, 50.0, 50.0]
    assert table["death_day"].null_count == 4 and table["dropout_day"].to_pylist()[0] == np.inf
    assert table.equals(pq.read_table(path))


def test_regenerate_command_parses_as_snakemake_targets(tmp_path):
    """The hint's targets come before --config, so snakemake reads them as targets."""
    from snakemake.cli import get_argument_parser

    shard = "results/frame/simulations/placebo/s002-of-004.parquet"
    words = storage.regenerate_command(shard).split()
    args = get_argument_parser().parse_args(words[1:])
    assert args.targets == ["all", shard] and args.config == ["trial=frame"]
    broken = tmp_path / "results" / "smoke" / "x" / "s000.parquet"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not parquet")
    with pytest.raises(ValueError, match=f"all {broken} --config trial=smoke"):
        storage.read_provenance(broken)


def test_shard_problems_are_found_from_the_integrity_record(tmp_path):
    cohort, sim = tmp_path / "cohort.parquet", tmp_path / "sim.parquet"
    meta = io.provenance("h" * 64, 1, "t")
    io.write_cohort_shards(synthetic_cohort(["a", "b", "a"]), [cohort], meta)
    io.write_simulation(synthetic_result("a", [0, 2]), sim, meta)
    spec = storage.ShardSpec(cohort=str(cohort), arm="a")
    assert storage.shard_problem(sim, spec, "h" * 64) is None
    assert storage.shard_problem(cohort, storage.ShardSpec(patients=3), "h" * 64) is None
    problem = storage.shard_problem(sim, storage.ShardSpec(cohort=str(cohort)), "h" * 64)
    assert problem == f"holds 2 patients where 3 are expected (from {cohort})"
    assert "another configuration" in storage.shard_problem(sim, spec, "x" * 64)
    pq.write_table(pq.read_table(sim), sim)  # same rows, no integrity record
    assert "records no integrity_rows or integrity_blake2b" in storage.shard_problem(
        sim, spec, "h" * 64
    )
    io.write_simulation(synthetic_result("a", [0, 2]), sim, meta)
    data = bytearray(sim.read_bytes())
    data[100] ^= 0xFF  # one bit pattern changed in the first data page; the footer intact
    sim.write_bytes(bytes(data))
    assert "data bytes changed" in storage.shard_problem(sim, spec, "h" * 64)


def test_check_shards_checks_only_files_that_jobs_will_read(tmp_path):
    good, bad = tmp_path / "good.parquet", tmp_path / "bad.parquet"
    io.write_simulation(synthetic_result("a", [0]), good, io.provenance("h" * 64, 1, "t"))
    bad.write_bytes(good.read_bytes()[:-10])
    specs = {str(p): storage.ShardSpec(patients=1) for p in (good, bad, tmp_path / "gone")}
    assert storage.check_shards(specs, "h" * 64, [good, tmp_path / "gone"]) == [good]
    with pytest.raises(ValueError) as error:
        storage.check_shards(specs, "h" * 64, [str(good), str(bad)])
    lines = str(error.value).splitlines()
    assert (
        lines[1].startswith(f"{bad} cannot be read")
        and lines[-1] == f"  {storage.regenerate_command(bad)}"
    )
