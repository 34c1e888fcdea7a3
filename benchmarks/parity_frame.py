"""Every record of FRAME's arms from the CPU engine, saved or compared (kernel changes' parity).

    .venv/bin/python benchmarks/parity_frame.py save FILE.npz [N]
    .venv/bin/python benchmarks/parity_frame.py compare FILE.npz [N]

Simulates N screened patients (default 1,000) of each arm of config/trials/frame.yaml (its
whole schedule, concentrations recorded), then saves every array of each ArmResult, or
compares them with a saved file: per record, the largest relative difference
(|a - b| / max(|a|, |b|), NaN where both are NaN; a NaN on one side only counts as 1).
"""

import dataclasses
import sys
from pathlib import Path

import numpy as np

from osteotrial.cohort.sampling import CohortSpec, sample_cohort
from osteotrial.engine.simulate import simulate_arm
from osteotrial.trial.config import load_config

ROOT = Path(__file__).resolve().parent.parent


def records(n: int) -> dict[str, np.ndarray]:
    """Return every float or bool array of every arm's result, keyed arm/field[/key]."""
    t = load_config("frame", overrides={"n_per_arm": n}, config_dir=ROOT / "config")
    cohort = sample_cohort(CohortSpec.from_dict(t.cohort_spec), t.allocation, t.seed)
    out = {}
    for name, arm in t.arms.items():
        part = cohort.select(cohort.arm == name)
        res = simulate_arm(part, arm, t.params, t.schedule, record_pk=True)
        for field in dataclasses.fields(res):
            value = getattr(res, field.name)
            items = value.items() if isinstance(value, dict) else [("", value)]
            for key, v in items:
                if isinstance(v, np.ndarray) and v.dtype.kind in "fb":
                    out[f"{name}/{field.name}/{key}".rstrip("/")] = v
    return out


def rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64), b.astype(np.float64)
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    if (nan_a != nan_b).any():
        return 1.0
    both = ~nan_a
    a, b = a[both], b[both]
    scale = np.maximum(np.abs(a), np.abs(b))
    d = np.where(scale > 0, np.abs(a - b) / np.where(scale > 0, scale, 1.0), 0.0)
    d = np.where(a == b, 0.0, d)  # equal infinities
    return float(d.max()) if d.size else 0.0


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    now = records(n)
    if mode == "save":
        np.savez_compressed(path, **now)
        print(f"saved {len(now)} records to {path}")
        return
    saved = np.load(path)
    assert sorted(saved.files) == sorted(now), "different records"
    worst, identical = 0.0, 0
    for key in sorted(now):
        d = rel_diff(saved[key], now[key])
        identical += bool(np.array_equal(saved[key], now[key], equal_nan=True))
        worst = max(worst, d)
        if d > 0.0:
            print(f"{key}: max relative difference {d:.3g}")
    print(f"{len(now)} records, {identical} bit-identical, largest relative difference {worst:.3g}")


if __name__ == "__main__":
    main()
