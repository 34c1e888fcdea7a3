"""The SRE tables from the workflow's simulation files (issue 26, workflow wiring).

The simulation files carry the tumour's cumulative hazards (``io.TUMOUR_COLUMNS``), so the SRE
frames drawn from them equal those drawn from the engine's results in memory, and the tables
are the same whatever the shard layout; a trial without a tumour writes the columns as zeros.
The two snakemake runs (8 patients per arm; 10 and 4 jobs, about 40 s on a quiet 2-core
machine) are the only check that the rule, the report's SRE page and the calibration rows
read from the SRE tables work end to end, and that the tables do not depend on n_shards.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from conftest import run_workflow
from polars.testing import assert_frame_equal

from osteotrial import io
from osteotrial.analyses.sre_endpoints import sre_endpoint_tables, trial_end_days
from osteotrial.analyses.sre_frames import (
    read_simulations,
    sre_frames,
    sre_frames_from_simulation,
)
from osteotrial.analyses.sre_tables import sre_tables
from osteotrial.calibration import metastasis as stage
from osteotrial.engine.simulate import simulate_arm
from osteotrial.report.sre import SRE_REPORT_FILES
from osteotrial.trial.config import has_sre, load_config

N_PER_ARM = 30


@pytest.fixture(scope="module")
def breast():
    """The breast trial's two arms on 30 patients each (the trial's schedule and seed)."""
    cfg = load_config(stage.TRIAL)
    cohort = stage.trial_cohort(cfg, N_PER_ARM)
    return cfg, cohort, stage.simulate(cfg, cohort, cfg.params)


def write_shards(results, folder, n_shards):
    """Write each arm's result in ``n_shards`` files (blocks of patient ids, as the workflow)."""
    paths = []
    for name, result in results.items():
        for k, block in enumerate(io.shard_blocks(result.patient_id, n_shards)):
            path = folder / f"{name}-{k}.parquet"
            io.write_simulation(result.take(block), path, {})
            paths.append(path)
    return paths


def sorted_frames(patients, events):
    return patients.sort("arm", "patient_id"), events.sort("arm", "patient_id", "day", "type")


def test_frames_from_the_simulation_files_equal_the_in_memory_frames(breast, tmp_path):
    cfg, cohort, results = breast
    end = trial_end_days(cfg, cohort.n_patients)
    memory = sorted_frames(*sre_frames(list(results.values()), cfg.seed, end))
    rows = read_simulations(write_shards(results, tmp_path, 2))
    read = sorted_frames(*sre_frames_from_simulation(rows, cfg.seed, end))
    assert memory[1].height > 10  # events were drawn: the comparison is not of empty frames
    for a, b in zip(memory, read, strict=True):
        assert_frame_equal(a, b)


def test_sre_tables_do_not_depend_on_the_shard_layout(breast, tmp_path):
    cfg, cohort, results = breast
    one = sre_endpoint_tables(cfg, write_shards(results, tmp_path / "one", 1))
    (tmp_path / "three").mkdir()
    three = sre_endpoint_tables(cfg, write_shards(results, tmp_path / "three", 3))
    assert set(one) == set(io.SRE_TABLES)
    for name in io.SRE_TABLES:
        assert one[name].height > 0, name
        assert_frame_equal(one[name], three[name])
    end = trial_end_days(cfg, cohort.n_patients)
    patients, events = sre_frames(list(results.values()), cfg.seed, end)
    memory = sre_tables(patients, events, reference_arm=cfg.control_arm)
    assert_frame_equal(one["sre_summary"], memory["sre_summary"])
    assert_frame_equal(one["sre_comparisons"], memory["sre_comparisons"])


def test_tumour_columns_are_zero_without_a_tumour_and_only_sre_trials_draw(breast, tmp_path):
    cfg, cohort, results = breast
    path = tmp_path / "zoledronic.parquet"
    io.write_simulation(results[stage.ZOLEDRONIC], path, {})
    table = pl.read_parquet(path)
    assert table["tumour_burden_rel"].filter(table["day"] == 0).min() > 0
    assert table["cum_hazard_radiation_to_bone"].max() > 0
    few = cohort.select(cohort.arm == stage.ZOLEDRONIC).select(np.arange(5))
    none = dataclasses.replace(few, tumour_burden0_rel=np.zeros(5))
    arm = cfg.arms[stage.ZOLEDRONIC]
    healthy = io.simulation_table(simulate_arm(none, arm, cfg.params, cfg.schedule))
    for name in io.TUMOUR_COLUMNS.values():
        assert pl.from_arrow(healthy)[name].to_list() == [0.0] * healthy.num_rows, name
    freedom = load_config("freedom")
    assert has_sre(cfg) and not has_sre(freedom)
    with pytest.raises(ValueError, match="has no skeletal_events"):
        sre_endpoint_tables(freedom, [path])
    assert pq.read_schema(path).names == io.SIMULATION_SCHEMA.names


BREAST = ("--config", f"trial={stage.TRIAL}", "n_per_arm=8")


@pytest.fixture(scope="module")
def breast_runs(tmp_path_factory):
    """The breast trial through snakemake at 8 patients per arm: every output with 2 shards,
    the SRE tables alone with 1 shard."""
    two = tmp_path_factory.mktemp("two_shards")
    done = run_workflow(two, *BREAST, "n_shards=2")
    assert done.returncode == 0, done.stderr[-4000:]
    one = tmp_path_factory.mktemp("one_shard")
    targets = [f"results/{stage.TRIAL}/endpoints/{name}.parquet" for name in io.SRE_TABLES]
    done = run_workflow(one, *targets, *BREAST, "n_shards=1")
    assert done.returncode == 0, done.stderr[-4000:]
    return two, one


def test_the_workflow_writes_the_sre_tables_and_page(breast_runs):
    two, _ = breast_runs
    results = two / "results" / stage.TRIAL
    for name, schema in io.SRE_SCHEMAS.items():
        path = results / "endpoints" / f"{name}.parquet"
        assert pq.read_schema(path).names == schema.names
        assert {"config_hash", "seed", "trial", "git_commit"} <= set(io.read_metadata(path))
    for name in SRE_REPORT_FILES:
        assert (results / "report" / name).stat().st_size > 1000, name
    assert "Skeletal-related events" in (results / "report" / "sre.html").read_text()
    assert (two / "logs" / stage.TRIAL / "sre_endpoints" / "sre.log").exists()
    # the calibration page reads the SRE rows from these tables (comparison.compare)
    calibration = pl.read_parquet(results / "report" / "calibration.parquet")
    shares = calibration.filter(pl.col("measure") == "patients with an SRE").sort("arm")
    summary = pl.read_parquet(results / "endpoints" / "sre_summary.parquet").sort("arm")
    assert shares["arm"].to_list() == summary["arm"].to_list()
    assert shares["emulated"].to_list() == summary["share_with_sre"].to_list()
    types = calibration.filter(pl.col("measure").str.starts_with("first SRE"))
    assert types.height == 8 and types["emulated"].is_not_null().all()
    untx = pl.read_parquet(results / "endpoints" / "sre_untx.parquet")
    week1 = untx.filter((pl.col("arm") == stage.DENOSUMAB) & (pl.col("day") == 7.0))
    row = calibration.filter(pl.col("measure").str.starts_with("urinary NTX"))
    assert row["emulated"].to_list() == week1["median_pct_change"].to_list()
    assert row["emulated"].item() < -50.0  # 120 mg suppresses uNTX within the first week


def test_the_workflow_sre_tables_are_byte_identical_over_shard_layouts(breast_runs):
    two, one = breast_runs
    for name in io.SRE_TABLES:
        relative = f"results/{stage.TRIAL}/endpoints/{name}.parquet"
        assert (two / relative).read_bytes() == (one / relative).read_bytes(), name
