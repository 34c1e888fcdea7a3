"""Steps of the time loop (``engine.loop``) beside the bone: set a lane's calcium work row at
day 0, advance it after each step, record it at record steps; record the tumour and safety
slots of the bone state at record steps; record concentrations on the daily grid.

Hypocalcemia is tracked at every step of the loop (dt, 1 day in every trial file), not on the
record grid: after each step the quasi-steady serum calcium of the new bone state
(``model.calcium.step``) updates the patient's nadir and the first day below each grade
threshold, the day interpolated linearly within the step. The record grid (visits, monthly at
best) would miss a nadir that lasts a week or two.
"""

from __future__ import annotations

from osteotrial.engine.inputs import (
    CALCIUM_Z,
    DIALYSIS,
    EGFR,
    REC_CALCIUM,
    REC_SAFETY,
    REC_TUMOUR,
    VITAMIN_D_DEFICIENT,
)
from osteotrial.model import calcium, exposure, metastasis, pk, safety
from osteotrial.model.compiled import equation
from osteotrial.model.pk import CENTRAL, VC
from osteotrial.model.remodeling import OBA, OCA


@equation
def start_calcium(i, q, pat, dt, r, w) -> None:
    """Write lane q's calcium work row at day 0 (patient i, steps of dt days;
    ``calcium.patient_constants``)."""
    inputs = pat.calcium_inputs
    egfr, on, z = inputs[EGFR, i], inputs[DIALYSIS, i], inputs[CALCIUM_Z, i]
    deficient = inputs[VITAMIN_D_DEFICIENT, i]
    calcium.patient_constants(egfr, on, z, deficient, pat.turnover_mult[i], dt, r, w.calcium[q])


@equation
def track_calcium(y, t, dt, levels, r, row) -> None:
    """Advance a lane's calcium work row over the step from day t (y: its bone state at the
    end). Takes the lane's rows, not the work arrays: a call passes every array it is given."""
    calcium.step(y[OCA], y[OBA], levels, exposure.CALCIUM_MG, t, dt, r, row)


@equation
def record_calcium(r_next, i, q, out, w) -> None:
    """Store lane q's calcium now, its nadir so far and the first day below each threshold."""
    row = w.calcium[q]
    out.rec[REC_CALCIUM, r_next, i] = row[calcium.PREV]
    out.rec[REC_CALCIUM + 1, r_next, i] = row[calcium.NADIR]
    for g in range(calcium.N_GRADES):
        out.rec[REC_CALCIUM + 2 + g, r_next, i] = row[calcium.FIRST_BELOW + g]


@equation
def record_slots(r_next, i, y, out) -> None:
    """Store patient i's tumour burden, the cumulative hazards of the SREs and of death from the
    cancer (model.metastasis) and the safety exposures (model.safety) from her bone state y."""
    out.rec[REC_TUMOUR, r_next, i] = metastasis.burden(y)
    for k in range(metastasis.N_SRE_TYPES + 1):
        out.rec[REC_TUMOUR + 1 + k, r_next, i] = y[metastasis.SRE_ROW + k]
    for k in range(safety.N_STATES):
        out.rec[REC_SAFETY + k, r_next, i] = y[safety.FIRST_ROW + k]


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
