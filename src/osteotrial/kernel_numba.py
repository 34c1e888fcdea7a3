"""The numba engine of simulate_arm: the same time loop, compiled, one patient at a time.

``simulate.py`` documents the loop; this module repeats it operation for operation for one
patient at a time inside a compiled loop over the chunk's patients (``@njit``, no fastmath,
float64 throughout), so that it agrees with the numpy engine to rounding (tests check 1e-9
relative) while every intermediate lives in registers instead of chunk-sized temporaries.
Differences from the numpy engine are at the last-bit level only:

- the per-patient PK propagator exp(A h / 2) comes from a scaling-and-squaring Taylor series
  (``expm3``) instead of scipy's Pade approximant (scipy's expm loops over patients in Python
  and cost about as much as the whole numba loop);
- the Wright omega function is the Fritsch-Shafer-Crowley iteration used by
  ``scipy.special.wrightomega`` for real arguments, written out here (``wright_omega``).

A patient whose PK amounts are all zero (no dose given yet) skips the PK substeps; the numpy
engine does the same for a whole chunk, and zero amounts stay zero there as well.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from osteotrial.units import DAYS_PER_YEAR

FLOAT_EPS = 2.220446049250313e-16

# layout of the packed parameter vectors (see pack_* in simulate.py)
N_REMODELING = 23


@njit(cache=True)
def wright_omega(x: float) -> float:
    """Return the Wright omega function of a real argument (FSC iteration, as scipy)."""
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
    r = x - w - math.log(w)
    wp1 = w + 1.0
    e = (
        r
        / wp1
        * (2.0 * wp1 * (wp1 + 2.0 / 3.0 * r) - r)
        / (2.0 * wp1 * (wp1 + 2.0 / 3.0 * r) - 2.0 * r)
    )
    w = w * (1.0 + e)
    r2 = r * r
    wp2 = wp1 * wp1
    if abs((2.0 * w * w - 8.0 * w - 1.0) * (r2 * r2)) >= FLOAT_EPS * 72.0 * (wp2 * wp2 * wp2):
        r = x - w - math.log(w)
        wp1 = w + 1.0
        e = (
            r
            / wp1
            * (2.0 * wp1 * (wp1 + 2.0 / 3.0 * r) - r)
            / (2.0 * wp1 * (wp1 + 2.0 / 3.0 * r) - 2.0 * r)
        )
        w = w * (1.0 + e)
    return w


@njit(cache=True)
def expm3(a: np.ndarray) -> np.ndarray:
    """Return exp(a) of a 3x3 matrix: scaling by 2^-s (norm <= 1/2), Taylor to order 18."""
    norm = 0.0
    for i in range(3):
        row = abs(a[i, 0]) + abs(a[i, 1]) + abs(a[i, 2])
        norm = max(norm, row)
    s = 0
    while norm > 0.5:
        norm *= 0.5
        s += 1
    scaled = a / (2.0**s)
    out = np.eye(3)
    term = np.eye(3)
    for k in range(1, 19):
        term = term @ scaled / k
        out = out + term
    for _ in range(s):
        out = out @ out
    return out


@njit(cache=True)
def propagators(ka, vc, vp, q, cl, h_half):
    """Return exp(A h_half) per patient, shape (n, 3, 3), A the linear PK matrix."""
    n = vc.shape[0]
    out = np.empty((n, 3, 3))
    a = np.zeros((3, 3))
    for i in range(n):
        a[0, 0] = -ka
        a[1, 0] = ka
        a[1, 1] = -(cl[i] + q[i]) / vc[i]
        a[1, 2] = q[i] / vp[i]
        a[2, 1] = q[i] / vc[i]
        a[2, 2] = -q[i] / vp[i]
        out[i] = expm3(a * h_half)
    return out


@njit(cache=True)
def _linear(p, a):
    o0 = p[0, 0] * a[0] + p[0, 1] * a[1] + p[0, 2] * a[2]
    o1 = p[1, 0] * a[0] + p[1, 1] * a[1] + p[1, 2] * a[2]
    o2 = p[2, 0] * a[0] + p[2, 1] * a[1] + p[2, 2] * a[2]
    a[3] = a[3] + (a[0] + a[1] + a[2]) - (o0 + o1 + o2)
    a[0] = o0
    a[1] = o1
    a[2] = o2


@njit(cache=True)
def _saturable(a, km_amount, vmax_h):
    central = a[1]
    if central > 0.0:
        arg = math.log(central / km_amount) + (central - vmax_h) / km_amount
        after = min(km_amount * wright_omega(arg), central)
    else:
        after = 0.0
    a[1] = after
    a[3] = a[3] + (central - after)


@njit(cache=True)
def _pk_advance(a, mid, p, km_amount, vmax_h, n_sub):
    """Advance amounts ``a`` (4,) in place by one step; store the mid-step amounts in ``mid``."""
    if a[0] == 0.0 and a[1] == 0.0 and a[2] == 0.0:
        for j in range(4):
            mid[j] = a[j]
        return
    for half in range(2):
        for _ in range(n_sub):
            _linear(p, a)
            _saturable(a, km_amount, vmax_h)
            _linear(p, a)
        if half == 0:
            for j in range(4):
                mid[j] = a[j]


@njit(cache=True)
def _pow_log(log_x, y):
    """Return x ** y from log(x): exactly 1 at x = 1 (the untreated steady state)."""
    if log_x == 0.0:
        return 1.0
    return math.exp(y * log_x)


@njit(cache=True)
def _hill(x, kd):
    return x * (1.0 + kd) / (x + kd)


@njit(cache=True)
def _wnt_raw(rom_nm, rp):
    """Return Wnt activity (remodeling.wnt_signal of free sclerostin) at a romosozumab level."""
    kd = rp[16]
    free = kd / (kd + rom_nm)
    ratio = rp[15] / rp[14]
    fs = free / (free + ratio * (1.0 - free))
    kw = 1.0 / (rp[17] - 1.0)
    return (1.0 + kw) / (kw + fs)


@njit(cache=True)
def _bone_rhs(y, t, den_nm, wnt_raw, log_wnt_raw, rp, bp, site_k, site_loss, site_inv_k, dy):
    """Right-hand side of bone cells and BMD (simulate.bone_rhs) for one patient.

    site_k, site_loss, site_inv_k: the patient's k, loss per day and 1 / k per site (loop
    invariants, computed once per patient as in bmd.bmd_rhs).
    """
    obp, oba, oca, precursor, tolerance = y[0], y[1], y[2], y[3], y[4]
    wnt = 1.0 + (wnt_raw - 1.0) / (1.0 + tolerance)
    # powers as exp(y log x), one log per base (pow itself costs three times an exp)
    log_wnt = math.log(wnt)
    log_oba = math.log(oba)
    log_oca = math.log(oca)
    commitment = _pow_log(log_wnt, rp[18]) * _hill(oca, rp[3])
    differentiation = _pow_log(log_wnt, rp[19]) * (1.0 + rp[4]) / (oca + rp[4]) * obp
    opg_rel = oba * _pow_log(log_wnt_raw, rp[20])
    a_opg, a_rank, f_ocy = rp[6], rp[7], rp[8]
    production = f_ocy + (1.0 - f_ocy) * obp
    drug = rp[12] * rp[13] * den_nm
    rankl = production * (1.0 + a_opg + a_rank) / (1.0 + a_opg * opg_rel + a_rank + drug)
    recruitment = precursor * _hill(rankl, rp[9])
    dy[0] = rp[0] * (commitment - differentiation)
    dy[1] = rp[1] * (differentiation - oba)
    dy[2] = rp[2] * (recruitment - _hill(oca, rp[5]) * oca)
    dy[3] = rp[10] * (1.0 - precursor) + rp[11] * (1.0 - recruitment)
    dy[4] = rp[21] * (rp[22] * (wnt_raw - 1.0) - tolerance)
    for j in range(3):
        deficit = 1.0 - site_loss[j] * (t + site_inv_k[j])
        form = deficit * _pow_log(log_oba, bp[j, 1])
        dy[5 + j] = site_k[j] * (form - _pow_log(log_oca, bp[j, 2]) * y[5 + j])


@njit(cache=True)
def _crossing(before, after, thr, t, dt):
    span = max(after - before, 1e-300)
    frac = (thr - before) / span
    return t + dt * min(max(frac, 0.0), 1.0)


@njit(cache=True)
def simulate_chunk(
    n_steps,
    dt,
    n_sub,
    dose_den,
    dose_rom,
    pk_scalars,  # (2, 3): F, km_mg_l, molar_mass_kda per drug
    pk_vc,  # (2, n)
    pk_vmax,  # (2, n)
    prop,  # (2, n, 3, 3)
    rp,  # (23,) remodeling
    bp,  # (3, 4) per site: k, gamma_ob, gamma_oc, loss pct/yr
    turnover,
    loss_mult,
    bmd0,  # (3, n) baseline BMD g/cm2 per site
    tscore0,  # (3, n)
    sd_site,  # (3,)
    fr_type,  # (3, 6): log base, age_log, log rr_sd, site index, m, x50
    fr_glob,  # (6,): ref age, ref tscore, log rr incident, log d70, g death, rr death hip
    static,  # (3, n) static log risk per fracture type
    age0,
    prior_hip,  # (n,) bool
    thresholds,  # (3, 3, n): type, k (hip: third is +inf), patient
    n_thr,  # (3,) int: thresholds per type
    thr_death,
    record_steps,  # (n_rec,)
    pk_steps,  # (n_pk,)
    rec,  # out (10, n_rec, n): LS TH FN p1np ctx vertebral hip nonvertebral death
    conc,  # out (2, n_pk, n) ng/mL
    days,  # out (3, 3, n) event days (nan)
    death_day,  # out (n,)
    finite,  # out (n,) bool
):
    """Simulate every patient of a chunk; fills the output arrays in place."""
    n = age0.shape[0]
    n_rec = record_steps.shape[0]
    n_pk = pk_steps.shape[0]
    y = np.empty(8)
    k1 = np.empty(8)
    k2 = np.empty(8)
    k3 = np.empty(8)
    k4 = np.empty(8)
    tmp = np.empty(8)
    amounts = np.zeros((2, 4))
    mids = np.zeros((2, 4))
    starts = np.zeros((2, 4))
    c_nm = np.zeros((2, 3))
    cum = np.zeros(4)
    prev_h = np.zeros(4)
    haz = np.zeros(4)
    tsc = np.zeros(3)
    site_k = np.zeros(3)
    site_loss = np.zeros(3)
    site_inv_k = np.zeros(3)
    wnt = np.zeros(3)
    log_wnt = np.zeros(3)
    log_rr_inc = fr_glob[2]
    for i in range(n):
        for j in range(8):
            y[j] = 1.0
        y[4] = 0.0
        amounts[:, :] = 0.0
        cum[:] = 0.0
        prev_h[:] = 0.0
        alive = True
        hip_before = prior_hip[i]
        first_event = np.inf
        first_hip = np.inf
        for a in range(3):
            for k in range(3):
                days[a, k, i] = np.nan
        death_day[i] = np.nan
        r_next = 0  # record_steps and pk_steps are sorted
        p_next = 0
        km_amount = (pk_scalars[0, 1] * pk_vc[0, i], pk_scalars[1, 1] * pk_vc[1, i])
        for j in range(3):
            site_k[j] = bp[j, 0] * turnover[i]
            site_loss[j] = bp[j, 3] / 100.0 / DAYS_PER_YEAR * loss_mult[i]
            site_inv_k[j] = 1.0 / site_k[j]
        for step in range(n_steps + 1):
            if step > 0:
                s = step - 1
                t = s * dt
                amounts[0, 0] += pk_scalars[0, 0] * dose_den[s]
                amounts[1, 0] += pk_scalars[1, 0] * dose_rom[s]
                for d in range(2):
                    for j in range(4):
                        starts[d, j] = amounts[d, j]
                    _pk_advance(
                        amounts[d],
                        mids[d],
                        prop[d, i],
                        km_amount[d],
                        pk_vmax[d, i] * (dt / (2 * n_sub)),
                        n_sub,
                    )
                    c_nm[d, 0] = starts[d, 1] / pk_vc[d, i] * 1.0e3 / pk_scalars[d, 2]
                    c_nm[d, 1] = mids[d, 1] / pk_vc[d, i] * 1.0e3 / pk_scalars[d, 2]
                    c_nm[d, 2] = amounts[d, 1] / pk_vc[d, i] * 1.0e3 / pk_scalars[d, 2]
                for m in range(3):
                    wnt[m] = _wnt_raw(c_nm[1, m], rp)
                    log_wnt[m] = math.log(wnt[m])
                h = dt
                args = (rp, bp, site_k, site_loss, site_inv_k)
                _bone_rhs(y, t, c_nm[0, 0], wnt[0], log_wnt[0], *args, k1)
                for j in range(8):
                    tmp[j] = y[j] + 0.5 * h * k1[j]
                _bone_rhs(tmp, t + 0.5 * h, c_nm[0, 1], wnt[1], log_wnt[1], *args, k2)
                for j in range(8):
                    tmp[j] = y[j] + 0.5 * h * k2[j]
                _bone_rhs(tmp, t + 0.5 * h, c_nm[0, 1], wnt[1], log_wnt[1], *args, k3)
                for j in range(8):
                    tmp[j] = y[j] + h * k3[j]
                _bone_rhs(tmp, t + h, c_nm[0, 2], wnt[2], log_wnt[2], *args, k4)
                for j in range(8):
                    y[j] = y[j] + h / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j])
                # hazards at the end of the step
                t_end = (s + 1) * dt
                for j in range(3):
                    gain = bmd0[j, i] * (y[5 + j] - 1.0)
                    tsc[j] = tscore0[j, i] + gain / sd_site[j]
                if alive:
                    age = age0[i] + t_end / DAYS_PER_YEAR
                    incident = 1.0 if first_event <= t_end else 0.0
                    ctx = y[2]
                    for a in range(3):
                        site = int(fr_type[a, 3])
                        log_h = (
                            fr_type[a, 0]
                            + static[a, i]
                            + fr_type[a, 1] * (age - fr_glob[0])
                            - fr_type[a, 2] * (tsc[site] - fr_glob[1])
                            + log_rr_inc * incident
                        )
                        gap = 1.0 - ctx
                        mult = 1.0 - fr_type[a, 4] * gap / (abs(gap) + fr_type[a, 5])
                        haz[a] = math.exp(log_h) * mult
                    log_d = fr_glob[3] + fr_glob[4] * (age - fr_glob[0])
                    hip_now = hip_before or first_hip <= t_end
                    haz[3] = math.exp(log_d) * (fr_glob[5] if hip_now else 1.0)
                else:
                    for a in range(4):
                        haz[a] = 0.0
                for a in range(4):
                    before = cum[a]
                    after = before + 0.5 * (prev_h[a] + haz[a]) * dt / DAYS_PER_YEAR
                    if a == 3:
                        thr = thr_death[i]
                        if before < thr and after >= thr:
                            death_day[i] = _crossing(before, after, thr, t, dt)
                            alive = False
                    else:
                        for k in range(n_thr[a]):
                            thr = thresholds[a, k, i]
                            if before < thr and after >= thr:
                                day = _crossing(before, after, thr, t, dt)
                                days[a, k, i] = day
                                first_event = min(first_event, day)
                                if a == 1:
                                    first_hip = min(first_hip, day)
                    cum[a] = after
                    prev_h[a] = haz[a]
            while r_next < n_rec and record_steps[r_next] == step:
                r = r_next
                for j in range(3):
                    rec[j, r, i] = y[5 + j] * bmd0[j, i]
                rec[3, r, i] = y[1]
                rec[4, r, i] = y[2]
                for a in range(4):
                    rec[5 + a, r, i] = cum[a]
                r_next += 1
            while p_next < n_pk and pk_steps[p_next] == step:
                for d in range(2):
                    conc[d, p_next, i] = amounts[d, 1] / pk_vc[d, i] * 1.0e3
                p_next += 1
        ok = True
        for j in range(8):
            if not math.isfinite(y[j]):
                ok = False
        finite[i] = ok
