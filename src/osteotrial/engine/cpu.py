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
  ``scipy.special.wrightomega`` for real arguments, written out here (``wright_omega``, one
  division per update instead of two);
- within a step, the two linear half steps that meet between saturable steps are applied as
  one linear step exp(A h) (7 of 16 matrix products per drug and day saved);
- powers x ** y are exp(y log(x)) with one log per base (x = 1 gives exactly 1);
- ``LANES`` patients advance together (independent work for the out-of-order core) and
  ``error_model="numpy"`` drops Python's zero-division checks (a division by zero gives inf
  or nan, as in numpy; the loop then stops with the engine's non-finite-state error).

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


@njit(cache=True, error_model="numpy")
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
    z = 2.0 * wp1 * (wp1 + 2.0 / 3.0 * r)
    e = r * (z - r) / (wp1 * (z - 2.0 * r))
    w = w * (1.0 + e)
    r2 = r * r
    wp2 = wp1 * wp1
    if abs((2.0 * w * w - 8.0 * w - 1.0) * (r2 * r2)) >= FLOAT_EPS * 72.0 * (wp2 * wp2 * wp2):
        r = x - w - math.log(w)
        wp1 = w + 1.0
        z = 2.0 * wp1 * (wp1 + 2.0 / 3.0 * r)
        e = r * (z - r) / (wp1 * (z - 2.0 * r))
        w = w * (1.0 + e)
    return w


@njit(cache=True, error_model="numpy")
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


@njit(cache=True, error_model="numpy")
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


@njit(cache=True, error_model="numpy")
def _linear(p, a):
    o0 = p[0, 0] * a[0] + p[0, 1] * a[1] + p[0, 2] * a[2]
    o1 = p[1, 0] * a[0] + p[1, 1] * a[1] + p[1, 2] * a[2]
    o2 = p[2, 0] * a[0] + p[2, 1] * a[1] + p[2, 2] * a[2]
    a[3] = a[3] + (a[0] + a[1] + a[2]) - (o0 + o1 + o2)
    a[0] = o0
    a[1] = o1
    a[2] = o2


@njit(cache=True, error_model="numpy")
def _saturable(a, km_amount, vmax_h):
    central = a[1]
    if central > 0.0:
        arg = math.log(central / km_amount) + (central - vmax_h) / km_amount
        after = min(km_amount * wright_omega(arg), central)
    else:
        after = 0.0
    a[1] = after
    a[3] = a[3] + (central - after)


@njit(cache=True, error_model="numpy")
def _pow_log(log_x, y):
    """Return x ** y from log(x): exactly 1 at x = 1 (the untreated steady state)."""
    if log_x == 0.0:
        return 1.0
    return math.exp(y * log_x)


@njit(cache=True, error_model="numpy")
def _hill(x, kd):
    return x * (1.0 + kd) / (x + kd)


@njit(cache=True, error_model="numpy", inline="always")
def _wnt_raw(rom_nm, rp):
    """Return Wnt activity (remodeling.wnt_signal of free sclerostin) at a romosozumab level."""
    kd = rp[16]
    free = kd / (kd + rom_nm)
    ratio = rp[15] / rp[14]
    fs = free / (free + ratio * (1.0 - free))
    kw = 1.0 / (rp[17] - 1.0)
    return (1.0 + kw) / (kw + fs)


@njit(cache=True, error_model="numpy", inline="always")
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


@njit(cache=True, error_model="numpy")
def _crossing(before, after, thr, t, dt):
    span = max(after - before, 1e-300)
    frac = (thr - before) / span
    return t + dt * min(max(frac, 0.0), 1.0)


LANES = 8  # patients advanced together: independent work for the out-of-order core
RK4_TIME = (0.0, 0.5, 0.5, 1.0)  # stage time offsets (fraction of the step)
RK4_CONC = (0, 1, 1, 2)  # concentration used by each stage: start, middle, end of the step


@njit(cache=True, error_model="numpy")
def simulate_chunk(
    n_steps,
    dt,
    n_sub,
    dose_den,
    dose_rom,
    pk_scalars,  # (2, 3): F, km_mg_l, molar_mass_kda per drug
    pk_vc,  # (2, n)
    pk_vmax,  # (2, n)
    prop,  # (2, n, 3, 3): exp(A h / 2), h = dt / (2 n_sub)
    prop_full,  # (2, n, 3, 3): exp(A h)
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
    record_steps,  # (n_rec,) sorted
    pk_steps,  # (n_pk,) sorted
    rec,  # out (9, n_rec, n): LS TH FN p1np ctx vertebral hip nonvertebral death
    conc,  # out (2, n_pk, n) ng/mL
    days,  # out (3, 3, n) event days (nan)
    death_day,  # out (n,)
    finite,  # out (n,) bool
):
    """Simulate every patient of a chunk, LANES patients at a time; fills the outputs.

    Each patient's arithmetic is that of the numpy engine's time loop; the patients of a
    block only share the loop, so a patient's result does not depend on its neighbours.
    """
    n = age0.shape[0]
    n_rec = record_steps.shape[0]
    n_pk = pk_steps.shape[0]
    B = LANES
    y = np.empty((B, 8))
    ks = np.empty((4, B, 8))  # RK4 stage derivatives k1..k4
    tmp = np.empty((B, 8))
    amounts = np.zeros((2, B, 4))
    c_nm = np.zeros((2, 3, B))
    active = np.zeros((2, B), dtype=np.bool_)
    cum = np.zeros((B, 4))
    prev_h = np.zeros((B, 4))
    haz = np.zeros((B, 4))
    site_k = np.zeros((B, 3))
    site_loss = np.zeros((B, 3))
    site_inv_k = np.zeros((B, 3))
    wnt = np.zeros((3, B))
    log_wnt = np.zeros((3, B))
    km_amount = np.zeros((2, B))
    vmax_h = np.zeros((2, B))
    alive = np.zeros(B, dtype=np.bool_)
    hip_before = np.zeros(B, dtype=np.bool_)
    first_event = np.zeros(B)
    first_hip = np.zeros(B)
    h_sub = dt / (2 * n_sub)
    for lo in range(0, n, B):
        m = min(B, n - lo)
        for q in range(m):
            i = lo + q
            for j in range(8):
                y[q, j] = 1.0
            y[q, 4] = 0.0
            amounts[:, q, :] = 0.0
            cum[q, :] = 0.0
            prev_h[q, :] = 0.0
            alive[q] = True
            hip_before[q] = prior_hip[i]
            first_event[q] = np.inf
            first_hip[q] = np.inf
            for a in range(3):
                for k in range(3):
                    days[a, k, i] = np.nan
            death_day[i] = np.nan
            for d in range(2):
                km_amount[d, q] = pk_scalars[d, 1] * pk_vc[d, i]
                vmax_h[d, q] = pk_vmax[d, i] * h_sub
            for j in range(3):
                site_k[q, j] = bp[j, 0] * turnover[i]
                site_loss[q, j] = bp[j, 3] / 100.0 / DAYS_PER_YEAR * loss_mult[i]
                site_inv_k[q, j] = 1.0 / site_k[q, j]
        r_next = 0
        p_next = 0
        for step in range(n_steps + 1):
            if step > 0:
                s = step - 1
                t = s * dt
                for d in range(2):
                    dose = dose_den[s] if d == 0 else dose_rom[s]
                    for q in range(m):
                        amounts[d, q, 0] += pk_scalars[d, 0] * dose
                        c_nm[d, 0, q] = (
                            amounts[d, q, 1] / pk_vc[d, lo + q] * 1.0e3 / pk_scalars[d, 2]
                        )
                        a = amounts[d, q]
                        active[d, q] = not (a[0] == 0.0 and a[1] == 0.0 and a[2] == 0.0)
                    for half in range(2):
                        # n_sub Strang steps L S L; the two linear half steps that meet
                        # between saturable steps are one linear step (prop_full)
                        for q in range(m):
                            if active[d, q]:
                                _linear(prop[d, lo + q], amounts[d, q])
                        for sub in range(n_sub):
                            if sub > 0:
                                for q in range(m):
                                    if active[d, q]:
                                        _linear(prop_full[d, lo + q], amounts[d, q])
                            for q in range(m):
                                if active[d, q]:
                                    _saturable(amounts[d, q], km_amount[d, q], vmax_h[d, q])
                        for q in range(m):
                            if active[d, q]:
                                _linear(prop[d, lo + q], amounts[d, q])
                        if half == 0:
                            for q in range(m):
                                c_nm[d, 1, q] = (
                                    amounts[d, q, 1] / pk_vc[d, lo + q] * 1.0e3 / pk_scalars[d, 2]
                                )
                    for q in range(m):
                        c_nm[d, 2, q] = (
                            amounts[d, q, 1] / pk_vc[d, lo + q] * 1.0e3 / pk_scalars[d, 2]
                        )
                for mm in range(3):
                    for q in range(m):
                        wnt[mm, q] = _wnt_raw(c_nm[1, mm, q], rp)
                        log_wnt[mm, q] = math.log(wnt[mm, q])
                h = dt
                # classical RK4; stage i reads concentrations at the start (0), middle (1) or
                # end (2) of the step, and the next stage starts from y + a[i+1] h k_i
                for stage in range(4):
                    src = y if stage == 0 else tmp
                    cm = RK4_CONC[stage]
                    for q in range(m):
                        _bone_rhs(
                            src[q],
                            t + RK4_TIME[stage] * h,
                            c_nm[0, cm, q],
                            wnt[cm, q],
                            log_wnt[cm, q],
                            rp,
                            bp,
                            site_k[q],
                            site_loss[q],
                            site_inv_k[q],
                            ks[stage, q],
                        )
                        if stage < 3:
                            for j in range(8):
                                tmp[q, j] = y[q, j] + RK4_TIME[stage + 1] * h * ks[stage, q, j]
                for q in range(m):
                    for j in range(8):
                        y[q, j] = y[q, j] + h / 6.0 * (
                            ks[0, q, j] + 2.0 * ks[1, q, j] + 2.0 * ks[2, q, j] + ks[3, q, j]
                        )
                t_end = (s + 1) * dt
                for q in range(m):
                    i = lo + q
                    if alive[q]:
                        age = age0[i] + t_end / DAYS_PER_YEAR
                        incident = 1.0 if first_event[q] <= t_end else 0.0
                        gap = 1.0 - y[q, 2]
                        for a in range(3):
                            site = int(fr_type[a, 3])
                            gain = bmd0[site, i] * (y[q, 5 + site] - 1.0)
                            tsc = tscore0[site, i] + gain / sd_site[site]
                            log_h = (
                                fr_type[a, 0]
                                + static[a, i]
                                + fr_type[a, 1] * (age - fr_glob[0])
                                - fr_type[a, 2] * (tsc - fr_glob[1])
                                + fr_glob[2] * incident
                            )
                            mult = 1.0 - fr_type[a, 4] * gap / (abs(gap) + fr_type[a, 5])
                            haz[q, a] = math.exp(log_h) * mult
                        log_d = fr_glob[3] + fr_glob[4] * (age - fr_glob[0])
                        hip_now = hip_before[q] or first_hip[q] <= t_end
                        haz[q, 3] = math.exp(log_d) * (fr_glob[5] if hip_now else 1.0)
                    else:
                        for a in range(4):
                            haz[q, a] = 0.0
                    for a in range(4):
                        before = cum[q, a]
                        after = before + 0.5 * (prev_h[q, a] + haz[q, a]) * dt / DAYS_PER_YEAR
                        if a == 3:
                            thr = thr_death[i]
                            if before < thr and after >= thr:
                                death_day[i] = _crossing(before, after, thr, t, dt)
                                alive[q] = False
                        else:
                            for k in range(n_thr[a]):
                                thr = thresholds[a, k, i]
                                if before < thr and after >= thr:
                                    day = _crossing(before, after, thr, t, dt)
                                    days[a, k, i] = day
                                    first_event[q] = min(first_event[q], day)
                                    if a == 1:
                                        first_hip[q] = min(first_hip[q], day)
                        cum[q, a] = after
                        prev_h[q, a] = haz[q, a]
            while r_next < n_rec and record_steps[r_next] == step:
                for q in range(m):
                    i = lo + q
                    for j in range(3):
                        rec[j, r_next, i] = y[q, 5 + j] * bmd0[j, i]
                    rec[3, r_next, i] = y[q, 1]
                    rec[4, r_next, i] = y[q, 2]
                    for a in range(4):
                        rec[5 + a, r_next, i] = cum[q, a]
                r_next += 1
            while p_next < n_pk and pk_steps[p_next] == step:
                for q in range(m):
                    for d in range(2):
                        conc[d, p_next, lo + q] = amounts[d, q, 1] / pk_vc[d, lo + q] * 1.0e3
                p_next += 1
        for q in range(m):
            ok = True
            for j in range(8):
                if not math.isfinite(y[q, j]):
                    ok = False
            finite[lo + q] = ok
