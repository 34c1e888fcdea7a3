"""Population presets: the source population of a trial, written as data.

A preset is a YAML file ``{config_dir}/populations/<name>.yaml`` with a ``description`` and a
``population`` block of ``PopulationParams`` keys (``sex`` or ``male_frac`` among them); its
shape is ``$defs/population_preset`` of ``config.schema.json``. A trial file names one in its
``cohort.population`` block and may override single values::

    cohort:
      population: {preset: men_osteoporosis, age_years_mean: 70}

Values not in the preset keep the defaults of ``PopulationParams`` (the postmenopausal women,
preset ``postmenopausal_women``). Expansion keeps the ``preset`` key and is idempotent, so the
trial loader expands before validation (the config hash covers the preset's values) and
``CohortSpec.from_dict`` may expand again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from osteotrial.trial.checks import validate_merged
from osteotrial.trial.locate import SCHEMA_FILE, resolve_config_dir
from osteotrial.yaml_strict import safe_load_fast

PRESET_FOLDER = "populations"
PRESET_KEY = "preset"


def preset_names(config_dir: str | Path | None = None) -> list[str]:
    """Return the names of the presets in ``{config_dir}/populations/``, sorted."""
    folder = resolve_config_dir(config_dir) / PRESET_FOLDER
    return sorted(p.stem for p in folder.glob("*.yaml"))


def read_preset(name: str, config_dir: str | Path | None = None) -> dict[str, Any]:
    """Return a preset file (description, population), validated by its schema.

    Raises ValueError naming the preset and the available ones if there is no such file, or
    the schema's complaint if the file is malformed.
    """
    path = resolve_config_dir(config_dir) / PRESET_FOLDER / f"{name}.yaml"
    if not isinstance(name, str) or not path.is_file():
        raise ValueError(
            f"cohort.population.preset = {name!r}: no file {path}; "
            f"available presets: {preset_names(config_dir)}"
        )
    with open(path, encoding="utf-8") as handle:
        preset = safe_load_fast(handle)
    with open(resolve_config_dir(config_dir) / SCHEMA_FILE, encoding="utf-8") as handle:
        schema = json.load(handle)
    preset_schema = {"$defs": schema["$defs"], "$ref": "#/$defs/population_preset"}
    validate_merged(preset, preset_schema)
    return preset


def expand_population(
    block: Mapping[str, Any] | None, config_dir: str | Path | None = None
) -> dict[str, Any]:
    """Return a ``cohort.population`` block with its preset's values filled in (the block's
    own values win; ``preset`` is kept). A block without a preset is returned as a copy."""
    block = dict(block or {})
    if PRESET_KEY not in block:
        return block
    values = dict(read_preset(block[PRESET_KEY], config_dir)["population"])
    if "sex" in block or "male_frac" in block:  # the trial's own sex replaces the preset's
        values.pop("sex", None)
        values.pop("male_frac", None)
    return values | block


def population_values(
    block: Mapping[str, Any] | None, config_dir: str | Path | None = None
) -> dict[str, Any]:
    """Return the ``PopulationParams.from_dict`` values of a block (preset expanded, dropped)."""
    values = expand_population(block, config_dir)
    values.pop(PRESET_KEY, None)
    return values


def expand_trial_population(raw: dict[str, Any], config_dir: str | Path | None = None) -> None:
    """Expand the preset of a merged trial configuration's ``cohort.population`` in place."""
    cohort = raw.get("cohort")
    if isinstance(cohort, dict) and isinstance(cohort.get("population"), Mapping):
        cohort["population"] = expand_population(cohort["population"], config_dir)
