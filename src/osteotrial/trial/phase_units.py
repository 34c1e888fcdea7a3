"""Regimen phases in the units people think in: ``every: 6 months``, ``for: 12 months``,
``start: month 12``, converted once to the days the model runs on.

A phase of a trial file may give its timing in days (``interval_days``, ``start_day``,
``stop_day``) or in words, field by field:

- ``every``: the dosing interval, ``<n> <unit>`` (``6 months``, ``4 weeks``, ``1 year``) or
  ``daily``, ``weekly``, ``monthly``, ``yearly``;
- ``start``: the first dose, ``<unit> <n>`` (``month 12``, ``day 0``, ``week 2``) or ``<n> <unit>``
  after randomization (``12 months``);
- ``for``: the phase's length after its start (``12 months``), or ``stop``: its end, like
  ``start`` (``month 24``).

Units (``regimen_text.DAYS_PER_UNIT``, from ``osteotrial.units``): 1 day, 1 week = 7 days,
1 month = 30.4375 days (a Julian year / 12), 1 year = 365.25 days, so ``every: 6 months`` is
182.625 days and ``for: 12 months`` 365.25. ``normalize_arms`` rewrites every phase to the day
form before the schema sees it, so a file in words and the same file in days validate alike and
have the same ``config_hash``. Giving one quantity twice (``every`` and ``interval_days``) or a
text it cannot read is an error naming the field and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from osteotrial.trial.regimen_text import DAYS_PER_UNIT, FREQUENCY_WORDS

ALLOWED = (
    "'<n> <unit>' (e.g. '6 months'), a frequency word for 'every' (daily, weekly, monthly, "
    "yearly), or '<unit> <n>' for 'start'/'stop' (e.g. 'month 12'); units: day, week, month, "
    "year (1 month = 30.4375 days)"
)
_AMOUNT_UNIT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(day|week|month|year)s?\s*$", re.I)
_UNIT_AMOUNT = re.compile(r"^\s*(day|week|month|year)\s+(-?\d+(?:\.\d*)?|-?\.\d+)\s*$", re.I)
# word field -> (day field it replaces, how it reads)
WORD_FIELDS: dict[str, str] = {"every": "interval_days", "start": "start_day", "stop": "stop_day"}


def _plain(days: float) -> float | int:
    """Return whole days as an int, as a trial file in days writes them (same config_hash)."""
    return int(days) if float(days).is_integer() else days


def days_of(text: Any, where: str, frequency: bool = False) -> float:
    """Return the days of a timing text (module docstring); ValueError naming ``where``."""
    if isinstance(text, str):
        if frequency and text.strip().lower() in FREQUENCY_WORDS:
            return _plain(FREQUENCY_WORDS[text.strip().lower()])
        for pattern, amount_first in ((_AMOUNT_UNIT, True), (_UNIT_AMOUNT, False)):
            match = pattern.match(text)
            if match and (amount_first or not frequency):
                amount, unit = match.groups() if amount_first else match.groups()[::-1]
                return _plain(float(amount) * DAYS_PER_UNIT[unit.lower()])
    raise ValueError(f"{where}={text!r} cannot be read; allowed: {ALLOWED}")


def normalize_phase(phase: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Return the phase with ``every``/``start``/``for``/``stop`` turned into day fields."""
    out = dict(phase)
    for word, day_field in WORD_FIELDS.items():
        if word not in out:
            continue
        if day_field in out:
            raise ValueError(
                f"{where} gives both {word}={out[word]!r} and {day_field}={out[day_field]}; "
                "give one of them"
            )
        out[day_field] = days_of(out.pop(word), f"{where}.{word}", frequency=word == "every")
    if "for" in out:
        if "stop_day" in out:
            raise ValueError(f"{where} gives both 'for' and a stop ('stop' or 'stop_day')")
        if "start_day" not in out:
            raise ValueError(f"{where}.for needs the phase's start ('start' or 'start_day')")
        out["stop_day"] = _plain(out["start_day"] + days_of(out.pop("for"), f"{where}.for"))
    return out


def normalize_arms(arms: Any) -> Any:
    """Return the ``arms`` block with every phase in day form (anything else as it is, for the
    schema to report)."""
    if not isinstance(arms, Mapping):
        return arms
    return {
        name: [
            normalize_phase(phase, f"arms.{name}[{i}]") if isinstance(phase, Mapping) else phase
            for i, phase in enumerate(phases)
        ]
        if isinstance(phases, list)
        else phases
        for name, phases in arms.items()
    }
