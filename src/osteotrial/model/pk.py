"""Pharmacokinetics of denosumab and romosozumab, vectorized over patients.

Both antibodies: first-order SC absorption from a depot, two compartments, linear plus
saturable (Michaelis-Menten) elimination; the saturable term stands in for target-mediated
disposition (denosumab: RANKL, Sutjandra 2011 S35 / OpenBoneMin S45; romosozumab: sclerostin,
Eudy 2015 S38/S46):

    dA_depot/dt = -ka A_depot                      (a dose adds F * dose_mg at its dose time)
    dA_c/dt     = ka A_depot - CL C - Vmax C/(Km + C) - Q C + Q A_p / Vp
    dA_p/dt     = Q C - Q A_p / Vp
    dA_elim/dt  = CL C + Vmax C/(Km + C)           (eliminated amount, for mass balance)

with C = A_c / Vc in mg/L. Inter-individual variability scales CL, Vmax and Q (clearance
multiplier) and Vc, Vp (volume multiplier).

The saturable term is stiff at low concentration (romosozumab: Vmax / (Km Vc) is about 19 per
day), so the fixed-step kernel splits it off (Strang splitting, ``PKStepper``) and applies it
exactly:
dA/dt = -Vmax A / (Km Vc + A) has the solution A(t) = Km Vc omega(ln(A0 / (Km Vc)) +
(A0 - Vmax t) / (Km Vc)), with omega the Wright omega function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, special

from osteotrial.arrays import FloatArray
from osteotrial.model.params import PKParams
from osteotrial.units import NG_ML_PER_MG_L

N_PK_STATES = 4  # depot, central, peripheral, eliminated (mg)


@dataclass(frozen=True)
class IndividualPK:
    """Per-patient PK parameters, each of shape (n_patients,)."""

    bioavailability_frac: float
    ka_per_day: float
    vc_l: FloatArray
    vp_l: FloatArray
    q_l_per_day: FloatArray
    cl_l_per_day: FloatArray
    vmax_mg_per_day: FloatArray
    km_mg_l: float
    molar_mass_kda: float


def individualize(
    params: PKParams, mult_clearance: FloatArray, mult_volume: FloatArray
) -> IndividualPK:
    """Apply log-normal IIV multipliers (shape (n_patients,)) to population PK parameters."""
    return IndividualPK(
        bioavailability_frac=params.bioavailability_frac,
        ka_per_day=params.ka_per_day,
        vc_l=params.vc_l * mult_volume,
        vp_l=params.vp_l * mult_volume,
        q_l_per_day=params.q_l_per_day * mult_clearance,
        cl_l_per_day=params.cl_l_per_day * mult_clearance,
        vmax_mg_per_day=params.vmax_mg_per_day * mult_clearance,
        km_mg_l=params.km_mg_l,
        molar_mass_kda=params.molar_mass_kda,
    )


def pk_rhs(amounts_mg: FloatArray, pk: IndividualPK) -> FloatArray:
    """Return d(amounts)/dt in mg/day; amounts_mg has shape (4, n_patients): depot, c, p, elim.

    The full right-hand side, used by the reference solver; the kernel uses PKStepper.
    """
    depot, central, peripheral = amounts_mg[0], amounts_mg[1], amounts_mg[2]
    conc_mg_l = central / pk.vc_l
    absorption = pk.ka_per_day * depot
    linear = pk.cl_l_per_day * conc_mg_l
    saturable = pk.vmax_mg_per_day * conc_mg_l / (pk.km_mg_l + conc_mg_l)
    to_peripheral = pk.q_l_per_day * conc_mg_l
    from_peripheral = pk.q_l_per_day * peripheral / pk.vp_l
    return np.stack(
        [
            -absorption,
            absorption - linear - saturable - to_peripheral + from_peripheral,
            to_peripheral - from_peripheral,
            linear + saturable,
        ]
    )


def saturable_elimination_step(
    amounts_mg: FloatArray, pk: IndividualPK, dt_days: float
) -> FloatArray:
    """Return amounts after dt_days of saturable elimination alone, solved exactly.

    The eliminated amount is added to the fourth row, so mass balance holds exactly.
    """
    central = amounts_mg[1]
    km_amount = pk.km_mg_l * pk.vc_l
    with np.errstate(divide="ignore"):
        arg = np.log(central / km_amount) + (central - pk.vmax_mg_per_day * dt_days) / km_amount
    after = np.where(central > 0.0, km_amount * special.wrightomega(arg), 0.0)
    after = np.minimum(after, central)
    out = amounts_mg.copy()
    out[1] = after
    out[3] = amounts_mg[3] + (central - after)
    return out


def linear_matrix(pk: IndividualPK) -> FloatArray:
    """Return the matrix of the linear part for (depot, central, peripheral), shape (n, 3, 3)."""
    n = pk.vc_l.shape[0]
    a = np.zeros((n, 3, 3))
    a[:, 0, 0] = -pk.ka_per_day
    a[:, 1, 0] = pk.ka_per_day
    a[:, 1, 1] = -(pk.cl_l_per_day + pk.q_l_per_day) / pk.vc_l
    a[:, 1, 2] = pk.q_l_per_day / pk.vp_l
    a[:, 2, 1] = pk.q_l_per_day / pk.vc_l
    a[:, 2, 2] = -pk.q_l_per_day / pk.vp_l
    return a


@dataclass(frozen=True)
class PKStepper:
    """Second-order PK steps for a fixed step size, vectorized over patients.

    Strang splitting: the linear part (absorption, distribution, linear clearance) is solved
    exactly with a precomputed matrix exponential for each patient, the saturable elimination
    exactly with the Wright omega function; each step of dt_days is 2 x n_substeps Strang steps
    (linear h/2, saturable h, linear h/2). Mass balance is exact: what leaves the three
    compartments is added to the eliminated amount.
    """

    pk: IndividualPK
    dt_days: float
    n_substeps: int
    propagator: FloatArray  # (n, 3, 3): exp(A h / 2), h = dt_days / (2 n_substeps)

    @classmethod
    def build(cls, pk: IndividualPK, dt_days: float, n_substeps: int) -> PKStepper:
        """Precompute the per-patient propagator of the linear half step."""
        h = dt_days / (2 * n_substeps)
        return cls(pk, dt_days, n_substeps, linalg.expm(linear_matrix(pk) * (0.5 * h)))

    def _linear(self, amounts_mg: FloatArray) -> FloatArray:
        out = amounts_mg.copy()
        out[:3] = np.einsum("nij,jn->in", self.propagator, amounts_mg[:3])
        out[3] = amounts_mg[3] + amounts_mg[:3].sum(axis=0) - out[:3].sum(axis=0)
        return out

    def strang(self, amounts_mg: FloatArray) -> FloatArray:
        """Return the amounts after one Strang step of dt_days / (2 n_substeps)."""
        h = self.dt_days / (2 * self.n_substeps)
        half = self._linear(amounts_mg)
        return self._linear(saturable_elimination_step(half, self.pk, h))

    def advance(self, amounts_mg: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Advance by dt_days; return (amounts at mid-step, amounts at the end of the step)."""
        if not amounts_mg[:3].any():  # no drug given yet: nothing moves
            return amounts_mg, amounts_mg
        mid = amounts_mg
        for _ in range(self.n_substeps):
            mid = self.strang(mid)
        end = mid
        for _ in range(self.n_substeps):
            end = self.strang(end)
        return mid, end


def concentration_ng_ml(amounts_mg: FloatArray, pk: IndividualPK) -> FloatArray:
    """Return the central concentration in ng/mL, shape (n_patients,)."""
    return amounts_mg[1] / pk.vc_l * NG_ML_PER_MG_L


def concentration_nm(amounts_mg: FloatArray, pk: IndividualPK) -> FloatArray:
    """Return the central concentration in nmol/L, shape (n_patients,)."""
    return amounts_mg[1] / pk.vc_l * 1.0e3 / pk.molar_mass_kda


def absorbed_dose_mg(dose_mg: float | FloatArray, pk: IndividualPK) -> float | FloatArray:
    """Return the amount that reaches the SC depot for a dose (F * dose)."""
    return pk.bioavailability_frac * dose_mg


def terminal_half_life_days(
    conc_daily: FloatArray, first_day: int = 30, last_day: int = 120
) -> float:
    """Return the half-life of a log-linear fit to a daily concentration curve (single dose).

    The window (days 30-120 after the dose by default) is the calibration's definition of the
    denosumab terminal half-life of targets.yaml.
    """
    days = np.arange(first_day, last_day + 1)
    log_conc = np.log(np.maximum(conc_daily[first_day : last_day + 1], 1e-12))
    slope = np.polyfit(days, log_conc, 1)[0]
    return float(np.log(2.0) / max(-slope, 1e-9))
