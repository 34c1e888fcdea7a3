"""Rare harms drawn after the run from the engines' exposure states: osteonecrosis of the jaw
(ONJ), atypical femoral fractures (AFF), major adverse cardiovascular events (MACE).

The engines integrate the exposure slots of ``model.safety`` and record them
(``ArmResult.safety``). Here, vectorized over patients, on a weekly grid (``GRID_DAYS``):

- ONJ: h = h0 E(t) x (rr within ``onj_procedure_window_days`` after an invasive dental
  procedure, else 1); its cumulative hazard h0 [I(t) + (rr - 1) sum_k (I(min(t, p_k + W)) -
  I(min(t, p_k)))] from the recorded integral I of E. Procedure days p_k: a Poisson process
  of rate r x G per year, G the patient's procedure propensity (a cohort column: gamma, mean
  1), days from cumulative Exp(1) sums of stream ``safety.dental_procedures``.
- AFF: h = h_ref (D(t) / D_ref)^p per year, D = min(D_slot, D_use); cumulative hazard by the
  trapezoid rule on the grid. D_slot is the engines' memory of suppressed resorption (the
  mechanism: remodeling cut below c_aff); D_use the duration of antiresorptive use as the
  sources count it (Dell 2012 and Schilcher 2011 measure exposure by dispensed drug: time on
  drug and time since the last use): a dose of denosumab or a bisphosphonate covers its
  phase's dosing interval, dD_use/dt = u - (1 - u) k_off D_use per year with u the covered
  share (``use_duration``). So the hazard rises with the time on drug and, once the last dose's
  interval has run out, falls by exp(-k_off p) = 0.30 per year (Schilcher: -70 % per year since
  the last use) for every antiresorptive, although after a bisphosphonate the drug on bone
  keeps resorption low and D_slot high.
- MACE: h = m_ref exp(b (age - age_ref)) (rr_prior if prior cardiovascular disease) (HR while
  exposed to romosozumab: a month after each dose, the dosing interval of the label) per
  year.

The covariates (age, prior cardiovascular disease, the procedure propensity G) are the
cohort's columns (``cohort.safety``: drawn keyed by candidate id from streams
``safety.prior_cardiovascular`` and ``safety.dental_propensity`` with the source population's
prevalence and gamma shape), looked up by patient_id (``PatientCovariates``), so a patient has
the same covariates in every arm and in every shard. A patient's first event of each
type happens when its cumulative hazard reaches an Exp(1) draw of stream ``safety.<event>``
(``analyses.sre_frames.crossing_days``). Follow-up ends at the first of death (the engine's
background death), dropout and ``end_days``. ``safety_frames`` returns the safety contract's
``patients`` and ``events`` frames (``analyses.safety``); ``cumulative_hazards`` the hazards
themselves, for expected counts of events too rare to draw (``calibration.safety``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import polars as pl

from osteotrial import rng
from osteotrial.analyses.sre_frames import crossing_days
from osteotrial.arrays import BoolArray, FloatArray, IntArray
from osteotrial.engine.inputs import SAFETY
from osteotrial.engine.results import ArmResult
from osteotrial.model.bisphosphonate import DRUGS as BISPHOSPHONATES
from osteotrial.model.safety_params import SafetyParams
from osteotrial.trial.schedules import ArmSpec

SAFETY_EVENTS: tuple[str, ...] = ("osteonecrosis_of_the_jaw", "atypical_femoral_fracture", "mace")
GRID_DAYS = 7.0  # the hazards' grid (weekly)
MAX_PROCEDURES = 24  # drawn procedures per patient (mean about 1.5 in 10 years)
# a dose of these covers its dosing interval in the duration of use (AFF; use_duration)
ANTIRESORPTIVES: tuple[str, ...] = ("denosumab", *BISPHOSPHONATES)
ROMOSOZUMAB_EXPOSURE_DAYS = 30.4375  # A: exposed for a month after each monthly dose
DAYS_PER_YEAR = 365.25
# the simulation-table columns the exposures are read from (exposures_from_simulation)
EXPOSURE_READ: tuple[str, ...] = ("patient_id", "arm", "day", "death_day", "dropout_day", *SAFETY)


class ArmExposures(NamedTuple):
    """What the hazards need of one arm (an ``ArmResult`` has the same attributes): record
    days, patients, the safety exposures (n_t, n) by ``engine.inputs.SAFETY`` name, death and
    dropout days (n,)."""

    arm: str
    patient_id: np.ndarray
    record_days: FloatArray
    safety: dict[str, FloatArray]
    death_day: FloatArray
    dropout_day: FloatArray

    @property
    def n_patients(self) -> int:
        return int(self.patient_id.size)

    def split(self, size: int) -> list[ArmExposures]:
        """Return the exposures of consecutive groups of at most ``size`` patients: the
        hazards are (weeks, patients) arrays, so a group bounds their memory (issue 28)."""
        return [
            self._replace(
                patient_id=self.patient_id[a : a + size],
                safety={name: course[:, a : a + size] for name, course in self.safety.items()},
                death_day=self.death_day[a : a + size],
                dropout_day=self.dropout_day[a : a + size],
            )
            for a in range(0, self.n_patients, size)
        ]


def exposures_from_simulation(paths: Sequence[str | Path]) -> list[ArmExposures]:
    """Return each arm's exposures from simulation shards (``io.SIMULATION_SCHEMA``: long,
    sorted by patient then day, the same record days for every patient of an arm), reading
    only the columns they need (``EXPOSURE_READ``)."""
    return exposures_from_rows(
        pl.scan_parquet([str(p) for p in paths]).select(EXPOSURE_READ).collect()
    )


def exposures_from_rows(frame: pl.DataFrame) -> list[ArmExposures]:
    """Return each arm's exposures (arms sorted, patients by id) from simulation-table rows
    with at least the ``EXPOSURE_READ`` columns."""
    if sum(frame[name].null_count() for name in SAFETY):
        raise ValueError("simulation tables without safety exposures (written before issue 27)")
    out = []
    frame = frame.select(EXPOSURE_READ).sort("arm", "patient_id", "day")
    for (arm,), part in frame.group_by("arm", maintain_order=True):
        ids = part["patient_id"].unique(maintain_order=True).to_numpy()
        n_t = part.height // ids.size
        first = part.gather_every(n_t)

        def course(name: str, part=part, n=ids.size, n_t=n_t) -> FloatArray:
            return part[name].to_numpy().reshape(n, n_t).T

        out.append(
            ArmExposures(
                arm=str(arm),
                patient_id=ids.astype(np.int64),
                record_days=part["day"][:n_t].to_numpy(),
                safety={name: course(name) for name in SAFETY},
                death_day=first["death_day"].fill_null(np.nan).to_numpy(),
                dropout_day=first["dropout_day"].fill_null(np.inf).to_numpy(),
            )
        )
    return out


class PatientCovariates(NamedTuple):
    """The hazards' covariates of patients, each (n,): ids, age, prior cardiovascular disease,
    dental procedure propensity (cohort columns, ``cohort.safety``)."""

    patient_id: IntArray
    age_years: FloatArray
    prior_cardiovascular_disease: BoolArray
    dental_propensity: FloatArray

    @classmethod
    def from_cohort(cls, cohort: Any) -> PatientCovariates:
        """Return the covariates of every patient of a ``Cohort``."""
        return cls(
            np.asarray(cohort.patient_id, dtype=np.int64),
            np.asarray(cohort.age_years, dtype=np.float64),
            np.asarray(cohort.prior_cardiovascular_disease, dtype=bool),
            np.asarray(cohort.dental_propensity, dtype=np.float64),
        )

    @classmethod
    def from_files(cls, paths: Sequence[str | Path]) -> PatientCovariates:
        """Return the covariates of every patient of cohort shard files (``io.COHORT_SCHEMA``),
        patients by id, reading only these four columns (memory: issue 28)."""
        files = [str(p) for p in paths]
        frame = pl.scan_parquet(files).select(cls._fields).collect().sort("patient_id")
        return cls(
            frame["patient_id"].to_numpy().astype(np.int64),
            frame["age_years"].to_numpy().astype(np.float64),
            frame["prior_cardiovascular_disease"].to_numpy().astype(bool),
            frame["dental_propensity"].to_numpy().astype(np.float64),
        )

    def of(self, patient_id: IntArray) -> PatientCovariates:
        """Return the covariates of the patients ``patient_id`` (in that order; repeats
        allowed); a ValueError if one of them is not here."""
        ids = np.asarray(patient_id, dtype=np.int64)
        order = np.argsort(self.patient_id, kind="stable")
        at = np.minimum(np.searchsorted(self.patient_id, ids, sorter=order), order.size - 1)
        rows = order[at]
        if not np.array_equal(self.patient_id[rows], ids):
            raise ValueError("safety covariates: patient_id not in the cohort")
        return PatientCovariates(*(column[rows] for column in self))


def procedure_rates(cov: PatientCovariates, p: SafetyParams) -> FloatArray:
    """Return each patient's rate of invasive dental procedures per year: the block's mean
    times the patient's propensity."""
    return p.dental_procedures_per_year * cov.dental_propensity


def procedure_days(seed: int, patient_id: np.ndarray, per_year: FloatArray) -> FloatArray:
    """Return invasive dental procedure days (MAX_PROCEDURES, n) of a Poisson process of
    ``per_year`` per patient (inf beyond; stream ``safety.dental_procedures``)."""
    ids = np.asarray(patient_id, dtype=np.int64)
    sums = np.cumsum(rng.exponentials(seed, "safety.dental_procedures", ids, MAX_PROCEDURES), 0)
    with np.errstate(divide="ignore"):
        return np.where(per_year > 0, sums * DAYS_PER_YEAR / per_year, np.inf)


def _interp(days: FloatArray, values: FloatArray, at: FloatArray) -> FloatArray:
    """Return ``values`` (n_t, n), linear in time between ``days``, at ``at`` (m, n) per
    patient column (held at the last record day beyond it)."""
    at = np.clip(at, days[0], days[-1])
    hi = np.clip(np.searchsorted(days, at, side="left"), 1, days.size - 1)
    cols = np.arange(values.shape[1])[np.newaxis, :]
    lo_v, hi_v = values[hi - 1, cols], values[hi, cols]
    frac = (at - days[hi - 1]) / (days[hi] - days[hi - 1])
    return lo_v + frac * (hi_v - lo_v)


def antiresorptive_covered(arm: ArmSpec, grid: FloatArray) -> FloatArray:
    """Return the share of each grid interval (n_g - 1,) covered by an antiresorptive dose:
    a dose of denosumab or a bisphosphonate covers its phase's dosing interval."""
    covered = np.zeros(grid.size - 1)
    for phase in arm.phases:
        if phase.drug not in ANTIRESORPTIVES or phase.dose_mg <= 0:
            continue
        for day in phase.dose_days():
            lo = np.clip(day, grid[:-1], grid[1:])
            hi = np.clip(day + phase.interval_days, grid[:-1], grid[1:])
            covered += (hi - lo) / np.diff(grid)
    return np.minimum(covered, 1.0)


def use_duration(arm: ArmSpec, grid: FloatArray, p: SafetyParams) -> FloatArray:
    """Return the duration of antiresorptive use D_use (years) on ``grid`` (n_g,): one year
    per year covered, decaying with ``aff_offset_per_year`` when not (module docstring)."""
    covered = antiresorptive_covered(arm, grid)
    years = np.diff(grid) / DAYS_PER_YEAR
    decay = np.exp(-p.aff_offset_per_year * (1.0 - covered) * years)
    out = np.zeros(grid.size)
    for k in range(grid.size - 1):  # over the grid's weeks, not over patients
        out[k + 1] = out[k] * decay[k] + covered[k] * years[k]
    return out


def onj_hazard(days, integral, procedures, grid, p: SafetyParams) -> FloatArray:
    """Return the ONJ cumulative hazard on ``grid`` (n_g, n) from the recorded integral I
    (n_t, n) of the deep-suppression exposure and the procedure days (n_p, n)."""
    n = integral.shape[1]
    at = np.broadcast_to(grid[:, np.newaxis], (grid.size, n))
    base = _interp(days, integral, at)
    extra = np.zeros_like(base)
    window = p.onj_procedure_window_days
    for k in range(procedures.shape[0]):
        # a procedure on or after the grid's last day adds nothing (its window's integral is
        # zero on the grid): only the patients whose k-th one comes earlier are computed, and
        # the days are increasing in k, so none after the first k where no patient has one
        cols = np.flatnonzero(procedures[k] < grid[-1])
        if cols.size == 0:
            break
        start = procedures[k, cols][np.newaxis, :]
        mine, at_mine = integral[:, cols], at[:, cols]
        start_i = _interp(days, mine, np.minimum(at_mine, start))
        stop_i = _interp(days, mine, np.minimum(at_mine, start + window))
        extra[:, cols] += stop_i - start_i
    return p.onj_per_year_per_exposure_year * (base + (p.onj_procedure_rr - 1.0) * extra)


def aff_hazard(days, duration, grid, p: SafetyParams, use=None) -> FloatArray:
    """Return the AFF cumulative hazard on ``grid`` (n_g, n) from the duration memory D
    (n_t, n) of suppressed resorption, capped by the duration of use ``use`` (n_g,) if given
    (``use_duration``)."""
    n = duration.shape[1]
    d = _interp(days, duration, np.broadcast_to(grid[:, np.newaxis], (grid.size, n)))
    if use is not None:
        d = np.minimum(d, np.asarray(use)[:, np.newaxis])
    rel = np.maximum(d, 0.0) / p.aff_reference_years
    rate = p.aff_per_year_at_reference * rel**p.aff_duration_power  # per year
    steps = 0.5 * (rate[1:] + rate[:-1]) * (np.diff(grid)[:, np.newaxis] / DAYS_PER_YEAR)
    return np.vstack([np.zeros((1, n)), np.cumsum(steps, axis=0)])


def romosozumab_exposed(arm: ArmSpec, grid: FloatArray) -> FloatArray:
    """Return the share of each grid interval (n_g - 1,) exposed to romosozumab (a month
    after each dose, ``ROMOSOZUMAB_EXPOSURE_DAYS``)."""
    doses = [ph.dose_days() for ph in arm.phases if ph.drug == "romosozumab" and ph.dose_mg > 0]
    exposed = np.zeros(grid.size - 1)
    for day in np.concatenate(doses) if doses else ():
        lo = np.clip(day, grid[:-1], grid[1:])
        hi = np.clip(day + ROMOSOZUMAB_EXPOSURE_DAYS, grid[:-1], grid[1:])
        exposed += (hi - lo) / np.diff(grid)
    return np.minimum(exposed, 1.0)


def mace_hazard(age, prior, exposed, grid, p: SafetyParams) -> FloatArray:
    """Return the MACE cumulative hazard on ``grid`` (n_g, n): age, prior disease and the
    romosozumab hazard ratio on the exposed share of each interval."""
    log_age = p.mace_log_hr_per_year_of_age * (age - p.mace_reference_age_years)
    rate = p.mace_per_year_at_reference_age * np.exp(log_age)
    rate = rate * np.where(prior, p.mace_prior_cardiovascular_rr, 1.0)
    factor = 1.0 + (p.mace_romosozumab_hr - 1.0) * exposed  # (n_g - 1,)
    years = np.diff(grid) / DAYS_PER_YEAR
    steps = (factor * years)[:, np.newaxis] * rate[np.newaxis, :]
    return np.vstack([np.zeros((1, rate.size)), np.cumsum(steps, axis=0)])


def cumulative_hazards(
    result: ArmResult | ArmExposures,
    arm: ArmSpec,
    covariates: PatientCovariates,
    p: SafetyParams,
    seed: int,
) -> tuple[FloatArray, dict[str, FloatArray], dict[str, FloatArray]]:
    """Return (grid, cumulative hazard (n_g, n) per SAFETY_EVENTS name, the result's patients'
    covariates and procedure days) of one arm: the weekly grid over the recorded span, from
    ``result.safety`` (module docstring); ``covariates``: at least the result's patients."""
    if result.safety is None:
        raise ValueError(f"arm {result.arm!r}: the result carries no safety exposures")
    days = np.asarray(result.record_days, dtype=np.float64)
    grid = np.unique(np.append(np.arange(0.0, days[-1], GRID_DAYS), days[-1]))
    ids = np.asarray(result.patient_id, dtype=np.int64)
    mine = covariates.of(ids)
    cov = {
        "prior_cardiovascular_disease": mine.prior_cardiovascular_disease,
        "dental_procedures_per_year": procedure_rates(mine, p),
    }
    cov["procedure_days"] = procedure_days(seed, ids, cov["dental_procedures_per_year"])
    s = result.safety
    hazards = {
        "osteonecrosis_of_the_jaw": onj_hazard(
            days, s["deep_suppression_integral"], cov["procedure_days"], grid, p
        ),
        "atypical_femoral_fracture": aff_hazard(
            days, s["antiresorptive_duration_years"], grid, p, use_duration(arm, grid, p)
        ),
        "mace": mace_hazard(
            mine.age_years,
            mine.prior_cardiovascular_disease,
            romosozumab_exposed(arm, grid),
            grid,
            p,
        ),
    }
    return grid, hazards, cov


def _arm_frames(result, arm, cov, p, seed, end) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return the contract's two frames of one arm (module docstring)."""
    grid, hazards, _ = cumulative_hazards(result, arm, cov, p, seed)
    ids = np.asarray(result.patient_id, dtype=np.int64)
    death = np.asarray(result.death_day, dtype=np.float64)
    end = np.fmin(np.fmin(death, result.dropout_day), np.minimum(end, grid[-1]))
    patients = pl.DataFrame(
        {
            "patient_id": ids,
            "arm": np.full(ids.size, result.arm),
            "end_day": end.astype(np.float64),
            "died": np.isfinite(death) & (death <= end),
        }
    )
    parts = []
    for name in SAFETY_EVENTS:
        threshold = rng.exponentials(seed, f"safety.{name}", ids, 1)
        day = crossing_days(grid, hazards[name], threshold)[0]
        keep = np.isfinite(day) & (day <= end)
        parts.append(
            pl.DataFrame(
                {"patient_id": ids[keep], "day": day[keep], "event": [name] * int(keep.sum())},
                schema={"patient_id": pl.Int64, "day": pl.Float64, "event": pl.String},
            )
        )
    events = pl.concat(parts).with_columns(arm=pl.lit(result.arm))
    return patients, events.select("patient_id", "arm", "day", "event").sort("patient_id", "day")


def safety_frames(
    results: Sequence[ArmResult | ArmExposures],
    arms: Mapping[str, ArmSpec],
    covariates: PatientCovariates,
    params: SafetyParams,
    seed: int,
    end_days: FloatArray | float,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return the safety contract's ``patients`` and ``events`` frames of a trial's arms.

    ``arms``: each result's ArmSpec by name (romosozumab exposure); ``covariates``: the
    cohort's (``PatientCovariates.from_cohort``), every result's patients among them;
    ``end_days``: per patient, indexed by patient_id (length > the largest id), or one number;
    ``seed``: the trial's seed (streams ``safety.*``).
    """
    pats, evs = [], []
    ends = np.asarray(end_days, dtype=np.float64)
    for result in results:
        end = np.full(result.n_patients, float(ends)) if ends.ndim == 0 else ends[result.patient_id]
        p, e = _arm_frames(result, arms[result.arm], covariates, params, seed, end)
        pats.append(p)
        evs.append(e)
    return pl.concat(pats), pl.concat(evs)
