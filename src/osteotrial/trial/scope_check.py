"""Warnings for a run outside what the model was calibrated on (``trial.scope``).

``check_scope(config, cohort)`` compares a run with the calibrated scope and returns one
``ScopeWarning`` per departure:

- a drug's dose or dosing interval outside the doses and intervals it was calibrated on;
- a drug given longer, in one arm, than in any calibrated arm;
- a follow-up longer than that of any calibrated trial that gave the arm's drugs;
- an eligibility window reaching ages or T-scores beyond every calibrated population;
- a cohort table without a ``sex`` column (its rows are taken as women, ``cohort.table``);
- with the cohort: patients who fit no calibrated population's age and T-score window, and
  patients of a sex no calibrated population has;
- a background exposure (``exposures:``) of a kind no calibrated trial carries, given to a
  sex it was not calibrated in (androgen deprivation in women, an aromatase inhibitor in
  men), for longer than in any calibrated arm, or a prednisone dose outside the calibrated
  ones (``trial.scope_exposures``).

Every run reports them once: ``warn_outside`` raises one ``OutsideCalibrationWarning`` (the
API), the CLI prints it to stderr, the workflow logs it before the first job and in the cohort
job's log, and ``scope_metadata`` puts them, as JSON, in the endpoint tables' Parquet metadata
(key ``scope_warnings``), from which the report's banner reads them.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from osteotrial.cohort.population import POPULATION_SEX, PopulationParams
from osteotrial.cohort.presets import population_values
from osteotrial.trial.config import TrialConfig
from osteotrial.trial.scope import (
    Scope,
    calibrated_scope,
    dose_intervals,
    drug_exposures,
    is_metastatic,
    treatment_months,
)
from osteotrial.trial.scope_exposures import exposure_months, exposure_records
from osteotrial.units import DAYS_PER_MONTH

SCOPE_KEY = "scope_warnings"  # Parquet metadata key of the endpoint tables (JSON list)
TOLERANCE = 1e-6  # relative: 182.625 days written as 182.6250001 is still every 6 months
HEADER = "outside what the model was calibrated on (see `osteotrial scope`):"


class OutsideCalibrationWarning(UserWarning):
    """A regimen or cohort lies outside what the model was calibrated on."""


@dataclass(frozen=True)
class ScopeWarning:
    """One departure from the calibrated scope: the config field, its value, the calibrated
    range (a [low, high] pair or a text) and a sentence for people."""

    field: str
    value: Any
    calibrated: Any
    message: str

    def to_dict(self) -> dict[str, Any]:
        """Return the warning as JSON-ready data."""
        return asdict(self)


def _outside(value: float, low: float, high: float) -> bool:
    scale = max(abs(low), abs(high), 1.0) * TOLERANCE
    return value < low - scale or value > high + scale


def _range(pair: tuple[float, float], unit: str) -> str:
    low, high = pair
    return f"{low:g} {unit}" if low == high else f"{low:g} to {high:g} {unit}"


def check_regimens(config: TrialConfig, scope: Scope) -> list[ScopeWarning]:
    """Return the warnings of the arms: unknown drug, dose, interval, time on the drug."""
    out: list[ScopeWarning] = []
    records = drug_exposures(config)
    for r in records:
        where = f"arms.{r['arm']}[{r['index']}]"
        drug = scope.drugs.get(r["drug"])
        if drug is None:
            out.append(
                ScopeWarning(
                    f"{where}.drug",
                    r["drug"],
                    sorted(scope.drugs),
                    f"{r['drug']} is not a calibrated drug (calibrated: {sorted(scope.drugs)})",
                )
            )
            continue
        if _outside(r["dose_mg"], *drug.dose_mg):
            out.append(
                ScopeWarning(
                    f"{where}.dose_mg",
                    r["dose_mg"],
                    list(drug.dose_mg),
                    f"{r['drug']} dose {r['dose_mg']:g} mg in arm {r['arm']!r}: calibrated on "
                    f"{_range(drug.dose_mg, 'mg')} only ({', '.join(drug.trials)})",
                )
            )
    out += check_intervals(config, scope)
    for (arm, name), months in sorted(treatment_months(records).items()):
        drug = scope.drugs.get(name)
        if drug is not None and _outside(months, 0.0, drug.treatment_months):
            out.append(
                ScopeWarning(
                    f"arms.{arm}.{name}",
                    round(months, 3),
                    [0.0, drug.treatment_months],
                    f"{name} given for {months:.4g} months in arm {arm!r}: calibrated on at "
                    f"most {drug.treatment_months:g} months",
                )
            )
    return out


def check_intervals(config: TrialConfig, scope: Scope) -> list[ScopeWarning]:
    """Return a warning per arm and drug whose days between doses leave the calibrated ones
    (the one farthest out is named)."""
    out = []
    for (arm, name), gaps in sorted(dose_intervals(config).items()):
        drug = scope.drugs.get(name)
        if drug is None:
            continue
        low, high = drug.interval_days
        outside = [g for g in gaps if _outside(g, low, high)]
        if not outside:
            continue
        value = max(outside, key=lambda g: max(low - g, g - high))
        out.append(
            ScopeWarning(
                f"arms.{arm}.{name}.interval_days",
                round(value, 4),
                [low, high],
                f"{name} every {value:g} day{'s' if value != 1 else ''} in arm {arm!r}: "
                "calibrated on doses "
                f"{_range((low, high), 'days')} apart only",
            )
        )
    return out


def check_follow_up(config: TrialConfig, scope: Scope) -> list[ScopeWarning]:
    """Return a warning when the follow-up exceeds that of every calibrated trial that gave
    the run's drugs (any calibrated trial, for a run without drugs)."""
    months = config.schedule.duration_days / DAYS_PER_MONTH
    drugs = sorted({r["drug"] for r in drug_exposures(config)} & set(scope.drugs))
    limits = {d: scope.drugs[d].follow_up_months for d in drugs} or {"any": scope.follow_up_months}
    drug, limit = min(limits.items(), key=lambda item: item[1])
    if not _outside(months, 0.0, limit):
        return []
    given = f"after {drug}" if drug != "any" else "of any calibrated trial"
    return [
        ScopeWarning(
            "schedule.duration_months",
            round(months, 3),
            [0.0, limit],
            f"follow-up of {months:.4g} months: the longest calibrated follow-up {given} is "
            f"{limit:g} months",
        )
    ]


def check_eligibility(config: TrialConfig, scope: Scope) -> list[ScopeWarning]:
    """Return the warnings of an eligibility window reaching beyond every calibrated one."""
    e = config.cohort_spec["eligibility"]
    out = []
    for kind, unit, pair in (("age_years", "years", scope.age_years), ("tscore", "", scope.tscore)):
        for bound in ("min", "max"):
            field = f"{kind}_{bound}"
            value = float(e[field])
            if _outside(value, *pair):
                what = "ages" if kind == "age_years" else "T-scores"
                out.append(
                    ScopeWarning(
                        f"cohort.eligibility.{field}",
                        value,
                        list(pair),
                        f"eligibility {field} = {value:g}: the calibrated populations span "
                        f"{what} {_range(pair, unit).strip()} only",
                    )
                )
    return out


def check_table_sex(config: TrialConfig) -> list[ScopeWarning]:
    """Return a warning when the cohort table has no ``sex`` column (its rows taken as women)."""
    table = config.cohort_spec.get("table")
    if table is None:
        return []
    from osteotrial.cohort.table import table_has_sex

    if table_has_sex(table):
        return []
    return [
        ScopeWarning(
            "cohort.table.sex",
            "not given",
            POPULATION_SEX,
            f"cohort table {table} has no 'sex' column: every row is taken as a "
            f"postmenopausal woman ({POPULATION_SEX}); add a 'sex' column (F/M) so that "
            "men are simulated as men (men's T-score references and parameters)",
        )
    ]


def check_cohort(cohort: Any, scope: Scope) -> list[ScopeWarning]:
    """Return a warning when patients fit no calibrated population's age and T-score window."""
    fits = np.zeros(cohort.n_patients, dtype=bool)
    for p in scope.populations:
        age = (cohort.age_years >= p.age_years[0]) & (cohort.age_years <= p.age_years[1])
        window = np.zeros(cohort.n_patients, dtype=bool)
        for site in p.tscore_sites_any:
            tscore = getattr(cohort, f"tscore_{site.lower()}")
            window |= (tscore >= p.tscore[0]) & (tscore <= p.tscore[1])
        fits |= age & window
    n_out = int((~fits).sum())
    if n_out == 0:
        return []
    trials = ", ".join(p.trial for p in scope.populations)
    return [
        ScopeWarning(
            "cohort",
            f"{n_out} of {cohort.n_patients} patients",
            f"the age and T-score windows of {trials}",
            f"{n_out} of {cohort.n_patients} patients fit no calibrated population's age "
            f"and T-score window ({trials}; `osteotrial scope`)",
        )
    ]


def check_cohort_sex(cohort: Any, scope: Scope) -> list[ScopeWarning]:
    """Return a warning when patients are of a sex that no calibrated population has."""
    calibrated = sorted({s for p in scope.populations for s in p.sex.split(", ")})
    outside = ~np.isin(np.asarray(cohort.sex), calibrated)
    n_out = int(outside.sum())
    if n_out == 0:
        return []
    sexes = sorted(set(np.asarray(cohort.sex)[outside].tolist()))
    return [
        ScopeWarning(
            "cohort.sex",
            f"{n_out} of {cohort.n_patients} patients {'/'.join(sexes)}",
            "/".join(calibrated),
            f"{n_out} of {cohort.n_patients} patients are {'/'.join(sexes)}: no calibrated "
            f"population has them (calibrated: {', '.join(calibrated)}); they run on the "
            "men's T-score references and parameters (model.sex), whose bone biology is the "
            "women's, uncalibrated (`osteotrial scope`)",
        )
    ]


def run_sexes(config: TrialConfig, cohort: Any = None) -> tuple[str, ...]:
    """Return the sexes of a run: its cohort's when sampled, else its population block's
    (none known for a cohort table not yet read)."""
    if cohort is not None:
        return tuple(sorted(set(np.asarray(cohort.sex).tolist())))
    if config.cohort_spec.get("table") is not None:
        return ()
    spec = config.cohort_spec.get("population") or {}
    return tuple(PopulationParams.from_dict(population_values(spec)).sexes)


def check_exposures(config: TrialConfig, scope: Scope, cohort: Any = None) -> list[ScopeWarning]:
    """Return the warnings of the background exposures: a kind no calibrated trial carries, a
    sex it was not calibrated in, a prednisone dose outside the calibrated ones, a time on it
    longer than in any calibrated arm."""
    records, out, sexes = exposure_records(config), [], run_sexes(config, cohort)
    for kind in sorted({r["kind"] for r in records}):
        known = scope.exposures.get(kind)
        if known is None:
            out.append(ScopeWarning(f"exposures.{kind}", kind, sorted(scope.exposures),
                f"exposure {kind}: no calibrated trial carries it (calibrated exposures: "
                f"{', '.join(sorted(scope.exposures))})"))  # fmt: skip
            continue
        other = [s for s in sexes if s not in known.sex]
        if other:
            out.append(ScopeWarning(f"exposures.{kind}.sex", "/".join(other), list(known.sex),
                f"exposure {kind} in {'/'.join(other)} patients: calibrated in "
                f"{'/'.join(known.sex)} only ({', '.join(known.sources)})"))  # fmt: skip
    for r in records:
        known = scope.exposures.get(r["kind"])
        dose, pair = r["prednisone_mg_per_day"], known and known.prednisone_mg_per_day
        if pair and _outside(dose, *pair):
            out.append(ScopeWarning(f"arms.{r['arm']}.exposures[{r['index']}].prednisone_mg_per_day",
                dose, list(pair), f"prednisone {dose:g} mg/day in arm {r['arm']!r}: calibrated "
                f"on {_range(pair, 'mg/day')} only ({', '.join(known.sources)})"))  # fmt: skip
    for (arm, kind), months in sorted(exposure_months(records).items()):
        known = scope.exposures.get(kind)
        if known is not None and _outside(months, 0.0, known.months):
            out.append(ScopeWarning(f"arms.{arm}.exposures.{kind}", round(months, 3),
                [0.0, known.months], f"{kind} for {months:.4g} months in arm {arm!r} (from its "
                f"start to the end of follow-up): calibrated on at most {known.months:.4g} "
                f"months ({', '.join(known.sources)})"))  # fmt: skip
    return out


def check_scope(config: TrialConfig, cohort: Any = None) -> list[ScopeWarning]:
    """Return every departure of a run from the calibrated scope (module docstring).

    ``config``: the run's configuration (arms, schedule, cohort block); ``cohort``: its
    ``Cohort`` when sampled, to check the patients themselves.
    """
    scope = calibrated_scope().for_run(is_metastatic(config))
    out = check_regimens(config, scope) + check_follow_up(config, scope)
    out += check_eligibility(config, scope) + check_table_sex(config)
    out += check_exposures(config, scope, cohort)
    if cohort is not None:
        out += check_cohort(cohort, scope) + check_cohort_sex(cohort, scope)
    return out


def scope_text(found: list[ScopeWarning]) -> str:
    """Return the warnings as one message: a header line, then one line per warning."""
    return "\n".join([HEADER, *(f"  - {w.message}" for w in found)])


def warn_outside(found: list[ScopeWarning], stacklevel: int = 3) -> None:
    """Raise one ``OutsideCalibrationWarning`` listing every warning (none if the list is
    empty)."""
    if found:
        warnings.warn(scope_text(found), OutsideCalibrationWarning, stacklevel=stacklevel)


def log_outside(found: list[ScopeWarning], stream: Any = None) -> None:
    """Print the warnings to ``stream`` (default stderr: a job's log), as the CLI does."""
    if found:
        print(f"warning: {scope_text(found)}", file=stream or sys.stderr, flush=True)


def run_scope_metadata(config: TrialConfig, cohort_paths: Sequence[str | Path]) -> dict[str, str]:
    """Return the ``scope_metadata`` of a workflow run: its config and its cohort shards."""
    from osteotrial import io

    return scope_metadata(check_scope(config, io.read_cohort(cohort_paths)))


def scope_metadata(found: list[ScopeWarning]) -> dict[str, str]:
    """Return the Parquet metadata entry of the warnings: ``{SCOPE_KEY: JSON list}``."""
    return {SCOPE_KEY: json.dumps([w.to_dict() for w in found], sort_keys=True)}


def read_scope_metadata(metadata: dict[str, str]) -> list[dict[str, Any]] | None:
    """Return the warnings stored in a table's metadata, or None for a table without the key."""
    text = metadata.get(SCOPE_KEY)
    return None if text is None else json.loads(text)
