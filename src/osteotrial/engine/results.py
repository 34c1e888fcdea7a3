"""The result of simulating one arm: visit-level trajectories and per-patient event days."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from osteotrial.arrays import BoolArray, FloatArray, IntArray
from osteotrial.model.records import FRACTURE_TYPES

__all__ = ["FRACTURE_TYPES", "ArmResult"]


@dataclass(frozen=True)
class ArmResult:
    """What simulate_arm returns for one arm.

    Shapes: record_days (n_times,); every trajectory (n_times, n_patients); pk_days
    (n_pk_days,) and concentrations (n_pk_days, n_patients) on a daily grid; event days
    (n_events, n_patients) with nan where the event did not happen. BMD is in g/cm2, markers
    are relative to the patient's own baseline (1.0 = baseline). Fracture types: vertebral
    (every new vertebral fracture, clinical or only seen at imaging), hip, nonvertebral (OTHER
    THAN HIP: the engine's name for the hazard it draws). The endpoints built from them, in the
    trials' words (``nonvertebral`` includes hip), are defined once in
    ``analyses.vocabulary``. A fracture after death or after the end of the simulation is nan.
    """

    arm: str
    patient_id: IntArray
    record_days: FloatArray
    bmd_ls_g_cm2: FloatArray
    bmd_th_g_cm2: FloatArray
    bmd_fn_g_cm2: FloatArray
    p1np_rel: FloatArray
    ctx_rel: FloatArray
    pk_days: FloatArray
    denosumab_ng_ml: FloatArray
    romosozumab_ng_ml: FloatArray
    vertebral_fracture_days: FloatArray
    vertebral_fracture_clinical: BoolArray
    hip_fracture_days: FloatArray
    nonvertebral_fracture_days: FloatArray
    death_day: FloatArray
    dropout_day: FloatArray
    # optional: cumulative hazard of each event type ('vertebral', 'hip', 'nonvertebral',
    # 'death') at record_days, each (n_times, n_patients); used for expected incidences
    cumulative_hazard: dict[str, FloatArray] | None = None
    # optional: bone structure per site at record_days (engine.inputs.STRUCTURE names:
    # trabecular_bvtv_<site>, cortical_porosity_<site> as fractions, strength_rel_<site>
    # relative to the patient's baseline), each (n_times, n_patients)
    structure: dict[str, FloatArray] | None = None
    # optional: tumour in bone (engine.inputs.METASTASIS names: 'tumour_burden' relative to the
    # typical burden at entry, the cumulative hazard of each SRE type and of death from the
    # cancer) at record_days, each (n_times, n_patients); analyses.sre_frames draws the events
    metastasis: dict[str, FloatArray] | None = None
    # optional: safety exposures (engine.inputs.SAFETY names, model.safety) at record_days,
    # each (n_times, n_patients); analyses.safety_frames draws ONJ and AFF from them
    safety: dict[str, FloatArray] | None = None
    # optional: calcium (engine.inputs.CALCIUM names: serum calcium and its nadir so far in
    # mmol/L, the first day below each hypocalcemia grade threshold, nan if not yet) at
    # record_days, each (n_times, n_patients); analyses.calcium_frames reads them
    calcium: dict[str, FloatArray] | None = None
    # optional: the event-free cumulative hazards (keys as cumulative_hazard) at the first
    # record_days, those up to the month asked of simulate_arm (event_free_months), each
    # (n_free_times, n_patients): the hazards of the path with no sampled event (``event_free``)
    event_free_hazard: dict[str, FloatArray] | None = None
    OPTIONAL_DICTS: ClassVar[tuple[str, ...]] = (
        "cumulative_hazard",
        "structure",
        "metastasis",
        "safety",
        "calcium",
        "event_free_hazard",
    )
    # the (n_times or n_events, n_patients) fields, patient on the last axis
    PER_PATIENT_2D: ClassVar[tuple[str, ...]] = (
        "bmd_ls_g_cm2",
        "bmd_th_g_cm2",
        "bmd_fn_g_cm2",
        "p1np_rel",
        "ctx_rel",
        "denosumab_ng_ml",
        "romosozumab_ng_ml",
        "vertebral_fracture_days",
        "vertebral_fracture_clinical",
        "hip_fracture_days",
        "nonvertebral_fracture_days",
    )

    @property
    def n_patients(self) -> int:
        """Number of simulated patients."""
        return int(self.patient_id.shape[0])

    def fracture_days(self, fracture_type: str) -> FloatArray:
        """Return event days of a fracture type, shape (n_events, n_patients)."""
        if fracture_type not in FRACTURE_TYPES:
            raise ValueError(f"fracture_type={fracture_type!r}; allowed: {FRACTURE_TYPES}")
        return getattr(self, f"{fracture_type}_fracture_days")

    def first_fracture_day(self, fracture_type: str) -> FloatArray:
        """Return the day of the first fracture of a type, shape (n_patients,), nan if none."""
        return self.fracture_days(fracture_type)[0]

    def structure_of(self, name: str) -> FloatArray:
        """Return a bone-structure trajectory (``structure`` key), nan where none was recorded."""
        if self.structure is None:
            return np.full((self.record_days.size, self.n_patients), np.nan)
        return self.structure[name]

    def bmd_g_cm2(self, site: str) -> FloatArray:
        """Return the BMD trajectory of a site (LS, TH, FN), shape (n_times, n_patients)."""
        return getattr(self, f"bmd_{site.lower()}_g_cm2")

    @staticmethod
    def concatenate(parts: list[ArmResult]) -> ArmResult:
        """Join results of patient chunks of the same arm along the patient axis."""
        first = parts[0]
        values = {"arm": first.arm, "record_days": first.record_days, "pk_days": first.pk_days}
        for name in ("patient_id", "death_day", "dropout_day"):
            values[name] = np.concatenate([getattr(p, name) for p in parts])
        for name in ArmResult.PER_PATIENT_2D:
            values[name] = np.concatenate([getattr(p, name) for p in parts], axis=1)
        for field in ArmResult.OPTIONAL_DICTS:
            if getattr(first, field) is not None:
                values[field] = {
                    k: np.concatenate([getattr(p, field)[k] for p in parts], axis=1)
                    for k in getattr(first, field)
                }
        return ArmResult(**values)

    def patients(self, lo: int, hi: int) -> ArmResult:
        """Return the result of patients lo to hi - 1 (views): e.g. one parameter set's slice
        of a run whose patients are a cohort repeated once per set."""
        return self.take(slice(lo, hi))

    def take(self, index: slice | np.ndarray) -> ArmResult:
        """Return the result of the patients at ``index`` (a slice, an index or a mask): e.g.
        the patients of a chunk put back in patient order after a run by stratum."""
        values = {"arm": self.arm, "record_days": self.record_days, "pk_days": self.pk_days}
        for name in ("patient_id", "death_day", "dropout_day"):
            values[name] = getattr(self, name)[index]
        for name in self.PER_PATIENT_2D:
            values[name] = getattr(self, name)[:, index]
        for field in self.OPTIONAL_DICTS:
            if getattr(self, field) is not None:
                values[field] = {k: v[:, index] for k, v in getattr(self, field).items()}
        return ArmResult(**values)

    def event_free(self) -> ArmResult:
        """Return the result as the event-free path sees it (``event_free_hazard``): record
        days and every record trajectory cut to the event-free records, cumulative hazards the
        event-free ones, no sampled event (days nan): the arrays a simulation of the cohort
        with every threshold infinite (``analyses.expected.event_free``) to that month gives,
        which is what ``analyses.expected``'s incidences read."""
        if self.event_free_hazard is None:
            raise ValueError(
                "no event-free hazards in this result: simulate with event_free_months > 0"
            )
        k = next(iter(self.event_free_hazard.values())).shape[0]
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["record_days"] = self.record_days[:k]
        for name in ("bmd_ls_g_cm2", "bmd_th_g_cm2", "bmd_fn_g_cm2", "p1np_rel", "ctx_rel"):
            values[name] = values[name][:k]
        for field in ("structure", "metastasis", "safety", "calcium"):
            if values[field] is not None:
                values[field] = {key: v[:k] for key, v in values[field].items()}
        for name in ("vertebral", "hip", "nonvertebral"):
            days = values[f"{name}_fracture_days"]
            values[f"{name}_fracture_days"] = np.full_like(days, np.nan)
        values["vertebral_fracture_clinical"] = np.zeros_like(self.vertebral_fracture_clinical)
        values["death_day"] = np.full_like(self.death_day, np.nan)
        values["cumulative_hazard"] = self.event_free_hazard
        values["event_free_hazard"] = None
        return ArmResult(**values)
