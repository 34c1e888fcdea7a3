"""BMD per site from a bone mass balance with mineralization; bone turnover markers.

Bone volume (relative to the site's baseline volume) changes by formation minus resorption,
driven by active osteoblasts b and osteoclasts c (Pivonka 2008 / Martinez-Reina & Pivonka
2019, S52/S47; the cell exponents as in Peterson & Riggs 2012, S34):

    formation  = (a - lambda) b^g_ob      resorption = a c^g_oc     (per day)

a is the site's remodeling rate (fraction of bone volume remodelled per day at baseline: the
activation frequency times the remodeling surface per bone volume, which is larger in porous,
low-BMD bone: ``surface_factor``), lambda the untreated loss: each
remodeling unit refills a fraction lambda / a less than it resorbed, so the loss is a negative
balance per unit times the activation rate, and an antiresorptive that lowers activation slows
it.

Formed tissue mineralizes by the Martinez-Reina & Pivonka law (model-anchors 6.7: no mineral
for a lag of 12 d, linear primary mineralization over 10 d to v_prim, then exponential
secondary mineralization towards v_max at kappa per day). Its packet-age queue is replaced by a
fixed-size chain, so that every engine keeps a small state per patient (tests check the chain
against the exact queue):

    osteoid (2 stages, lag / 2 each, no mineral, not resorbed)
    -> primary (2 stages, primary_days / 2 each, mineral v_prim / 4 and 3 v_prim / 4: the mean
       mineral of each half of the linear ramp)
    -> secondary (volume V_s and mineral M_s; every packet follows dv/dt = kappa (v_max - v),
       which is linear, so the pool's mineral obeys the same law exactly)

Resorption takes secondary bone at its mean mineral content M_s / V_s (osteoclasts do not pick
by age). Areal BMD is proportional to the mineral mass of the site (bone volume x mean mineral
content), so BMD relative to baseline is M(t) / M(0), M = sum of volume x mineral over stages.
Bone formed on an anabolic stays and keeps mineralizing under an antiresorptive; low turnover
ages the tissue, which then holds more mineral (the continued BMD gain on long denosumab);
high turnover after stopping an antiresorptive replaces old, well-mineralized bone by young
bone and gives the gain back.

Markers are readouts of the cell pools, relative to baseline: P1NP (formation) = b,
CTX (resorption) = c (OpenBoneMin: CTX % = 100 OC/OC0, S45).
"""

from __future__ import annotations

from osteotrial.model.compiled import equation
from osteotrial.model.remodeling import pow_log
from osteotrial.units import DAYS_PER_YEAR

SITE_STATES: tuple[str, ...] = (
    "osteoid_1",
    "osteoid_2",
    "primary_1",
    "primary_2",
    "secondary_volume",
    "secondary_mineral",
)
N_SITE_STATES = len(SITE_STATES)
OSTEOID_1, OSTEOID_2, PRIMARY_1, PRIMARY_2, SECONDARY, SECONDARY_MINERAL = range(N_SITE_STATES)


@equation(inline=True)
def surface_per_volume(volume_frac: float) -> float:
    """Return the bone surface per bone volume S_V(f) / f (per mm) of a volume fraction f.

    S_V(f) = 32.2 f - 93.9 f^2 + 134 f^3 - 101 f^4 + 28.8 f^5 (mm^-1; Lerebours 2016 as coded in
    cmodiz/Bone-Models, model-anchors 6.7, V-code): porous (low f) bone has more surface per
    volume, so more of it is remodelled per unit time. f is kept in [0.02, 0.98].
    """
    f = min(max(volume_frac, 0.02), 0.98)
    return 32.2 - 93.9 * f + 134.0 * f * f - 101.0 * f * f * f + 28.8 * f * f * f * f


@equation(inline=True)
def surface_factor(site, bmd0_g_cm2: float) -> float:
    """Return the patient's remodeling surface per volume relative to the site's reference.

    The reference is a woman at T-score -2.5 with bone volume fraction
    ``reference_volume_frac``; a patient's volume fraction scales with her baseline BMD.
    """
    reference_bmd = site.young_adult_mean_g_cm2 - 2.5 * site.young_adult_sd_g_cm2
    volume_frac = site.reference_volume_frac * bmd0_g_cm2 / reference_bmd
    return surface_per_volume(volume_frac) / surface_per_volume(site.reference_volume_frac)


@equation(inline=True)
def remodeling_per_day(site, turnover_mult: float, surface: float) -> float:
    """Return the patient's remodeling rate a at a site (fraction of bone volume per day)."""
    return site.remodeling_pct_per_year / 100.0 / DAYS_PER_YEAR * turnover_mult * surface


@equation(inline=True)
def loss_per_day(site, loss_mult: float, surface: float) -> float:
    """Return the patient's untreated loss rate lambda at a site (fraction per day): the deficit
    of each remodeling unit times the activation rate, which scales with the surface too."""
    return site.untreated_loss_pct_per_year / 100.0 / DAYS_PER_YEAR * loss_mult * surface


@equation(inline=True)
def primary_mineral(site, stage: int) -> float:
    """Return the mean mineral content of primary stage 0 or 1 (v_prim / 4, 3 v_prim / 4)."""
    return site.primary_mineral_frac * (0.25 + 0.5 * stage)


@equation(inline=True)
def mineral(y, row: int, site) -> float:
    """Return the site's mineral mass (mineral volume per baseline bone volume)."""
    return (
        primary_mineral(site, 0) * y[row + PRIMARY_1]
        + primary_mineral(site, 1) * y[row + PRIMARY_2]
        + y[row + SECONDARY_MINERAL]
    )


@equation(inline=True)
def bone_volume(y, row: int) -> float:
    """Return the site's bone volume relative to baseline (every stage)."""
    total = 0.0
    for k in range(SECONDARY + 1):
        total += y[row + k]
    return total


@equation
def initial_site(y, row: int, site, formation: float, kappa: float) -> float:
    """Write the site's untreated state at baseline volume 1 into y[row:row + 6]; return M(0).

    Stages hold formation F = a - lambda x residence time; resorption (a) exceeds the
    secondary pool's inflow F by the untreated loss, and its mineral content M_s / V_s is at
    the steady state of that slow decline (M_s and V_s fall at the same relative rate):
    M_s = (F v_prim + kappa v_max V_s) / (kappa + F / V_s), kappa the patient's secondary
    mineralization rate.
    """
    osteoid, primary = 0.5 * site.osteoid_lag_days, 0.5 * site.primary_days
    y[row + OSTEOID_1] = formation * osteoid
    y[row + OSTEOID_2] = formation * osteoid
    y[row + PRIMARY_1] = formation * primary
    y[row + PRIMARY_2] = formation * primary
    secondary = 1.0 - 2.0 * formation * (osteoid + primary)
    y[row + SECONDARY] = secondary
    y[row + SECONDARY_MINERAL] = (
        formation * site.primary_mineral_frac + kappa * site.max_mineral_frac * secondary
    ) / (kappa + formation / secondary)
    return mineral(y, row, site)


@equation(inline=True)
def site_rhs(y, row: int, log_oba: float, log_oca: float, site, remodeling, formation, kappa, dy):
    """Write d/dt of the site's six states into dy[row:row + 6] (per day).

    ``remodeling`` = a, ``formation`` = a - lambda and ``kappa`` the secondary mineralization
    rate of the patient at this site.
    """
    to_osteoid_2 = y[row + OSTEOID_1] / (0.5 * site.osteoid_lag_days)
    to_primary = y[row + OSTEOID_2] / (0.5 * site.osteoid_lag_days)
    to_primary_2 = y[row + PRIMARY_1] / (0.5 * site.primary_days)
    to_secondary = y[row + PRIMARY_2] / (0.5 * site.primary_days)
    resorbed = remodeling * pow_log(log_oca, site.gamma_oc)
    volume, mineral_s = y[row + SECONDARY], y[row + SECONDARY_MINERAL]
    dy[row + OSTEOID_1] = formation * pow_log(log_oba, site.gamma_ob) - to_osteoid_2
    dy[row + OSTEOID_2] = to_osteoid_2 - to_primary
    dy[row + PRIMARY_1] = to_primary - to_primary_2
    dy[row + PRIMARY_2] = to_primary_2 - to_secondary
    dy[row + SECONDARY] = to_secondary - resorbed
    dy[row + SECONDARY_MINERAL] = (
        site.primary_mineral_frac * to_secondary
        + kappa * (site.max_mineral_frac * volume - mineral_s)
        - resorbed * mineral_s / volume
    )


@equation(inline=True)
def p1np_rel(oba: float) -> float:
    """Return P1NP relative to baseline (formation readout)."""
    return oba


@equation(inline=True)
def ctx_rel(oca: float) -> float:
    """Return CTX relative to baseline (resorption readout)."""
    return oca
