"""Run every arm of every trial file on the CPU engine and on the GPU engine (numba's CUDA
simulator) over a short span; write both results to an npz file (argv[1]).

Run by tests/test_engines.py in a subprocess with NUMBA_ENABLE_CUDASIM=1 (numba reads it at
import). The span of an arm runs to 30 days after its last phase start (at most 400 days), so
that every phase of a sequence is reached; two screened patients per arm. Parameters per
patient (``mixed_parameters``): two FRAME patients of two parameter sets in one GPU launch, each
alone with its set, and the mixed call on the CPU engine, under keys ``per_patient/...``.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

from osteotrial.cohort.sampling import CohortSpec, sample_cohort
from osteotrial.engine.simulate import simulate_arm, simulate_strata
from osteotrial.trial.config import load_config
from osteotrial.trial.schedules import Schedule

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from model_fixtures import other_parameters, patient_columns  # noqa: E402

N_PATIENTS = 2
MAX_SPAN_DAYS = 400.0


def span_days(spec) -> float:
    """Return 30 days past the arm's last phase start, at most MAX_SPAN_DAYS."""
    return min(max(p.start_day for p in spec.phases) + 30.0, MAX_SPAN_DAYS)


def main(out_path: str) -> None:
    arrays: dict[str, np.ndarray] = {}
    for trial_file in sorted((ROOT / "config" / "trials").glob("*.yaml")):
        trial = load_config(trial_file.stem, config_dir=ROOT / "config")
        spec = CohortSpec.from_dict(trial.cohort_spec)
        cohort = sample_cohort(spec, dict.fromkeys(trial.arms, N_PATIENTS), trial.seed)
        for name, arm in trial.arms.items():
            days = span_days(arm)
            schedule = Schedule(1.0, days, (1.0,), (3.0, 14.0, days), ())
            patients = cohort.select(np.flatnonzero(cohort.arm == name))
            for engine in ("numba", "cuda"):
                run = dataclasses.replace(schedule, engine=engine)
                # each patient on his or her stratum's plan (trial.strata; none: the arm's)
                result = simulate_strata(patients, arm, trial.strata, trial.seed, trial.params, run)
                key = f"{trial_file.stem}.{name}.{engine}"
                for field in ("bmd_ls_g_cm2", "bmd_th_g_cm2", "bmd_fn_g_cm2", "p1np_rel"):
                    arrays[f"{key}.{field}"] = getattr(result, field)
                arrays[f"{key}.ctx_rel"] = result.ctx_rel
                arrays[f"{key}.denosumab_ng_ml"] = result.denosumab_ng_ml
                arrays[f"{key}.romosozumab_ng_ml"] = result.romosozumab_ng_ml
                for kind, cum in result.cumulative_hazard.items():
                    arrays[f"{key}.cum_{kind}"] = cum
                for kind, values in result.calcium.items():  # issue 27, calcium
                    arrays[f"{key}.calcium_{kind}"] = values
    arrays.update(mixed_parameters())
    np.savez(out_path, **arrays)


def mixed_parameters() -> dict[str, np.ndarray]:
    """Return FRAME's romosozumab arm over 60 days for two patients of two parameter sets:
    both in one call on each engine, each alone with its set on the GPU engine, and (to show
    that the sets differ) both with the first set on the CPU engine."""
    trial = load_config("frame", config_dir=ROOT / "config")
    spec = CohortSpec.from_dict(trial.cohort_spec)
    cohort = sample_cohort(spec, dict.fromkeys(trial.arms, N_PATIENTS), trial.seed)
    name = "romosozumab_then_denosumab"
    patients = cohort.select(np.flatnonzero(cohort.arm == name))
    sets, index = (trial.params, other_parameters(trial.params)), np.array([1, 0])
    schedule = Schedule(1.0, 60.0, (1.0,), (3.0, 14.0, 60.0), ())
    arrays = {}
    for engine in ("numba", "cuda"):
        run = dataclasses.replace(schedule, engine=engine)
        mixed = simulate_arm(patients, trial.arms[name], sets, run, param_index=index)
        for field, values in patient_columns(mixed, slice(None)).items():
            arrays[f"per_patient/mixed/{engine}/{field}"] = values
    one_set = simulate_arm(patients, trial.arms[name], trial.params, schedule)
    arrays["per_patient/one_set/numba/romosozumab_ng_ml"] = one_set.romosozumab_ng_ml
    for i, k in enumerate(index):
        run = dataclasses.replace(schedule, engine="cuda")
        alone = simulate_arm(patients.select(np.array([i])), trial.arms[name], sets[k], run)
        for field, values in patient_columns(alone, 0).items():
            arrays[f"per_patient/alone{i}/cuda/{field}"] = values
    return arrays


if __name__ == "__main__":
    main(sys.argv[1])
