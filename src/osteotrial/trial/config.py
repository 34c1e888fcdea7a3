"""Trial configuration: merge YAML files, validate them with the one JSON schema, build dataclasses.

A trial configuration is the deep merge, in this order, of

1. ``{config_dir}/model.yaml`` placed under the key ``model`` (default model parameters),
2. ``{config_dir}/trials/{trial}.yaml`` (its optional ``model:`` block deep-merges over 1),
3. ``overrides`` (e.g. Snakemake's ``--config n_per_arm=2000 seed=7``),

plus ``trial: <name>``. The merged mapping is validated with ``{config_dir}/config.schema.json``
(JSON Schema Draft 2020-12; the defaults of the schema are filled in, exactly as
``snakemake.utils.validate(..., set_default=True)`` does), then checked for the rules a schema
cannot express (phase order, control arm, allocation keys, imaging months among visit months;
both in ``osteotrial.trial.checks``). Every failure raises ``ValueError`` naming the field, the
value and what is allowed.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from osteotrial import rng, yaml_strict
from osteotrial.cohort.presets import expand_trial_population
from osteotrial.trial.checks import check_finite, check_semantics, validate_merged
from osteotrial.trial.exposures import arms_with_exposures, check_exposures, normalize_exposures
from osteotrial.trial.locate import is_trial_path, repo_path, resolve_config_dir
from osteotrial.trial.merge import deep_merge, parse_command_line_values
from osteotrial.trial.phase_units import normalize_arms
from osteotrial.trial.schedules import ArmSpec, Schedule
from osteotrial.trial.strata import Stratum, check_strata, normalize_strata, strata_of
from osteotrial.units import DAYS_PER_MONTH

SCHEMA_FILE = "config.schema.json"
MODEL_FILE = "model.yaml"
# Cohorts besides the trial's own (``randomized``), each with a root seed of its own.
POPULATION_STREAMS: dict[str, str] = {
    "power": "power.super_cohort",
    "prediction": "prediction.cohort",
}
POPULATIONS: tuple[str, ...] = ("randomized", *POPULATION_STREAMS)
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
        """Return the shard names s000-of-004, s001-of-004, ... (n_shards of them).

        The layout is part of the name, so the block s000 of 4 shards is never taken for the
        block s000 of 2 shards: ``n_shards`` need not be a rerun trigger (``scientific``).
        """
        return shard_names(self.n_shards)

    @property
    def scientific(self) -> dict[str, Any]:
        """Return ``raw`` without the execution-only keys: the rules' tracked ``params``."""
        return scientific_config(self.raw)

    @property
    def strata(self) -> tuple[Stratum, ...]:
        """Return the strata of the trial (``trial.strata``; empty: none)."""
        return strata_of(self.raw)

    @property
    def counterfactual(self) -> dict[str, Any]:
        """Return the ``counterfactual`` block (every patient under every arm)."""
        return self.raw["counterfactual"]

    @property
    def measurement(self) -> dict[str, Any]:
        """Return the ``measurement`` block (DXA precision, marker CVs; analyses.measurement)."""
        return self.raw["measurement"]

    @property
    def power(self) -> dict[str, Any]:
        """Return the ``power`` block (replicate trials from a super-cohort)."""
        return self.raw["power"]

    @property
    def uncertainty(self) -> dict[str, Any]:
        """Return the ``uncertainty`` block (outer loop over parameter sets)."""
        return self.raw["uncertainty"]

    def cohort_allocation(self, population: str) -> dict[str, int]:
        """Return the allocation of a cohort: ``randomized`` (the trial), ``power`` or
        ``prediction``.

        The power super-cohort has ``power.super_cohort_per_arm`` patients per arm, the
        prediction cohort (expected values of each parameter set, analyses.expected)
        ``uncertainty.expected_cohort_per_arm``; their arm labels are not used, as every patient
        is simulated under every arm.
        """
        if population == "randomized":
            return dict(self.allocation)
        if population == "power":
            return dict.fromkeys(self.allocation, int(self.power["super_cohort_per_arm"]))
        if population == "prediction":
            per_arm = int(self.uncertainty["expected_cohort_per_arm"])
            return dict.fromkeys(self.allocation, per_arm)
        raise ValueError(f"population={population!r}; allowed: {', '.join(POPULATIONS)}")

    def cohort_seed(self, population: str) -> int:
        """Return the root seed of a cohort's streams: ``seed`` for the trial (``randomized``),
        a seed derived from it for the ``power`` super-cohort and the ``prediction`` cohort, so
        that their candidates are independent of the trial's (with the trial's seed the
        super-cohort held the trial cohort as its first patients)."""
        if population == "randomized":
            return self.seed
        if population in POPULATION_STREAMS:
            stream = POPULATION_STREAMS[population]
            return int(rng.make_generator(self.seed, stream).integers(2**32))
        raise ValueError(f"population={population!r}; allowed: {', '.join(POPULATIONS)}")

    def provenance(self, **extra: str) -> dict[str, str]:
        """Return the Parquet metadata of this trial (see ``osteotrial.provenance``)."""
        from osteotrial.provenance import provenance

        return provenance(self.config_hash, self.seed, self.name, **extra)


def has_sre(trial: TrialConfig) -> bool:
    """Return whether the trial draws skeletal-related events (trial key ``skeletal_events``;
    analyses.sre_endpoints)."""
    return trial.raw.get("skeletal_events") is not None


def available_trials(config_dir: str | Path | None = None) -> list[str]:
    """Return the names of the trial files in ``{config_dir}/trials``, sorted."""
    return sorted(p.stem for p in (resolve_config_dir(config_dir) / "trials").glob("*.yaml"))


def _read_yaml(path: Path) -> dict[str, Any]:
    data = yaml_strict.load_file(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def merge_config(
    trial: str, overrides: Mapping[str, Any] | None = None, config_dir: str | Path | None = None
) -> dict[str, Any]:
    """Return the merged, not yet validated configuration of a trial (see the module docstring).

    ``trial`` is the stem of a file in ``{config_dir}/trials`` or a path to a trial YAML file
    (its stem becomes the trial name).
    """
    config_dir = resolve_config_dir(config_dir)
    trial_file = _trial_file(trial, config_dir)
    model_path = config_dir / MODEL_FILE
    model = _read_yaml(model_path) if model_path.exists() else {}
    merged = deep_merge({"model": model}, _read_yaml(trial_file))
    merged = deep_merge(merged, parse_command_line_values(dict(overrides or {})))
    merged["trial"] = trial_file.stem
    return merged


def _trial_file(trial: str | Path, config_dir: Path) -> Path:
    """Return the YAML file of a trial name or path; ValueError lists the known trials."""
    if isinstance(trial, str | Path) and is_trial_path(trial):
        if not Path(trial).is_file():
            raise ValueError(f"trial file {str(trial)!r} does not exist")
        return Path(trial)
    trials = available_trials(config_dir)
    if not isinstance(trial, str) or trial not in trials:
        raise ValueError(
            f"trial={trial!r} has no file {config_dir / 'trials' / f'{trial}.yaml'}; "
            f"available trials: {trials}"
        )
    return config_dir / "trials" / f"{trial}.yaml"


def load_schema(config_dir: str | Path | None = None) -> dict[str, Any]:
    """Return the JSON schema of the merged configuration."""
    with open(resolve_config_dir(config_dir) / SCHEMA_FILE, encoding="utf-8") as handle:
        return json.load(handle)


def shard_names(n_shards: int) -> list[str]:
    """Return the names of the ``n_shards`` shards of a layout: s000-of-004, s001-of-004, ..."""
    return [f"s{i:03d}-of-{n_shards:03d}" for i in range(n_shards)]


def scientific_config(merged: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``merged`` without the execution-only keys (``EXECUTION_ONLY_KEYS``)."""
    scientific = copy.deepcopy(dict(merged))
    for path in EXECUTION_ONLY_KEYS:
        parent = scientific
        for key in path[:-1]:
            parent = parent.get(key, {})
        parent.pop(path[-1], None)
    return scientific


def with_execution_settings(
    scientific: Mapping[str, Any], source: Mapping[str, Any]
) -> dict[str, Any]:
    """Return ``scientific`` with the execution-only keys of ``source`` put back.

    The workflow's rules track only the scientific configuration (their ``params``), so that
    changing ``n_shards`` or ``schedule.chunk_size`` reruns no job; a job takes those two from
    the workflow's config (``snakemake.config``), which Snakemake does not track.
    """
    merged = copy.deepcopy(dict(scientific))
    for path in EXECUTION_ONLY_KEYS:
        value: Any = source
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if value is None:
            continue
        parent = merged
        for key in path[:-1]:
            parent = parent.setdefault(key, {})
        parent[path[-1]] = copy.deepcopy(value)
    return merged


def job_config(params_config: Mapping[str, Any], workflow_config: Mapping[str, Any]) -> TrialConfig:
    """Return the TrialConfig of a workflow job: its tracked ``params.config`` (scientific)
    with the execution-only settings of the workflow's config (``with_execution_settings``)."""
    return config_from_dict(with_execution_settings(params_config, workflow_config))


def config_hash(merged: Mapping[str, Any]) -> str:
    """Return the sha256 of the canonical JSON of ``merged`` without execution-only keys."""
    scientific = scientific_config(merged)
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


def table_path(table: str, config_dir: str | Path | None = None) -> Path:
    """Return the path of a ``cohort.table``: absolute, or relative to the repository root (the
    folder above ``config_dir``)."""
    path = Path(table)
    return path if path.is_absolute() else resolve_config_dir(config_dir).parent / path


def _cohort_spec(
    raw: Mapping[str, Any], allocation: Mapping[str, int], config_dir: str | Path | None
) -> tuple[dict[str, Any], str]:
    """Return the ``cohort`` block with its table path resolved, and the table's sha256 ("" if
    none); the table is read, checked and screened here, before any job (ValueError if not)."""
    spec = copy.deepcopy(dict(raw["cohort"]))
    if spec.get("table") is None:
        return spec, ""
    from osteotrial.cohort.from_table import check_table_cohort
    from osteotrial.cohort.sampling import CohortSpec

    path = table_path(spec["table"], config_dir)
    spec["table"] = str(path)
    check_table_cohort(CohortSpec.from_dict(spec), allocation, int(raw["seed"]))
    return spec, hashlib.sha256(path.read_bytes()).hexdigest()


def config_from_dict(
    merged: Mapping[str, Any], config_dir: str | Path | None = None
) -> TrialConfig:
    """Validate a merged configuration (a copy; defaults filled) and build the TrialConfig.

    With ``cohort.table``, ``config_hash`` also covers the table's bytes.
    """
    raw = copy.deepcopy(dict(merged))
    check_finite(raw)
    raw["arms"] = normalize_arms(raw.get("arms"))  # every: 6 months -> interval_days: 182.625
    expand_trial_population(raw, config_dir)  # cohort.population.preset (cohort.presets)
    if "exposures" in raw:
        raw["exposures"] = normalize_exposures(raw["exposures"])
    if "strata" in raw:
        raw["strata"] = normalize_strata(raw["strata"])
    validate_merged(raw, load_schema(config_dir))
    check_semantics(raw)
    check_exposures(raw)
    check_strata(raw)
    allocation = {arm: int(n) for arm, n in sorted(raw["allocation"].items())}
    if raw.get("n_per_arm") is not None:
        allocation = {arm: int(raw["n_per_arm"]) for arm in allocation}
    cohort_spec, table_sha256 = _cohort_spec(raw, allocation, config_dir)
    digest = config_hash(raw)
    if table_sha256:
        digest = hashlib.sha256(f"{digest}:{table_sha256}".encode()).hexdigest()
    return TrialConfig(
        name=raw["trial"],
        seed=int(raw["seed"]),
        n_shards=int(raw["n_shards"]),
        arms=arms_with_exposures(raw),
        allocation=allocation,
        control_arm=raw["control_arm"],
        cohort_spec=cohort_spec,
        schedule=_schedule(raw["schedule"]),
        params=_build_params(raw["model"]),
        targets_file=str(repo_path(raw["targets_file"])),
        raw=raw,
        config_hash=digest,
    )


def load_config(
    trial: str, overrides: Mapping[str, Any] | None = None, config_dir: str | Path | None = None
) -> TrialConfig:
    """Merge, validate and build the configuration of ``trial``.

    Parameters
    ----------
    trial
        Name of a file ``{config_dir}/trials/{trial}.yaml``, or a path to a trial YAML file.
    overrides
        Mapping deep-merged over the trial file (e.g. ``{"n_per_arm": 200, "seed": 7}``).
    config_dir
        Folder holding ``model.yaml``, ``config.schema.json`` and ``trials/``; by default
        ``./config`` if it exists, else the repository's ``config/``
        (``osteotrial.trial.locate.resolve_config_dir``), so this works from any directory.

    Raises
    ------
    ValueError
        If the trial has no file or the merged configuration is invalid; the message names the
        field, the value and what is allowed.
    FileNotFoundError
        If no configuration folder is found (the message lists the folders tried).
    """
    return config_from_dict(merge_config(trial, overrides, config_dir), config_dir)
