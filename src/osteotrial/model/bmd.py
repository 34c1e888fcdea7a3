"""BMD per site and bone turnover markers, as compiled scalar functions of one patient.

BMD (relative to the patient's baseline, B = 1 at day 0) follows the indirect-response link of
Peterson & Riggs 2012 (S34), driven by active osteoblasts b and osteoclasts c:

    dB/dt = k (e(t) b^g_ob - c^g_oc B)

Site-specific k and exponents make the trabecular-rich spine respond more than the hip.
e(t) = 1 - lambda (t + 1/k) is the age-related formation deficit: with b = c = 1 it makes
B(t) = 1 - lambda t exactly, the slow untreated loss of postmenopausal women (lambda from
untreated_loss_pct_per_year). The patient's turnover multiplier scales k; the loss-rate
multiplier scales lambda. ``site`` is a site record (model.records.SITE_RECORD).

Markers are readouts of the cell pools, relative to baseline: P1NP (formation) = b,
CTX (resorption) = c (OpenBoneMin: CTX % = 100 OC/OC0, S45).
"""

from __future__ import annotations

from osteotrial.model.compiled import equation
from osteotrial.model.remodeling import pow_log
from osteotrial.units import DAYS_PER_YEAR


@equation(inline=True)
def site_rate_per_day(site, turnover_mult: float) -> float:
    """Return the patient's BMD rate constant k at a site (per day)."""
    return site.k_per_day * turnover_mult


@equation(inline=True)
def site_loss_per_day(site, loss_mult: float) -> float:
    """Return the patient's untreated loss rate lambda at a site (fraction of baseline per day)."""
    return site.untreated_loss_pct_per_year / 100.0 / DAYS_PER_YEAR * loss_mult


@equation(inline=True)
def bmd_rhs(
    bmd_rel: float, log_oba: float, log_oca: float, t_days: float, site, k, loss, inv_k
) -> float:
    """Return dB/dt per day at one site; k, loss = lambda and inv_k = 1 / k of the patient."""
    deficit = 1.0 - loss * (t_days + inv_k)
    formation = deficit * pow_log(log_oba, site.gamma_ob)
    return k * (formation - pow_log(log_oca, site.gamma_oc) * bmd_rel)


@equation(inline=True)
def p1np_rel(oba: float) -> float:
    """Return P1NP relative to baseline (formation readout)."""
    return oba


@equation(inline=True)
def ctx_rel(oca: float) -> float:
    """Return CTX relative to baseline (resorption readout)."""
    return oca
