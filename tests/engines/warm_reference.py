"""Compile the LSODA reference's numba functions (``engine/reference.py``) into the in-tree cache.

``.ci/run`` runs this beside the CPU kernel's warm-up, on the core that warm-up leaves idle, so
that the test workers load these functions instead of compiling them (about 20 s, on whichever
worker first calls the reference: test_engines, test_calcium, test_bisphosphonate,
test_compartments). Two FRAME women per arm for one month: only the compile matters here.
"""

from __future__ import annotations

import numpy as np

from osteotrial.cohort.sampling import CohortSpec, sample_cohort
from osteotrial.engine.reference import reference_bmd_rel, reference_events
from osteotrial.trial.config import load_config


def main() -> None:
    trial = load_config("frame")
    schedule = trial.schedule.until(1)
    spec = CohortSpec.from_dict(trial.cohort_spec)
    cohort = sample_cohort(spec, dict.fromkeys(trial.arms, 2), trial.seed)
    for name, arm in trial.arms.items():
        women = cohort.select(cohort.arm == name)
        bmd = reference_bmd_rel(women, arm, trial.params, schedule)
        events = reference_events(women, arm, trial.params, schedule)
        assert np.isfinite(bmd).all() and np.isfinite(events.cum["hip"]).all()
    print(f"LSODA reference compiled ({len(trial.arms)} arms, {cohort.n_patients} women)")


if __name__ == "__main__":
    main()
