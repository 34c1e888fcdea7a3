"""Full-size FRAME and FREEDOM emulations land on every calibration target in targets.yaml.

Runs the workflow itself at the published arm sizes (7,180 and 7,808 women), then compares the
endpoint tables with the targets (osteotrial.calibration.targets): BMD within tolerance,
published fracture
incidences and relative risk reductions inside the emulated 95% CIs, marker shape within
10 points. The cohort baselines are checked against targets.yaml in test_cohort.py.
"""

from __future__ import annotations

import polars as pl
import pytest
from conftest import NO_ANALYSES, ROOT, run_workflow

from osteotrial.calibration.comparison import compare
from osteotrial.calibration.targets import load_targets

ARMS = {
    "frame": ("romosozumab_then_denosumab", "placebo_then_denosumab"),
    "freedom": (None, "placebo"),
}


@pytest.fixture(scope="module", params=["frame", "freedom"])
def calibration(request, tmp_path_factory):
    trial = request.param
    workdir = tmp_path_factory.mktemp(trial)
    done = run_workflow(workdir, "--config", f"trial={trial}", *NO_ANALYSES)
    assert done.returncode == 0, done.stderr[-4000:]
    tables = {
        name: pl.read_parquet(workdir / "results" / trial / "endpoints" / f"{name}.parquet")
        for name in ("bmd", "fractures", "comparisons", "markers")
    }
    targets = load_targets(ROOT / "config" / "targets.yaml", trial)
    return trial, compare(targets, tables, *ARMS[trial])


def expected_rows(block: dict) -> int:
    """Count a trial block's targets straight from the file: each list entry, each marker point."""
    lists = ("bmd_pct_change", "fracture_incidence", "relative_risk_reduction")
    n = sum(len(block.get(key, [])) for key in lists)
    markers = block.get("markers_romosozumab_vs_placebo", {})
    points = [k for m in markers.values() if isinstance(m, dict) for k in m]
    return n + sum(k.endswith("_pct") or k == "back_to_placebo_month" for k in points)


def test_every_target_is_compared(calibration):
    """One row per target of the trial's block, each with an emulated value (none only listed)."""
    trial, table = calibration
    block = load_targets(ROOT / "config" / "targets.yaml", trial)
    assert table.height == expected_rows(block) == {"frame": 20, "freedom": 6}[trial]
    assert table["emulated"].is_finite().all(), table.filter(~pl.col("emulated").is_finite())


def test_every_target_is_within_tolerance(calibration):
    _, table = calibration
    missed = table.filter(~pl.col("within"))
    assert missed.height == 0, missed
