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


def check_positive_fields(
    obj: object, where: str, allow_zero: tuple[str, ...] = (), skip: tuple[str, ...] = ()
) -> None:
    """Raise a ValueError naming ``where.field`` for a numeric field of a dataclass that is not
    > 0 (>= 0 for ``allow_zero``); ``skip``: fields not checked."""
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if not isinstance(value, int | float) or isinstance(value, bool) or f.name in skip:
            continue
        if f.name in allow_zero:
            if value < 0:
                raise ValueError(f"{where}.{f.name}={value} must be >= 0")
        elif value <= 0:
            raise ValueError(f"{where}.{f.name}={value} must be > 0")
