"""Calcium homeostasis: serum calcium, PTH and calcitriol, carried by the bone (a passenger).

Fluxes of one patient, mmol/day (after Peterson & Riggs 2010, model-anchors 6.4, written
smaller; every flux relative to the patient's own steady state, so day 0 is exact):

    gut         G = f_abs D^a_g (diet + supplement)            (calcitriol-dependent absorption)
    bone        J_b (c - m)                                    (release ~ active osteoclasts c,
                                                                uptake ~ active osteoblasts b,
                                                                through the mineralization lag:
                                                                dm/dt = (b - m) / tau_m)
                + J_x S (P - 1)                                (PTH's calcemic action on the
                                                                bone surface, osteoclast-free)
    kidney      E = E_0 x P^-a_p (D / D_0)^-a_d                (filtered load ~ calcium x;
                                                                PTH and calcitriol raise
                                                                reabsorption)
    dialysis    K_d C_0 (x - 1)                                (exchange with the dialysate)
    loss        L = G_0 - E_0                                  (endogenous fecal loss: closes
                                                                the patient's balance)

with x = C / C_0 serum total calcium relative to the patient's baseline C_0. J_b = the bone
flux that follows remodeling (share s of Peterson & Riggs' 88 mmol/day bone-plasma flux,
``CaDay``; the rest, fast exchange with the bone surface, stays in balance) times the patient's
turnover multiplier. Osteoid takes up its mineral after the mineralization lag time (2-4
weeks), so the uptake follows formation through a first-order lag m (tau_m,
``mineralization_lag_days``; 0: m = b at once). J_x S: mobilization from the bone surface per
unit of PTH rise, scaled by the patient's calcitriol synthesis capacity S (calcitriol is
permissive for PTH's calcemic action, and the skeleton resists PTH in kidney failure; R). E_0 =
urinary calcium at the reference eGFR times eGFR / reference (fewer nephrons filter less; 0 on
dialysis).

Fast parts are algebraic (quasi-steady, the plasma pool turns over in minutes): PTH follows
calcium at once, P = min(x^-gamma, P_max) relative to baseline (the steep PTH-calcium
curve), and x solves G - L + J_b (c - m) + J_x S (P - 1) - E(x) - K_d C_0 (x - 1) = 0
(``solve_log_x``: the balance falls with x; linear in x where PTH is at its maximum, solved
there in closed form; above, a safeguarded Newton in log x from the last step's value;
nothing to solve at the untreated steady state, ``step``). The one slow
adaptation is calcitriol D (1-alpha-hydroxylase), relative to a normal kidney's,

    dD/dt = (S P^a_dp (1 + g_vd V) - D) / tau_D,

S the patient's synthesis capacity (falls with eGFR; on dialysis a small extrarenal share that
PTH does not drive, P^a_dp = 1: the kidney's 1-alpha-hydroxylase is gone; times
``deficient_calcitriol_synthesis_frac`` with vitamin D deficiency, the hydroxylase short of its
substrate 25(OH)D, fitted to P12),
V the vitamin D supplement (1000 IU/day). Calcium acts on nothing else: its feedback on
remodeling is off (docs/model.md, limitation), so the bone is unchanged by it.

No bone-state slot (``N_STATES`` = 0; a passenger needs none, and a slot would cost every trial
four right-hand sides per step): the engines keep each patient's calcium in a work row of
``N_WORK`` values (``patient_constants`` at day 0, then ``step``): her constants, calcium at
the end of the last step, its nadir, the first day below each of the three grade thresholds,
calcitriol, the log of calcium relative to baseline (the solve's start), the uptake's lag
factor over a step and the uptake signal m (the patient's formation at the end of the first
step, then lagged). After each bone step, ``step`` advances m exactly over the step towards the
new formation (held over the step), then solves calcium on the new bone state and advances
calcitriol exactly over the step towards the target its calcium sets (the target held over the
step: first order in dt = 1 day against tau_D = 3 days). The LSODA reference runs the same
``step`` on its own bone states. Parameters: block ``calcium`` of config/model.yaml, in the
remodeling record prefixed ``ca_``.
"""

from __future__ import annotations

import math

from osteotrial.model import metastasis
from osteotrial.model.compiled import equation

FIRST_ROW = metastasis.FIRST_ROW + metastasis.N_STATES  # no slot: the next module's start
N_STATES = 0
N_GRADES = 3
# a patient's calcium work row: her constants (patient_constants), then the tracked values:
# calcium at the end of the last step, its nadir, the first day below each grade threshold
# (nan: not yet), calcitriol (relative to a normal kidney's), log x (LOG_X, below)
C0, URINE0, DIALYSIS_L, SYNTHESIS, BONE_FLUX, LOSS = range(6)
# per-patient constants of the solve, computed once: log S, the calcium (relative) below
# which PTH is at its maximum, the urine factor there (P_max^-a_p), the surface release J_x S,
# the calcitriol decay over one step (set by the loop's dt at day 0), log P_max
LOG_SYNTHESIS, X_CAP, URINE_CAP, SURFACE, DECAY, LOG_PTH_MAX = range(6, 12)
PREV, NADIR = 12, 13
FIRST_BELOW = 14  # to FIRST_BELOW + N_GRADES - 1
CALCITRIOL = FIRST_BELOW + N_GRADES
LOG_X = CALCITRIOL + 1  # log of calcium relative to baseline at the end of the last step
DECAY_MINERAL = LOG_X + 1  # the uptake signal's lag factor over one step (a constant)
MINERAL = LOG_X + 2  # the uptake signal m (relative formation, lagged; nan before the first step)
N_WORK = MINERAL + 1
MAX_NEWTON = 60  # iterations at most; from the last step's calcium one to three suffice
NEWTON_STEP = 1e-8  # the last Newton step in log x: the error after it is of its square
X_MIN, X_MAX = 0.2, 2.0  # the solve's bounds on calcium relative to baseline
LOG_X_MAX = math.log(X_MAX)


@equation
def patient_constants(
    egfr: float,
    dialysis: float,
    z: float,
    deficient: float,
    turnover_mult: float,
    dt: float,
    r,
    out,
) -> None:
    """Write the patient's calcium work row at day 0 into out (``N_WORK``): baseline calcium
    (mmol/L, the population's mean plus z SDs, on dialysis the dialysis population's), urinary
    calcium at baseline, dialysis exchange (L/day, 0 without), calcitriol synthesis capacity
    (x ``deficient_calcitriol_synthesis_frac`` with vitamin D deficiency, ``deficient`` 1.0),
    bone flux (mmol/day), the endogenous loss that closes her balance, the solve's constants
    (``LOG_SYNTHESIS`` ... ``DECAY``, steps of ``dt`` days); calcium and its nadir at
    baseline, first days below (0 if she starts below a threshold, else nan), calcitriol at
    her steady state."""
    if dialysis > 0.5:
        c0 = r.ca_dialysis_serum_calcium_mmol_l + r.ca_dialysis_serum_calcium_sd_mmol_l * z
        urine0, exchange = 0.0, r.ca_dialysis_exchange_l_per_day
        synthesis = r.ca_dialysis_calcitriol_synthesis_frac
    else:
        c0 = r.ca_serum_calcium_mmol_l + r.ca_serum_calcium_sd_mmol_l * z
        g = egfr / r.ca_reference_egfr_ml_min_1_73m2
        urine0, exchange = r.ca_urine_calcium_mmol_per_day * g, 0.0
        half = r.ca_calcitriol_half_egfr_ml_min_1_73m2 / r.ca_reference_egfr_ml_min_1_73m2
        synthesis = g / (g + half) * (1.0 + half)
    if deficient > 0.5:  # vitamin D deficiency: the hydroxylase short of its substrate
        synthesis *= r.ca_deficient_calcitriol_synthesis_frac
    out[C0] = min(max(c0, 1.5), 3.0)
    out[URINE0] = urine0
    out[DIALYSIS_L] = exchange
    out[SYNTHESIS] = synthesis
    out[BONE_FLUX] = r.ca_bone_flux_mmol_per_day * r.ca_resorption_share_frac * turnover_mult
    log_synthesis = math.log(synthesis)
    out[LOSS] = gut_mmol_per_day(log_synthesis, 0.0, r) - urine0
    out[LOG_SYNTHESIS] = log_synthesis
    log_max = math.log(r.ca_pth_max_rel)
    out[X_CAP] = math.exp(-log_max / r.ca_pth_calcium_exponent)
    out[URINE_CAP] = math.exp(-r.ca_reabsorption_pth_exponent * log_max)
    out[SURFACE] = r.ca_pth_bone_release_mmol_per_day * synthesis
    out[DECAY] = math.exp(-dt / r.ca_calcitriol_time_days)
    out[LOG_PTH_MAX] = log_max
    out[PREV] = out[C0]
    out[NADIR] = out[C0]
    for g in range(N_GRADES):
        out[FIRST_BELOW + g] = 0.0 if out[C0] < grade_threshold(g, r) else math.nan
    out[CALCITRIOL] = synthesis
    out[LOG_X] = 0.0
    lag = r.ca_mineralization_lag_days
    out[DECAY_MINERAL] = math.exp(-dt / lag) if lag > 0.0 else 0.0
    out[MINERAL] = math.nan


@equation
def gut_mmol_per_day(log_calcitriol: float, supplement_mmol: float, r) -> float:
    """Return the calcium absorbed from the gut: f_abs D^a_g (diet + supplement), mmol/day."""
    intake = r.ca_diet_calcium_mmol_per_day + supplement_mmol
    growth = math.exp(r.ca_gut_calcitriol_exponent * log_calcitriol)
    return r.ca_gut_absorption_frac * growth * intake


@equation
def solve_log_x(oca: float, oba: float, supplement_mmol: float, w, r) -> float:
    """Return log x, x = serum calcium relative to baseline, of the quasi-steady balance at
    osteoclasts oca and the bone's uptake signal oba (relative; ``step`` passes the lagged m),
    the work row's calcitriol and a calcium supplement (mmol/day).

    The balance f falls with x. Where PTH is at its maximum (x <= X_CAP) f is linear in x: the
    root there in closed form. Above, Newton's method in u = log x (two exponentials an
    iteration, no logarithm) from the last step's u, kept inside a shrinking bracket by
    bisection, stopped once a step is below NEWTON_STEP (the error of the result is then of
    the order of the step squared: below 1e-15; tests/test_calcium.py checks it against
    bisection to rounding). x is kept within [X_MIN, X_MAX].
    """
    log_d = math.log(w[CALCITRIOL])
    inflow = gut_mmol_per_day(log_d, supplement_mmol, r) - w[LOSS]
    inflow += w[BONE_FLUX] * (oca - oba)
    reabsorb = r.ca_reabsorption_calcitriol_exponent * (log_d - w[LOG_SYNTHESIS])
    renal = w[URINE0] * math.exp(-reabsorb)
    dialysis = w[DIALYSIS_L] * w[C0]
    surface = w[SURFACE]
    # at and below X_CAP: f = inflow + surface (P_max - 1) - renal URINE_CAP x - dialysis (x - 1)
    e_cap = renal * w[URINE_CAP]
    capped = inflow + surface * (r.ca_pth_max_rel - 1.0) + dialysis
    if capped - (e_cap + dialysis) * w[X_CAP] <= 0.0:  # f(X_CAP) <= 0: the root is capped
        return math.log(max(capped / (e_cap + dialysis), X_MIN))
    gamma = r.ca_pth_calcium_exponent
    k1 = 1.0 + r.ca_reabsorption_pth_exponent * gamma
    fixed = inflow - surface + dialysis
    lo, hi = math.log(w[X_CAP]), LOG_X_MAX  # the bracket: f(lo) > 0
    u = min(max(w[LOG_X], lo), hi)
    last = hi - lo  # the step before the last (a Newton step must halve it, else bisect)
    for _ in range(MAX_NEWTON):
        p, e = surface * math.exp(-gamma * u), renal * math.exp(k1 * u)  # S P, E
        f = fixed + p - e
        slope = gamma * p + k1 * e  # -df/du
        if dialysis > 0.0:
            x_d = dialysis * math.exp(u)
            f -= x_d
            slope += x_d
        if f > 0.0:  # the root is above u
            lo = u
        else:
            hi = u
        step = f / slope
        if lo <= u + step <= hi and abs(step) <= 0.5 * abs(last):
            if abs(step) <= NEWTON_STEP:
                return u + step
            last = step
            u += step
        else:  # a Newton step would leave the bracket or converge too slowly: bisect
            last = 0.5 * (hi - lo)
            u = lo + last
    return u


@equation
def serum_calcium(oca: float, oba: float, supplement_mmol: float, w, r) -> float:
    """Return serum total calcium (mmol/L) of the quasi-steady balance (``solve_log_x``)."""
    return w[C0] * math.exp(solve_log_x(oca, oba, supplement_mmol, w, r))


@equation
def supplement_mmol(levels, first_channel: int) -> float:
    """Return the calcium supplement (mmol/day) of a step's exposure channels (the channel
    holds mg/day; 40.08 mg per mmol)."""
    return levels[first_channel] / 40.08


@equation
def step(oca: float, oba: float, levels, first_channel: int, t: float, dt: float, r, w) -> None:
    """Advance a patient's calcium work row w over a step from day t to t + dt, the bone at
    its end (osteoclasts oca, osteoblasts oba): the uptake signal m exactly over the step
    towards oba (the mineralization lag; m starts at the first step's oba), serum calcium from
    release oca and uptake m (nadir, first days below), then calcitriol exactly over the step
    towards S P^a_dp (1 + g_vd V), P from that calcium.

    ``levels``: the step's exposure channels; ``first_channel``: the calcium supplement's
    (mg/day), the vitamin D supplement's (IU/day) after it (model.exposure.CHANNELS).

    At the patient's untreated steady state (bone flux in balance, oca == m; no supplement;
    calcitriol at its synthesis capacity S) her balance closes at x = 1 by construction
    (``patient_constants``) and calcitriol's target is S: nothing to solve, the row stays
    (the solve would give 1 to rounding, tests/test_calcium.py).
    """
    supplement = supplement_mmol(levels, first_channel)
    vitamin_d = levels[first_channel + 1]
    m = oba if math.isnan(w[MINERAL]) else oba + (w[MINERAL] - oba) * w[DECAY_MINERAL]
    w[MINERAL] = m
    if oca == m and supplement == 0.0 and vitamin_d == 0.0 and w[CALCITRIOL] == w[SYNTHESIS]:
        w[LOG_X] = 0.0
        track(w[C0], t, dt, r, w)
        return
    log_x = solve_log_x(oca, m, supplement, w, r)
    w[LOG_X] = log_x
    track(w[C0] * math.exp(log_x), t, dt, r, w)
    # log P = -gamma log x, at most log P_max; on dialysis the extrarenal rest: no PTH drive
    log_p = min(-r.ca_pth_calcium_exponent * log_x, w[LOG_PTH_MAX])
    drive = r.ca_calcitriol_pth_exponent * log_p if w[DIALYSIS_L] <= 0.0 else 0.0
    vd = 1.0 + r.ca_vitamin_d_calcitriol_gain_per_1000_iu * vitamin_d / 1000.0
    target = w[SYNTHESIS] * math.exp(drive) * vd
    w[CALCITRIOL] = target + (w[CALCITRIOL] - target) * w[DECAY]


@equation
def grade_threshold(g: int, r) -> float:
    """Return the threshold (mmol/L) of hypocalcemia grade g (0, 1, 2: config order)."""
    if g == 0:
        return r.ca_grade_1_below_mmol_l
    if g == 1:
        return r.ca_grade_2_below_mmol_l
    return r.ca_grade_3_below_mmol_l


@equation
def track(ca: float, t: float, dt: float, r, w) -> None:
    """Update the work row w with calcium ca at the end of a step from day t: nadir, and the
    first day below each threshold, interpolated linearly within the step."""
    prev = w[PREV]
    w[NADIR] = min(w[NADIR], ca)
    for g in range(N_GRADES):
        thr = grade_threshold(g, r)
        if ca < thr and math.isnan(w[FIRST_BELOW + g]):
            frac = (prev - thr) / (prev - ca) if prev > thr else 0.0
            w[FIRST_BELOW + g] = t + dt * frac
    w[PREV] = ca
