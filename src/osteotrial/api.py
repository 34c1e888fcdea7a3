"""The Python API: one regimen (or a few), a virtual cohort, a tidy table, in a few lines.

``simulate("romosozumab 210 mg monthly for 12 months, then denosumab 60 mg every 6 months for
12 months", n_patients=200, seed=1)`` screens ``n_patients`` women with a trial's eligibility
(FRAME's by default: age 55-90, T-score -3.5 to -2.5 at total hip or femoral neck, no prior
hip fracture, no severe or more than two moderate vertebral fractures; ``config/trials/
frame.yaml``), simulates each regimen on the same women (common random numbers: the regimens
differ only through their drugs) with the trial's model parameters, and returns one row per
patient, regimen and month. No one is lost to follow-up (the trial's dropout rate is not
applied): the table shows what the model predicts, not what a trial would observe. Regimen
text grammar: ``osteotrial.trial.regimen_text``; workflow runs, with every endpoint and
analysis, take a trial file instead (README.md).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from osteotrial.analyses.vocabulary import ENGINE_EVENTS, endpoint
from osteotrial.cohort.from_table import TooFewEligibleError
from osteotrial.cohort.sampling import Cohort, CohortSpec, sample_cohort
from osteotrial.engine.results import ArmResult
from osteotrial.engine.simulate import simulate_arm
from osteotrial.stats.intervals import mean_ci_arrays, proportion_ci_arrays
from osteotrial.trial.config import TrialConfig, load_config
from osteotrial.trial.regimen_text import format_regimen, parse_regimen, regimen_end_day
from osteotrial.trial.schedules import ArmSpec, RegimenPhase, Schedule
from osteotrial.trial.scope_check import check_scope, warn_outside
from osteotrial.units import DAYS_PER_MONTH

DEFAULT_TRIAL = "frame"
MAX_PATIENTS = 10_000_000
MAX_MONTHS = 240
# Peak memory of a run per patient, regimen and simulated month (the engine's trajectories and
# the tidy table): 406 B measured (20,000 patients, 120 months, CPU engine), rounded up.
BYTES_PER_PATIENT_MONTH = 500
# Share of the memory available at the start of a run that one run may use.
MEMORY_SHARE = 0.8
SITES = ("ls", "th", "fn")
# Fracture endpoints of the table (names and meanings: ``analyses.vocabulary``).
FRACTURE_ENDPOINTS: tuple[str, ...] = (
    "new_vertebral",
    "clinical_vertebral",
    "hip",
    "nonvertebral",
    "nonvertebral_other_than_hip",
    "clinical",
)
BASELINE_COLUMNS = ("sex", "age_years", "bmi_kg_m2", "tscore_ls", "tscore_th", "tscore_fn")
# Bone structure per site (model.bone): trabecular BV/TV and cortical porosity now (fractions),
# the strength index's % change from baseline.
STRUCTURE_COLUMNS: tuple[str, ...] = tuple(
    f"{name}_{site}"
    for site in SITES
    for name in ("trabecular_bvtv", "cortical_porosity", "strength_pct_change")
)
# One row per (regimen, patient_id, month); see ``simulate``'s docstring for the meaning.
COLUMNS: tuple[str, ...] = (
    "regimen",
    "patient_id",
    "month",
    "day",
    *BASELINE_COLUMNS,
    "prevalent_vertebral_fracture_count",
    "alive",
    *(f"bmd_{site}_pct_change" for site in SITES),
    "p1np_pct_change",
    "ctx_pct_change",
    *STRUCTURE_COLUMNS,
    *(f"{name}_fractures_cum" for name in FRACTURE_ENDPOINTS),
)

SUMMARY_COLUMNS: tuple[str, ...] = (
    "regimen",
    "month",
    "n_alive",
    *(f"bmd_{s}_pct_change_{stat}" for s in SITES for stat in ("mean", "ci_low", "ci_high")),
    "p1np_pct_change_median",
    "ctx_pct_change_median",
    *(f"{name}_mean" for name in STRUCTURE_COLUMNS),
    *(
        f"{k}_incidence_{stat}frac"
        for k in FRACTURE_ENDPOINTS
        for stat in ("", "ci_low_", "ci_high_")
    ),
)

Regimen = str | Sequence[RegimenPhase]


def _arm(label: str, regimen: Regimen) -> ArmSpec:
    """Return the ArmSpec of a regimen text or a sequence of phases."""
    phases = parse_regimen(regimen) if isinstance(regimen, str) else tuple(regimen)
    if not phases or not all(isinstance(p, RegimenPhase) for p in phases):
        raise TypeError(
            f"regimen {label!r} must be a text (osteotrial.trial.regimen_text) or a sequence "
            f"of RegimenPhase, got {regimen!r}"
        )
    return ArmSpec(name=label, phases=phases)


def regimen_arms(regimen: Regimen | Mapping[str, Regimen]) -> dict[str, ArmSpec]:
    """Return label -> ArmSpec of one regimen (labelled by its canonical text) or a mapping."""
    if isinstance(regimen, Mapping):
        if not regimen:
            raise ValueError("regimen mapping is empty; give label -> regimen text")
        return {str(label): _arm(str(label), value) for label, value in regimen.items()}
    arm = _arm("regimen", regimen)
    try:
        label = format_regimen(arm.phases)
    except ValueError:
        label = "regimen"
    return {label: ArmSpec(name=label, phases=arm.phases)}


def _check_int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name}={value!r} must be an integer in [{low}, {high}]")
    if not low <= value <= high:
        raise ValueError(f"{name}={value} is outside the allowed range [{low}, {high}]")
    return int(value)


def simulated_months(arms: Mapping[str, ArmSpec], months: float | None) -> int:
    """Return the simulated span in whole months: given, or the end of the longest regimen."""
    needed = max(regimen_end_day(a.phases) for a in arms.values()) / DAYS_PER_MONTH
    needed_months = max(1, math.ceil(needed - 1e-9))
    if needed_months > MAX_MONTHS:
        raise ValueError(
            f"the regimen runs {needed:g} months, beyond the longest simulated span of "
            f"{MAX_MONTHS} months ({MAX_MONTHS // 12} years; the same cap as months/--months); "
            "shorten the regimen"
        )
    if months is None:
        return needed_months
    span = _check_int("months", months, 1, MAX_MONTHS)
    if span < needed - 1e-9:
        raise ValueError(
            f"months={span} stops before the regimen ends (month {needed:g}); give "
            f"months >= {needed_months} or shorten the regimen"
        )
    return span


def memory_limit_bytes() -> int:
    """Return the memory one run may use: ``MEMORY_SHARE`` of what the system has available
    now (Linux MemAvailable; elsewhere half the physical memory)."""
    try:
        with open("/proc/meminfo") as meminfo:
            fields = dict(line.split(":", 1) for line in meminfo)
        available = int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    return int(MEMORY_SHARE * available)


def check_memory(n_patients: int, n_regimens: int, months: int, option: str = "n_patients"):
    """Raise ValueError, naming the estimate and the limit, when a run would not fit in memory.

    The estimate is ``BYTES_PER_PATIENT_MONTH`` per patient, regimen and month (months 0 to
    ``months``); ``option`` is the name of the patients setting in the caller's interface.
    """
    need = n_patients * n_regimens * (months + 1) * BYTES_PER_PATIENT_MONTH
    limit = memory_limit_bytes()
    if need > limit:
        raise ValueError(
            f"{option}={n_patients} x {n_regimens} regimen(s) x {months + 1} months needs about "
            f"{need / 1e9:.1f} GB of memory ({BYTES_PER_PATIENT_MONTH} B per patient, regimen "
            f"and month), above the limit of {limit / 1e9:.1f} GB ({MEMORY_SHARE:.0%} of the "
            f"memory available now); use at most {limit // (need // n_patients)} patients, or "
            "run a trial file with the workflow, which simulates in shards (README.md)"
        )


def quick_schedule(months: int, dt_days: float = 1.0) -> Schedule:
    """Return a schedule of ``months`` with a visit every month (BMD, markers, fractures)."""
    visits = tuple(float(m) for m in range(1, months + 1))
    return Schedule(dt_days, months * DAYS_PER_MONTH, visits, (), ())


def quick_cohort(trial: TrialConfig, n_patients: int, seed: int) -> Cohort:
    """Return ``n_patients`` screened with the trial's eligibility, never lost to follow-up.

    A trial whose cohort is a table with fewer eligible rows raises ``TooFewEligibleError``
    advising ``n_patients``.
    """
    block = copy.deepcopy(trial.cohort_spec)
    block["dropout_per_year"] = 0.0
    try:
        return sample_cohort(CohortSpec.from_dict(block), {"cohort": n_patients}, seed)
    except TooFewEligibleError as error:
        raise error.advise("n_patients") from None


def simulate(
    regimen: Regimen | Mapping[str, Regimen],
    n_patients: int = 100,
    seed: int = 0,
    *,
    months: int | None = None,
    trial: str | TrialConfig = DEFAULT_TRIAL,
    dt_days: float = 1.0,
) -> pl.DataFrame:
    """Simulate regimens on one virtual cohort and return a tidy table.

    Parameters
    ----------
    regimen
        A regimen text ("denosumab 60 mg every 6 months for 24 months"; grammar in
        ``osteotrial.trial.regimen_text``), a sequence of ``RegimenPhase``, or a mapping
        label -> either, to compare regimens on the same patients.
    n_patients
        Women screened with the trial's eligibility (1 - 10^7, and a run must fit in memory:
        about ``BYTES_PER_PATIENT_MONTH`` = 500 B per patient, regimen and month, at most
        ``MEMORY_SHARE`` = 80 % of the memory available; ``check_memory``).
    seed
        Root seed of the cohort (0 - 2^32-1): the same seed gives the same table.
    months
        Simulated span in whole months, at most ``MAX_MONTHS`` = 240 (default: the end of the
        longest regimen; a regimen longer than 240 months is refused).
    trial
        Trial whose eligibility and model parameters are used (a name in config/trials or a
        path to a trial file; default "frame").
    dt_days
        Integration step in days.

    Returns
    -------
    polars.DataFrame
        One row per (regimen, patient_id, month), months 0, 1, ..., sorted so. Columns
        ``COLUMNS``: ``regimen`` (label; a single text is labelled by its canonical form),
        ``patient_id``, ``month`` and ``day`` (days since day 0), baseline covariates
        (``sex``, ``age_years``, ``bmi_kg_m2``, ``tscore_{ls,th,fn}`` on the sex's reference,
        ``prevalent_vertebral_fracture_count``), ``alive`` (not dead by that day),
        ``bmd_{ls,th,fn}_pct_change`` (lumbar spine, total hip, femoral neck, % change from
        baseline), ``p1np_pct_change`` and ``ctx_pct_change`` (bone markers, % change from the
        patient's baseline), ``trabecular_bvtv_{site}`` and ``cortical_porosity_{site}``
        (bone structure now, fractions) and ``strength_pct_change_{site}`` (strength index,
        % change from baseline), and ``<endpoint>_fractures_cum``, the count of fractures of each
        endpoint of ``FRACTURE_ENDPOINTS`` up to that day, in the trials' words
        (``analyses.vocabulary``): ``new_vertebral`` (every new vertebral fracture, clinical or
        not), ``clinical_vertebral``, ``hip``, ``nonvertebral`` (hip included, as in the
        trials), ``nonvertebral_other_than_hip`` and ``clinical`` (nonvertebral or clinical
        vertebral). BMD, markers and structure are null after death.

    Warns
    -----
    OutsideCalibrationWarning
        Once, listing every way the regimens or the cohort lie outside what the model was
        calibrated on (``osteotrial.trial.scope_check``; ``osteotrial scope`` prints it).

    Raises
    ------
    ValueError, TypeError
        For an unparsable regimen (naming the part of the text), an unknown trial or a value
        out of range, before any simulation.
    """
    arms = regimen_arms(regimen)
    n = _check_int("n_patients", n_patients, 1, MAX_PATIENTS)
    root_seed = _check_int("seed", seed, 0, 2**32 - 1)
    span = simulated_months(arms, months)
    check_memory(n, len(arms), span)
    schedule = quick_schedule(span, float(dt_days))
    config = load_config(trial) if isinstance(trial, str) else trial
    cohort = quick_cohort(config, n, root_seed)
    run = dataclasses.replace(config, arms=arms, schedule=schedule)
    warn_outside(check_scope(run, cohort))  # one OutsideCalibrationWarning, if any
    tables = [
        regimen_table(
            simulate_arm(cohort, arm, config.params, schedule, record_pk=False), cohort, label
        )
        for label, arm in arms.items()
    ]
    return pl.concat(tables)


def _event_counts(days: np.ndarray, record_days: np.ndarray) -> np.ndarray:
    """Return events up to each record day, shape (n_times, n_patients); nan days never count."""
    happened = np.nan_to_num(days, nan=np.inf)[None, :, :] <= record_days[:, None, None]
    return happened.sum(axis=1)


def _endpoint_counts(result: ArmResult, name: str) -> np.ndarray:
    """Return the fractures of endpoint ``name`` up to each record day, (n_times, n_patients):
    the sum over the engine events the vocabulary says the endpoint is made of."""
    total = np.zeros((result.record_days.size, result.n_patients), dtype=np.int64)
    for event in endpoint(name).events:
        fracture_type, clinical_only = ENGINE_EVENTS[event]
        days = result.fracture_days(fracture_type)
        if clinical_only:
            days = np.where(result.vertebral_fracture_clinical, days, np.nan)
        total += _event_counts(days, result.record_days)
    return total


def _pct(values: np.ndarray) -> np.ndarray:
    """Return the % change from the first row (baseline), shape kept."""
    return 100.0 * (values / values[:1] - 1.0)


def regimen_table(result: ArmResult, cohort: Cohort, label: str) -> pl.DataFrame:
    """Return the tidy table (``COLUMNS``) of one simulated regimen; see ``simulate``."""
    days = result.record_days
    n_times, n = days.size, result.n_patients
    alive = ~(np.nan_to_num(result.death_day, nan=np.inf)[None, :] <= days[:, None])
    measured = {f"bmd_{s}_pct_change": _pct(result.bmd_g_cm2(s)) for s in SITES}
    measured |= {"p1np_pct_change": 100.0 * (result.p1np_rel - 1.0)}
    measured |= {"ctx_pct_change": 100.0 * (result.ctx_rel - 1.0)}
    for site in SITES:
        measured[f"trabecular_bvtv_{site}"] = result.structure_of(f"trabecular_bvtv_{site}")
        measured[f"cortical_porosity_{site}"] = result.structure_of(f"cortical_porosity_{site}")
        strength = result.structure_of(f"strength_rel_{site}")
        measured[f"strength_pct_change_{site}"] = 100.0 * (strength - 1.0)
    counts = {f"{k}_fractures_cum": _endpoint_counts(result, k) for k in FRACTURE_ENDPOINTS}
    baseline = {
        name: np.asarray(getattr(cohort, name))
        for name in (*BASELINE_COLUMNS, "prevalent_vertebral_fracture_count")
    }
    # patient-major rows: (n, n_times) transposes of the (n_times, n) trajectories
    frame = pl.DataFrame(
        {
            "regimen": [label] * (n * n_times),
            "patient_id": np.repeat(result.patient_id, n_times),
            "month": np.tile(days / DAYS_PER_MONTH, n),
            "day": np.tile(days, n),
            **{name: np.repeat(values, n_times) for name, values in baseline.items()},
            "alive": alive.T.ravel(),
            **{name: values.T.ravel() for name, values in measured.items()},
            **{name: values.T.ravel().astype(np.int64) for name, values in counts.items()},
        }
    )
    unobserved = ~pl.col("alive")
    return frame.with_columns(
        pl.when(unobserved).then(None).otherwise(pl.col(name)).alias(name) for name in measured
    ).select(COLUMNS)


def summarize(table: pl.DataFrame) -> pl.DataFrame:
    """Return one row per (regimen, month) of a ``simulate`` table.

    Columns: ``n_alive``; ``bmd_{ls,th,fn}_pct_change_mean`` (mean over living patients) with
    its t-based 95 % confidence interval ``bmd_{site}_pct_change_ci_low``/``_ci_high``;
    ``p1np_pct_change_median``, ``ctx_pct_change_median``; ``<structure column>_mean`` (mean
    over living patients of each ``STRUCTURE_COLUMNS``); for every endpoint of
    ``FRACTURE_ENDPOINTS`` (``analyses.vocabulary``; ``nonvertebral`` includes hip),
    ``<endpoint>_incidence_frac``: share of all patients with at least one fracture of the
    endpoint by that month (a death does not remove a patient from the denominator: deaths are
    competing events), with its Wilson 95 % interval ``<endpoint>_incidence_ci_low_frac`` and
    ``_ci_high_frac``.
    """
    frame = table.group_by("regimen", "month", maintain_order=True).agg(
        pl.col("alive").sum().alias("n_alive"),
        pl.len().alias("_n"),
        *(pl.col(f"bmd_{s}_pct_change").mean().alias(f"bmd_{s}_pct_change_mean") for s in SITES),
        *(pl.col(f"bmd_{s}_pct_change").std().alias(f"_sd_{s}") for s in SITES),
        pl.col("p1np_pct_change").median().alias("p1np_pct_change_median"),
        pl.col("ctx_pct_change").median().alias("ctx_pct_change_median"),
        *(pl.col(name).mean().alias(f"{name}_mean") for name in STRUCTURE_COLUMNS),
        *(
            (pl.col(f"{k}_fractures_cum") > 0).sum().alias(f"_events_{k}")
            for k in FRACTURE_ENDPOINTS
        ),
    )
    return frame.with_columns(**_intervals(frame)).select(SUMMARY_COLUMNS)


def _intervals(frame: pl.DataFrame) -> dict[str, Any]:
    """Return the summary's incidences and 95 % intervals from its group counts and SDs."""
    columns: dict[str, Any] = {}
    for s in SITES:
        low, high = mean_ci_arrays(
            frame[f"bmd_{s}_pct_change_mean"].to_numpy(),
            frame[f"_sd_{s}"].to_numpy(),
            frame["n_alive"].to_numpy(),
        )
        columns[f"bmd_{s}_pct_change_ci_low"] = low
        columns[f"bmd_{s}_pct_change_ci_high"] = high
    n = frame["_n"].to_numpy()
    for k in FRACTURE_ENDPOINTS:
        events = frame[f"_events_{k}"].to_numpy()
        low, high = proportion_ci_arrays(events, n)
        columns[f"{k}_incidence_frac"] = events / n
        columns[f"{k}_incidence_ci_low_frac"] = low
        columns[f"{k}_incidence_ci_high_frac"] = high
    return columns
