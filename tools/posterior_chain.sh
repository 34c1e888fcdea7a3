#!/usr/bin/env bash
# Re-run the posterior sample of the remodeling calibration (config/model_posterior.yaml) from
# scratch, as it was produced in issue 13: about 50 minutes of 2 quiet cores since issue 24
# (estimated from the CPU time per step, 2026-12-06: 23,000 random-walk steps x 41 ms and
# 68,785 learnt steps x 55 ms of CPU; 4 hours before, 7 steps/s). Needed after a re-fit of
# the remodeling stage (the draws are refused when the fitted values they were sampled at
# change). Each stage keeps its chain in build/rw/*.h5 and resumes if re-run; see
# docs/analyses.md ("Remodeling block") for what each stage is for and its figures.
set -euo pipefail
cd "$(dirname "$0")/.."
export HDF5_USE_FILE_LOCKING=FALSE
# one BLAS thread per process: the sampler runs one process per core, and OpenBLAS threads of
# the sampler process (the learnt proposal's density) spinning beside them cost 1.5x (2026-12-06)
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
py=".venv/bin/python -m osteotrial.calibration.posterior --walkers 8 --processes 2"
mkdir -p build/rw
# 1. eight independent random-walk chains, Laplace covariance: a first look at the posterior
$py --steps 3000 --gaussian-share 1.0 --backend build/rw/pilot.h5 --burn 1000
# 2. random walks with the pilot's covariance (acceptance about 0.24): the source of the map
$py --steps 20000 --gaussian-share 1.0 --start-from build/rw/pilot.h5 \
    --proposal-from build/rw/pilot.h5 --proposal-steps 2000 --proposal-scale 0.5 \
    --backend build/rw/source.h5 --burn 5000
# 3. half independence steps from the map learnt from stage 2, half random walks: adaptation
$py --steps 5000 --proposal-from build/rw/source.h5 --proposal-steps 14000 \
    --proposal-scale 0.5 --independence-from build/rw/source.h5 --independence-burn 5000 \
    --backend build/rw/learnt.h5 --burn 500
cp build/rw/learnt.h5 build/rw/learnt_stage3.h5
# 4. the same chains continued with the map re-learnt from stages 2 and 3 (the kept steps);
#    2026-11-29: every R-hat below 1.01 after these 63,785 steps (docs/analyses.md)
$py --steps 63785 --proposal-from build/rw/source.h5 --proposal-steps 14000 \
    --proposal-scale 0.5 --independence-from build/rw/source.h5 build/rw/learnt_stage3.h5 \
    --independence-burn 5000 500 --backend build/rw/learnt.h5 --burn 5000
# 5. diagnostics (R-hat, ESS) and 500 stable draws into config/model_posterior.yaml
$py --steps 0 --backend build/rw/learnt.h5 --burn 5000 --write \
    --proposal-from build/rw/source.h5 --proposal-scale 0.5 \
    --independence-from build/rw/source.h5 build/rw/learnt_stage3.h5
