"""make bench: kernel throughput, the naive reference in the same run, end-to-end runs, scaling.

Prints one table (machine at its head), writes benchmarks/latest.json. Sizes and parts are
options (``--help``); ``make bench`` runs everything (about half an hour on 2 cores), ``--smoke``
a seconds-long run of every part at tiny sizes (used by the test-suite).

Kernel: ``simulate_arm`` of FRAME's romosozumab-then-denosumab arm (the heavier arm: both
drugs), full model (PK, remodeling, BMD, markers, hazards, events), ``record_pk=False`` as in
the workflow, default engine. Patient-days = patients x simulated days. 1 core: one process;
all cores: the cohort's chunks in a process pool (results identical, checked). Cohorts larger
than the sampled one repeat its patients (the kernel's cost does not depend on who they are).
Reference: ``reference_solver.reference_bmd_rel`` (LSODA, rtol 1e-6, restarted at each dose,
one patient at a time) on a subsample. End to end: snakemake ``--cores <all>`` on a temporary
copy of the workflow; peak memory is the largest sum of RSS over the snakemake process and
all its descendants, polled every 0.1 s.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import psutil

from osteotrial.cohort.sampling import Cohort, CohortSpec, sample_cohort
from osteotrial.engine.reference import reference_bmd_rel
from osteotrial.engine.simulate import iter_simulate_arm
from osteotrial.trial.config import load_config
from osteotrial.units import DAYS_PER_MONTH

ROOT = Path(__file__).resolve().parents[1]
ARM = "romosozumab_then_denosumab"
GIB = 1024.0**3


def cpu_model() -> str:
    """Return the CPU model name of this machine."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def trial(months: int = 24, n_per_arm: int = 2000):
    """Return the FRAME configuration with a given duration (phases that would start after it
    left out: the configuration refuses them)."""
    visits = [m for m in (1, 3, 6, 9, 12, 18, 24, 30, 36) if m <= months]
    schedule = {"duration_months": months, "visit_months": visits, "imaging_months": [12]}
    frame = load_config("frame", config_dir=ROOT / "config")
    end_day = months * DAYS_PER_MONTH
    arms = {
        name: [phase for phase in phases if phase["start_day"] < end_day]
        for name, phases in frame.raw["arms"].items()
    }
    return load_config(
        "frame",
        overrides={"n_per_arm": n_per_arm, "schedule": schedule, "arms": arms},
        config_dir=ROOT / "config",
    )


def base_cohort(n: int) -> Cohort:
    """Return n screened FRAME patients of the romosozumab arm."""
    t = trial(n_per_arm=n)
    cohort = sample_cohort(CohortSpec.from_dict(t.cohort_spec), t.allocation, t.seed)
    return cohort.select(cohort.arm == ARM)


def tiled(cohort: Cohort, n: int) -> Cohort:
    """Return n patients repeating ``cohort``'s rows, with fresh patient_ids."""
    pick = np.arange(n) % cohort.n_patients
    out = cohort.select(pick)
    return dataclasses.replace(out, patient_id=np.arange(n, dtype=out.patient_id.dtype))


def _simulate(args):
    cohort, months = args
    t = trial(months)
    parts = [
        (part.bmd_ls_g_cm2[-1], part.vertebral_fracture_days)  # keep little of each chunk
        for part in iter_simulate_arm(cohort, t.arms[ARM], t.params, t.schedule, record_pk=False)
    ]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts], axis=1)


def kernel_run(cohort: Cohort, months: int, workers: int) -> tuple[float, float, tuple]:
    """Return (wall s, patient-days per s, outputs) of simulate_arm on ``workers`` processes."""
    t = trial(months)
    days = t.schedule.n_steps * t.schedule.dt_days
    # blocks of at most chunk_size, a multiple of ``workers`` of them (balanced pool)
    n_blocks = -(-cohort.n_patients // t.schedule.chunk_size)
    n_blocks = workers * -(-n_blocks // workers)
    size = max(1, -(-cohort.n_patients // n_blocks))
    start = time.perf_counter()
    if workers == 1:
        out = _simulate((cohort, months))
    else:
        blocks = [
            cohort.select(np.arange(lo, min(lo + size, cohort.n_patients)))
            for lo in range(0, cohort.n_patients, size)
        ]
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(_simulate, [(b, months) for b in blocks]))
        out = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts], 1))
    wall = time.perf_counter() - start
    return wall, cohort.n_patients * days / wall, out


def reference_run(cohort: Cohort, n: int) -> tuple[float, float]:
    """Return (wall s, patient-days per s) of the LSODA reference on n patients."""
    t = trial()
    sample = cohort.select(np.arange(n))
    start = time.perf_counter()
    reference_bmd_rel(sample, t.arms[ARM], t.params, t.schedule, rtol=1e-6, atol=1e-10)
    wall = time.perf_counter() - start
    return wall, n * t.schedule.n_steps * t.schedule.dt_days / wall


def tree_rss(proc: psutil.Process) -> int:
    """Return the summed RSS of a process and its descendants (bytes)."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


# The trial alone: the analyses of docs/analyses.md (on for FRAME) are timed on their own.
NO_ANALYSES = (
    "counterfactual={enabled: false}",
    "power={enabled: false}",
    "uncertainty={enabled: false}",
)


def e2e_run(
    n_per_arm: int | None,
    cores: int,
    config: tuple[str, ...] = NO_ANALYSES,
    trial_name: str = "frame",
    trial_file: Path | None = None,
) -> dict:
    """Run a trial's workflow (FRAME, analyses off, by default) on a temporary copy; return wall
    time, peak tree RSS and, per rule, the job seconds and the number of jobs.

    ``config``: further ``--config`` items; ``trial_file``: a trial file to copy into the
    copy's config/trials (``gpu_workflow.py --smoke`` runs the tests' smoke trial)."""
    work = Path(tempfile.mkdtemp(prefix="osteotrial-bench-"))
    try:
        shutil.copytree(ROOT / "workflow", work / "workflow")
        shutil.copytree(ROOT / "config", work / "config")
        shutil.copy(ROOT / "Snakefile", work / "Snakefile")
        if trial_file is not None:
            shutil.copy(trial_file, work / "config" / "trials")
        cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores), "-q"]
        cmd += ["--directory", str(work), "--snakefile", str(work / "Snakefile")]
        cmd += ["--config", f"trial={trial_name}", *config]
        if n_per_arm is not None:
            cmd.append(f"n_per_arm={n_per_arm}")
        start = time.perf_counter()
        proc = psutil.Popen(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        peak = [0]
        done = threading.Event()

        def poll() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], tree_rss(proc))
                time.sleep(0.1)

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        output = proc.communicate()[0].decode(errors="replace")
        wall = time.perf_counter() - start
        done.set()
        thread.join()
        if proc.returncode != 0:
            raise RuntimeError(f"snakemake failed:\n{output[-3000:]}")
        rule_s, rule_rss, rule_jobs = {}, {}, {}
        for tsv in (work / "benchmarks").rglob("*.tsv"):
            rule = tsv.relative_to(work / "benchmarks" / trial_name).parts[0]
            header, values = (line.split("\t") for line in tsv.read_text().splitlines()[:2])
            row = dict(zip(header, values, strict=True))
            rule_s[rule] = rule_s.get(rule, 0.0) + float(row["s"])
            rule_jobs[rule] = rule_jobs.get(rule, 0) + 1
            rss = float(row["max_rss"]) * 1024.0**2 / GIB  # snakemake's MB (MiB)
            rule_rss[rule] = max(rule_rss.get(rule, 0.0), rss)
        return {
            "wall_s": wall,
            "peak_rss_gib": peak[0] / GIB,
            "job_cpu_s_by_rule": rule_s,  # the job wall seconds (snakemake's `s`), summed
            "job_max_rss_gib_by_rule": rule_rss,  # the largest job's max_rss of each rule
            "jobs_by_rule": rule_jobs,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmarks, print the table, write the JSON; return the JSON object."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000", help="kernel patient counts")
    ap.add_argument("--one-core-max", type=int, default=1000000, help="largest N run on 1 core")
    ap.add_argument("--reference-n", type=int, default=8, help="patients for the reference")
    ap.add_argument("--scaling-n", type=int, default=10000, help="N of the duration scaling")
    ap.add_argument("--e2e", default="full,500000", help="FRAME runs: full and/or n_per_arm")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, no end-to-end (seconds)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "latest.json"))
    args = ap.parse_args(argv)
    if args.smoke:
        args.sizes, args.reference_n, args.scaling_n, args.e2e = "200", 1, 100, ""
    cores = os.cpu_count() or 1
    sizes = [int(s) for s in args.sizes.split(",") if s]
    print("warming up (numba compile or cache load) ...", file=sys.stderr)
    base = base_cohort(min(max(sizes), 10000))
    kernel_run(base.select(np.arange(2)), 24, 1)
    kernel = []
    for n in sizes:
        cohort = tiled(base, n)
        row = {"n_patients": n, "months": 24}
        if n <= args.one_core_max:
            row["wall_1core_s"], row["pd_per_s_1core"], one = kernel_run(cohort, 24, 1)
        wall, rate, many = kernel_run(cohort, 24, cores)
        row["wall_allcores_s"], row["pd_per_s_allcores"] = wall, rate
        if n <= args.one_core_max:
            row["allcores_identical"] = bool(
                np.array_equal(one[0], many[0]) and np.array_equal(one[1], many[1], equal_nan=True)
            )
        kernel.append(row)
        print(f"kernel N={n}: {row}", file=sys.stderr)
    ref_wall, ref_rate = reference_run(base, args.reference_n)
    duration = []
    for months in (12, 24, 36):
        wall, rate, _ = kernel_run(tiled(base, args.scaling_n), months, 1)
        duration.append({"months": months, "n_patients": args.scaling_n, "wall_s": wall})
    e2e = {}
    for spec in (s for s in args.e2e.split(",") if s):
        n_per_arm = None if spec == "full" else int(spec)
        print(f"end to end: FRAME {spec} ...", file=sys.stderr)
        e2e[spec] = e2e_run(n_per_arm, cores)
        print(f"  {e2e[spec]}", file=sys.stderr)
    one_core = [r for r in kernel if "pd_per_s_1core" in r]
    best_1 = one_core[-1]["pd_per_s_1core"] if one_core else float("nan")
    best_all = kernel[-1]["pd_per_s_allcores"]
    latest = {
        "cpu_model": cpu_model(),
        "n_cores": cores,
        "command": "make bench" if not args.smoke else "make bench (--smoke)",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "kernel_patient_days_per_s_1core": best_1,
        "kernel_patient_days_per_s_allcores": best_all,
        "reference_patient_days_per_s": ref_rate,
        "reference_n_patients": args.reference_n,
        "reference_wall_s": ref_wall,
        "speedup_vs_reference": best_1 / ref_rate,
        "speedup_vs_reference_allcores": best_all / ref_rate,
        "e2e_frame_full_wall_s": e2e.get("full", {}).get("wall_s"),
        "e2e_frame_full_peak_rss_gib": e2e.get("full", {}).get("peak_rss_gib"),
        "e2e_1m_wall_s": e2e.get("500000", {}).get("wall_s"),
        "e2e_1m_peak_rss_gib": e2e.get("500000", {}).get("peak_rss_gib"),
        "kernel": kernel,
        "scaling_duration": duration,
        "e2e": e2e,
    }
    print_table(latest)
    Path(args.out).write_text(json.dumps(latest, indent=2) + "\n")
    return latest


def _fmt(x: float | None, spec: str = ".3g") -> str:
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else format(x, spec)


def print_table(j: dict) -> None:
    """Print the benchmark table (markdown) with the machine at its head."""
    print(f"\nMachine: {j['cpu_model']}, {j['n_cores']} cores; {j['date']}; {j['command']}\n")
    print(f"| measure | N | 1 core | all {j['n_cores']} cores |")
    print("|---|---|---|---|")
    for r in j["kernel"]:
        print(
            f"| kernel simulate_arm, 24 mo, patient-days/s | {r['n_patients']:.0e} "
            f"| {_fmt(r.get('pd_per_s_1core'))} ({_fmt(r.get('wall_1core_s'))} s) "
            f"| {_fmt(r['pd_per_s_allcores'])} ({_fmt(r['wall_allcores_s'])} s) |"
        )
    ref = j["reference_patient_days_per_s"]
    print(
        f"| reference LSODA rtol 1e-6, patient-days/s | {j['reference_n_patients']} "
        f"| {_fmt(ref)} ({_fmt(j['reference_wall_s'])} s) | - |"
    )
    print(
        f"| ratio kernel / reference | | {_fmt(j['speedup_vs_reference'], '.0f')}x "
        f"| {_fmt(j['speedup_vs_reference_allcores'], '.0f')}x |"
    )
    for name, e in j["e2e"].items():
        label = (
            "FRAME full (7,180)"
            if name == "full"
            else f"FRAME {2 * int(name):,} patients (n_per_arm={name}), analyses off"
        )
        print(
            f"| end to end {label}: wall s / peak RSS GiB | | "
            f"| {_fmt(e['wall_s'])} s / {_fmt(e['peak_rss_gib'])} GiB |"
        )
    for d in j["scaling_duration"]:
        print(
            f"| duration {d['months']} mo, wall s | {d['n_patients']:.0e} | {_fmt(d['wall_s'])} | |"
        )


if __name__ == "__main__":
    main()
