"""BMD per site and bone turnover markers.

BMD (relative to the patient's baseline, B = 1 at day 0) follows the indirect-response link of
Peterson & Riggs 2012 (S34), driven by active osteoblasts b and osteoclasts c:

    dB/dt = k (e(t) b^g_ob - c^g_oc B)

Site-specific k and exponents make the trabecular-rich spine respond more than the hip.
e(t) = 1 - lambda (t + 1/k) is the age-related formation deficit: with b = c = 1 it makes
B(t) = 1 - lambda t exactly, the slow untreated loss of postmenopausal women (lambda from
untreated_loss_pct_per_year). The patient's turnover multiplier scales k; the loss-rate
multiplier scales lambda.

Markers are readouts of the cell pools, relative to baseline: P1NP (formation) = b,
CTX (resorption) = c (OpenBoneMin: CTX % = 100 OC/OC0, S45).
"""

from __future__ import annotations

from osteotrial.arrays import FloatArray
from osteotrial.model.params import SiteBMDParams
from osteotrial.units import DAYS_PER_YEAR


def bmd_rhs(
    bmd_rel: FloatArray,
    oba: FloatArray,
    oca: FloatArray,
    t_days: float,
    site: SiteBMDParams,
    turnover_mult: FloatArray,
    loss_mult: FloatArray,
) -> FloatArray:
    """Return dB/dt per day for one site, shape (n_patients,); B is relative to baseline."""
    k = site.k_per_day * turnover_mult
    loss_per_day = site.untreated_loss_pct_per_year / 100.0 / DAYS_PER_YEAR * loss_mult
    deficit = 1.0 - loss_per_day * (t_days + 1.0 / k)
    return k * (deficit * oba**site.gamma_ob - oca**site.gamma_oc * bmd_rel)


def p1np_rel(oba: FloatArray) -> FloatArray:
    """Return P1NP relative to baseline (formation readout)."""
    return oba.copy()


def ctx_rel(oca: FloatArray) -> FloatArray:
    """Return CTX relative to baseline (resorption readout)."""
    return oca.copy()
