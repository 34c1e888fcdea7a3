"""Trial configuration: merge YAML files, validate them with the one JSON schema, build dataclasses.

A trial configuration is the deep merge, in this order, of

1. ``{config_dir}/model.yaml`` placed under the key ``model`` (default model parameters),
2. ``{config_dir}/trials/{trial}.yaml`` (its optional ``model:`` block deep-merges over 1),
3. ``overrides`` (e.g. Snakemake's ``--config n_per_arm=2000 seed=7``),

plus ``trial: <name>``. The merged mapping is validated with ``{config_dir}/config.schema.json``
(JSON Schema Draft 2020-12; the defaults of the schema are filled in, exactly as
``snakemake.utils.validate(..., set_default=True)`` does), then checked for the rules a schema
cannot express (phase order, control arm, allocation keys, imaging months among visit months).
Every failure raises ``ValueError`` naming the field, the value and what is allowed.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from osteotrial.trial.schedules import ArmSpec, Schedule
from osteotrial.units import DAYS_PER_MONTH

SCHEMA_FILE = "config.schema.json"
MODEL_FILE = "model.yaml"
# Keys that only change how the work is split, never a number in a table: left out of the hash,
# so that n_shards=1 and n_shards=4 write byte-identical endpoint tables.
EXECUTION_ONLY_KEYS: tuple[tuple[str, ...], ...] = (("n_shards",), ("schedule", "chunk_size"))


@dataclass(frozen=True)
class TrialConfig:
    """A validated trial configuration.

    ``allocation`` maps arm name to the number of randomized patients (``n_per_arm`` applied);
    ``cohort_spec`` is the raw ``cohort`` block for ``CohortSpec.from_dict``; ``params`` is the
    ``ModelParams`` built from ``raw["model"]``; ``raw`` is the merged, default-filled mapping and
    ``config_hash`` the sha256 of its canonical JSON (execution-only keys left out).
    """

    name: str
    seed: int
    n_shards: int
    arms: dict[str, ArmSpec]
    allocation: dict[str, int]
    control_arm: str
    cohort_spec: dict[str, Any]
    schedule: Schedule
    params: Any
    targets_file: str
    raw: dict[str, Any]
    config_hash: str

    @property
    def arm_names(self) -> list[str]:
        """Return the arm names, sorted."""
        return sorted(self.arms)

    @property
    def shards(self) -> list[str]:
        """Return the shard names s000, s001, ... (n_shards of them)."""
        return [f"s{i:03d}" for i in range(self.n_shards)]

    @property
    def counterfactual(self) -> dict[str, Any]:
        """Return the ``counterfactual`` block (every patient under every arm)."""
        return self.raw["counterfactual"]

    @property
    def power(self) -> dict[str, Any]:
        """Return the ``power`` block (replicate trials from a super-cohort)."""
        return self.raw["power"]

    @property
    def uncertainty(self) -> dict[str, Any]:
        """Return the ``uncertainty`` block (outer loop over parameter sets)."""
        return self.raw["uncertainty"]

    def cohort_allocation(self, population: str) -> dict[str, int]:
        """Return the allocation of a cohort: ``randomized`` (the trial) or ``power``.

        The power super-cohort has ``power.super_cohort_per_arm`` patients per arm; its arm
        labels are not used, as every patient is simulated under every arm.
        """
        if population == "randomized":
            return dict(self.allocation)
        if population == "power":
            return dict.fromkeys(self.allocation, int(self.power["super_cohort_per_arm"]))
        raise ValueError(f"population={population!r}; allowed: 'randomized', 'power'")

    def provenance(self, **extra: str) -> dict[str, str]:
        """Return the Parquet metadata of this trial (see ``osteotrial.io.provenance``)."""
        from osteotrial.io import provenance

        return provenance(self.config_hash, self.seed, self.name, **extra)


def available_trials(config_dir: str | Path = "config") -> list[str]:
    """Return the names of the trial files in ``{config_dir}/trials``, sorted."""
    return sorted(p.stem for p in (Path(config_dir) / "trials").glob("*.yaml"))


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Return a new dict: ``update`` merged over ``base``, recursing into nested mappings."""
    merged = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def parse_command_line_values(value: Any) -> Any:
    """Return ``value`` with nested strings read as YAML scalars or lists.

    Snakemake reads ``--config power='{enabled: true, replicates: 200}'`` as a mapping of
    strings ({"enabled": "true", "replicates": "200"}); this restores true, 200, [50, 100].
    Strings that are not a YAML bool, number, null or list stay as they are.
    """
    if isinstance(value, Mapping):
        return {key: parse_command_line_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [parse_command_line_values(item) for item in value]
    if isinstance(value, str):
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        if parsed is None or isinstance(parsed, bool | int | float | list):
            return parsed
    return value


def merge_config(
    trial: str, overrides: Mapping[str, Any] | None = None, config_dir: str | Path = "config"
) -> dict[str, Any]:
    """Return the merged, not yet validated configuration of a trial (see the module docstring)."""
    config_dir = Path(config_dir)
    trials = available_trials(config_dir)
    if not isinstance(trial, str) or trial not in trials:
        raise ValueError(
            f"trial={trial!r} has no file {config_dir / 'trials' / f'{trial}.yaml'}; "
            f"available trials: {trials}"
        )
    model_path = config_dir / MODEL_FILE
    model = _read_yaml(model_path) if model_path.exists() else {}
    merged = deep_merge({"model": model}, _read_yaml(config_dir / "trials" / f"{trial}.yaml"))
    merged = deep_merge(merged, parse_command_line_values(dict(overrides or {})))
    merged["trial"] = trial
    return merged


def load_schema(config_dir: str | Path = "config") -> dict[str, Any]:
    """Return the JSON schema of the merged configuration."""
    with open(Path(config_dir) / SCHEMA_FILE, encoding="utf-8") as handle:
        return json.load(handle)


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
        return f"{where}={value!r} is invalid: {error.message}"
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


def _check_arms(arms: Mapping[str, list[dict[str, Any]]]) -> None:
    for name, phases in arms.items():
        for index, phase in enumerate(phases):
            where = f"arms.{name}[{index}]"
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
    _check_arms(merged["arms"])
    _check_cohort(merged["cohort"])
    _check_schedule(merged["schedule"])
    _check_analyses(merged)


def config_hash(merged: Mapping[str, Any]) -> str:
    """Return the sha256 of the canonical JSON of ``merged`` without execution-only keys."""
    scientific = copy.deepcopy(dict(merged))
    for path in EXECUTION_ONLY_KEYS:
        parent = scientific
        for key in path[:-1]:
            parent = parent.get(key, {})
        parent.pop(path[-1], None)
    text = json.dumps(scientific, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _build_params(model: Mapping[str, Any]) -> Any:
    """Return ``ModelParams.from_dict(model)``, or None if the model package is absent."""
    try:
        from osteotrial.model.params import ModelParams
    except ModuleNotFoundError as error:
        if error.name != "osteotrial.model.params":
            raise
        return None
    return ModelParams.from_dict(model)


def _schedule(block: Mapping[str, Any]) -> Schedule:
    return Schedule(
        dt_days=float(block["dt_days"]),
        duration_days=float(block["duration_months"]) * DAYS_PER_MONTH,
        visit_months=tuple(float(m) for m in block["visit_months"]),
        marker_days=tuple(float(d) for d in block["marker_days"]),
        imaging_months=tuple(float(m) for m in block["imaging_months"]),
        chunk_size=int(block["chunk_size"]),
        pk_substeps=int(block["pk_substeps"]),
        engine=str(block.get("engine", "numba")),
    )


def config_from_dict(merged: Mapping[str, Any], config_dir: str | Path = "config") -> TrialConfig:
    """Validate a merged configuration (a copy; defaults filled) and build the TrialConfig."""
    raw = copy.deepcopy(dict(merged))
    validate_merged(raw, load_schema(config_dir))
    check_semantics(raw)
    allocation = {arm: int(n) for arm, n in sorted(raw["allocation"].items())}
    if raw.get("n_per_arm") is not None:
        allocation = {arm: int(raw["n_per_arm"]) for arm in allocation}
    return TrialConfig(
        name=raw["trial"],
        seed=int(raw["seed"]),
        n_shards=int(raw["n_shards"]),
        arms={name: ArmSpec.from_dict(name, phases) for name, phases in raw["arms"].items()},
        allocation=allocation,
        control_arm=raw["control_arm"],
        cohort_spec=copy.deepcopy(raw["cohort"]),
        schedule=_schedule(raw["schedule"]),
        params=_build_params(raw["model"]),
        targets_file=raw["targets_file"],
        raw=raw,
        config_hash=config_hash(raw),
    )


def load_config(
    trial: str, overrides: Mapping[str, Any] | None = None, config_dir: str | Path = "config"
) -> TrialConfig:
    """Merge, validate and build the configuration of ``trial``.

    Parameters
    ----------
    trial
        Name of a file ``{config_dir}/trials/{trial}.yaml``.
    overrides
        Mapping deep-merged over the trial file (e.g. ``{"n_per_arm": 200, "seed": 7}``).
    config_dir
        Folder holding ``model.yaml``, ``config.schema.json`` and ``trials/``.

    Raises
    ------
    ValueError
        If the trial has no file or the merged configuration is invalid; the message names the
        field, the value and what is allowed.
    """
    return config_from_dict(merge_config(trial, overrides, config_dir), config_dir)
