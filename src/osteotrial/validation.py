"""Input checks shared by the parameter dataclasses: clear errors that name what is wrong."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any


def reject_unknown_keys(cls: type, values: Mapping[str, Any], where: str) -> None:
    """Raise KeyError naming the unknown keys of ``values`` and the valid fields of ``cls``."""
    valid = [f.name for f in fields(cls)]
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise KeyError(f"{where}: unknown key(s) {unknown}; valid keys are {valid}")


def check_range(name: str, value: float, low: float, high: float) -> None:
    """Raise ValueError naming the field, the value and the allowed range."""
    if not low <= value <= high:
        raise ValueError(f"{name} = {value!r} is outside the allowed range [{low}, {high}]")
