"""Regimen phases in months (issue 14, item 3): every / start / for / stop, days still possible."""

from __future__ import annotations

import pytest

from osteotrial.trial.config import load_config
from osteotrial.trial.phase_units import days_of, normalize_phase


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch, request):
    monkeypatch.chdir(request.config.rootpath)


@pytest.mark.parametrize(
    ("text", "frequency", "days"),
    [
        ("6 months", True, 182.625),
        ("1 month", True, 30.4375),
        ("monthly", True, 30.4375),
        ("4 weeks", True, 28),
        ("1 year", True, 365.25),
        ("month 12", False, 365.25),
        ("day 0", False, 0),
        ("12 months", False, 365.25),
        ("Week 2", False, 14),
    ],
)
def test_timing_words_convert_with_one_month_of_30_4375_days(text, frequency, days):
    assert days_of(text, "x", frequency=frequency) == days


def test_a_phase_in_months_equals_the_same_phase_in_days():
    words = {"drug": "denosumab", "dose_mg": 60, "every": "6 months", "start": "month 12",
             "for": "12 months"}  # fmt: skip
    assert normalize_phase(words, "p") == {
        "drug": "denosumab",
        "dose_mg": 60,
        "interval_days": 182.625,
        "start_day": 365.25,
        "stop_day": 730.5,
    }
    stop = normalize_phase({"start": "month 0", "stop": "month 6", "every": "weekly"}, "p")
    assert stop == {"start_day": 0, "stop_day": 182.625, "interval_days": 7}


def test_frame_in_months_has_the_hash_of_frame_in_days():
    months = load_config("frame")
    days_arms = {
        name: [
            {"drug": p.drug, "dose_mg": p.dose_mg, "interval_days": p.interval_days,
             "start_day": p.start_day, "stop_day": p.stop_day}
            for p in arm.phases
        ]
        for name, arm in months.arms.items()
    }  # fmt: skip
    days = load_config("frame", {"arms": days_arms})
    assert days.raw["arms"] == months.raw["arms"]
    assert months.arms["romosozumab_then_denosumab"].phases[1].interval_days == 182.625


@pytest.mark.parametrize(
    ("phase", "message"),
    [
        ({"every": "6 monthz", "start": "month 0", "for": "1 year"}, r"\.every='6 monthz'"),
        ({"every": "6", "start": "month 0", "for": "1 year"}, r"cannot be read; allowed"),
        ({"every": "1 month", "interval_days": 30, "start": "day 0", "for": "1 year"}, "both"),
        ({"every": "1 month", "start": "day 0", "for": "1 year", "stop_day": 9}, "both 'for'"),
        ({"every": "1 month", "for": "1 year"}, r"\.for needs the phase's start"),
    ],
)
def test_unreadable_or_doubled_timing_names_the_field(phase, message):
    arms = {
        "placebo_then_denosumab": [{"drug": "placebo", "dose_mg": 0, **phase}],
        "romosozumab_then_denosumab": [{"drug": "placebo", "dose_mg": 0, **phase}],
    }
    with pytest.raises(ValueError, match=message):
        load_config("frame", {"arms": arms})
