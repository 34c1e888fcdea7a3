"""Regimens written as text: "romosozumab 210 mg monthly for 12 months, then denosumab ...".

A trial file gives an arm as regimen phases in days (``trial.schedules.RegimenPhase``). For a
quick look at one regimen, people write what they would say in clinic; this module reads that
text into phases and writes phases back as text (``format_regimen(parse_regimen(t))`` is the
canonical form of ``t``, and ``parse_regimen(format_regimen(p)) == p`` for sequential phases).

Grammar (case-insensitive; ``|`` separates alternatives, ``[...]`` is optional)::

    regimen   = phase { ("then" | ", then" | ";") phase }
    phase     = drug DOSE "mg" FREQUENCY DURATION
              | "placebo" [DOSE "mg"] [FREQUENCY] DURATION     (default: monthly, 0 mg)
              | "off" DURATION                                (no treatment: a gap)
    drug      = "denosumab" | "romosozumab" | "alendronate" | "risedronate"
              | "zoledronic acid" (or "zoledronic_acid")
    FREQUENCY = "daily" | "weekly" | "monthly" | "yearly" | "once"
              | "every" [NUMBER] UNIT                         ("every 6 months", "every week")
    DURATION  = "for" NUMBER UNIT
    UNIT      = "day(s)" | "week(s)" | "month(s)" | "year(s)"
    NUMBER    = a positive number in digits ("6", "2.5") or a word from "one" to "twenty"

Phases follow one another: each starts where the previous one stops (day 0 for the first).
Units: 1 week = 7 days, 1 month = 30.4375 days, 1 year = 365.25 days (``osteotrial.units``;
12 months = 1 year exactly). "once" gives one dose at the start of the phase. Doses of a phase
fall on its start day and every interval after it while before its stop day, as in a trial file.
Examples: "alendronate 70 mg weekly for 3 years", "risedronate 35 mg weekly for 1 year",
"zoledronic acid 5 mg yearly for 3 years", "zoledronic acid 4 mg every 4 weeks for 2 years"
(the 4 mg dose follows each patient's creatinine clearance, model.bisphosphonate).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from osteotrial.trial.schedules import ACTIVE_DRUGS, BISPHOSPHONATES, DRUGS, RegimenPhase
from osteotrial.units import DAYS_PER_MONTH, DAYS_PER_YEAR

DAYS_PER_UNIT: dict[str, float] = {
    "day": 1.0,
    "week": 7.0,
    "month": DAYS_PER_MONTH,
    "year": DAYS_PER_YEAR,
}
FREQUENCY_WORDS: dict[str, float] = {
    "daily": 1.0,
    "weekly": 7.0,
    "monthly": DAYS_PER_MONTH,
    "yearly": DAYS_PER_YEAR,
}
GAP_WORD = "off"
DOSED_DRUGS = (*ACTIVE_DRUGS, *BISPHOSPHONATES)  # a phase of these needs a dose and a frequency
GRAMMAR_HINT = (
    "write phases as '<drug> <dose> mg <frequency> for <n> <unit>' joined by 'then', e.g. "
    "'romosozumab 210 mg monthly for 12 months, then denosumab 60 mg every 6 months for 12 "
    "months'; drugs: denosumab, romosozumab, alendronate, risedronate, zoledronic acid, placebo, "
    "off (a gap); frequency: daily, weekly, "
    "monthly, yearly, once, every <n> <unit>; units: days, weeks, months, years"
)
_SEPARATOR = re.compile(r"\s*(?:;|,?\s*\bthen\b)\s*", re.IGNORECASE)
_NUMBER = re.compile(r"^(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$")
_SIGNED_NUMBER = re.compile(r"^[-+](?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$")
NUMBER_WORDS: dict[str, float] = {
    word: float(value)
    for value, word in enumerate(
        "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split(),
        start=1,
    )
}


def _is_number(word: str | None) -> bool:
    """Return whether a word is meant as a number: digits (signed or not) or a number word."""
    return word is not None and bool(
        _NUMBER.match(word) or _SIGNED_NUMBER.match(word) or word in NUMBER_WORDS
    )


class RegimenTextError(ValueError):
    """A regimen text that does not follow the grammar; the message names the part."""


def _fail(index: int, part: str, problem: str) -> RegimenTextError:
    return RegimenTextError(f"regimen part {index} ({part!r}): {problem}; {GRAMMAR_HINT}")


class _Words:
    """The words of one phase, consumed left to right, with errors naming the phase."""

    def __init__(self, index: int, part: str) -> None:
        spaced = re.sub(r"(\d)(mg)\b", r"\1 \2", part.lower())
        self.index, self.part, self.words, self.pos = index, part, spaced.split(), 0

    def peek(self) -> str | None:
        return self.words[self.pos] if self.pos < len(self.words) else None

    def take(self, expected: str) -> str:
        word = self.peek()
        if word is None:
            raise _fail(self.index, self.part, f"ends where {expected} was expected")
        self.pos += 1
        return word

    def number(self, what: str) -> float:
        """Take a number >= 0: digits or a number word ("six"); name ``what`` if not."""
        word = self.take(what)
        if word in NUMBER_WORDS:
            return NUMBER_WORDS[word]
        if word.startswith("-") and _SIGNED_NUMBER.match(word):
            raise _fail(self.index, self.part, f"{what} must be positive, got {word!r}")
        if not _NUMBER.match(word):
            raise _fail(
                self.index,
                self.part,
                f"{what} must be a number (digits, or a word from 'one' to 'twenty'), got {word!r}",
            )
        return float(word)

    def unit_days(self) -> float:
        word = self.take("a unit (days, weeks, months, years)")
        unit = word[:-1] if word.endswith("s") else word
        if unit not in DAYS_PER_UNIT:
            allowed = ", ".join(f"{u}(s)" for u in DAYS_PER_UNIT)
            raise _fail(
                self.index,
                self.part,
                f"unknown unit {word!r}; allowed: {allowed} (a number before the unit is "
                "written in digits or as a word from 'one' to 'twenty')",
            )
        return DAYS_PER_UNIT[unit]

    def fail(self, problem: str) -> RegimenTextError:
        return _fail(self.index, self.part, problem)


def _dose_mg(words: _Words, required: bool) -> float:
    """Read '<dose> mg' (required for an active drug, optional for placebo)."""
    if not required and not _is_number(words.peek()):
        return 0.0
    dose = words.number("the dose (e.g. '60 mg')")
    if required and dose == 0.0:
        raise words.fail("the dose must be positive, got 0 mg (use 'placebo' for no drug)")
    if words.take("'mg' after the dose") != "mg":
        raise words.fail("the dose must be in mg, e.g. '60 mg'")
    return dose


def _interval_days(words: _Words, required: bool) -> float | None:
    """Read the frequency; None for 'once' (one dose) or an omitted placebo frequency."""
    word = words.peek()
    if word in FREQUENCY_WORDS:
        words.take("a frequency")
        return FREQUENCY_WORDS[word]
    if word == "once":
        words.take("a frequency")
        return None
    if word == "every":
        words.take("a frequency")
        count = words.number("the interval") if _is_number(words.peek()) else 1.0
        return count * words.unit_days()
    if required:
        got = "nothing" if word is None else repr(word)
        raise words.fail(
            f"expected a frequency (daily, weekly, monthly, yearly, once, every <n> <unit>), "
            f"got {got}"
        )
    return DAYS_PER_MONTH


def _duration_days(words: _Words) -> float:
    """Read 'for <n> <unit>'."""
    word = words.take("'for <n> <unit>'")
    if word != "for":
        raise words.fail(f"expected 'for <n> <unit>', got {word!r}")
    days = words.number("the duration") * words.unit_days()
    if days <= 0.0:
        raise words.fail("the duration must be > 0")
    return days


def _parse_phase(index: int, part: str, start_day: float) -> tuple[RegimenPhase | None, float]:
    """Return (the phase or None for a gap, its stop day) of one part of the text."""
    words = _Words(index, part)
    drug = words.take("a drug")
    if drug == "zoledronic" and words.peek() == "acid":  # the drug's name in two words
        drug = f"{drug}_{words.take('acid')}"
    if drug not in (*DRUGS, GAP_WORD):
        allowed = ", ".join(d.replace("_", " ") for d in (*DOSED_DRUGS, "placebo", GAP_WORD))
        raise words.fail(f"unknown drug {drug!r}; allowed: {allowed}")
    if drug == GAP_WORD:
        dose, interval = 0.0, DAYS_PER_MONTH
    else:
        dose = _dose_mg(words, required=drug in DOSED_DRUGS)
        interval = _interval_days(words, required=drug in DOSED_DRUGS)
    duration = _duration_days(words)
    if words.peek() is not None:
        raise words.fail(f"unexpected {' '.join(words.words[words.pos :])!r} after the duration")
    stop_day = start_day + duration
    if drug == GAP_WORD:
        return None, stop_day
    try:
        every = duration if interval is None else interval
        phase = RegimenPhase(drug, dose, every, start_day, stop_day)
    except ValueError as error:
        raise words.fail(str(error)) from None
    return phase, stop_day


def parse_regimen(text: str) -> tuple[RegimenPhase, ...]:
    """Return the regimen phases of a text (grammar in the module docstring).

    Raises
    ------
    RegimenTextError
        (a ValueError) naming the part of the text that does not parse, what was expected and
        the grammar, before any simulation.
    """
    if not isinstance(text, str) or not text.strip():
        raise RegimenTextError(f"regimen text is empty; {GRAMMAR_HINT}")
    parts = [p for p in _SEPARATOR.split(text.strip().rstrip(".")) if p.strip()]
    phases, day = [], 0.0
    for index, part in enumerate(parts, start=1):
        phase, day = _parse_phase(index, part.strip(" ,"), day)
        if phase is not None:
            phases.append(phase)
    if not phases:
        raise RegimenTextError(f"regimen {text!r} has only gaps ('off'); give at least one phase")
    return tuple(phases)


def regimen_end_day(phases: Sequence[RegimenPhase]) -> float:
    """Return the last stop day of the phases (the span the regimen needs)."""
    return max(p.stop_day for p in phases)


def _number(value: float) -> str:
    """Return the shortest text that reads back as exactly ``value``."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _span(days: float) -> str:
    """Return '<n> <unit>' for a span of days: months, else weeks, else days (first that is a
    short number and reads back exactly)."""
    for unit in ("month", "week"):
        count = days / DAYS_PER_UNIT[unit]
        if count == round(count, 4) and float(_number(count)) * DAYS_PER_UNIT[unit] == days:
            return f"{_number(count)} {unit}{'' if count == 1 else 's'}"
    return f"{_number(days)} day{'' if days == 1 else 's'}"


def _frequency(phase: RegimenPhase) -> str:
    for word, days in FREQUENCY_WORDS.items():
        if phase.interval_days == days:
            return word
    if phase.interval_days == phase.stop_day - phase.start_day:
        return "once"
    return f"every {_span(phase.interval_days)}"


def format_phase(phase: RegimenPhase) -> str:
    """Return one phase as text, e.g. 'denosumab 60 mg every 6 months for 1 year'."""
    dose = f" {_number(phase.dose_mg)} mg" if phase.drug in DOSED_DRUGS or phase.dose_mg else ""
    drug = phase.drug.replace("_", " ")  # "zoledronic acid"
    return f"{drug}{dose} {_frequency(phase)} for {_span(phase.stop_day - phase.start_day)}"


def format_regimen(phases: Sequence[RegimenPhase]) -> str:
    """Return the canonical text of sequential phases (gaps written as 'off for ...').

    Raises ValueError for overlapping phases (concurrent drugs), which the text cannot express.
    """
    texts, day = [], 0.0
    for phase in sorted(phases, key=lambda p: p.start_day):
        if phase.start_day < day:
            raise ValueError(
                f"phase {format_phase(phase)!r} starts on day {phase.start_day}, before the "
                f"previous phase stops (day {day}); overlapping phases have no text form"
            )
        if phase.start_day > day:
            texts.append(f"{GAP_WORD} for {_span(phase.start_day - day)}")
        texts.append(format_phase(phase))
        day = phase.stop_day
    return ", then ".join(texts)
