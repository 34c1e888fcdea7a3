"""What the model was calibrated on: populations, drugs, doses, intervals and follow-up.

The statement is derived, never typed: the calibrated trials are the trial files of
``config/trials`` whose targets block (``calibration.targets.TARGET_KEYS``; a trial of the same
name as a block needs no entry) is in ``config/targets.yaml`` and not listed in
``targets.NOT_EMULATED``. From those files come the populations (eligibility windows), and
for each drug the doses, the days between its consecutive doses, the longest time on the drug
in one arm and the longest follow-up of a trial that gave it. Scenario trials
(``frame_extension``, ``sequence_order``, ``delayed_denosumab``) and the example registry have
no targets block, so they add nothing. Background exposures: per kind, the sexes, the longest
time on it and the prednisone doses of the calibrated trials (``trial.scope_exposures``).

``KNOWN_BIASES`` holds the model's known departures from published results (validation, not
fitted; ``docs/model.md``, "Carry-over of base hazards"): the one place that ``osteotrial
scope``, the report banner and the README (checked by a test) take them from. A run outside
the statement is warned about by ``osteotrial.trial.scope_check``.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from osteotrial.calibration.targets import NOT_EMULATED, TARGET_KEYS, read_targets
from osteotrial.cohort.population import POPULATION_DESCRIPTION, PopulationParams
from osteotrial.cohort.presets import population_values, read_preset
from osteotrial.trial.config import TrialConfig, available_trials, load_config
from osteotrial.trial.locate import resolve_config_dir
from osteotrial.trial.scope_exposures import ExposureScope, exposure_scopes
from osteotrial.units import DAYS_PER_MONTH

MODEL_DOC = "docs/model.md, 'Carry-over of base hazards'"


@dataclass(frozen=True)
class KnownBias:
    """An emulated result that departs from the published one (validation, not fitted)."""

    endpoint: str
    setting: str
    emulated_pct: float
    published_pct: float
    source: str = MODEL_DOC

    @property
    def ratio(self) -> float:
        """Return emulated / published."""
        return self.emulated_pct / self.published_pct

    @property
    def text(self) -> str:
        """Return the one-line statement of the bias (README, report, ``osteotrial scope``)."""
        return (
            f"{self.endpoint} come out about {self.ratio:.1f} times the published rate "
            f"({self.setting}: {self.emulated_pct:.1f} % emulated vs {self.published_pct:.1f} % "
            f"published; {self.source})"
        )


# FREEDOM's placebo arm, 36 months, expected incidences of 2,000 women per arm vs the
# published arm (docs/model.md, 2026-12-06, with the derived hip base, the vertebral cascade
# and the re-fitted fracture stage): the hip and nonvertebral base hazards fitted to FRAME do
# not carry over to FREEDOM. Kept until a regional baseline-risk covariate mends them.
KNOWN_BIASES: tuple[KnownBias, ...] = (
    KnownBias("hip fractures", "FREEDOM placebo, 36 months", 1.79, 1.2),
    KnownBias("nonvertebral fractures (hip included)", "FREEDOM placebo, 36 months", 4.44, 8.0),
    # the workflow's events at FREEDOM's size (3,235 imaged): with the cascade (issue 24), but
    # no single event that breaks several vertebrae at once
    KnownBias("multiple new vertebral fractures", "FREEDOM placebo, 36 months", 1.14, 1.6),
)


@dataclass(frozen=True)
class Population:
    """The eligibility of one calibrated trial: whom its targets describe (``sex``: "female",
    "male" or "female, male" for a mixed source population; ``description``: its preset's)."""

    trial: str
    targets_block: str
    sex: str
    age_years: tuple[float, float]
    tscore: tuple[float, float]
    tscore_sites_any: tuple[str, ...]
    description: str = POPULATION_DESCRIPTION


@dataclass(frozen=True)
class DrugScope:
    """What one drug was calibrated on, over every arm of every calibrated trial.

    ``treatment_months``: the longest time on the drug within one arm (from its first dose to
    the end of its last phase, within the trial's follow-up); ``follow_up_months``: the longest
    follow-up of a calibrated trial that gave the drug.
    """

    drug: str
    dose_mg: tuple[float, float]
    interval_days: tuple[float, float]
    treatment_months: float
    follow_up_months: float
    trials: tuple[str, ...]


@dataclass(frozen=True)
class Scope:
    """The statement of what the model was calibrated on (module docstring)."""

    population: str
    sex: str
    populations: tuple[Population, ...]
    drugs: dict[str, DrugScope]
    follow_up_months: float
    not_covered: dict[str, str]
    known_biases: tuple[KnownBias, ...]
    exposures: dict[str, ExposureScope]
    # the bone-metastasis indication (trials whose population has a tumour in bone, issue 26):
    # its own populations and regimens (denosumab 120 mg every 4 weeks), used for such runs only
    metastasis_populations: tuple[Population, ...] = ()
    metastasis_drugs: dict[str, DrugScope] | None = None

    def for_run(self, metastatic: bool) -> Scope:
        """Return the scope a run is checked against: a run with a tumour in bone against the
        bone-metastasis trials, any other against the rest (the osteoporosis indication)."""
        if not metastatic:
            return self
        drugs = self.metastasis_drugs or {}
        return replace(self, populations=self.metastasis_populations or (), drugs=drugs)

    @property
    def age_years(self) -> tuple[float, float]:
        """Return the lowest and highest age of any calibrated population."""
        return _hull(p.age_years for p in self.populations)

    @property
    def tscore(self) -> tuple[float, float]:
        """Return the lowest and highest T-score of any calibrated eligibility window."""
        return _hull(p.tscore for p in self.populations)

    def to_dict(self) -> dict[str, Any]:
        """Return the statement as plain data (lists, floats, strings) for YAML or JSON."""
        return {
            "population": self.population,
            "sex": self.sex,
            "age_years": list(self.age_years),
            "tscore": list(self.tscore),
            "populations": [_plain(asdict(p)) for p in self.populations],
            "drugs": {name: _plain(asdict(d)) for name, d in self.drugs.items()},
            "follow_up_months": self.follow_up_months,
            "not_covered": dict(self.not_covered),
            "known_biases": [bias.text for bias in self.known_biases],
            "exposures": {kind: _plain(asdict(e)) for kind, e in self.exposures.items()},
            "bone_metastases": {
                "populations": [_plain(asdict(p)) for p in self.metastasis_populations],
                "drugs": {n: _plain(asdict(d)) for n, d in (self.metastasis_drugs or {}).items()},
            },
        }


def _hull(ranges: Any) -> tuple[float, float]:
    pairs = list(ranges)
    return (min(low for low, _ in pairs), max(high for _, high in pairs))


def _plain(value: Any) -> Any:
    """Return ``value`` with tuples turned into lists (YAML and JSON write lists)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


# Blocks that fit only the hazard scales of rare harms (calibration.safety): their trial files'
# BMD and fractures are validation, so they do not widen the efficacy scope (ten years of
# denosumab, ARCH's population).
SAFETY_ONLY_BLOCKS: tuple[str, ...] = ("safety",)


def calibrated_trials(config_dir: str | Path | None = None) -> dict[str, str]:
    """Return trial name -> targets block of every trial file whose block is emulated."""
    blocks = read_targets()["trials"]
    out = {}
    for trial in available_trials(config_dir):
        block = TARGET_KEYS.get(trial, trial)
        if block in blocks and block not in NOT_EMULATED and block not in SAFETY_ONLY_BLOCKS:
            out[trial] = block
    return out


def population_of(config: TrialConfig, block: str) -> Population:
    """Return the calibrated population of one trial: its eligibility window and sex."""
    e = config.cohort_spec["eligibility"]
    block_population = config.cohort_spec.get("population") or {}
    population = PopulationParams.from_dict(population_values(block_population))
    preset = block_population.get("preset")
    top_with_fracture = e.get("tscore_max_with_prior_fracture")
    top_with_fracture = -np.inf if top_with_fracture is None else float(top_with_fracture)
    return Population(
        trial=config.name,
        targets_block=block,
        sex=", ".join(population.sexes),
        description=read_preset(preset)["description"] if preset else POPULATION_DESCRIPTION,
        age_years=(float(e["age_years_min"]), float(e["age_years_max"])),
        tscore=(float(e["tscore_min"]), max(float(e["tscore_max"]), top_with_fracture)),
        tscore_sites_any=tuple(e["tscore_sites_any"]),
    )


def is_metastatic(config: TrialConfig) -> bool:
    """Return whether a trial's source population has a tumour in bone (cohort.tumour)."""
    population = population_values(config.cohort_spec.get("population") or {})
    return PopulationParams.from_dict(population).tumour_burden_median_rel > 0.0


def drug_exposures(config: TrialConfig) -> list[dict[str, Any]]:
    """Return one record per active phase of every arm that starts within follow-up: arm,
    index, drug, dose_mg, interval_days, start_day, stop_day (cut at the end of follow-up)."""
    end_day = config.schedule.duration_days
    records = []
    for arm, spec in sorted(config.arms.items()):
        for index, phase in enumerate(spec.phases):
            if phase.drug == "placebo" or phase.start_day >= end_day:
                continue
            records.append(
                {
                    "arm": arm,
                    "index": index,
                    "drug": phase.drug,
                    "dose_mg": float(phase.dose_mg),
                    "interval_days": float(phase.interval_days),
                    "start_day": phase.start_day,
                    "stop_day": min(phase.stop_day, end_day),
                }
            )
    return records


def dose_intervals(config: TrialConfig) -> dict[tuple[str, str], list[float]]:
    """Return (arm, drug) -> the days between consecutive doses of the drug within follow-up,
    over all the arm's phases of it (a single dose has none; a gap between phases counts)."""
    end_day = config.schedule.duration_days
    days: dict[tuple[str, str], list[float]] = {}
    for arm, spec in sorted(config.arms.items()):
        for phase in spec.phases:
            if phase.drug != "placebo":
                given = [float(d) for d in phase.dose_days() if d < end_day]
                days.setdefault((arm, phase.drug), []).extend(given)
    return {key: np.diff(sorted(d)).tolist() for key, d in days.items()}


def treatment_months(records: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    """Return (arm, drug) -> months from the drug's first dose to the end of its last phase."""
    spans: dict[tuple[str, str], tuple[float, float]] = {}
    for r in records:
        key = (r["arm"], r["drug"])
        first, last = spans.get(key, (r["start_day"], r["stop_day"]))
        spans[key] = (min(first, r["start_day"]), max(last, r["stop_day"]))
    return {key: (last - first) / DAYS_PER_MONTH for key, (first, last) in spans.items()}


def _drug_scopes(configs: list[TrialConfig]) -> dict[str, DrugScope]:
    """Return drug -> DrugScope over the phases of the calibrated trials."""
    seen: dict[str, dict[str, Any]] = {}
    for config in configs:
        records = drug_exposures(config)
        follow_up = config.schedule.duration_days / DAYS_PER_MONTH
        months = treatment_months(records)
        intervals = dose_intervals(config)
        for r in records:
            entry = seen.setdefault(
                r["drug"], {"dose": [], "interval": [], "months": [], "follow": [], "trials": []}
            )
            entry["dose"].append(r["dose_mg"])
            entry["interval"].extend(intervals[(r["arm"], r["drug"])])
            entry["months"].append(months[(r["arm"], r["drug"])])
            entry["follow"].append(follow_up)
            entry["trials"].append(config.name)
    return {
        drug: DrugScope(
            drug=drug,
            dose_mg=(min(e["dose"]), max(e["dose"])),
            interval_days=(min(e["interval"]), max(e["interval"])),
            treatment_months=round(max(e["months"]), 6),
            follow_up_months=round(max(e["follow"]), 6),
            trials=tuple(sorted(set(e["trials"]))),
        )
        for drug, e in sorted(seen.items())
    }


@functools.lru_cache(maxsize=4)
def _cached_scope(config_dir: str) -> Scope:
    trials = calibrated_trials(config_dir)
    every = [load_config(trial, config_dir=config_dir) for trial in trials]
    configs = [c for c in every if not is_metastatic(c)]
    tumour = [c for c in every if is_metastatic(c)]
    populations = tuple(population_of(c, trials[c.name]) for c in configs)
    return Scope(
        metastasis_populations=tuple(population_of(c, trials[c.name]) for c in tumour),
        metastasis_drugs=_drug_scopes(tumour),
        population="; ".join(dict.fromkeys(p.description for p in populations)),
        sex=", ".join(sorted({s for p in populations for s in p.sex.split(", ")})),
        populations=populations,
        drugs=_drug_scopes(configs),
        follow_up_months=round(max(c.schedule.duration_days for c in configs) / DAYS_PER_MONTH, 6),
        not_covered=dict(NOT_EMULATED),
        known_biases=KNOWN_BIASES,
        exposures=exposure_scopes(configs, {p.trial: p.sex for p in populations}),
    )


def calibrated_scope(config_dir: str | Path | None = None) -> Scope:
    """Return what the model was calibrated on (module docstring), derived from the targets
    file and the calibrated trial files of ``config_dir`` (default: the package's config);
    computed once per folder."""
    return _cached_scope(str(resolve_config_dir(config_dir).resolve()))
