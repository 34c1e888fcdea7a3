"""Regimen text: the grammar of osteotrial.trial.regimen_text, round trips and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from osteotrial.trial.phase_units import normalize_arms
from osteotrial.trial.regimen_text import RegimenTextError, format_regimen, parse_regimen
from osteotrial.trial.schedules import RegimenPhase
from osteotrial.units import DAYS_PER_MONTH

ROOT = Path(__file__).resolve().parents[1]
FRAME_TEXT = (
    "romosozumab 210 mg monthly for 12 months, then denosumab 60 mg every 6 months for 12 months"
)


def trial_arms() -> list[tuple[str, list[RegimenPhase]]]:
    """Return (trial/arm, phases) of every arm of every trial file whose phases are sequential."""
    arms = []
    for path in sorted((ROOT / "config" / "trials").glob("*.yaml")):
        for name, phases in normalize_arms(yaml.safe_load(path.read_text())["arms"]).items():
            built = sorted((RegimenPhase(**p) for p in phases), key=lambda p: p.start_day)
            if all(a.stop_day <= b.start_day for a, b in zip(built, built[1:], strict=False)):
                arms.append((f"{path.stem}/{name}", built))
    return arms


def test_frame_text_gives_the_trial_file_phases(frame_trial):
    expected = tuple(RegimenPhase(**p) for p in frame_trial["arms"]["romosozumab_then_denosumab"])
    assert parse_regimen(FRAME_TEXT) == expected
    assert format_regimen(expected) == FRAME_TEXT
    assert expected[1].interval_days == 6 * DAYS_PER_MONTH == 182.625


@pytest.mark.parametrize(
    "label, phases", trial_arms(), ids=lambda x: x if isinstance(x, str) else ""
)
def test_every_trial_arm_round_trips(label, phases):
    assert list(parse_regimen(format_regimen(phases))) == phases


@pytest.mark.parametrize(
    "text, canonical",
    [
        (
            "Denosumab 60mg every 26 weeks for 1 year.",
            "denosumab 60 mg every 26 weeks for 12 months",
        ),
        (
            "placebo for 2 weeks; off for 10 days then denosumab 60 mg once for 3 months",
            "placebo monthly for 2 weeks, then off for 10 days, "
            "then denosumab 60 mg once for 3 months",
        ),
        ("romosozumab 105 mg every month for 2 years", "romosozumab 105 mg monthly for 24 months"),
        ("denosumab 0.5 mg daily for 30 days", "denosumab 0.5 mg daily for 30 days"),
    ],
)
def test_canonical_form_is_a_fixed_point(text, canonical):
    assert format_regimen(parse_regimen(text)) == canonical
    assert parse_regimen(canonical) == parse_regimen(text)


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "aspirin 100 mg daily for 1 year",
            "part 1 ('aspirin 100 mg daily for 1 year'): unknown drug 'aspirin'; "
            "allowed: denosumab, romosozumab, alendronate, risedronate, zoledronic acid, placebo, "
            "off",
        ),
        (
            "denosumab 60 mg monthly for 1 year, then romosozumab 210 mg for 1 year",
            "part 2 ('romosozumab 210 mg for 1 year'): expected a frequency",
        ),
        ("denosumab 60 mg every 6 fortnights for 1 year", "unknown unit 'fortnights'"),
        (
            "denosumab sixty mg monthly for 1 year",
            "the dose (e.g. '60 mg') must be a number (digits, or a word from 'one' to "
            "'twenty'), got 'sixty'",
        ),
        (
            "denosumab -60 mg monthly for 1 year",
            "the dose (e.g. '60 mg') must be positive, got '-60'",
        ),
        ("denosumab 0 mg monthly for 1 year", "the dose must be positive, got 0 mg"),
        ("placebo -5 mg for 1 year", "the dose (e.g. '60 mg') must be positive, got '-5'"),
        ("denosumab 60 mg every -6 months for 1 year", "the interval must be positive, got '-6'"),
        ("denosumab 60 mg monthly for -1 year", "the duration must be positive, got '-1'"),
        (
            "denosumab 60 mg every lots months for 1 year",
            "unknown unit 'lots'; allowed: day(s), week(s), month(s), year(s) (a number before "
            "the unit is written in digits or as a word from 'one' to 'twenty')",
        ),
        ("denosumab 60 mg monthly", "ends where 'for <n> <unit>' was expected"),
        ("denosumab 60 mg monthly for 1 year please", "unexpected 'please' after the duration"),
        ("denosumab 5000 mg monthly for 1 year", "dose_mg=5000.0 is outside [0, 1000] mg"),
        ("off for 3 months", "has only gaps"),
        ("  ", "regimen text is empty"),
    ],
)
def test_bad_text_names_the_part(text, message):
    with pytest.raises(RegimenTextError) as error:
        parse_regimen(text)
    assert message in str(error.value)


def test_numbers_may_be_words():
    words = parse_regimen("denosumab 60 mg every six months for two years, then off for one year")
    digits = parse_regimen("denosumab 60 mg every 6 months for 2 years, then off for 1 year")
    assert words == digits


def test_overlapping_phases_have_no_text():
    phases = [
        RegimenPhase("denosumab", 60, 182.625, 0, 365.25),
        RegimenPhase("romosozumab", 210, 30.4375, 100, 200),
    ]
    with pytest.raises(ValueError, match="overlapping phases have no text form"):
        format_regimen(phases)
