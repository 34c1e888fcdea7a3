"""Where the CPU kernel's time goes: make bench's kernel (FRAME, 2,000 patients of one arm, 24
months, 1 core) run through variants of the block loop with parts switched off.

    .venv/bin/python benchmarks/kernel_profile.py [ARM]

The variants add the loop's parts one at a time, in the loop's order (engine.loop
``simulate_block``): PK only; + bone (RK4 with re-stepping); + events (calcium off); + calcium;
+ records (the whole loop). The parts that are switched off do not feed the ones left on (PK
does not read the bone, the events and the calcium do not feed the bone), so each variant
runs the same trajectories as the whole loop and the differences are each part's cost (the
variants compile differently, so they are rough: benchmarks/kernel_perf.py samples the
whole loop). Prints CPU time of the thread, best of 3, and
counts the lane-steps that the bone step redoes in sub-steps.
"""

import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402

from osteotrial.engine import inputs, loop  # noqa: E402
from osteotrial.engine import loop_bone as lb  # noqa: E402
from osteotrial.engine.cpu import LANES, new_work  # noqa: E402
from osteotrial.engine.simulate import warn_withheld  # noqa: E402
from osteotrial.model.compiled import equation  # noqa: E402
from osteotrial.model.records import pack_table  # noqa: E402


def variant(bone_on: bool, events_on: bool, calcium_on: bool, records_on: bool):
    """Return a compiled run_chunk of the loop with the parts named switched on."""

    @equation  # as engine.loop.simulate_block: compiled without reference counting
    def block(lo, m, pat, plan, table, out, w):
        for q in range(m):
            loop.start_patient(lo + q, q, pat, plan, table, w)
        r_next = 0
        if records_on:
            r_next = loop.record_states(0, 0, lo, m, pat, plan, table, out, w)
        for s in range(plan.n_steps):
            t = s * plan.dt_days
            loop.advance_pk(s, lo, m, pat, plan, table, w)
            if bone_on:
                loop.dose_bisphosphonates(s, lo, m, pat, plan, table, w)
                loop.advance_bone(s, lo, m, pat, plan, table, w)
            t_end = (s + 1) * plan.dt_days
            if events_on:
                for q in range(m):
                    events_of(lo + q, q, t, t_end, pat, plan, table, out, w)
            if records_on:
                r_next = loop.record_states(s + 1, r_next, lo, m, pat, plan, table, out, w)
        return 0

    @equation(inline=True)  # inlined as the loop's own (a call passes every array)
    def events_of(i, q, t, t_end, pat, plan, table, out, w):
        par = loop.records_of(table, pat.param_index[i])
        levels = plan.exposure[int(t / plan.dt_days + 0.5)]
        if calcium_on:
            loop.track_calcium(w.y[q], t, plan.dt_days, levels, par.remodeling[0], w.calcium[q])
        age = pat.age_years[i] + t_end / 365.25
        for j in range(3):
            sd = par.sites[j].young_adult_sd_g_cm2
            bmd_rel = loop.bone.bmd_rel(w.y[q], j, par.sites, w.site_const[q])
            w.tscores[j] = loop.tscore_now(pat.tscore0[j, i], pat.bmd0_g_cm2[j, i], bmd_rel, sd)
        loop.fracture.hazards_per_year(
            par.fracture_types,
            par.fracture[0],
            pat.static_log_risk,
            i,
            age,
            w.tscores,
            w.y[q, loop.REMODELING_SPACE],
            w.status[q],
            t_end,
            levels,
            par.remodeling[0],
            w.haz[q],
        )
        loop.fracture.advance_events(
            i,
            t,
            plan.dt_days,
            w.haz[q],
            w.cum[q],
            w.prev_h[q],
            pat.thresholds,
            plan.n_thresholds,
            pat.threshold_death,
            out,
            w.status[q],
        )

    @njit(error_model="numpy")
    def run(pat, plan, table, out):
        n = pat.age_years.shape[0]
        w = new_work(LANES)
        for lo in range(0, n, LANES):
            block(lo, min(LANES, n - lo), pat, plan, table, out, w)

    return run


@equation  # not njit: the loop's functions are compiled without reference counting, and
# called from an njit function's own stage loop they gave wrong states (this session's first
# counter, 2026-12-07: NaN states, 96 % "stiff"); inside an equation they agree with the kernel
def _count_block(lo, m, pat, plan, table, w, counts):
    for q in range(m):
        loop.start_patient(lo + q, q, pat, plan, table, w)
    for s in range(plan.n_steps):
        loop.advance_pk(s, lo, m, pat, plan, table, w)
        loop.dose_bisphosphonates(s, lo, m, pat, plan, table, w)
        h = plan.dt_days
        lb.drug_signals(lo, m, pat, table, w)
        for stage in range(4):
            c = lb.RK4_CONC[stage]
            for q in range(m):
                par = loop.records_of(table, pat.param_index[lo + q])
                den, wnt, log_wnt = w.conc_nm[0, c, q], w.wnt[c, q], w.log_wnt[c, q]
                levels, r = plan.exposure[s], par.remodeling[0]
                lb.rk4_stage(stage, q, h, den, wnt, log_wnt, levels, r, par, w)
        for q in range(m):
            counts[0] += 1
            stiff = False
            for stage in range(4):
                stiff = stiff or lb.stage_stiff(w.y[q], w.ks, stage, q, h)
            if stiff:
                counts[1] += 1
                counts[2] += lb.stage_stiff(w.y[q], w.ks, 0, q, h)
                lb.restep_lane(s, lo + q, q, pat, plan, table, w)
            else:
                lb.rk4_update(w.y[q], w.ks, q, h)


@njit(error_model="numpy")
def count_resteps(pat, plan, table):
    """Return (lane-steps, those re-stepped, those stiff at the first stage), running the
    loop's bone step (engine.loop_bone) with the stiffness test spelt out."""
    counts = np.zeros(3, dtype=np.int64)
    n = pat.age_years.shape[0]
    w = new_work(LANES)
    for lo in range(0, n, LANES):
        _count_block(lo, min(LANES, n - lo), pat, plan, table, w, counts)
    return counts


def inputs_of(arm_name: str):
    t = bench.trial(24)
    cohort = bench.base_cohort(2000)
    arm = t.arms[arm_name]
    sets, index = inputs.parameter_sets(t.params, None, cohort.n_patients)
    sets, index = inputs.sets_by_sex(sets, index, cohort.sex)
    warn_withheld(cohort, arm)
    table = pack_table(sets)
    plan = inputs.plan_of(arm, t.schedule, False)
    pat = inputs.patients_of(cohort, table, index)
    return pat, plan, table, lambda: inputs.empty_outputs(plan, cohort.n_patients)


VARIANTS = {
    "PK only": (False, False, False, False),
    "+ bone (RK4, re-stepping)": (True, False, False, False),
    "+ events (hazards, no calcium)": (True, True, False, False),
    "+ calcium": (True, True, True, False),
    "+ records (the whole loop)": (True, True, True, True),
}


def main() -> None:
    arm = sys.argv[1] if len(sys.argv) > 1 else bench.ARM
    pat, plan, table, new_out = inputs_of(arm)
    runs = {name: variant(*flags) for name, flags in VARIANTS.items()}
    for run in runs.values():
        run(pat, plan, table, new_out())  # compile
    best = {name: np.inf for name in runs}
    for _ in range(3):
        for name, run in runs.items():
            out = new_out()
            start = time.thread_time()
            run(pat, plan, table, out)
            best[name] = min(best[name], time.thread_time() - start)
    prev = 0.0
    for name, cpu in best.items():
        print(f"{name:42s} {cpu:7.3f} s  (+{cpu - prev:6.3f})")
        prev = cpu
    total, stiff, first = count_resteps(pat, plan, table)
    print(f"re-stepped lane-steps {stiff} of {total} ({stiff / total:.2%}), {first} at stage 1")


if __name__ == "__main__":
    main()
