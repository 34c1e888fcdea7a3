"""Pharmacokinetics of denosumab and romosozumab for one patient, as compiled scalar functions.

Both antibodies: first-order SC absorption from a depot, two compartments, linear plus
saturable (Michaelis-Menten) elimination; the saturable term stands in for target-mediated
disposition (denosumab: RANKL, Sutjandra 2011 S35 / OpenBoneMin S45; romosozumab: sclerostin,
Eudy 2015 S38/S46):

    dA_depot/dt = -ka A_depot                      (a dose adds F * dose_mg at its dose time)
    dA_c/dt     = ka A_depot - CL C - Vmax C/(Km + C) - Q C + Q A_p / Vp
    dA_p/dt     = Q C - Q A_p / Vp
    dA_elim/dt  = CL C + Vmax C/(Km + C)           (eliminated amount, for mass balance)

with C = A_c / Vc in mg/L. Inter-individual variability scales CL, Vmax and Q (clearance
multiplier) and Vc, Vp (volume multiplier). ``p`` is a PK record (model.records.PK_RECORD).

``pk_rhs`` is this right-hand side (the LSODA reference integrates it). The fixed-step engines
use ``advance_half_step``: the saturable term is stiff at low concentration (romosozumab:
Vmax / (Km Vc) is about 19 per day), so it is split off (Strang splitting) and applied exactly,
dA/dt = -Vmax A / (Km Vc + A) having the solution A(t) = Km Vc omega(ln(A0 / (Km Vc)) +
(A0 - Vmax t) / (Km Vc)), omega the Wright omega function; the linear part is applied exactly
with a per-patient matrix exponential (``propagator``).

Every function takes scalars or small arrays of one patient and allocates nothing, so that
numba compiles it for the CPU loop, the CUDA kernel and the reference alike
(``model.compiled.equation``); plain Python can call them too.
"""

from __future__ import annotations

import math

import numpy as np

from osteotrial.arrays import FloatArray
from osteotrial.model.compiled import equation

N_PK_STATES = 4  # depot, central, peripheral, eliminated (mg)
DEPOT, CENTRAL, PERIPHERAL, ELIMINATED = 0, 1, 2, 3
VC, KM_AMOUNT, VMAX_H = 0, 1, 2  # per-patient step constants (step_constants)
FLOAT_EPS = 2.220446049250313e-16
TAYLOR_ORDER = 18  # terms of the matrix exponential after scaling to norm <= 1/2


@equation
def central_volume_l(p, v_mult: float) -> float:
    """Return the patient's central volume in L (population value times the IIV multiplier)."""
    return p.vc_l * v_mult


@equation
def concentration_nm(central_mg: float, vc_l: float, p) -> float:
    """Return the central concentration in nmol/L."""
    return central_mg / vc_l * 1.0e3 / p.molar_mass_kda


@equation
def concentration_ng_ml(central_mg: float, vc_l: float) -> float:
    """Return the central concentration in ng/mL (mg/L x 1000)."""
    return central_mg / vc_l * 1.0e3


@equation
def absorbed_dose_mg(dose_mg: float, p) -> float:
    """Return the amount that reaches the SC depot for a dose (F * dose)."""
    return p.bioavailability_frac * dose_mg


@equation
def pk_rhs(amounts, p, cl_mult: float, v_mult: float, d_amounts) -> None:
    """Write d(amounts)/dt in mg/day into d_amounts (4): depot, central, peripheral, eliminated."""
    vc, vp = p.vc_l * v_mult, p.vp_l * v_mult
    conc_mg_l = amounts[CENTRAL] / vc
    absorption = p.ka_per_day * amounts[DEPOT]
    linear = p.cl_l_per_day * cl_mult * conc_mg_l
    saturable = p.vmax_mg_per_day * cl_mult * conc_mg_l / (p.km_mg_l + conc_mg_l)
    to_peripheral = p.q_l_per_day * cl_mult * conc_mg_l
    from_peripheral = p.q_l_per_day * cl_mult * amounts[PERIPHERAL] / vp
    d_amounts[DEPOT] = -absorption
    d_amounts[CENTRAL] = absorption - linear - saturable - to_peripheral + from_peripheral
    d_amounts[PERIPHERAL] = to_peripheral - from_peripheral
    d_amounts[ELIMINATED] = linear + saturable


@equation
def linear_matrix(p, cl_mult: float, v_mult: float, scale: float, a) -> None:
    """Write scale x A into a (3x3), A the linear PK matrix of (depot, central, peripheral)."""
    vc, vp = p.vc_l * v_mult, p.vp_l * v_mult
    q, cl = p.q_l_per_day * cl_mult, p.cl_l_per_day * cl_mult
    for r in range(3):
        for c in range(3):
            a[r, c] = 0.0
    a[0, 0] = -p.ka_per_day * scale
    a[1, 0] = p.ka_per_day * scale
    a[1, 1] = -(cl + q) / vc * scale
    a[1, 2] = q / vp * scale
    a[2, 1] = q / vc * scale
    a[2, 2] = -q / vp * scale


@equation
def _matmul3(a, b, out) -> None:
    for r in range(3):
        for c in range(3):
            out[r, c] = a[r, 0] * b[0, c] + a[r, 1] * b[1, c] + a[r, 2] * b[2, c]


@equation
def expm3(a, out, term, tmp) -> None:
    """Write exp(a) of a 3x3 matrix into out: scaling by 2^-s (norm <= 1/2), Taylor series.

    a is overwritten (scaled); term and tmp are 3x3 work arrays.
    """
    norm = 0.0
    for r in range(3):
        norm = max(norm, abs(a[r, 0]) + abs(a[r, 1]) + abs(a[r, 2]))
    s = 0
    while norm > 0.5:
        norm *= 0.5
        s += 1
    factor = 2.0**s
    for r in range(3):
        for c in range(3):
            a[r, c] = a[r, c] / factor
            out[r, c] = 1.0 if r == c else 0.0
            term[r, c] = out[r, c]
    for k in range(1, TAYLOR_ORDER + 1):
        _matmul3(term, a, tmp)
        for r in range(3):
            for c in range(3):
                term[r, c] = tmp[r, c] / k
                out[r, c] = out[r, c] + term[r, c]
    for _ in range(s):
        _matmul3(out, out, tmp)
        for r in range(3):
            for c in range(3):
                out[r, c] = tmp[r, c]


@equation
def propagator(p, cl_mult: float, v_mult: float, h_days: float, out, work) -> None:
    """Write exp(A h) of the patient's linear PK into out (3x3); work: (3, 3, 3) scratch."""
    linear_matrix(p, cl_mult, v_mult, h_days, work[0])
    expm3(work[0], out, work[1], work[2])


@equation
def linear_step(prop, amounts) -> None:
    """Apply a linear propagator to (depot, central, peripheral); the loss goes to eliminated."""
    o0 = prop[0, 0] * amounts[0] + prop[0, 1] * amounts[1] + prop[0, 2] * amounts[2]
    o1 = prop[1, 0] * amounts[0] + prop[1, 1] * amounts[1] + prop[1, 2] * amounts[2]
    o2 = prop[2, 0] * amounts[0] + prop[2, 1] * amounts[1] + prop[2, 2] * amounts[2]
    amounts[3] = amounts[3] + (amounts[0] + amounts[1] + amounts[2]) - (o0 + o1 + o2)
    amounts[0] = o0
    amounts[1] = o1
    amounts[2] = o2


@equation
def wright_omega(x: float) -> float:
    """Return the Wright omega function of a real argument (the FSC iteration of scipy)."""
    if math.isnan(x):
        return x
    if math.isinf(x):
        return x if x > 0.0 else 0.0
    if x < -50.0:
        return math.exp(x)
    if x > 1e20:
        return x
    if x < -2.0:
        w = math.exp(x)
    elif x < 1.0:
        w = math.exp(2.0 * (x - 1.0) / 3.0)
    else:
        w = math.log(x)
        w = x - w + w / x
    r = x - w - math.log(w)  # first update, inline: its residual decides on a second
    wp1 = w + 1.0
    z = 2.0 * wp1 * (wp1 + 2.0 / 3.0 * r)
    w = w * (1.0 + r * (z - r) / (wp1 * (z - 2.0 * r)))
    r2 = r * r
    wp2 = wp1 * wp1
    if abs((2.0 * w * w - 8.0 * w - 1.0) * (r2 * r2)) >= FLOAT_EPS * 72.0 * (wp2 * wp2 * wp2):
        w = _fsc_update(x, w)
    return w


@equation
def _fsc_update(x: float, w: float) -> float:
    """Return one Fritsch-Shafer-Crowley update of w towards omega(x)."""
    r = x - w - math.log(w)
    wp1 = w + 1.0
    z = 2.0 * wp1 * (wp1 + 2.0 / 3.0 * r)
    return w * (1.0 + r * (z - r) / (wp1 * (z - 2.0 * r)))


@equation
def saturable_step(amounts, km_amount_mg: float, vmax_h_mg: float) -> None:
    """Apply saturable elimination exactly over h (vmax_h_mg = Vmax h, km_amount_mg = Km Vc)."""
    central = amounts[1]
    if central > 0.0:
        arg = math.log(central / km_amount_mg) + (central - vmax_h_mg) / km_amount_mg
        after = min(km_amount_mg * wright_omega(arg), central)
    else:
        after = 0.0
    amounts[1] = after
    amounts[3] = amounts[3] + (central - after)


@equation
def step_constants(p, cl_mult: float, v_mult: float, h_sub_days: float, const) -> None:
    """Write the patient's PK constants of a substep h into const (3): Vc, Km Vc, Vmax h."""
    vc = central_volume_l(p, v_mult)
    const[VC] = vc
    const[KM_AMOUNT] = p.km_mg_l * vc
    const[VMAX_H] = p.vmax_mg_per_day * cl_mult * h_sub_days


@equation
def advance_half_step(amounts, prop_half, prop_full, const, n_sub, m) -> None:
    """Advance lanes 0..m-1 by n_sub Strang steps (linear h/2, saturable h, linear h/2).

    amounts: (L, 4); prop_half = exp(A h/2), prop_full = exp(A h): (L, 3, 3); const: (L, 3)
    from ``step_constants``. The two linear half steps that meet between saturable steps are
    applied as one linear step; mass balance is exact. Lanes without drug are skipped (zero
    stays zero); the lanes advance together, independent work for the out-of-order core.
    """
    for q in range(m):
        if not is_empty(amounts[q]):
            linear_step(prop_half[q], amounts[q])
    for sub in range(n_sub):
        for q in range(m):
            if not is_empty(amounts[q]):
                if sub > 0:
                    linear_step(prop_full[q], amounts[q])
                saturable_step(amounts[q], const[q, KM_AMOUNT], const[q, VMAX_H])
    for q in range(m):
        if not is_empty(amounts[q]):
            linear_step(prop_half[q], amounts[q])


@equation
def is_empty(amounts) -> bool:
    """Return True when no drug is in the body (no dose given yet): nothing moves."""
    return amounts[0] == 0.0 and amounts[1] == 0.0 and amounts[2] == 0.0


def terminal_half_life_days(
    conc_daily: FloatArray, first_day: int = 30, last_day: int = 120
) -> float | FloatArray:
    """Return the half-life of a log-linear fit to a daily concentration curve (single dose).

    The window (days 30-120 after the dose by default) is the calibration's definition of the
    denosumab terminal half-life of targets.yaml. ``conc_daily``: one curve (a float back), or
    (n_sets, n_days), one curve per row (an array back, one fit per row: ``np.polyfit`` of
    all rows at once differs from the one-curve fit in the last bits).
    """
    days = np.arange(first_day, last_day + 1)
    log_conc = np.log(np.maximum(conc_daily[..., first_day : last_day + 1], 1e-12))
    if log_conc.ndim == 2:
        slopes = np.array([np.polyfit(days, row, 1)[0] for row in log_conc])
        return np.log(2.0) / np.where(1e-9 > -slopes, 1e-9, -slopes)  # max(-slope, 1e-9)
    slope = np.polyfit(days, log_conc, 1)[0]
    return float(np.log(2.0) / max(-slope, 1e-9))
