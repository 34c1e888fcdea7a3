"""Parquet I/O: schemas, round trips, provenance metadata and atomic writes."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import MONTH_12_DAY, synthetic_cohort, synthetic_result

from osteotrial import io

META = io.provenance("abc123", 7, "smoke")


def test_cohort_shards_round_trip_with_metadata(tmp_path):
    cohort = synthetic_cohort(["a", "b", "a", "b", "a"])
    paths = [tmp_path / "s000.parquet", tmp_path / "s001.parquet"]
    io.write_cohort_shards(cohort, paths, META)
    assert [pq.read_metadata(p).num_rows for p in paths] == [3, 2]
    back = io.read_cohort(paths[::-1])
    np.testing.assert_array_equal(back.patient_id, cohort.patient_id)
    np.testing.assert_array_equal(back.arm, cohort.arm)
    meta = io.read_metadata(paths[1])
    assert meta["config_hash"] == "abc123" and meta["seed"] == "7" and meta["shard"] == "s001"
    assert {"trial", "osteotrial_version", "git_commit"} <= set(meta)


def test_simulation_table_is_long_and_sorted():
    dropout = np.array([np.inf, 100.0, np.inf])
    hip = np.full((2, 3), np.nan)
    hip[0, 1] = 50.0
    result = synthetic_result("a", [7, 3, 5], dropout_day=dropout, hip_fracture_days=hip)
    table = io.simulation_table(result)
    assert table.schema.names == io.SIMULATION_SCHEMA.names and table.num_rows == 6
    rows = table.to_pydict()
    assert rows["patient_id"] == [3, 3, 5, 5, 7, 7]
    assert rows["day"] == [0.0, MONTH_12_DAY] * 3 and rows["month"][1] == 12.0
    assert rows["dropout_day"][:2] == [100.0, 100.0] and rows["hip_fracture_day_1"][1] == 50.0
    assert rows["p1np_pct_change"] == [0.0] * 6


def test_wrong_columns_are_named():
    with pytest.raises(ValueError, match=r"unknown columns \['x'\], missing columns \['arm'"):
        io.write_endpoint_table("baseline", {"x": [1]}, "unused.parquet", META)


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "bmd.parquet"
    columns = {name: [] for name in io.ENDPOINT_SCHEMAS["bmd"].names}

    def fail(self, table, **kwargs):
        raise OSError("disk full")  # after the header is written: half a file on disk

    monkeypatch.setattr(io.pq.ParquetWriter, "write_table", fail)
    with pytest.raises(OSError, match="disk full"):
        io.write_endpoint_table("bmd", columns, path, META)
    assert list(tmp_path.iterdir()) == []


def test_endpoint_table_keeps_its_explicit_schema(tmp_path):
    path = tmp_path / "baseline.parquet"
    columns = {"arm": ["a"], "variable": ["age_years"], "statistic": ["mean"], "value": [70]}
    columns["month"] = [0.0]
    io.write_endpoint_table("baseline", columns, path, META)
    assert pq.read_schema(path).remove_metadata() == io.ENDPOINT_SCHEMAS["baseline"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline.parquet"]
