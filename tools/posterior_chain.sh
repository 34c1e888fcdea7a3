#!/usr/bin/env bash
# Re-run the posterior sample of the remodeling calibration (config/model_posterior.yaml) from
# scratch. The sampler's target is the literature priors of config/priors.yaml plus the
# likelihood of calibration/likelihood.py (SDs from published SEs and a stated model
# discrepancy); the file it writes says `likelihood: published-se-plus-discrepancy`.
# Needed after a re-fit of the remodeling stage (the draws are refused when the fitted values
# they were sampled at change). Each stage keeps its chain in build/rw/*.h5; the script can be
# run again after an interruption: every stage runs only the steps its file still lacks.
#
# Measured 2026-12-06/07 (issue 24, bone by compartment, 27 sampled values, 8 chains, 2
# processes on this project's 2-core machine, while helpers ran tests beside it at lower
# priority): stage 1 (3,000 steps) 2.5 min; stage 2 (20,000) 26 min; stage 3 (5,000) 7.7 min;
# stage 4 stopped after 48,000 steps once converged (16,000-step chunks: max R-hat 1.021 after
# 16,000, 1.012 after 32,000, below 1.01 after 48,000; about 16 min a chunk); stage 5 1 min.
# In all about 85 min of wall time: 14-17 steps a second, 60-70 ms a step for 8 walkers.
# The issue's "about an hour on 2 cores" holds on quiet cores for stages 1-3 plus two chunks.
# See docs/analyses.md ("Remodeling block", "What the posterior means").
set -euo pipefail
cd "$(dirname "$0")/.."
export HDF5_USE_FILE_LOCKING=FALSE
# one BLAS thread per process: the sampler runs one process per core, and OpenBLAS threads of
# the sampler process (the learnt proposal's density) spinning beside them cost 1.5x (2026-12-06)
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
py=".venv/bin/python -m osteotrial.calibration.posterior --walkers 8 --processes 2 --priors config/priors.yaml"
rw=build/rw
mkdir -p $rw

steps_in() {  # steps already kept in a chain file (0 if none)
    if [ -f "$1" ]; then
        .venv/bin/python -c "import emcee, sys; print(emcee.backends.HDFBackend(sys.argv[1], read_only=True).iteration)" "$1"
    else
        echo 0
    fi
}

steps_left() {  # steps a stage still has to run to reach its target
    local left=$(( $1 - $(steps_in "$2") ))
    echo $(( left > 0 ? left : 0 ))
}

converged() {  # max R-hat below 1.01 and min bulk ESS at least 400 in a diagnostics log
    local line
    line=$(grep "max R-hat" "$1")
    .venv/bin/python -c "import re, sys; r, e = map(float, re.search(r'R-hat ([0-9.]+), min bulk ESS ([0-9]+)', sys.argv[1]).groups()); sys.exit(0 if r < 1.01 and e >= 400 else 1)" "$line"
}

learnt_map="--independence-from $rw/source.h5 $rw/learnt_stage3.h5"
# 1. eight independent random-walk chains, Laplace covariance: a first look at the posterior
n=$(steps_left 3000 $rw/pilot.h5)
[ "$n" -gt 0 ] && $py --steps "$n" --gaussian-share 1.0 --backend $rw/pilot.h5 --burn 1000
# 2. random walks with the pilot's covariance (acceptance about 0.24): the source of the map
n=$(steps_left 20000 $rw/source.h5)
[ "$n" -gt 0 ] && $py --steps "$n" --gaussian-share 1.0 --start-from $rw/pilot.h5 \
    --proposal-from $rw/pilot.h5 --proposal-steps 2000 --proposal-scale 0.5 \
    --backend $rw/source.h5 --burn 5000
# 3. half independence steps from the map learnt from stage 2, half random walks: adaptation
if [ ! -f $rw/learnt_stage3.h5 ]; then
    n=$(steps_left 5000 $rw/learnt.h5)
    [ "$n" -gt 0 ] && $py --steps "$n" --proposal-from $rw/source.h5 --proposal-steps 14000 \
        --proposal-scale 0.5 --independence-from $rw/source.h5 --independence-burn 5000 \
        --backend $rw/learnt.h5 --burn 500
    cp $rw/learnt.h5 $rw/learnt_stage3.h5
fi
# 4. the same chains continued with the map re-learnt from stages 2 and 3 (their kept steps),
#    in chunks of 16,000 steps until every R-hat is below 1.01 (at most 64,000 steps)
diag() {
    $py --steps 0 --backend $rw/learnt.h5 --burn 5000 --proposal-from $rw/source.h5 \
        --proposal-scale 0.5 $learnt_map "$@"
}
for _ in 1 2 3 4; do
    if [ "$(steps_in $rw/learnt.h5)" -gt 5000 ]; then  # a chunk already run: check it first
        diag > $rw/diagnostics.log 2>&1
        converged $rw/diagnostics.log && break
    fi
    $py --steps 16000 --proposal-from $rw/source.h5 --proposal-steps 14000 --proposal-scale 0.5 \
        $learnt_map --independence-burn 5000 500 --backend $rw/learnt.h5 --burn 5000
done
# 5. diagnostics (R-hat, ESS) and 500 stable draws into config/model_posterior.yaml
diag --write
# 6. optional, by hand (docs/analyses.md, "Nominal run"): the medians into config/model.yaml and
#    the draws re-centred on them, then the fracture stage, which is fitted conditionally on the
#    remodeling values, and the uncertainty file:
#      .venv/bin/python -m osteotrial.calibration.posterior_median --write
#      .venv/bin/python -m osteotrial.calibration.calibrate --stage fracture --write
#      .venv/bin/python -m osteotrial.calibration.uncertainty --write
