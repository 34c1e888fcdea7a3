"""Calcium homeostasis: serum calcium, PTH and calcitriol, carried by the bone (a passenger).

Fluxes of one patient, mmol/day (after Peterson & Riggs 2010, model-anchors 6.4, written
smaller; every flux relative to the patient's own steady state, so day 0 is exact):

    gut         G = f_abs D^a_g (diet + supplement)            (calcitriol-dependent absorption)
    bone        J_b (c - b)                                    (release ~ active osteoclasts c,
                                                                uptake ~ active osteoblasts b)
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
``CaDay``; the rest, fast exchange with the bone surface, stays in balance) times the
patient's turnover multiplier. J_x S: mobilization from the bone surface per unit of PTH rise,
scaled by the patient's calcitriol synthesis capacity S (calcitriol is permissive for PTH's
calcemic action, and the skeleton resists PTH in kidney failure; R). E_0 = urinary calcium at
the reference eGFR times eGFR / reference (fewer nephrons filter less; 0 on dialysis).

Fast parts are algebraic (quasi-steady, the plasma pool turns over in minutes): PTH follows
calcium at once, P = min(x^-gamma, P_max) relative to baseline (the steep PTH-calcium
curve), and x solves G - L + J_b (c - b) + J_x S (P - 1) - E(x) - K_d C_0 (x - 1) = 0
(``serum_calcium``;
Newton from x = 1: the sinks are convex and increasing in x). The one slow adaptation is a
state: calcitriol D (1-alpha-hydroxylase), relative to a normal kidney's,

    dD/dt = (S P^a_dp (1 + g_vd V) - D) / tau_D,

S the patient's synthesis capacity (falls with eGFR; on dialysis a small extrarenal share that
PTH does not drive, P^a_dp = 1: the kidney's 1-alpha-hydroxylase is gone),
V the vitamin D supplement (1000 IU/day). Calcium acts on nothing else: its feedback on
remodeling is off (docs/model.md, limitation), so every other state is unchanged by it.

State: ``N_STATES`` = 1 slot (calcitriol) appended after the tumour slots, at ``FIRST_ROW``.
Patient constants: row ``model.bone.CALCIUM`` of the site constants (``patient_constants``).
Parameters: block ``calcium`` of config/model.yaml, in the remodeling record prefixed ``ca_``.
Hypocalcemia: the loop keeps per patient the calcium at the end of the last step, its nadir
and the first day below each of the three grade thresholds (``track``, ``N_TRACK`` values).
"""

from __future__ import annotations

import math

from osteotrial.model import metastasis
from osteotrial.model.compiled import equation

FIRST_ROW = metastasis.FIRST_ROW + metastasis.N_STATES
CALCITRIOL = FIRST_ROW
N_STATES = 1
# columns of the patient's calcium constants (row model.bone.CALCIUM of the site constants)
C0, URINE0, DIALYSIS_L, SYNTHESIS, BONE_FLUX, LOSS = range(6)
N_GRADES = 3
# the tracked values per patient (engine work array): calcium at the end of the last step,
# its nadir, the first day below each grade threshold (nan: not yet)
PREV, NADIR, FIRST_BELOW = 0, 1, 2
N_TRACK = FIRST_BELOW + N_GRADES
NEWTON_ITERATIONS = 8
X_MIN, X_MAX = 0.2, 2.0  # the solve's bounds on calcium relative to baseline


@equation
def patient_constants(egfr: float, dialysis: float, z: float, turnover_mult: float, r, out) -> None:
    """Write the patient's calcium constants into out[0:6]: baseline calcium (mmol/L, the
    population's mean plus z SDs, on dialysis the dialysis population's), urinary calcium at
    baseline, dialysis exchange (L/day, 0 without), calcitriol synthesis capacity, bone flux
    (mmol/day) and the endogenous loss that closes her balance."""
    on = dialysis > 0.5
    if on:
        c0 = r.ca_dialysis_serum_calcium_mmol_l + r.ca_dialysis_serum_calcium_sd_mmol_l * z
        urine0, exchange = 0.0, r.ca_dialysis_exchange_l_per_day
        synthesis = r.ca_dialysis_calcitriol_synthesis_frac
    else:
        c0 = r.ca_serum_calcium_mmol_l + r.ca_serum_calcium_sd_mmol_l * z
        g = egfr / r.ca_reference_egfr_ml_min_1_73m2
        urine0, exchange = r.ca_urine_calcium_mmol_per_day * g, 0.0
        half = r.ca_calcitriol_half_egfr_ml_min_1_73m2 / r.ca_reference_egfr_ml_min_1_73m2
        synthesis = g / (g + half) * (1.0 + half)
    out[C0] = min(max(c0, 1.5), 3.0)
    out[URINE0] = urine0
    out[DIALYSIS_L] = exchange
    out[SYNTHESIS] = synthesis
    out[BONE_FLUX] = r.ca_bone_flux_mmol_per_day * r.ca_resorption_share_frac * turnover_mult
    out[LOSS] = gut_mmol_per_day(synthesis, 0.0, r) - urine0


@equation
def baseline(y, const) -> None:
    """Write the calcitriol slot at the patient's steady state (her synthesis capacity)."""
    y[CALCITRIOL] = const[SYNTHESIS]


@equation(inline=True)
def gut_mmol_per_day(calcitriol: float, supplement_mmol: float, r) -> float:
    """Return the calcium absorbed from the gut: f_abs D^a_g (diet + supplement), mmol/day."""
    intake = r.ca_diet_calcium_mmol_per_day + supplement_mmol
    return r.ca_gut_absorption_frac * calcitriol**r.ca_gut_calcitriol_exponent * intake


@equation(inline=True)
def pth_rel(x: float, r) -> float:
    """Return PTH relative to the patient's baseline at calcium x (relative): x^-gamma,
    at most P_max (quasi-steady secretion)."""
    return min(math.exp(-r.ca_pth_calcium_exponent * math.log(x)), r.ca_pth_max_rel)


@equation
def serum_calcium(oca: float, oba: float, calcitriol: float, supplement_mmol, const, r):
    """Return serum total calcium (mmol/L) of the quasi-steady balance at osteoclasts oca,
    osteoblasts oba (relative), calcitriol and a calcium supplement (mmol/day)."""
    c0 = const[C0]
    d_rel = calcitriol / const[SYNTHESIS]
    inflow = gut_mmol_per_day(calcitriol, supplement_mmol, r) - const[LOSS]
    inflow += const[BONE_FLUX] * (oca - oba)
    renal = const[URINE0] * math.exp(-r.ca_reabsorption_calcitriol_exponent * math.log(d_rel))
    dialysis = const[DIALYSIS_L] * c0
    k = r.ca_reabsorption_pth_exponent * r.ca_pth_calcium_exponent
    gamma = r.ca_pth_calcium_exponent
    p_cap = math.exp(-math.log(r.ca_pth_max_rel) / gamma)
    surface = r.ca_pth_bone_release_mmol_per_day * const[SYNTHESIS]
    x = 1.0
    for _ in range(NEWTON_ITERATIONS):
        if x > p_cap:  # P = x^-gamma, E = E_0' x^(1 + k)
            log_x = math.log(x)
            xk, p = math.exp(k * log_x), math.exp(-gamma * log_x)
            f = inflow + surface * (p - 1.0) - renal * x * xk - dialysis * (x - 1.0)
            slope = surface * gamma * p / x + renal * (1.0 + k) * xk + dialysis
        else:  # PTH at its maximum: E linear in x, the surface release at its most
            e_cap = renal * math.exp(-r.ca_reabsorption_pth_exponent * math.log(r.ca_pth_max_rel))
            f = inflow + surface * (r.ca_pth_max_rel - 1.0) - e_cap * x - dialysis * (x - 1.0)
            slope = e_cap + dialysis
        x = min(max(x + f / slope, X_MIN), X_MAX)
    return c0 * x


@equation(inline=True)
def supplement_mmol(levels, first_channel: int) -> float:
    """Return the calcium supplement (mmol/day) of a step's exposure channels (the channel
    holds mg/day; 40.08 mg per mmol)."""
    return levels[first_channel] / 40.08


@equation
def rhs(y, oca: float, oba: float, levels, first_channel: int, const, r, dy) -> None:
    """Write d(calcitriol)/dt per day into dy: first order towards S P^a_dp (1 + g_vd V).

    ``levels``: the step's exposure channels; ``first_channel``: the calcium supplement's
    (mg/day), the vitamin D supplement's (IU/day) after it (model.exposure.CHANNELS).
    """
    d = y[CALCITRIOL]
    ca = serum_calcium(oca, oba, d, supplement_mmol(levels, first_channel), const, r)
    p = pth_rel(ca / const[C0], r) if const[DIALYSIS_L] <= 0.0 else 1.0  # extrarenal: no PTH
    vd = 1.0 + r.ca_vitamin_d_calcitriol_gain_per_1000_iu * levels[first_channel + 1] / 1000.0
    target = const[SYNTHESIS] * math.exp(r.ca_calcitriol_pth_exponent * math.log(p)) * vd
    dy[CALCITRIOL] = (target - d) / r.ca_calcitriol_time_days


@equation
def start_track(const, r, track) -> None:
    """Set a patient's tracked values at day 0: calcium and nadir at baseline, the first day
    below each threshold 0 if she starts below it, else nan."""
    track[PREV] = const[C0]
    track[NADIR] = const[C0]
    for g in range(N_GRADES):
        track[FIRST_BELOW + g] = 0.0 if const[C0] < grade_threshold(g, r) else math.nan


@equation
def grade_threshold(g: int, r) -> float:
    """Return the threshold (mmol/L) of hypocalcemia grade g (0, 1, 2: config order)."""
    if g == 0:
        return r.ca_grade_1_below_mmol_l
    if g == 1:
        return r.ca_grade_2_below_mmol_l
    return r.ca_grade_3_below_mmol_l


@equation
def track(ca: float, t: float, dt: float, r, track) -> None:
    """Update the tracked values with calcium ca at the end of a step from day t: nadir, and
    the first day below each threshold, interpolated linearly within the step."""
    prev = track[PREV]
    track[NADIR] = min(track[NADIR], ca)
    for g in range(N_GRADES):
        thr = grade_threshold(g, r)
        if ca < thr and math.isnan(track[FIRST_BELOW + g]):
            frac = (prev - thr) / (prev - ca) if prev > thr else 0.0
            track[FIRST_BELOW + g] = t + dt * frac
    track[PREV] = ca
