"""The Python API (osteotrial.simulate) and the configuration found from any directory."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import polars.selectors as cs
import pytest
from click.testing import CliRunner

import osteotrial
from osteotrial import api
from osteotrial.api import COLUMNS
from osteotrial.cli import main
from osteotrial.trial.config import load_config
from osteotrial.trial.locate import resolve_config_dir

REGIMENS = {
    "romo": "romosozumab 210 mg monthly for 2 months",
    "deno": "denosumab 60 mg once for 2 months",
}


@pytest.fixture(scope="module")
def table():
    """Two regimens on 20 women, 2 months."""
    return osteotrial.simulate(REGIMENS, n_patients=20, seed=3)


def test_tidy_table(table):
    assert table.columns == list(COLUMNS)
    assert table.height == 2 * 20 * 3  # regimens x patients x months 0, 1, 2
    assert table["month"].unique().sort().to_list() == [0.0, 1.0, 2.0]
    assert table.select(cs.float().is_nan().any()).row(0) == (False,) * len(
        table.select(cs.float()).columns
    )
    baseline = table.filter(pl.col("month") == 0)
    assert (baseline["bmd_ls_pct_change"] == 0).all() and (
        baseline["new_vertebral_fractures_cum"] == 0
    ).all()


def test_nonvertebral_includes_hip(table):
    """The trials' words: nonvertebral = hip + other nonvertebral, so never below hip."""
    hip, other = table["hip_fractures_cum"], table["nonvertebral_other_than_hip_fractures_cum"]
    assert (table["nonvertebral_fractures_cum"] == hip + other).all()
    summary = osteotrial.summarize(table)
    assert (summary["nonvertebral_incidence_frac"] >= summary["hip_incidence_frac"]).all()


def test_summary_intervals_hold_their_estimates(table):
    summary = osteotrial.summarize(table).filter(pl.col("month") == 2)
    for low, mid, high in (
        ("bmd_ls_pct_change_ci_low", "bmd_ls_pct_change_mean", "bmd_ls_pct_change_ci_high"),
        ("hip_incidence_ci_low_frac", "hip_incidence_frac", "hip_incidence_ci_high_frac"),
    ):
        assert (summary[low] < summary[mid]).all() or (summary[mid] == 0).all()
        assert (summary[mid] < summary[high]).all()


def test_structure_is_in_the_table_and_the_summary(table):
    """Every woman's trabecular BV/TV and cortical porosity are physiological fractions, the
    strength index starts at 0 % change and rises on denosumab (resorption stops, mineral
    accrues), and the summary carries their means."""
    baseline = table.filter(pl.col("month") == 0)
    assert (baseline["strength_pct_change_ls"].abs() < 1e-9).all()
    for site in ("ls", "th", "fn"):
        assert table[f"trabecular_bvtv_{site}"].is_between(0.03, 0.40).all(), site
        assert table[f"cortical_porosity_{site}"].is_between(0.02, 0.50).all(), site
    summary = osteotrial.summarize(table)
    deno = summary.filter((pl.col("regimen") == "deno") & (pl.col("month") == 2))
    assert deno["strength_pct_change_th_mean"].item() > 0.0
    assert deno["cortical_porosity_th_mean"].item() < baseline["cortical_porosity_th"].mean()


def test_regimens_share_patients_and_drugs_act(table):
    romo, deno = (table.filter(pl.col("regimen") == r) for r in REGIMENS)
    assert romo["age_years"].to_list() == deno["age_years"].to_list()
    at_2 = pl.col("month") == 2
    assert romo.filter(at_2)["p1np_pct_change"].median() > 0  # romosozumab: formation up
    assert deno.filter(at_2)["ctx_pct_change"].median() < -50  # denosumab: resorption down


def test_seeded_and_deterministic(table):
    again = osteotrial.simulate(REGIMENS, n_patients=20, seed=3)
    assert again.equals(table)
    other = osteotrial.simulate(REGIMENS["romo"], n_patients=20, seed=4)
    assert other["age_years"].to_list() != table["age_years"].to_list()[:60]
    assert other["regimen"][0] == "romosozumab 210 mg monthly for 2 months"


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"n_patients": 0}, ValueError, "n_patients=0 is outside the allowed range"),
        ({"n_patients": 2.5}, TypeError, "n_patients=2.5 must be an integer"),
        ({"seed": -1}, ValueError, "seed=-1 is outside"),
        ({"months": 1}, ValueError, "months=1 stops before the regimen ends (month 2)"),
        ({"trial": "nope"}, ValueError, "trial='nope' has no file"),
        ({"regimen": "romosozumab 210 mg fortnightly for 1 month"}, ValueError, "part 1"),
        (
            {"regimen": "denosumab 60 mg every 6 months for 30 years"},
            ValueError,
            "the regimen runs 360 months, beyond the longest simulated span of 240 months",
        ),
        ({"trial": "example_registry", "n_patients": 1000}, ValueError, "set n_patients to at"),
    ],
)
def test_bad_input_fails_before_work(kwargs, error, message):
    args = {"regimen": REGIMENS["romo"], "n_patients": 5, **kwargs}
    with pytest.raises(error) as raised:
        osteotrial.simulate(**args)
    assert message in str(raised.value)


def test_a_run_that_would_not_fit_in_memory_is_refused(monkeypatch):
    monkeypatch.setattr(api, "memory_limit_bytes", lambda: 10**9)
    with pytest.raises(ValueError) as raised:
        osteotrial.simulate(REGIMENS["romo"], n_patients=10**6)
    assert "n_patients=1000000 x 1 regimen(s) x 3 months needs about 1.5 GB" in str(raised.value)
    assert "above the limit of 1.0 GB" in str(raised.value)


def test_memory_limit_reads_this_machine():
    assert 10**8 < api.memory_limit_bytes() < 2**60


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["-n", "1000000", REGIMENS["romo"]],
            "--patients=1000000 x 1 regimen(s) x 3 months needs about 1.5 GB",
        ),
        (["-n", "1000", "--trial", "example_registry", REGIMENS["romo"]], "set --patients to"),
        (
            ["denosumab 60 mg every 6 months for 30 years"],
            "the regimen runs 360 months, beyond the longest simulated span of 240 months",
        ),
    ],
)
def test_cli_errors_name_the_cli_options(args, message, monkeypatch):
    monkeypatch.setattr(api, "memory_limit_bytes", lambda: 10**9)
    done = CliRunner().invoke(main, ["simulate", *args])
    assert done.exit_code == 1 and message in done.output, done.output
    assert "n_per_arm" not in done.output and "n_patients" not in done.output


def test_load_config_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config("frame").name == "frame"
    with pytest.raises(FileNotFoundError, match="holds no config.schema.json"):
        load_config("frame", config_dir=tmp_path)
    monkeypatch.setenv("OSTEOTRIAL_CONFIG_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="OSTEOTRIAL_CONFIG_DIR"):
        load_config("frame")


def test_trial_given_as_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = resolve_config_dir() / "trials" / "freedom.yaml"
    (tmp_path / "mytrial.yaml").write_text(source.read_text())
    assert load_config(str(tmp_path / "mytrial.yaml")).name == "mytrial"
    with pytest.raises(ValueError, match="trial file 'missing.yaml' does not exist"):
        load_config("missing.yaml")


def test_simulate_and_summarize_are_listed_and_imported_lazily():
    code = (
        "import sys, osteotrial; assert 'osteotrial.api' not in sys.modules; "
        "assert {'simulate', 'summarize'} <= set(dir(osteotrial)); "
        "from osteotrial import simulate, summarize; print(simulate.__module__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "osteotrial.api", done.stderr
