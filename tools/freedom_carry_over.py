"""Print FREEDOM's 36-month fracture incidences by arm: the numbers of docs/model.md's
"Carry-over of base hazards" and of ``trial.scope.KNOWN_BIASES`` (validation, not fitted).

Two readings of the current config/model.yaml:
- expected: ``trial.jobs.trial_expected_fractures`` on a FREEDOM cohort of ``--per-arm`` women
  per arm (first-event hazards, no cascade), with risk ratios;
- emulated: the trial's own cohort at its published size (the trial file's allocation and
  seed), sampled events: new and multiple new vertebral fractures among the women on study and
  alive at month 36, hip and nonvertebral among all randomized.

    python tools/freedom_carry_over.py [--per-arm 2000]
"""

from __future__ import annotations

import argparse

import numpy as np
import polars as pl

from osteotrial.calibration.objective import trial_design
from osteotrial.cohort.sampling import CohortSpec, sample_cohort
from osteotrial.engine.simulate import simulate_arm
from osteotrial.trial.jobs import trial_expected_fractures
from osteotrial.units import DAYS_PER_MONTH

MONTH = 36.0


def expected(per_arm: int) -> None:
    """Print the expected incidences (%) and risk ratios at MONTH."""
    design = trial_design("freedom")
    spec = CohortSpec.from_dict(design.cohort_spec)
    cohort = sample_cohort(spec, dict.fromkeys(design.arms, per_arm), design.seed)
    table = trial_expected_fractures(cohort, design, design.params, MONTH)
    at = table.filter(pl.col("time") == MONTH)
    for r in at.filter(pl.col("table") == "fractures").iter_rows(named=True):
        print(f"expected {r['arm']:>10} {r['endpoint']:<24} {100 * r['value']:.2f} %")
    ratios = at.filter(pl.col("table") == "comparisons", pl.col("statistic") == "risk_ratio")
    for r in ratios.iter_rows(named=True):
        print(f"expected RR {r['endpoint']:<24} {r['value']:.3f}")


def emulated() -> None:
    """Print the sampled incidences (%) of the trial's own cohort at its published size."""
    design = trial_design("freedom")
    spec = CohortSpec.from_dict(design.cohort_spec)
    allocation, seed = design.cohort_allocation("randomized"), design.cohort_seed("randomized")
    cohort = sample_cohort(spec, allocation, seed)
    day = MONTH * DAYS_PER_MONTH
    for name, arm in design.arms.items():
        women = cohort.select(cohort.arm == name)
        r = simulate_arm(women, arm, design.params, design.schedule, record_pk=False)
        imaged = (r.dropout_day > day) & ~(r.death_day <= day)
        count = np.sum(r.vertebral_fracture_days <= day, axis=0)[imaged]
        seen = np.minimum(day, r.dropout_day)
        hip = r.hip_fracture_days[0] <= seen
        nonvertebral = np.fmin(r.hip_fracture_days[0], r.nonvertebral_fracture_days[0]) <= seen
        print(
            f"emulated {name:>10} n {women.n_patients} imaged {imaged.sum()}: new vertebral "
            f"{100 * np.mean(count >= 1):.2f} %, multiple {100 * np.mean(count >= 2):.2f} %, "
            f"hip {100 * hip.mean():.2f} %, nonvertebral {100 * nonvertebral.mean():.2f} %"
        )


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-arm", type=int, default=2000)
    args = parser.parse_args()
    expected(args.per_arm)
    emulated()


if __name__ == "__main__":
    main()
