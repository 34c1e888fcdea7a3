"""BMD per site from a bone mass balance with mineralization in two compartments; markers.

Every site (LS, TH, FN) holds a trabecular and a cortical compartment, each with its own
physiological volume fraction f: trabecular bone volume per total volume (BV/TV) and cortical
bone, whose volume fraction is 1 - porosity. A patient's trabecular BV/TV scales with a power of
her baseline BMD from the site's value at T-score -2.5 (2.5 at the spine, 1.5 at the hip), and her
cortical porosity with its inverse square (``volume_frac``; literature powers, not fitted:
values and sources in config/model.yaml and docs/model.md).

Bone volume of a compartment (relative to its baseline volume) changes by formation minus
resorption, driven by active osteoblasts b and osteoclasts c (Pivonka 2008 / Martinez-Reina &
Pivonka 2019, S52/S47; the cell exponents as in Peterson & Riggs 2012, S34):

    formation  = (a - lambda) b^g_ob      resorption = a c^g_oc     (per day)

a is the compartment's remodeling rate: the bone volume turned over per unit of bone surface
(``turnover_um_per_year``, one per site) times its surface per bone volume S_V(f) / f
(Lerebours 2016 polynomial, ``surface_per_volume``). With physiological f the trabecular
surface per volume is about 13 times the cortical one, which gives trabecular bone its
turnover of about 25 %/yr and cortical bone its 2-5 %/yr from one parameter. lambda is the
untreated loss: each remodeling unit refills a fraction lambda / a less than it resorbed,
the same deficit per unit of surface in both compartments, so the loss is faster where the
surface is larger and an antiresorptive that lowers activation slows it.

Formed tissue mineralizes by the Martinez-Reina & Pivonka law (model-anchors 6.7: no mineral
for a lag of 12 d, linear primary mineralization over 10 d to v_prim, then exponential
secondary mineralization towards v_max at kappa per day). Its packet-age queue is replaced by a
fixed-size chain per compartment, so that every engine keeps a small state per patient (tests
check the chain against the exact queue):

    osteoid (2 stages, lag / 2 each, no mineral, not resorbed)
    -> primary (2 stages, primary_days / 2 each, mineral v_prim / 4 and 3 v_prim / 4: the mean
       mineral of each half of the linear ramp)
    -> secondary (volume V_s and mineral M_s; every packet follows dv/dt = kappa (v_max - v),
       which is linear, so the pool's mineral obeys the same law exactly)

Resorption takes secondary bone at its mean mineral content M_s / V_s (osteoclasts do not pick
by age). A compartment's mineral mass is its bone volume x mean mineral content; areal BMD
relative to baseline is the sum over the two compartments of the site's baseline share of
aBMD (``trabecular_share_frac`` and its complement) times the compartment's mineral mass
relative to its baseline. Bone formed on an anabolic stays and keeps mineralizing under an
antiresorptive; low turnover ages the tissue, which then holds more mineral (the continued BMD
gain on long denosumab); high turnover after stopping an antiresorptive replaces old,
well-mineralized bone by young bone and gives the gain back.

Markers are readouts of the cell pools, relative to baseline: P1NP (formation) = b,
CTX (resorption) = c (OpenBoneMin: CTX % = 100 OC/OC0, S45).
"""

from __future__ import annotations

from osteotrial.model.compiled import equation
from osteotrial.model.remodeling import pow_log
from osteotrial.units import DAYS_PER_YEAR

COMPARTMENT_STATES: tuple[str, ...] = (
    "osteoid_1",
    "osteoid_2",
    "primary_1",
    "primary_2",
    "secondary_volume",
    "secondary_mineral",
)
N_COMPARTMENT_STATES = len(COMPARTMENT_STATES)
OSTEOID_1, OSTEOID_2, PRIMARY_1, PRIMARY_2, SECONDARY, SECONDARY_MINERAL = range(
    N_COMPARTMENT_STATES
)
TISSUES: tuple[str, ...] = ("trabecular", "cortical")  # compartment order within a site
TRABECULAR, CORTICAL = 0, 1
MM_PER_UM = 1e-3


@equation
def surface_per_volume(volume_frac: float) -> float:
    """Return the bone surface per bone volume S_V(f) / f (per mm) of a volume fraction f.

    S_V(f) = 32.2 f - 93.9 f^2 + 134 f^3 - 101 f^4 + 28.8 f^5 (mm^-1; Lerebours 2016 as coded in
    cmodiz/Bone-Models, model-anchors 6.7, V-code): porous (low f) bone has more surface per
    volume, so more of it is remodelled per unit time. f is kept in [0.02, 0.98].
    """
    f = min(max(volume_frac, 0.02), 0.98)
    return 32.2 - 93.9 * f + 134.0 * f * f - 101.0 * f * f * f + 28.8 * f * f * f * f


@equation
def volume_frac(site, tissue: int, bmd0_g_cm2: float) -> float:
    """Return the patient's baseline bone volume fraction of a compartment of the site.

    With r = BMD0 / BMD(T -2.5): trabecular BV/TV = ``trabecular_bvtv_frac`` x
    r^``bvtv_bmd_exponent``; cortical 1 - porosity, porosity = ``cortical_porosity_frac`` x
    r^-``porosity_bmd_exponent`` (porosity rises faster than areal BMD falls, as pores
    coalesce). Kept within [0.02, 0.98].
    """
    ratio = bmd0_g_cm2 / (site.young_adult_mean_g_cm2 - 2.5 * site.young_adult_sd_g_cm2)
    if tissue == TRABECULAR:
        f = site.trabecular_bvtv_frac * ratio**site.bvtv_bmd_exponent
    else:
        f = 1.0 - site.cortical_porosity_frac * ratio ** (-site.porosity_bmd_exponent)
    return min(max(f, 0.02), 0.98)


@equation
def bmd_share(site, tissue: int) -> float:
    """Return the compartment's share of the site's baseline areal BMD."""
    if tissue == TRABECULAR:
        return site.trabecular_share_frac
    return 1.0 - site.trabecular_share_frac


@equation
def activation_age_factor(r, age_years: float) -> float:
    """Return the patient's activation frequency relative to its late-postmenopausal level.

    Activation rises after menopause and keeps rising for about 13 years before it levels off
    (transilial biopsies: Ac.f doubles one year after menopause, triples by 13 years and is no
    higher in untreated osteoporosis; Recker 2004): ``activation_early_postmenopause_frac`` one
    year after menopause, linear to 1 over ``activation_rise_years``, 1 thereafter. Read at
    the baseline age (r: the remodeling record). Women of the FRAME and FREEDOM age (70-72)
    are on the plateau; DEFEND's (59, about 8 years after menopause) turn over less.
    """
    rise = (age_years - r.menopause_age_years - 1.0) / r.activation_rise_years
    rise = min(max(rise, 0.0), 1.0)
    early = r.activation_early_postmenopause_frac
    return early + (1.0 - early) * rise


@equation
def remodeling_per_day(site, turnover_mult: float, frac: float) -> float:
    """Return the compartment's remodeling rate a (fraction of its bone volume per day): volume
    turned over per unit surface times its surface per volume at volume fraction ``frac``."""
    depth_mm = site.turnover_um_per_year * MM_PER_UM * turnover_mult
    return depth_mm * surface_per_volume(frac) / DAYS_PER_YEAR


@equation
def loss_share(site, tissue: int) -> float:
    """Return the compartment's share of the site's untreated aBMD loss."""
    if tissue == CORTICAL:
        return site.cortical_loss_share_frac
    return 1.0 - site.cortical_loss_share_frac


@equation
def loss_per_day(site, loss_mult: float, tissue: int, frac: float) -> float:
    """Return the compartment's untreated loss rate lambda (fraction of its volume per day).

    A woman at T-score -2.5 loses ``untreated_loss_pct_per_year`` of the site's aBMD a year,
    ``cortical_loss_share_frac`` of it cortical (Zebaze 2010: most bone lost after 65 is
    cortical, by intracortical remodeling that does not refill); each compartment's relative
    loss is its share of the loss over its share of aBMD. A patient's loss scales with her
    compartment's surface per volume over the reference woman's (the deficit of each
    remodeling unit times the activation, which follows the surface).
    """
    rate = site.untreated_loss_pct_per_year / 100.0 / DAYS_PER_YEAR * loss_mult
    ref = site.young_adult_mean_g_cm2 - 2.5 * site.young_adult_sd_g_cm2
    surface = surface_per_volume(frac) / surface_per_volume(volume_frac(site, tissue, ref))
    return rate * loss_share(site, tissue) / bmd_share(site, tissue) * surface


@equation
def modeling_capacity(capacity_frac: float, tissue: int, frac: float) -> float:
    """Return the compartment's modeling capacity: the largest gain of bone volume (relative to
    baseline) that formation beyond the refilling of resorbed bone can build.

    ``capacity_frac`` (remodeling.modeling_capacity_frac); cortically at most the pores,
    p / (1 - p): pores refill, cortical bone cannot grow beyond a porosity of zero.
    """
    if tissue == CORTICAL:
        return min(capacity_frac, (1.0 - frac) / frac)
    return capacity_frac


@equation
def primary_mineral(site, stage: int) -> float:
    """Return the mean mineral content of primary stage 0 or 1 (v_prim / 4, 3 v_prim / 4)."""
    return site.primary_mineral_frac * (0.25 + 0.5 * stage)


@equation
def mineral(y, row: int, site) -> float:
    """Return the compartment's mineral mass (mineral volume per baseline bone volume)."""
    return (
        primary_mineral(site, 0) * y[row + PRIMARY_1]
        + primary_mineral(site, 1) * y[row + PRIMARY_2]
        + y[row + SECONDARY_MINERAL]
    )


@equation
def bone_volume(y, row: int) -> float:
    """Return the compartment's bone volume relative to baseline (every stage)."""
    total = 0.0
    for k in range(SECONDARY + 1):
        total += y[row + k]
    return total


@equation
def initial_compartment(y, row: int, site, formation: float, kappa: float) -> float:
    """Write the compartment's untreated state at baseline volume 1 into y[row:row + 6];
    return its mineral mass M(0).

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


@equation
def oba_power(log_oba: float, site) -> float:
    """Return b^g_ob of the site, b the active osteoblasts relative to baseline (from its log)."""
    return pow_log(log_oba, site.gamma_ob)


@equation
def oca_power(log_oca: float, site) -> float:
    """Return c^g_oc of the site, c the active osteoclasts relative to baseline (from its log)."""
    return pow_log(log_oca, site.gamma_oc)


@equation
def formed(y, row: int, oba_g: float, oca_g: float, formation, capacity) -> float:
    """Return the compartment's formation flux (bone volume per baseline volume per day).

    Formation (a - lambda) b^g_ob is the refilling of resorbed bone, (a - lambda) c^g_oc (each
    unit refills a fraction (a - lambda) / a of what it resorbed), plus an excess (modeling-
    based formation, formation that outruns resorption). The excess acts on a finite modeling
    capacity: it falls linearly to zero as the compartment's volume gain reaches
    ``capacity``. So under a constant drug the volume gain saturates and the balance returns
    to the untreated deficit. A deficit of formation (b^g_ob below c^g_oc) is not limited.
    ``oba_g``, ``oca_g``: the site's b^g_ob and c^g_oc (``oba_power``, ``oca_power``).
    """
    drive = formation * oba_g
    coupled = formation * oca_g
    if drive <= coupled:
        return drive
    gain = bone_volume(y, row) - 1.0
    room = min(max(1.0 - gain / capacity, 0.0), 1.0)
    return coupled + (drive - coupled) * room


@equation
def compartment_rhs(
    y, row: int, oba_g: float, oca_g: float, site, remodeling, formation, kappa, capacity, dy
):
    """Write d/dt of the compartment's six states into dy[row:row + 6] (per day).

    ``remodeling`` = a, ``formation`` = a - lambda, ``kappa`` the secondary mineralization
    rate and ``capacity`` the modeling capacity (``modeling_capacity``) of the patient in this
    compartment; ``oba_g``, ``oca_g``: b^g_ob and c^g_oc of the site (``oba_power``, ``oca_power``,
    computed once per site for both compartments).
    """
    to_osteoid_2 = y[row + OSTEOID_1] / (0.5 * site.osteoid_lag_days)
    to_primary = y[row + OSTEOID_2] / (0.5 * site.osteoid_lag_days)
    to_primary_2 = y[row + PRIMARY_1] / (0.5 * site.primary_days)
    to_secondary = y[row + PRIMARY_2] / (0.5 * site.primary_days)
    resorbed = remodeling * oca_g
    volume, mineral_s = y[row + SECONDARY], y[row + SECONDARY_MINERAL]
    new_bone = formed(y, row, oba_g, oca_g, formation, capacity)
    dy[row + OSTEOID_1] = new_bone - to_osteoid_2
    dy[row + OSTEOID_2] = to_osteoid_2 - to_primary
    dy[row + PRIMARY_1] = to_primary - to_primary_2
    dy[row + PRIMARY_2] = to_primary_2 - to_secondary
    dy[row + SECONDARY] = to_secondary - resorbed
    dy[row + SECONDARY_MINERAL] = (
        site.primary_mineral_frac * to_secondary
        + kappa * (site.max_mineral_frac * volume - mineral_s)
        - resorbed * mineral_s / volume
    )


@equation
def p1np_rel(oba: float) -> float:
    """Return P1NP relative to baseline (formation readout)."""
    return oba


@equation
def ctx_rel(oca: float) -> float:
    """Return CTX relative to baseline (resorption readout)."""
    return oca
