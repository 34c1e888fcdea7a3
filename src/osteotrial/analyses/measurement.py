"""Measurement error of a trial's readings: DXA precision and bone-marker variability.

A trial sees BMD and markers through instruments, not the model's true values. Each reading of a
patient (baseline included) is the true value times an error drawn from the counter-based
streams ``measurement.dxa`` and ``measurement.markers`` (osteotrial.rng), keyed by (seed,
patient, site or marker, record day): the same patient gets the same errors in any shard, and a
reading's error does not depend on which other visits the schedule has.

- DXA: measured = true x (1 + cv z), cv the precision (coefficient of variation) of the site;
  ISCD gives typical in-vivo precision of about 1 % at LS and TH and 1.5-2 % at FN (R).
- Markers: log-normal, measured = true x exp(s z - s^2 / 2), s^2 = log(1 + cv^2), cv the
  within-subject (biological + analytical) CV: about 20 % for fasting morning serum CTX and
  12 % for P1NP (IOF-IFCC reviews, Naylor & Eastell 2012, R).
- Least significant change at 95 % confidence (ISCD): LSC = 2.77 x precision; a *responder* is
  a patient whose measured gain exceeds it.

A percent change compares two readings, so it carries the error of both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from osteotrial import rng
from osteotrial.arrays import FloatArray, IntArray
from osteotrial.model.records import SITES

LSC_FACTOR = 2.77  # ISCD least significant change at 95 % confidence: 1.96 x sqrt(2)
MARKER_INDEX = {"P1NP": 0, "CTX": 1}
_DAY_BITS, _KIND_BITS = 17, 3  # quarter days below 2^17 (about 89 years), 8 sites or markers


@dataclass(frozen=True)
class Measurement:
    """Precision of the trial's readings (config ``measurement``) and the trial's seed."""

    seed: int
    dxa_cv_pct: dict[str, float]
    ctx_cv_pct: float
    p1np_cv_pct: float

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], seed: int) -> Measurement:
        """Build from the validated ``measurement`` block of a trial."""
        return cls(
            seed=int(seed),
            dxa_cv_pct=dict(values["dxa_precision_cv_pct"]),
            ctx_cv_pct=float(values["ctx_cv_pct"]),
            p1np_cv_pct=float(values["p1np_cv_pct"]),
        )

    def lsc_pct(self, site: str) -> float:
        """Return the least significant change of a site (percent)."""
        return LSC_FACTOR * self.dxa_cv_pct[site]


EXACT = Measurement(0, dict.fromkeys(SITES, 0.0), 0.0, 0.0)  # no measurement error


def _keys(patient_ids: IntArray, kind: int, day: float) -> IntArray:
    """Return stream keys of (patient, site or marker, record day)."""
    quarter_days = int(round(4.0 * day))
    if not 0 <= quarter_days < 2**_DAY_BITS:
        raise ValueError(f"record day {day} is outside the measurement key range")
    ids = np.asarray(patient_ids, dtype=np.int64)
    return (ids << (_DAY_BITS + _KIND_BITS)) | (kind << _DAY_BITS) | quarter_days


def _normals(m: Measurement, stream: str, ids: IntArray, kind: int, day: float) -> FloatArray:
    return rng.normals(m.seed, stream, _keys(ids, kind, day))[0]


def bmd_pct_change(
    m: Measurement, site: str, ids: IntArray, day: float, bmd: FloatArray, bmd0: FloatArray
) -> FloatArray:
    """Return the measured percent change of BMD at ``day`` from the measured baseline."""
    cv = m.dxa_cv_pct[site] / 100.0
    kind = SITES.index(site)
    now = bmd * (1.0 + cv * _normals(m, "measurement.dxa", ids, kind, day))
    base = bmd0 * (1.0 + cv * _normals(m, "measurement.dxa", ids, kind, 0.0))
    return (now / base - 1.0) * 100.0


def marker_pct_change(
    m: Measurement, marker: str, ids: IntArray, day: float, true_pct: FloatArray
) -> FloatArray:
    """Return the measured percent change of a marker from its measured baseline."""
    cv = (m.ctx_cv_pct if marker == "CTX" else m.p1np_cv_pct) / 100.0
    if cv == 0.0:
        return np.asarray(true_pct, dtype=float)
    s = np.sqrt(np.log1p(cv**2))
    kind = MARKER_INDEX[marker]
    z_now = _normals(m, "measurement.markers", ids, kind, day)
    z_base = _normals(m, "measurement.markers", ids, kind, 0.0)
    return ((1.0 + true_pct / 100.0) * np.exp(s * (z_now - z_base)) - 1.0) * 100.0
