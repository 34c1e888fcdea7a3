"""osteotrial used as a Snakemake module from another workflow (issue 14, item 7).

A host workflow in a folder of its own (no config/ there) imports every rule with the
``module`` directive and passes its config block; the trial is a YAML file given by path. The
run writes the endpoint tables under the host's results/, stamped with the trial's config_hash.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import yaml

from osteotrial.io import ENDPOINT_TABLES
from osteotrial.trial.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "tests" / "data" / "smoke.yaml"
HOST_SNAKEFILE = """\
configfile: "host_config.yaml"


module osteotrial:
    snakefile:
        "{snakefile}"
    config:
        config["osteotrial"]


use rule * from osteotrial as osteotrial_*
"""
OVERRIDES = {
    "n_per_arm": 20,
    "counterfactual": {"enabled": False},
    "power": {"enabled": False},
    "uncertainty": {"enabled": False},
}


def test_the_workflow_runs_as_a_module_of_another_workflow(tmp_path):
    host = tmp_path / "host"
    host.mkdir()
    (host / "Snakefile").write_text(HOST_SNAKEFILE.format(snakefile=ROOT / "Snakefile"))
    config = {"osteotrial": {"trial": str(SMOKE), **OVERRIDES}}
    (host / "host_config.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2"],
        cwd=host, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    trial = load_config(str(SMOKE), OVERRIDES)
    for table in ENDPOINT_TABLES:
        path = host / "results" / trial.name / "endpoints" / f"{table}.parquet"
        assert path.is_file(), path
    bmd = pl.read_parquet(host / "results" / trial.name / "endpoints" / "bmd.parquet")
    assert set(bmd["arm"].unique()) == set(trial.arms)
    stored = pq.read_metadata(host / "results" / trial.name / "endpoints" / "bmd.parquet")
    assert stored.metadata[b"config_hash"].decode() == trial.config_hash
