"""FRAME with every analysis on one GPU, end to end: wall time and where it goes (issue 28).

Runs ``snakemake --cores <all>`` on a temporary copy of the workflow (``bench.e2e_run``) with
``schedule.engine: cuda`` and the analyses of ``make run`` left on (counterfactual twins, power
super-cohort, the uncertainty's parameter sets), then splits the job seconds (snakemake's
benchmark files) into

- simulation: the rules that run the engine (``SIMULATION_RULES``), the GPU kernel's compile
  at each job's first launch included;
- analyses: every other rule (endpoints, safety, expected fractures, power and prediction
  tables, reports, cohorts);
- start-up: the job count times one fresh interpreter's import of what a simulation job
  imports (``osteotrial.trial.jobs`` and the GPU engine), part of both sums above.

    python benchmarks/gpu_workflow.py --out benchmarks/gpu_workflow.json   # on the GPU machine
    NUMBA_ENABLE_CUDASIM=1 python benchmarks/gpu_workflow.py --smoke       # the script itself

``--smoke`` runs the tests' smoke trial for one month on 3 patients per arm with every analysis
at its smallest (numba's CUDA simulator runs the kernel as Python, on the CPU). The job
seconds of parallel jobs add up to more than the wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench import e2e_run  # noqa: E402

SIMULATION_RULES = ("simulate_arm", "simulate_every_arm", "parameter_set_batch")
CUDA = ("schedule={engine: cuda}",)
SMOKE = (
    "n_per_arm=3",
    "schedule={engine: cuda, duration_months: 1, visit_months: [1], imaging_months: [1],"
    " marker_days: [14]}",
    "power={enabled: true, super_cohort_per_arm: 10, replicates: 10, n_per_arm: [5]}",
    "uncertainty={enabled: true, n_parameter_sets: 2, expected_cohort_per_arm: 50}",
    "counterfactual={enabled: true}",
)
IMPORTS = "import osteotrial.trial.jobs, osteotrial.engine.gpu"


def import_seconds() -> float:
    """Return the wall seconds of a fresh interpreter importing what a simulation job imports."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", IMPORTS], check=True)
    return time.perf_counter() - start


def split(run: dict, start_up_s: float) -> dict:
    """Return the job seconds of simulation, analyses and start-up (module docstring)."""
    seconds, jobs = run["job_cpu_s_by_rule"], run["jobs_by_rule"]
    simulation = sum(s for rule, s in seconds.items() if rule in SIMULATION_RULES)
    return {
        "simulation_job_s": simulation,
        "analyses_job_s": sum(seconds.values()) - simulation,
        "start_up_job_s": start_up_s * sum(jobs.values()),
        "start_up_per_job_s": start_up_s,
        "n_jobs": sum(jobs.values()),
    }


def main(argv: list[str] | None = None) -> dict:
    """Run the workflow, print and return the timing (written to ``--out`` if given)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny smoke trial (CUDA simulator)")
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", type=Path, help="write the JSON here")
    args = ap.parse_args(argv)
    if args.smoke:
        smoke = ROOT / "tests" / "data" / "smoke.yaml"
        run = e2e_run(None, args.cores, SMOKE, trial_name="smoke", trial_file=smoke)
    else:
        run = e2e_run(None, args.cores, CUDA)
    result = {
        "trial": "smoke" if args.smoke else "frame",
        "cores": args.cores,
        "cudasim": os.environ.get("NUMBA_ENABLE_CUDASIM") == "1",
        **run,
        **split(run, import_seconds()),
    }
    text = json.dumps(result, indent=1)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return result


if __name__ == "__main__":
    main()
