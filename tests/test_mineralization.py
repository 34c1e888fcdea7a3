"""The bone balance with mineralization (model.bmd) against the exact packet-age queue.

Martinez-Reina & Pivonka 2019 follow every packet of formed bone by its age (model-anchors 6.7):
no mineral for the lag, a linear primary ramp, then exponential secondary mineralization;
resorption takes non-osteoid bone at its mean mineral content. model.bmd replaces the queue by
a fixed-size chain. Here an independent numpy queue (quarter-day age bins) and the chain
(model.bmd.compartment_rhs, integrated by LSODA) are driven by the same cell courses, and their
mineral mass (BMD relative to baseline) must agree.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from osteotrial.model import bmd
from osteotrial.model.params import load_model_params
from osteotrial.model.records import pack_model

A_PER_DAY = 0.25 / 365.25  # remodeling rate of the comparison (25 % per year)


def mineral_law(age: np.ndarray, law) -> np.ndarray:
    """Return the mineral content of packets of the given ages (days), as in model-anchors 6.7."""
    lag, prim = law.osteoid_lag_days, law.primary_days
    ramp = law.primary_mineral_frac * np.clip((age - lag) / prim, 0.0, 1.0)
    secondary = law.max_mineral_frac - (law.max_mineral_frac - law.primary_mineral_frac) * np.exp(
        -law.secondary_per_day * (age - lag - prim)
    )
    return np.where(age <= lag + prim, ramp, secondary)


def queue_mineral(formation, resorption, days: np.ndarray, law, h: float = 0.25) -> np.ndarray:
    """Return the queue's mineral mass at ``days`` (relative to day 0), after a long steady run.

    ``formation(t)`` and ``resorption(t)``: volume fluxes per day (baseline volume 1).
    """
    ages = (np.arange(int(4000 / h)) + 0.5) * h
    v = mineral_law(ages, law)
    v[-1] = law.max_mineral_frac  # the last bin holds all older bone (as in the source)
    osteoid = ages <= law.osteoid_lag_days
    # start from the steady age distribution (exponential beyond the lag), then settle
    queue = A_PER_DAY * h * np.exp(-A_PER_DAY * np.clip(ages - law.osteoid_lag_days, 0, None))
    queue[-1] = A_PER_DAY * np.exp(-A_PER_DAY * (ages[-1] - law.osteoid_lag_days)) / A_PER_DAY
    out, k = [], 0
    times = np.concatenate([np.arange(-2000.0, 0.0, h), np.arange(0.0, days[-1] + h / 2, h)])
    for t in times:
        if t >= 0 and k < days.size and t >= days[k] - 1e-9:
            out.append(float(queue @ v))
            k += 1
        f, r = (A_PER_DAY, A_PER_DAY) if t < 0 else (formation(t), resorption(t))
        oldest = queue[-1] + queue[-2]
        queue[1:] = queue[:-1].copy()
        queue[-1] = oldest
        queue[0] = f * h
        old = queue[~osteoid].sum()
        queue[~osteoid] *= 1.0 - r * h / old
    return np.array(out) / out[0]


def chain_mineral(formation, resorption, days: np.ndarray, site) -> np.ndarray:
    """Return the chain's mineral mass at ``days`` (relative to day 0)."""
    y0 = np.zeros(bmd.N_COMPARTMENT_STATES)
    m0 = bmd.initial_compartment(y0, 0, site, A_PER_DAY, site.secondary_per_day)

    def rhs(t, y):
        dy = np.empty_like(y)
        # cell powers of 1: the fluxes are passed through the rates
        bmd.compartment_rhs(
            y, 0, 1.0, 1.0, site, resorption(t), formation(t), site.secondary_per_day, 1.0, dy
        )
        return dy

    sol = solve_ivp(rhs, (0.0, days[-1]), y0, method="LSODA", t_eval=days, rtol=1e-9, atol=1e-12)
    return np.array([bmd.mineral(sol.y[:, k], 0, site) for k in range(days.size)]) / m0


def step(before: float, after: float, day: float):
    return lambda t: A_PER_DAY * (before if t < day else after)


@pytest.mark.parametrize(
    "name,formation,resorption",
    [
        # anabolic year (formation x2.5 for 6 months, then x0.8; resorption x0.5), then suppressed
        ("anabolic then antiresorptive", step(2.5, 0.8, 180.0), step(0.5, 0.1, 365.0)),
        # antiresorptive for two years, then a resorption rebound (x2) with formation lagging
        ("antiresorptive then rebound", step(0.3, 1.2, 730.0), step(0.1, 2.0, 730.0)),
    ],
)
def test_chain_follows_the_exact_queue(name, formation, resorption):
    """Within 2 % of the largest change, over three years sampled monthly."""
    law = load_model_params().bmd.mineralization
    site = pack_model(load_model_params()).sites[0]
    days = np.arange(0.0, 1096.0, 30.0)
    exact = queue_mineral(formation, resorption, days, law)
    chain = chain_mineral(formation, resorption, days, site)
    largest = np.abs(exact - 1).max()
    assert largest > 0.05  # the courses move BMD a lot: the comparison can fail
    assert np.abs(chain - exact).max() < 0.02 * largest, (name, chain - exact)


def test_mineral_law_spot_values():
    """The law as coded here reproduces the spot checks of model-anchors 6.7 (V-run)."""
    law = load_model_params().bmd.mineralization
    got = mineral_law(np.array([13.0, 22.0, 100.0, 365.0]), law)
    np.testing.assert_allclose(got, [0.0121, 0.121, 0.256, 0.413], atol=1.5e-3)


def test_formed_bone_keeps_mineralizing_when_turnover_stops():
    """Bone formed before resorption and formation stop stays and its mineral keeps rising."""
    site = pack_model(load_model_params()).sites[0]
    days = np.array([0.0, 180.0, 365.0, 730.0])
    chain = chain_mineral(step(2.0, 0.0, 90.0), step(1.0, 0.0, 90.0), days, site)
    assert np.all(np.diff(chain) > 0), chain
