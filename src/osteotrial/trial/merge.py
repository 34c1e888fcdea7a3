"""Merging the layers of a trial configuration: mappings deep-merged over each other, and the
values of the command line (Snakemake's ``--config``) read back as YAML scalars and lists
(``trial.config`` merges with these)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import yaml

from osteotrial import yaml_strict


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Return a new dict: ``update`` merged over ``base``, recursing into nested mappings."""
    merged = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_command_line_values(value: Any) -> Any:
    """Return ``value`` with nested strings read as YAML scalars or lists.

    Snakemake reads ``--config power='{enabled: true, replicates: 200}'`` as a mapping of
    strings ({"enabled": "true", "replicates": "200"}); this restores true, 200, [50, 100].
    Strings that are not a YAML bool, number, null or list stay as they are; ``3e0`` and
    ``1e-3`` are numbers (``yaml_strict``).
    """
    if isinstance(value, Mapping):
        return {key: parse_command_line_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [parse_command_line_values(item) for item in value]
    if isinstance(value, str):
        try:
            parsed = yaml_strict.loads(value)
        except yaml.YAMLError:
            return value
        if parsed is None or isinstance(parsed, bool | int | float | list):
            return parsed
    return value
