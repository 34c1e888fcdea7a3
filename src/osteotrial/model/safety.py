"""Exposure states of the rare harms of antiresorptives: osteonecrosis of the jaw (ONJ) and
atypical femoral fractures (AFF), read from the model's own resorption (no drug switch).

c is the active osteoclast pool relative to a healthy skeleton (``model.remodeling``; CTX
relative to baseline, ``bmd.ctx_rel``). Three slots, all exactly 0 while c stays at or above
the thresholds (an untreated patient: every existing trial's bone results are untouched, the
slots feed nothing back):

- ``DEEP`` E (years x log-depth): cumulative exposure to deep suppression of resorption,
  dE/dt = max(0, ln(c_onj / c)) / 365.25. The log depth makes a deeper suppression count
  more: denosumab 120 mg every 4 weeks (c about 0.025) accrues about twice what 60 mg every
  6 months accrues (c 0.06 rising to 0.4 before the next dose), an oral bisphosphonate (c
  about 0.55) a few per cent of it, through the state, not through a drug name.
- ``DEEP_INTEGRAL`` I (years^2): the integral of E, so the ONJ hazard h0 E(t) has the
  cumulative hazard h0 I(t) at any record day (``analyses.safety_frames`` adds the windows
  after dental procedures from the same I).
- ``DURATION`` D (years): an antiresorptive-duration memory, dD/dt = (u - (1 - u) k_off D) /
  365.25 with u = clip((1 - c) / (1 - c_aff), 0, 1) the share of "on treatment": D grows one
  year per year while resorption is cut below c_aff, and recedes with rate k_off once it is
  not (Schilcher 2011: AFF risk fell by 70 % per year since the last use). The AFF hazard
  h_ref (D / D_ref)^p rises with it (Dell 2012: 1.78 per 100,000 per year at 0.1-1.9 years of
  bisphosphonate use to 113 at 8-9.9 years), afterwards in ``analyses.safety_frames``, where D
  is capped by the duration of use of the arm's schedule (after a bisphosphonate the drug on
  bone keeps c low and D growing; the sources count time on drug).

Parameters: block ``safety`` of config/model.yaml (``SafetyParams``), carried in the
remodeling record (``model.records.SAFETY_FIELDS``).
"""

from __future__ import annotations

import math

from osteotrial.model import metastasis
from osteotrial.model.compiled import equation

FIRST_ROW = metastasis.FIRST_ROW + metastasis.N_STATES  # after the tumour slots (model.bone checks)
DEEP = FIRST_ROW  # E: cumulative deep-suppression exposure (years x log-depth)
DEEP_INTEGRAL = FIRST_ROW + 1  # I: integral of E (years^2)
DURATION = FIRST_ROW + 2  # D: antiresorptive-duration memory (years)
N_STATES = 3
DAYS_PER_YEAR = 365.25
LOG_ONJ_THRESHOLD = 0  # the patient's safety constants (``patient_constants``)


@equation
def baseline(y) -> None:
    """Write zero exposure into the safety slots (nothing accrued before randomization)."""
    for k in range(N_STATES):
        y[FIRST_ROW + k] = 0.0


@equation
def patient_constants(r, const) -> None:
    """Write the patient's safety constants into const: ln(c_onj) (``LOG_ONJ_THRESHOLD``), once
    a patient rather than at every evaluation of the right-hand side."""
    const[LOG_ONJ_THRESHOLD] = math.log(r.onj_suppression_threshold_rel)


@equation
def suppression_depth(log_oca: float, log_threshold: float) -> float:
    """Return the log depth of resorption suppression max(0, ln(c_onj / c)) (0 above c_onj);
    ``log_threshold``: ln(c_onj) (``patient_constants``)."""
    depth = log_threshold - log_oca
    return depth if depth > 0.0 else 0.0


@equation
def on_treatment(oca: float, r) -> float:
    """Return the share u in [0, 1] of "on antiresorptive": 0 at c >= 1, 1 at c <= c_aff."""
    u = (1.0 - oca) / (1.0 - r.aff_on_treatment_threshold_rel)
    return min(1.0, max(0.0, u))


@equation
def rhs(y, oca: float, log_oca: float, const, r, dy) -> None:
    """Write d/dt (per day) of the three safety slots into dy (module docstring); ``const``:
    the patient's safety constants (``patient_constants``)."""
    dy[DEEP] = suppression_depth(log_oca, const[LOG_ONJ_THRESHOLD]) / DAYS_PER_YEAR
    dy[DEEP_INTEGRAL] = y[DEEP] / DAYS_PER_YEAR
    u = on_treatment(oca, r)
    dy[DURATION] = (u - (1.0 - u) * r.aff_offset_per_year * y[DURATION]) / DAYS_PER_YEAR
