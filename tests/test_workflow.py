"""The workflow through snakemake itself, on copies of the repository in temporary folders."""

from __future__ import annotations

import polars as pl
import pyarrow.parquet as pq
import pytest
from conftest import run_workflow

from osteotrial import io
from osteotrial.analyses.safety_endpoints import EVENT_NAMES

SMOKE = ("--config", "trial=smoke")


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
    """Run the smoke trial twice: 4 shards, 1 shard. Byte-identical tables of two runs also
    show that a run is reproducible (a third run, the same 4 shards again, showed nothing more:
    a run that drew differently would have to draw the same bytes as the other layout)."""
    runs = {}
    for name, n_shards in (("first", 4), ("one_shard", 1)):
        workdir = tmp_path_factory.mktemp(name)
        done = run_workflow(workdir, *SMOKE, f"n_shards={n_shards}")
        assert done.returncode == 0, done.stderr[-4000:]
        runs[name] = workdir
    return runs


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["n_per_arm=-5"], "n_per_arm=-5 is out of range; allowed: [1, 1000000]"),
        (
            ["trial=nope"],
            "available trials: ['alendronate', 'androgen_deprivation', 'arch', 'aromatase_inhib",
        ),
        (["seed=1.5"], "seed=1.5 has type float; expected integer"),
    ],
)
def test_invalid_config_fails_before_any_job(tmp_path, overrides, expected):
    done = run_workflow(tmp_path, *SMOKE, *overrides)
    assert done.returncode != 0
    assert expected in done.stderr + done.stdout
    assert not (tmp_path / "results").exists()


def test_workflow_writes_the_contract_tables(smoke_runs):
    workdir = smoke_runs["first"]
    for name, schema in {**io.ENDPOINT_SCHEMAS, **io.SAFETY_SCHEMAS}.items():  # safety: every trial
        path = workdir / "results" / "smoke" / "endpoints" / f"{name}.parquet"
        assert pq.read_schema(path).names == schema.names
        assert pq.read_metadata(path).num_rows > 0
        assert {"config_hash", "seed", "trial", "git_commit"} <= set(io.read_metadata(path))
    simulations = workdir / "results" / "smoke" / "simulations"
    simulation = simulations / "romosozumab" / "s003-of-004.parquet"
    assert pq.read_schema(simulation).names == io.SIMULATION_SCHEMA.names
    assert (workdir / "logs" / "smoke" / "simulate_arm" / "placebo" / "s000-of-004.log").exists()
    assert (workdir / "benchmarks" / "smoke" / "compute_endpoints" / "endpoints.tsv").exists()
    page = (workdir / "results/smoke/report/safety.html").read_text()
    assert "Safety events by arm" in page and "Serum calcium course" in page
    assert "<img src='safety.png'" in page  # the safety figure (report.safety)
    assert (workdir / "results/smoke/report/safety.png").stat().st_size > 40_000
    events = pl.read_parquet(workdir / "results/smoke/endpoints/safety_events.parquet")
    assert set(EVENT_NAMES) <= set(events["event"])  # ONJ, AFF, MACE and hypocalcemia alike


def test_endpoint_tables_are_byte_identical_whatever_the_shards(smoke_runs):
    for name in (*io.ENDPOINT_TABLES, *io.SAFETY_TABLES):
        relative = f"results/smoke/endpoints/{name}.parquet"
        first = (smoke_runs["first"] / relative).read_bytes()
        assert first == (smoke_runs["one_shard"] / relative).read_bytes(), name
