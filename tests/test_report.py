"""The report: PNG figures of fixed size, every calibration target listed, clear failures."""

from __future__ import annotations

import io as stdio
import itertools
import re
import struct
import subprocess
import sys

import polars as pl
import pytest
from conftest import ROOT, run_workflow

from osteotrial import io
from osteotrial.engine.progress import chunk_logger
from osteotrial.report import efficacy
from osteotrial.report import figures_trial as figures
from osteotrial.report.build import calibration_table, with_marker_counts, write_report
from osteotrial.report.files import FIGURES, REPORT_FILES
from osteotrial.report.safety import SAFETY_REPORT_FILES
from osteotrial.trial.config import load_config

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """Run the smoke trial through snakemake (report rule included in the default target)."""
    workdir = tmp_path_factory.mktemp("report")
    done = run_workflow(workdir, "--config", "trial=smoke")
    assert done.returncode == 0, done.stderr[-4000:]
    return workdir


def png_size(path) -> tuple[int, int]:
    """Return (width, height) in pixels from the IHDR chunk of a PNG file."""
    head = path.read_bytes()[:24]
    if head[:8] != PNG_SIGNATURE or head[12:16] != b"IHDR":
        raise ValueError(f"{path} is not a PNG file")
    return struct.unpack(">II", head[16:24])


@pytest.mark.parametrize("name", FIGURES)
def test_figure_is_a_png_of_the_expected_size(smoke_run, name):
    path = smoke_run / "results" / "smoke" / "report" / name
    width_in, height_in = figures.FIGURE_SIZES_IN[name.removesuffix(".png")]
    assert png_size(path) == (round(width_in * figures.DPI), round(height_in * figures.DPI))
    assert path.stat().st_size > 20_000  # drawn, not blank


def test_report_folder_and_html_report(smoke_run):
    folder = smoke_run / "results" / "smoke" / "report"
    assert sorted(p.name for p in folder.iterdir()) == sorted(REPORT_FILES + SAFETY_REPORT_FILES)
    assert "<table>" in (folder / "table1.html").read_text()
    command = [sys.executable, "-m", "snakemake", "--config", "trial=smoke"]
    command += ["--report", "results/smoke/report.html"]
    done = subprocess.run(command, cwd=smoke_run, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    page = (smoke_run / "results" / "smoke" / "report.html").read_text()
    assert "Bone mineral density" in page and "Calibration" in page and "Validation" in page
    assert "Safety" in page  # the safety page of every trial (report.safety)
    assert "in-sample" in (folder / "calibration.html").read_text()
    assert "Nonvertebral fracture (includes hip)" in (folder / "efficacy.html").read_text()


def test_simulation_logs_show_progress(smoke_run):
    log = smoke_run / "logs" / "smoke" / "simulate_arm" / "placebo" / "s000-of-002.log"
    assert re.search(r"smoke/placebo/s000-of-002: (\d+)/\1 patients \(100\.0 %\)", log.read_text())


def test_progress_writes_one_line_per_chunk():
    out = stdio.StringIO()
    progress = chunk_logger("t/a/s000", stream=out)
    progress(10, 25)
    progress(25, 25)
    lines = out.getvalue().splitlines()
    assert [line.split(" ", 2)[2].split(",")[0] for line in lines] == [
        "t/a/s000: 10/25 patients (40.0 %)",
        "t/a/s000: 25/25 patients (100.0 %)",
    ]


def synthetic_tables(trial) -> dict[str, pl.DataFrame]:
    """Return endpoint tables with a row for every arm, site/endpoint/marker and month."""
    arms, control = trial.arm_names, trial.control_arm
    months = [float(m) for m in trial.schedule.visit_months]
    days = [float(d) for d in trial.schedule.record_days() if d > 0]
    ends = ("new_vertebral", "clinical_vertebral", "hip", "nonvertebral", "clinical")
    keys = {
        "bmd": itertools.product(arms, ("LS", "TH", "FN"), months),
        "markers": ((*k, k[2] / 30.4375) for k in itertools.product(arms, ("P1NP", "CTX"), days)),
        "fractures": itertools.product(arms, ends, months),
        "comparisons": itertools.product(ends, months, [a for a in arms if a != control]),
    }
    values = {
        "bmd": (100, 1.0, 0.5, 1.5, 3.0, 2.77, 0.4),
        "markers": (0.0, -1.0, 1.0),
        "fractures": (100, 2, 0.02, 0.01, 0.05, 0.02),
        "comparisons": (control, 0.5, 0.3, 0.9, 0.5, 0.5, 0.3, 0.9, 0.01),
    }
    return {
        name: pl.DataFrame(
            [(*key, *values[name]) for key in keys[name]],
            schema=io.ENDPOINT_SCHEMAS[name].names,
            orient="row",
        )
        for name in keys
    }


@pytest.mark.parametrize(("trial", "expected"), [("frame", 20), ("freedom", 8)])
def test_calibration_table_lists_every_applicable_target(trial, expected):
    config = load_config(trial, config_dir=ROOT / "config")
    tables = synthetic_tables(config)
    table = calibration_table(config, tables, ROOT / "config" / "targets.yaml")
    assert table.height == expected
    assert table.columns[:3] == ["kind", "arm", "measure"] and table["within"].dtype == pl.Boolean


def test_every_emulated_calibration_row_has_an_interval_markers_included():
    config = load_config("frame", config_dir=ROOT / "config")
    tables = synthetic_tables(config)
    tables["markers"] = tables["markers"].with_columns(n_patients=pl.lit(400))
    table = calibration_table(config, tables, ROOT / "config" / "targets.yaml")
    emulated = table.filter(pl.col("emulated").is_not_nan())
    assert "marker_vs_placebo_pct" in emulated["kind"].to_list()
    low, high = emulated["ci_low"], emulated["ci_high"]
    assert (high > low).all() and (low <= emulated["emulated"]).all()
    assert (emulated["emulated"] <= high).all()


def test_marker_counts_are_the_patients_on_study_that_day():
    patients = pl.DataFrame({"arm": ["a", "a", "a", "b"], "exit_day": [10.0, 30.0, 1e9, 5.0]})
    markers = pl.DataFrame({"arm": ["a", "a", "b"], "day": [10.0, 20.0, 20.0]})
    assert with_marker_counts(markers, patients)["n_patients"].to_list() == [2, 2, 0]


def test_efficacy_table_reads_like_a_publication():
    """Synthetic FRAME tables: 2/100 fractures, RR and HR 0.5 (0.3 to 0.9), p 0.01, BMD +1 %."""
    config = load_config("frame", config_dir=ROOT / "config")
    block = {"relative_risk_reduction_measure": [{"endpoint": "hip", "measure": "risk_ratio"}]}
    table = efficacy.efficacy_table(config, synthetic_tables(config), block)
    treated = "romosozumab_then_denosumab"
    first = table.row(0, named=True)
    assert first["endpoint"].startswith("New vertebral") and first["effect"] == "RR"
    assert first["placebo_then_denosumab"] == "2/100 (2.0)"
    assert (first[f"{treated} vs"], first[f"p {treated}"]) == ("0.50 (0.30 to 0.90)", "0.010")
    effects = dict(zip(table["endpoint"], table["effect"], strict=False))
    assert effects["Hip fracture"] == "RR" and effects["Clinical fracture"] == "HR"
    bmd = table.filter(pl.col("endpoint") == "Lumbar spine").row(0, named=True)
    assert bmd[treated] == "1.0 (0.5 to 1.5)" and bmd[f"{treated} vs"].startswith("0.0 (")
    assert table.filter(pl.col("endpoint") == "Serum CTX").height == len(
        config.schedule.visit_months
    )
    assert efficacy.fmt_p(0.0004) == "<0.001" and efficacy.fmt_p(0.0456) == "0.046"
    assert efficacy.fmt(-0.04, 1) == "0.0" and efficacy.fmt(-0.06, 1) == "-0.1"


def test_missing_endpoint_table_fails_with_its_name(smoke_run, tmp_path):
    trial = load_config("frame", config_dir=ROOT / "config")
    endpoints = smoke_run / "results" / "smoke" / "endpoints"
    paths = {name: endpoints / f"{name}.parquet" for name in io.ENDPOINT_TABLES}
    paths["comparisons"] = tmp_path / "nowhere" / "comparisons.parquet"
    with pytest.raises(FileNotFoundError, match="endpoint table 'comparisons' is missing"):
        write_report(trial, paths, [], ROOT / "config" / "targets.yaml", tmp_path / "report")
    assert not (tmp_path / "report").exists()


def _safety_tables() -> dict[str, pl.DataFrame]:
    """Safety tables of two arms of 50 from synthetic frames (analyses.safety), every event
    of the workflow, with a calcium course that dips in the treated arm."""
    import numpy as np

    from osteotrial.analyses.safety import CALCIUM_COURSE_TABLE, safety_tables
    from osteotrial.analyses.safety_endpoints import EVENT_NAMES

    n = 50
    arms = ["placebo"] * n + ["denosumab"] * n
    patients = pl.DataFrame(
        {"patient_id": np.arange(2 * n), "arm": arms, "end_day": np.full(2 * n, 730.5),
         "died": np.zeros(2 * n, dtype=bool)}
    )  # fmt: skip
    ids = np.arange(0, 2 * n, 3)
    events = pl.DataFrame(
        {"patient_id": ids, "arm": [arms[i] for i in ids], "day": 7.0 * ids + 10.0,
         "event": [EVENT_NAMES[(i // 3) % len(EVENT_NAMES)] for i in ids]}
    )  # fmt: skip
    tables = dict(safety_tables(patients, events, "placebo", EVENT_NAMES))
    days = [0.0, 30.0, 182.0, 365.0, 730.0]
    dip = {"placebo": [0.0] * 5, "denosumab": [0.0, -0.05, -0.02, 0.0, 0.0]}
    rows = [
        {"arm": arm, "day": d, "n": n, "mean_mmol_l": 2.35 + x, "p5": 2.2 + x, "p25": 2.3 + x,
         "p50": 2.35 + x, "p75": 2.4 + x, "p95": 2.5 + x, "mean_nadir_mmol_l": 2.3 + min(dip[arm])}
        for arm in dip for d, x in zip(days, dip[arm], strict=True)
    ]  # fmt: skip
    tables[CALCIUM_COURSE_TABLE] = pl.DataFrame(rows)
    return tables


def test_safety_page_shows_the_incidence_and_calcium_figure(tmp_path):
    from osteotrial.report.build import html_page, html_table
    from osteotrial.report.safety import FIGURE_SIZE_IN, write_safety_page

    colors = figures.arm_colors(["placebo", "denosumab"], "placebo")
    written = write_safety_page(_safety_tables(), colors, tmp_path, html_page, html_table)
    assert [p.name for p in written] == list(SAFETY_REPORT_FILES)
    page = (tmp_path / "safety.html").read_text()
    assert "<img src='safety.png'" in page and "Serum calcium course" in page
    png = tmp_path / "safety.png"
    assert png_size(png) == tuple(round(x * figures.DPI) for x in FIGURE_SIZE_IN)
    assert png.stat().st_size > 40_000  # seven drawn panels, not blank
