#!/usr/bin/env bash
# `make test-cluster`: FRAME at reduced size through a real one-node SLURM cluster (root only).
#  1. local reference run (.venv, no plugin)
#  2. cluster run, killed (SIGKILL) after some simulation jobs finished, its jobs cancelled: the
#     dry run plans only the unfinished jobs
#  3. the same run resumed on the cluster with one injected simulate_arm failure: retried, jobs
#     in sacct, tables == local, no temporary file left
#  4. delete one shard's simulation: the dry run plans only that job + the tables reading it;
#     rerun on the cluster, tables == local
# Every daemon is stopped by PID and slurm.conf removed on exit (tests/cluster/slurm-local.sh down).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
[[ $(id -u) == 0 ]] || { echo "test-cluster needs root (it installs and starts SLURM)" >&2; exit 1; }
START=$SECONDS
WORK=${OSTEOTRIAL_CLUSTER_WORK:-$ROOT/build/cluster-test}
TRIAL=frame
# The analyses of docs/analyses.md are off here: this test is about the execution of the trial.
CONFIG=(--config "trial=$TRIAL" n_per_arm=100 n_shards=4 "counterfactual={enabled: false}"
    "power={enabled: false}" "uncertainty={enabled: false}")
N_SIM=8   # 2 arms x 4 shards
# A limit for each snakemake run and for the first simulation job: guards against a hang, not
# timings (.ci/run raises it: there the test shares the cores with the test suite).
LIMIT_S=${OSTEOTRIAL_CLUSTER_LIMIT_S:-300}
LOCAL=("$ROOT/.venv/bin/python" -m snakemake --profile workflow/profiles/default)
CLUSTER=("$ROOT/.venv-cluster/bin/python" -m snakemake --profile workflow/profiles/slurm
    --default-resources slurm_account=trials slurm_partition=debug
    --slurm-init-seconds-before-status-checks 2 --latency-wait 5)
SLURM=tests/cluster/slurm-local.sh
COMPARE=("$ROOT/.venv/bin/python" tests/cluster/compare_endpoints.py)

step() { printf '\n=== [%3ds] %s\n' $((SECONDS - START)) "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
copy_workflow() {  # a fresh run directory holding the workflow, like tests/conftest.py
    rm -rf "$1" && mkdir -p "$1"
    cp -r Snakefile workflow config "$1/"
}
sim_files() { find "$1/results/$TRIAL/simulations" -name '*.parquet' 2>/dev/null | wc -l; }
sacct_since() {  # sacct_since TIME: one line per SLURM job (allocation) since TIME
    sacct -X -P -n -S "$1" -o JobIDRaw,JobName%40,Account,Partition,AllocCPUS,ReqMem,State,ExitCode,Elapsed
}

cleanup() {
    local rc=$?
    [[ -n ${RUN_PID:-} ]] && kill -KILL -- "-$RUN_PID" 2>/dev/null || true
    if [[ -f /etc/slurm/slurm.conf ]]; then
        scancel -u root 2>/dev/null || true
    fi
    "$SLURM" down || true
    printf '\n=== test-cluster %s after %ds\n' "$([[ $rc == 0 ]] && echo PASSED || echo FAILED)" \
        $((SECONDS - START))
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "install and start the test cluster"
"$SLURM" install
"$SLURM" up
sinfo

step "local reference run: ${CONFIG[*]}"
copy_workflow "$WORK/local"
(cd "$WORK/local" && "${LOCAL[@]}" --cores 2 "${CONFIG[@]}" >"$WORK/local.log" 2>&1) ||
    { tail -30 "$WORK/local.log"; fail "local run"; }
grep -E "steps \(100%\) done" "$WORK/local.log"

step "cluster run, killed (SIGKILL) after some simulation jobs finished"
# One cluster run in two halves (it was two runs, one per check, until issue 28: the cluster
# run is the SLURM test's longest part). Groups of 2 here (4 group jobs, one after the other on
# the 2-CPU node) so that the kill falls between two finished groups; snakemake must keep the
# registered ones and redo the others.
copy_workflow "$WORK/cluster"
since=$(date +%Y-%m-%dT%H:%M:%S)
(cd "$WORK/cluster" && exec setsid "${CLUSTER[@]}" --group-components simulate=2 "${CONFIG[@]}" \
    >"$WORK/cluster-1.log" 2>&1) &
RUN_PID=$!
deadline=$((SECONDS + LIMIT_S))
until grep -q "(Rule: simulate_arm)" "$WORK/cluster-1.log"; do
    ((SECONDS < deadline)) || fail "no simulation job finished within $LIMIT_S s"
    kill -0 "$RUN_PID" 2>/dev/null || fail "the run ended before it could be killed"
    sleep 0.2
done
kill -KILL -- "-$RUN_PID"
wait "$RUN_PID" 2>/dev/null || true
RUN_PID=
scancel -u root
for _ in $(seq 60); do [[ -z $(squeue -h -u root) ]] && break; sleep 1; done
n_registered=$(grep -c "(Rule: simulate_arm)" "$WORK/cluster-1.log" || true)
n_files=$(sim_files "$WORK/cluster")
echo "SIGKILL after $n_registered simulate_arm jobs finished ($n_files of $N_SIM files on disk);" \
    "its SLURM jobs cancelled"
((n_registered < N_SIM)) || fail "all simulations finished before the kill"
find "$WORK/cluster/results" -name '*.tmp-*' | sed 's/^/  left by a cancelled job (never an input): /'
(cd "$WORK/cluster" && "${LOCAL[@]}" --unlock "${CONFIG[@]}" >/dev/null 2>&1)
(cd "$WORK/cluster" && "${LOCAL[@]}" --dry-run "${CONFIG[@]}" >"$WORK/cluster-dry-run.log" 2>&1)
sed -n '/^Job stats/,/^$/p' "$WORK/cluster-dry-run.log" | head -8
planned=$(awk '$1 == "simulate_arm" {print $2; exit}' "$WORK/cluster-dry-run.log")
# Every job writes atomically and its output stays marked incomplete until the job is done, so
# a file on disk is complete: redo at least the missing ones, at most those not seen finished.
echo "rerun plans $planned of $N_SIM simulate_arm jobs ($((N_SIM - n_files)) files missing)"
((planned >= N_SIM - n_files && planned <= N_SIM - n_registered)) ||
    fail "the rerun does not redo exactly the unfinished jobs"

step "resume on the cluster with one injected failure (OSTEOTRIAL_FAIL_ONCE): retried"
rm -f "$WORK/fail-once"
(cd "$WORK/cluster" && OSTEOTRIAL_FAIL_ONCE="$WORK/fail-once" timeout -k 60 -s INT "$LIMIT_S" \
    "${CLUSTER[@]}" --group-components simulate=2 "${CONFIG[@]}" >"$WORK/cluster.log" 2>&1) ||
    { tail -40 "$WORK/cluster.log"; fail "resumed cluster run"; }
[[ -f $WORK/fail-once ]] || fail "the injected failure did not happen"
echo "marker: $(cat "$WORK/fail-once")"
grep -rh -m1 "injected failure of" "$WORK/cluster/.snakemake/slurm_logs" ||
    fail "no injected failure in the SLURM logs"
grep -m1 -E "Trying to restart|attempt 2|Restarting" "$WORK/cluster.log" ||
    fail "no retry in the log"
grep -E "steps \(100%\) done" "$WORK/cluster.log"
[[ -z $(find "$WORK/cluster/results" -name '*.tmp-*') ]] || fail "a temporary file was left"
sacct_since "$since" | tee "$WORK/sacct.txt"
n_done=$(grep -c "|trials|debug|.*|COMPLETED|" "$WORK/sacct.txt" || true)
n_failed=$(grep -c "|FAILED|" "$WORK/sacct.txt" || true)
echo "sacct: $n_done COMPLETED, $n_failed FAILED (expected >= 4 and 1)"
((n_done >= 4 && n_failed >= 1)) || fail "the jobs did not go through SLURM as expected"
"${COMPARE[@]}" "$WORK/local" "$WORK/cluster" || fail "cluster tables differ from local"

step "delete one shard's simulation: only the affected jobs rerun"
# A lost intermediate file alone triggers nothing (the endpoint tables are up to date); naming it
# as a target regenerates it (and its shard's expected sums, the job's other output), and
# compute_endpoints, safety_endpoints and expected_fractures (then report) rerun because an input
# became newer.
victim="results/$TRIAL/simulations/romosozumab_then_denosumab/s002-of-004.parquet"
rm "$WORK/cluster/$victim"
(cd "$WORK/cluster" && "${LOCAL[@]}" --dry-run all "$victim" "${CONFIG[@]}" \
    >"$WORK/dry-run.log" 2>&1)
sed -n '/^Job stats/,/^$/p' "$WORK/dry-run.log" | head -8
planned=$(awk '/^Job stats/{on=1} on && /^(simulate_arm|sample_cohort|compute_endpoints|safety_endpoints|expected_fractures|report|all|total) /{print $1 "=" $2}' "$WORK/dry-run.log" | sort -u | tr '\n' ' ')
echo "planned: $planned"
[[ $planned == "all=1 compute_endpoints=1 expected_fractures=1 report=1 safety_endpoints=1 simulate_arm=1 total=6 " ]] ||
    fail "expected only simulate_arm (1), compute_endpoints, safety_endpoints, expected_fractures, report, all"
since=$(date +%Y-%m-%dT%H:%M:%S)
(cd "$WORK/cluster" && timeout -k 60 -s INT "$LIMIT_S" "${CLUSTER[@]}" all "$victim" "${CONFIG[@]}" \
    >"$WORK/rerun.log" 2>&1) || { tail -40 "$WORK/rerun.log"; fail "rerun"; }
grep -E "steps \(100%\) done" "$WORK/rerun.log"
sacct_since "$since"
"${COMPARE[@]}" "$WORK/local" "$WORK/cluster" || fail "rerun tables differ from local"
