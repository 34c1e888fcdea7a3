"""Steps of the time loop (``engine.loop``) beside the bone: set a lane's calcium constants at
day 0, follow serum calcium after each step, record it at record steps; record concentrations
on the daily grid.

Hypocalcemia is tracked at every step of the loop (dt, 1 day in every trial file), not on the
record grid: after each step the quasi-steady serum calcium of the new state
(``model.calcium.serum_calcium``) updates the patient's nadir and the first day below each
grade threshold, the day interpolated linearly within the step (``model.calcium.track``).
The record grid (visits, monthly at best) would miss a nadir that lasts two weeks.
"""

from __future__ import annotations

from osteotrial.engine.inputs import REC_CALCIUM
from osteotrial.model import calcium, exposure, pk
from osteotrial.model.bone import CALCIUM
from osteotrial.model.compiled import equation
from osteotrial.model.pk import CENTRAL, VC
from osteotrial.model.remodeling import OBA, OCA


@equation
def start_calcium(i, q, pat, r, w) -> None:
    """Write lane q's calcium constants (patient i; before ``bone.initial_bone``)."""
    calcium.patient_constants(
        pat.egfr_ml_min_1_73m2[i],
        pat.dialysis[i],
        pat.serum_calcium_z[i],
        pat.turnover_mult[i],
        r,
        w.site_const[q, CALCIUM],
    )
    calcium.start_track(w.site_const[q, CALCIUM], r, w.ca_track[q])


@equation
def serum_calcium_now(y, levels, const, r) -> float:
    """Return serum calcium (mmol/L) of bone state y under the step's exposure channels."""
    supplement = calcium.supplement_mmol(levels, exposure.CALCIUM_MG)
    return calcium.serum_calcium(y[OCA], y[OBA], y[calcium.CALCITRIOL], supplement, const, r)


@equation
def track_calcium(q, t, dt, levels, r, w) -> None:
    """Follow lane q's serum calcium over the step from day t (state at its end in w.y)."""
    ca = serum_calcium_now(w.y[q], levels, w.site_const[q, CALCIUM], r)
    calcium.track(ca, t, dt, r, w.ca_track[q])


@equation
def record_calcium(r_next, i, q, out, w) -> None:
    """Store lane q's calcium now, its nadir so far and the first day below each threshold."""
    track = w.ca_track[q]
    out.rec[REC_CALCIUM, r_next, i] = track[calcium.PREV]
    out.rec[REC_CALCIUM + 1, r_next, i] = track[calcium.NADIR]
    for g in range(calcium.N_GRADES):
        out.rec[REC_CALCIUM + 2 + g, r_next, i] = track[calcium.FIRST_BELOW + g]


@equation
def record_concentrations(step, p_next, lo, m, plan, out, w) -> int:
    """Store concentrations (ng/mL) if step is on the daily grid; return the next index."""
    while p_next < plan.pk_steps.shape[0] and plan.pk_steps[p_next] == step:
        for q in range(m):
            for d in range(2):  # the two antibodies (engine.loop.N_DRUGS)
                out.conc[d, p_next, lo + q] = pk.concentration_ng_ml(
                    w.amounts[d, q, CENTRAL], w.pk_const[d, q, VC]
                )
        p_next += 1
    return p_next
