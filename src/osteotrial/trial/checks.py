"""Checks of a merged trial configuration: the JSON schema, then the rules it cannot express.

``validate_merged`` validates with the schema (Draft 2020-12), filling its defaults in place
exactly as ``snakemake.utils.validate(..., set_default=True)`` does, and reports every error in
one readable line (field, value, what is allowed). ``check_semantics`` checks phase order, the
control arm, the allocation keys, eligibility windows, the visit and imaging months and the
analysis blocks. Both raise ``ValueError``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from osteotrial.units import DAYS_PER_MONTH


def _extend_with_default(validator_class: type) -> type:
    """Return a validator class that fills schema defaults (as snakemake.utils.validate)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):  # noqa: ANN001, ANN202
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


_DefaultFillingValidator = _extend_with_default(Draft202012Validator)


def format_path(path: Any) -> str:
    """Return a dotted path such as ``arms.placebo[0].stop_day`` for a jsonschema path."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<top level>"


def _range_text(schema: Mapping[str, Any]) -> str:
    low = schema.get("minimum", schema.get("exclusiveMinimum", "-inf"))
    high = schema.get("maximum", schema.get("exclusiveMaximum", "inf"))
    left = "(" if "exclusiveMinimum" in schema else "["
    right = ")" if "exclusiveMaximum" in schema else "]"
    return f"{left}{low}, {high}{right}"


def describe_error(error: ValidationError) -> str:
    """Return one readable line for a schema error: field, value and what is allowed."""
    where = format_path(error.absolute_path)
    value, schema, kind = error.instance, error.schema, error.validator
    if kind == "additionalProperties" and isinstance(value, dict):
        unknown = sorted(set(value) - set(schema.get("properties", {})))
        allowed = sorted(schema.get("properties", {}))
        return f"{where}: unknown key(s) {unknown}; allowed keys: {allowed}"
    if kind == "required":
        return f"{where}: missing required key; {error.message}"
    if kind == "type":
        return f"{where}={value!r} has type {type(value).__name__}; expected {schema['type']}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{where}={value!r} is out of range; allowed: {_range_text(schema)}"
    if kind == "enum":
        return f"{where}={value!r} is not allowed; allowed values: {schema['enum']}"
    if kind in ("minItems", "minProperties", "maxItems", "uniqueItems", "pattern"):
        reason = f" ({schema['description']})" if "description" in schema else ""
        return f"{where}={value!r} is invalid: {error.message}{reason}"
    return f"{where}: {error.message}"


def validate_merged(merged: dict[str, Any], schema: Mapping[str, Any]) -> None:
    """Validate a merged configuration in place (defaults are filled); raise ValueError."""
    validator = _DefaultFillingValidator(schema)
    errors = sorted(validator.iter_errors(merged), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        lines = [describe_error(e) for e in errors[:10]]
        more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise ValueError(
            f"invalid configuration of trial {merged.get('trial')!r}:\n  "
            + "\n  ".join(lines)
            + more
        )


def non_finite_fields(value: Any, where: str = "") -> list[str]:
    """Return the dotted paths of every NaN or infinite number in a configuration mapping."""
    if isinstance(value, Mapping):
        return [
            path
            for key, item in value.items()
            for path in non_finite_fields(item, f"{where}.{key}" if where else str(key))
        ]
    if isinstance(value, list | tuple):
        return [p for i, item in enumerate(value) for p in non_finite_fields(item, f"{where}[{i}]")]
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{where}={value}"]
    return []


def check_finite(merged: Mapping[str, Any]) -> None:
    """Raise ValueError naming every field set to NaN or an infinity (YAML .nan, .inf)."""
    bad = non_finite_fields(merged)
    if bad:
        raise ValueError(
            f"invalid configuration of trial {merged.get('trial')!r}: {', '.join(bad)}; "
            "every number must be finite"
        )


def _check_arms(arms: Mapping[str, list[dict[str, Any]]], duration_days: float) -> None:
    for name, phases in arms.items():
        for index, phase in enumerate(phases):
            where = f"arms.{name}[{index}]"
            if phase["start_day"] >= duration_days:
                raise ValueError(
                    f"{where}.start_day={phase['start_day']} is at or after the end of the trial "
                    f"(schedule.duration_months x {DAYS_PER_MONTH} = {duration_days:g} days): "
                    "the phase would never start; allowed: start_day < "
                    f"{duration_days:g}"
                )
            if phase["stop_day"] <= phase["start_day"]:
                raise ValueError(
                    f"{where}.stop_day={phase['stop_day']} must be greater than "
                    f"start_day={phase['start_day']}"
                )
            if phase["drug"] == "placebo" and phase["dose_mg"] != 0:
                raise ValueError(f"{where}.dose_mg={phase['dose_mg']} for placebo; allowed: 0")
            if index and phase["start_day"] < phases[index - 1]["start_day"]:
                raise ValueError(
                    f"{where}.start_day={phase['start_day']} is before the previous phase's "
                    f"start_day={phases[index - 1]['start_day']}; list phases in time order"
                )
            for other in phases[:index]:
                if other["drug"] == phase["drug"] and phase["start_day"] < other["stop_day"]:
                    raise ValueError(
                        f"{where}.start_day={phase['start_day']} overlaps an earlier "
                        f"{phase['drug']} phase that stops at day {other['stop_day']}"
                    )


# Largest step (days) of an arm with an active drug: measured against a 0.25-day step on 100
# patients per arm of every trial file (docs/model.md, "Step size"): at 1 day per-patient CTX
# is within 7 points and BMD within 0.5 %; at 1.25 days P1NP moves by up to 18 points and
# CTX by 4.4, at 1.75 by 12. Placebo-only arms keep BMD within 0.01 % up to 3 days.
MAX_TREATED_DT_DAYS = 1.0


def _check_step(arms: Mapping[str, list[dict[str, Any]]], dt_days: float) -> None:
    """Refuse a step too large for the stiffest (drug) phase of any arm, before any job."""
    if dt_days <= MAX_TREATED_DT_DAYS:
        return
    for name, phases in sorted(arms.items()):
        for index, phase in enumerate(phases):
            if phase["drug"] != "placebo" and phase["dose_mg"] > 0:
                raise ValueError(
                    f"schedule.dt_days={dt_days} is too large for arm {name!r}: phase {index} "
                    f"doses {phase['drug']}, and drug phases need dt_days <= "
                    f"{MAX_TREATED_DT_DAYS:g} (above it the markers are off by 4-18 points "
                    "and the integration can fail; placebo-only arms allow up to 7; measured "
                    "in docs/model.md, 'Step size')"
                )


def _check_cohort(cohort: Mapping[str, Any]) -> None:
    eligibility = cohort.get("eligibility", {})
    for low, high in (("tscore_min", "tscore_max"), ("age_years_min", "age_years_max")):
        if low in eligibility and high in eligibility and eligibility[low] >= eligibility[high]:
            raise ValueError(
                f"cohort.eligibility.{low}={eligibility[low]} must be below "
                f"{high}={eligibility[high]}: the window admits no one"
            )


def _check_schedule(schedule: Mapping[str, Any]) -> None:
    visits = schedule["visit_months"]
    duration_days = schedule["duration_months"] * DAYS_PER_MONTH
    late = [d for d in schedule["marker_days"] if d > duration_days]
    if late:
        raise ValueError(
            f"schedule.marker_days={schedule['marker_days']}: {late} are after the end of the "
            f"trial; allowed: days 0 to {duration_days:g} (schedule.duration_months="
            f"{schedule['duration_months']} x {DAYS_PER_MONTH})"
        )
    if list(visits) != sorted(set(visits)):
        raise ValueError(f"schedule.visit_months={visits} must be increasing without repeats")
    if visits[-1] > schedule["duration_months"]:
        raise ValueError(
            f"schedule.visit_months={visits} go beyond "
            f"schedule.duration_months={schedule['duration_months']}"
        )
    missing = [m for m in schedule["imaging_months"] if m not in visits]
    if missing:
        raise ValueError(
            f"schedule.imaging_months={schedule['imaging_months']}: {missing} not among "
            f"visit_months; allowed: {visits}"
        )


def _check_analyses(merged: Mapping[str, Any]) -> None:
    for field in ("counterfactual.age_band_edges_years", "counterfactual.tscore_band_edges"):
        block, key = field.split(".")
        edges = merged[block][key]
        if list(edges) != sorted(set(edges)):
            raise ValueError(f"{field}={edges} must be increasing without repeats")
    power = merged["power"]
    if max(power["n_per_arm"]) > power["super_cohort_per_arm"]:
        raise ValueError(
            f"power.n_per_arm={power['n_per_arm']} asks for more patients per arm than the "
            f"super-cohort holds; allowed: at most power.super_cohort_per_arm="
            f"{power['super_cohort_per_arm']} (replicates are drawn without replacement)"
        )


def check_semantics(merged: Mapping[str, Any]) -> None:
    """Check what the schema cannot express; raise ValueError naming field, value and options."""
    arms = sorted(merged["arms"])
    if merged["control_arm"] not in arms:
        raise ValueError(f"control_arm={merged['control_arm']!r} is not an arm; allowed: {arms}")
    if sorted(merged["allocation"]) != arms:
        raise ValueError(
            f"allocation has keys {sorted(merged['allocation'])}; they must equal the arms {arms}"
        )
    _check_arms(merged["arms"], merged["schedule"]["duration_months"] * DAYS_PER_MONTH)
    _check_step(merged["arms"], merged["schedule"]["dt_days"])
    _check_cohort(merged["cohort"])
    _check_schedule(merged["schedule"])
    _check_analyses(merged)
