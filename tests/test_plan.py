"""osteotrial plan: jobs as Snakemake plans them, times from the benchmark file, warnings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import run_workflow

from osteotrial.cli import main, parse_overrides
from osteotrial.plan import DOMINATE_FACTOR, Throughput, jobs_per_rule, plan_lines, run_parts
from osteotrial.trial.config import load_config

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = ROOT / "benchmarks" / "latest.json"
ANALYSES = {
    "counterfactual": "{enabled: true}",
    "power": "{enabled: true, super_cohort_per_arm: 100, n_per_arm: [50]}",
    "uncertainty": "{enabled: true, n_parameter_sets: 12, expected_cohort_per_arm: 50}",
}
TRIAL_ONLY = {name: {"enabled": False} for name in ANALYSES}


def test_jobs_per_rule_equal_a_snakemake_dry_run(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "src"))
    overrides = [f"{name}={value}" for name, value in ANALYSES.items()]
    done = run_workflow(tmp_path, "-n", "--config", "trial=smoke", *overrides)
    assert done.returncode == 0, done.stderr[-2000:]
    stats = done.stdout + done.stderr
    planned = dict(re.findall(r"^(\w+)\s+(\d+)$", stats.split("Job stats:")[1], re.M))
    planned = {rule: int(n) for rule, n in planned.items() if rule != "total"}
    trial = load_config("smoke", parse_overrides(tuple(overrides)), tmp_path / "config")
    assert jobs_per_rule(run_parts(trial)) == planned


def test_estimate_reproduces_the_benchmark_run():
    frame = load_config("frame", TRIAL_ONLY)
    bench = json.loads(BENCHMARK.read_text())
    rates = Throughput.from_benchmark(BENCHMARK, frame)
    trial_part = run_parts(frame)[0]
    assert rates.part_s(trial_part, bench["n_cores"]) == pytest.approx(
        bench["e2e"]["full"]["wall_s"]
    )
    assert rates.patient_days_per_s_per_core == pytest.approx(
        bench["kernel_patient_days_per_s_allcores"] / bench["n_cores"]
    )
    # 731 steps of 1 day cover 24 months; the event-free hazards to month 12 (FRAME's last
    # fracture target) come from the same pass
    assert trial_part.patient_days == 7180 * 731


def test_warns_when_the_analyses_dominate():
    lines = plan_lines(load_config("frame"), BENCHMARK, cores=2)
    assert any("analyses will dominate" in line for line in lines)
    assert f"more than {DOMINATE_FACTOR:g}x" in "\n".join(lines)
    quiet = plan_lines(load_config("frame", TRIAL_ONLY), BENCHMARK, cores=2)
    assert not any("warning" in line for line in quiet) and len(quiet) <= 8


def test_cli_plan_overrides_and_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(
        main, ["plan", "--config", "trial=frame", "n_per_arm=20", "--cores", "2"]
    )
    assert done.exit_code == 0, done.output
    # 8 simulations, 5 other jobs
    assert re.search(r"trial\s+13\s+40\s", done.output)
    bad = CliRunner().invoke(main, ["plan", "--config", "trial=frame", "n_per_arm=-3"])
    assert bad.exit_code == 1 and "n_per_arm=-3 is out of range" in bad.output
    assert CliRunner().invoke(main, ["plan", "n_per_arm"]).exit_code == 2


@pytest.mark.parametrize("cores", ["0", "-3", "lots", "2.5"])
def test_cli_plan_refuses_cores_that_are_not_a_positive_integer_or_all(cores):
    done = CliRunner().invoke(main, ["plan", "--config", "trial=frame", "--cores", cores])
    assert done.exit_code == 2, done.output
    assert f"Invalid value for '--cores': {cores!r} is not a positive integer" in done.output
    assert "or 'all'" in done.output and "Traceback" not in done.output
