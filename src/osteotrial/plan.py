"""The cost of a trial run before it starts: jobs, patient-days and an estimated wall time.

A trial's workflow (workflow/rules/*.smk) creates, per part:

- ``trial``: ``sample_cohort`` 1, ``simulate_arm`` n_shards x arms (each randomized patient
  under her own arm; the same pass carries her event-free hazards to the trial's last fracture
  target and writes their exact partial sums: the centre of the calibration check) and
  ``expected_fractures`` 1 (their total), ``compute_endpoints`` 1, ``report`` 1;
- ``counterfactual`` (``counterfactual.enabled``): ``simulate_every_arm`` n_shards x arms
  (every randomized patient under every arm), ``counterfactual_effects`` 1,
  ``counterfactual_report`` 1;
- ``power`` (``power.enabled``): ``sample_super_cohort`` 1, ``simulate_every_arm`` n_shards x
  arms (``super_cohort_per_arm`` x arms patients under every arm), ``power_analysis`` 1,
  ``power_report`` 1;
- ``uncertainty`` (``uncertainty.enabled``): ``sample_prediction_cohort`` 1,
  ``parameter_set_batch`` ceil(K / PARAMETER_SETS_PER_JOB) (each of the K sets simulates the
  prediction cohort, ``expected_cohort_per_arm`` x arms patients, under every arm),
  ``prediction_intervals`` 1, ``uncertainty_report`` 1;

plus ``all`` 1. ``tests/test_plan.py`` checks these counts against a Snakemake dry run. A
patient-day is one patient simulated over one day; a part's patient-days are its simulated
patients times the simulated span (``schedule.n_steps x dt_days``).

Time (``Throughput.from_benchmark``, all from ``benchmarks/latest.json`` of ``make bench``):
the kernel's patient-days per second per core (its all-core rate over its core count); the
start-up of one simulation job (FRAME's ``simulate_arm`` CPU seconds in the benchmark's
end-to-end run less its patient-days at that rate, per job) and the rest of a trial run
(that run's wall time less its simulation, spread over its cores: Snakemake, cohort,
endpoints, report). A part takes (patient-days / rate + jobs x start-up) / min(cores, jobs).
The analyses' own tables (replicate tests, effects, intervals) are not benchmarked and not
counted. The analyses *dominate* when they simulate more than ``DOMINATE_FACTOR`` times the
trial's patient-days.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from osteotrial.calibration.targets import last_fracture_month, load_targets
from osteotrial.trial.config import TrialConfig, has_sre, load_config

PARAMETER_SETS_PER_JOB = 10  # workflow/rules/uncertainty.smk batches sets by this many
DOMINATE_FACTOR = 3.0
BENCHMARK_TRIAL = "frame"  # the trial of make bench's end-to-end run (analyses off)


@dataclass(frozen=True)
class Part:
    """One part of a run: its jobs per rule, simulated patients and patient-days."""

    name: str
    jobs: dict[str, int]
    simulated_patients: int
    patient_days: float

    @property
    def n_jobs(self) -> int:
        """Return the number of jobs of the part."""
        return sum(self.jobs.values())

    @property
    def simulation_jobs(self) -> int:
        """Return the jobs that simulate (and pay the engine's start-up)."""
        return sum(n for rule, n in self.jobs.items() if rule.startswith(("simulate", "parameter")))


def expected_fracture_months(trial: TrialConfig) -> float:
    """Return how far ``simulate_arm`` carries the event-free hazards: the trial's last fracture
    target (0 if targets.yaml has none for it)."""
    return last_fracture_month(load_targets(trial.targets_file, trial.name) or {})


def run_parts(trial: TrialConfig) -> list[Part]:
    """Return the parts of the trial's workflow run: the trial, then each enabled analysis."""
    arms, shards = len(trial.arms), trial.n_shards
    days = trial.schedule.n_steps * trial.schedule.dt_days
    n_trial = sum(trial.allocation.values())
    parts = [
        Part(
            "trial",
            {
                "sample_cohort": 1,
                "simulate_arm": shards * arms,
                "expected_fractures": 1,
                "compute_endpoints": 1,
                "safety_endpoints": 1,  # every trial (analyses.safety)
                "report": 1,
            },
            n_trial,
            n_trial * days,
        )
    ]
    if has_sre(trial):  # the SRE tables of a bone-metastasis trial (analyses.sre_endpoints)
        parts[0].jobs["sre_endpoints"] = 1
    if trial.counterfactual["enabled"]:
        jobs = {"simulate_every_arm": shards * arms, "counterfactual_effects": 1}
        jobs["counterfactual_report"] = 1
        parts.append(Part("counterfactual", jobs, n_trial * arms, n_trial * arms * days))
    if trial.power["enabled"]:
        n_power = int(trial.power["super_cohort_per_arm"]) * arms * arms
        jobs = {"sample_super_cohort": 1, "simulate_every_arm": shards * arms}
        jobs |= {"power_analysis": 1, "power_report": 1}
        parts.append(Part("power", jobs, n_power, n_power * days))
    if trial.uncertainty["enabled"]:
        n_sets = int(trial.uncertainty["n_parameter_sets"])
        n_unc = n_sets * int(trial.uncertainty["expected_cohort_per_arm"]) * arms * arms
        jobs = {"sample_prediction_cohort": 1}
        jobs["parameter_set_batch"] = math.ceil(n_sets / PARAMETER_SETS_PER_JOB)
        jobs |= {"prediction_intervals": 1, "uncertainty_report": 1}
        parts.append(Part("uncertainty", jobs, n_unc, n_unc * days))
    return parts


def jobs_per_rule(parts: list[Part]) -> dict[str, int]:
    """Return rule -> number of jobs over every part, plus the target rule ``all``."""
    counts: dict[str, int] = {}
    for part in parts:
        for rule, n in part.jobs.items():
            counts[rule] = counts.get(rule, 0) + n
    counts["all"] = 1
    return counts


@dataclass(frozen=True)
class Throughput:
    """Rates of ``make bench`` (see the module docstring), with where they come from."""

    source: str
    date: str
    n_cores: int
    patient_days_per_s_per_core: float
    job_start_s: float
    trial_fixed_s: float

    @classmethod
    def from_benchmark(cls, path: str | Path, reference: TrialConfig) -> Throughput:
        """Read a benchmark file; ``reference`` is the configuration of its end-to-end trial."""
        bench = json.loads(Path(path).read_text(encoding="utf-8"))
        try:
            n_cores = int(bench["n_cores"])
            per_core = float(bench["kernel_patient_days_per_s_allcores"]) / n_cores
            e2e = bench["e2e"]["full"]
            simulate_cpu_s = float(e2e["job_cpu_s_by_rule"]["simulate_arm"])
            wall_s = float(e2e["wall_s"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"{path}: not a make bench result ({error!r} missing or invalid)"
            ) from None
        ref = run_parts(reference)[0]
        start_s = (simulate_cpu_s - ref.patient_days / per_core) / ref.simulation_jobs
        fixed_s = wall_s - simulate_cpu_s / n_cores
        return cls(
            str(path),
            str(bench.get("date", "?")),
            n_cores,
            per_core,
            max(start_s, 0.0),
            max(fixed_s, 0.0),
        )

    def part_s(self, part: Part, cores: int) -> float:
        """Return the estimated wall time of a part on ``cores`` cores, in seconds."""
        jobs = part.simulation_jobs if part.name == "trial" else part.n_jobs
        cpu_s = part.patient_days / self.patient_days_per_s_per_core + jobs * self.job_start_s
        wall_s = cpu_s / max(1, min(cores, jobs))
        return wall_s + (self.trial_fixed_s if part.name == "trial" else 0.0)


def analyses_factor(parts: list[Part]) -> float:
    """Return the analyses' patient-days over the trial's."""
    trial_days = parts[0].patient_days
    return sum(p.patient_days for p in parts[1:]) / trial_days if trial_days else 0.0


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _wrap(prefix: str, items: list[str], width: int = 100) -> list[str]:
    """Return ``items`` joined by commas after ``prefix``, wrapped at ``width`` characters."""
    lines, line = [], prefix
    for item in items:
        if len(line) + len(item) + 2 > width and line.strip() != prefix.strip():
            lines.append(line.rstrip() + "")
            line = " " * len(prefix)
        line += item + ", "
    return [
        text.rstrip(", ") + ("," if i < len(lines) else "") for i, text in enumerate([*lines, line])
    ]


def _rule_lines(parts: list[Part], every_rule: bool) -> list[str]:
    """Return the jobs per rule: every rule, or the rules with several jobs and a count."""
    per_rule = sorted(jobs_per_rule(parts).items(), key=lambda item: (-item[1], item[0]))
    shown = per_rule if every_rule else [(r, n) for r, n in per_rule if n > 1]
    items = [f"{rule} {n}" for rule, n in shown]
    if len(shown) < len(per_rule):
        items.append(f"{len(per_rule) - len(shown)} other rules 1 each")
    return _wrap("  jobs per rule: ", items)


def format_plan(
    trial: TrialConfig,
    parts: list[Part],
    throughput: Throughput | None,
    cores: int,
    every_rule: bool = False,
) -> list[str]:
    """Return the lines ``osteotrial plan`` prints (a header, one per part, jobs, warnings)."""
    if throughput is None:
        header = f"plan of trial {trial.name!r} (no benchmark file: run make bench for times)"
    else:
        header = (
            f"plan of trial {trial.name!r} on {cores} cores; times from {throughput.source}\n"
            f"  ({throughput.date[:10]}: {throughput.patient_days_per_s_per_core:.3g} "
            f"patient-days/s per core, {throughput.job_start_s:.1f} s per job start)"
        )
    lines = [
        *header.split("\n"),
        f"  {'part':<15}{'jobs':>6}{'patients':>13}{'patient-days':>15}{'time':>10}",
    ]
    total_s = 0.0
    for part in parts:
        seconds = throughput.part_s(part, cores) if throughput else math.nan
        total_s += seconds
        lines.append(
            f"  {part.name:<15}{part.n_jobs:>6}{part.simulated_patients:>13,}"
            f"{part.patient_days:>15.3g}{_duration(seconds) if throughput else '?':>10}"
        )
    total_days = sum(p.patient_days for p in parts)
    n_jobs = sum(jobs_per_rule(parts).values())
    estimate = f">= {_duration(total_s)}" if throughput and len(parts) > 1 else "?"
    if throughput and len(parts) == 1:
        estimate = f"~{_duration(total_s)}"
    lines.append(f"  {'total':<15}{n_jobs:>6}{'':>13}{total_days:>15.3g}{estimate:>10}")
    if throughput and len(parts) > 1:
        lines += [
            "  (analyses: simulation and job start-up only; their own steps, e.g. parameter-set",
            "  fits and replicate tests, are not in the benchmark)",
        ]
    return lines + _rule_lines(parts, every_rule) + dominance_warning(parts)


def dominance_warning(parts: list[Part]) -> list[str]:
    """Return a warning when the analyses simulate > DOMINATE_FACTOR x the trial (else [])."""
    factor = analyses_factor(parts)
    if factor <= DOMINATE_FACTOR:
        return []
    shares = ", ".join(f"{p.name} {p.patient_days / parts[0].patient_days:.0f}x" for p in parts[1:])
    switches = " ".join(f"'{p.name}={{enabled: false}}'" for p in parts[1:])
    return [
        f"  warning: the analyses will dominate: {factor:.0f}x the trial's patient-days (more "
        f"than {DOMINATE_FACTOR:g}x;",
        f"  {shares}). The trial alone: --config",
        f"  {switches}",
    ]


def plan_lines(
    trial: TrialConfig, benchmark: str | Path | None, cores: int, every_rule: bool = False
) -> list[str]:
    """Return the plan of ``trial`` on ``cores`` cores, timed from ``benchmark`` if it exists.

    The benchmark's end-to-end trial (``BENCHMARK_TRIAL``) is loaded from the same
    configuration folder as the default (``trial.locate.resolve_config_dir``).
    """
    throughput = None
    if benchmark is not None and Path(benchmark).is_file():
        throughput = Throughput.from_benchmark(benchmark, load_config(BENCHMARK_TRIAL))
    return format_plan(trial, run_parts(trial), throughput, cores, every_rule)
