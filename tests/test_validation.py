"""The validation set (config/validation.yaml) and the validation page's computation."""

from __future__ import annotations

import math

import pytest
from conftest import ROOT
from test_targets import synthetic_tables

from osteotrial.report import validation
from osteotrial.trial.config import available_trials

VALIDATION = ROOT / "config" / "validation.yaml"


def test_every_validation_row_is_sourced_and_belongs_to_a_trial_file():
    rows = validation.load_validation(VALIDATION)
    trials = set(available_trials(ROOT / "config"))
    assert len(rows) >= 9
    for row in rows:
        assert row["trial"] in trials, row["id"]
        assert row["source"].strip() and row["status"] in validation.STATUSES, row["id"]
        assert isinstance(row["published"], (int, float)) and row["tol"] >= 0, row["id"]


def test_only_the_report_reads_the_validation_set():
    """Validation numbers must never feed the fit: outside report/, no module names the file."""
    package = ROOT / "src" / "osteotrial"
    names = ("validation.yaml", "VALIDATION_FILE", "report.validation", "import validation")
    readers = [
        str(p.relative_to(package))
        for p in package.rglob("*.py")
        if any(name in p.read_text(encoding="utf-8") for name in names)
    ]
    assert readers and all(r.startswith("report/") for r in readers), readers


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("trial", "nowhere", "trial 'nowhere'"), ("status", "?", "status"), ("source", None, "")],
)
def test_a_malformed_row_is_refused_with_its_id(field, value, message):
    row = dict(validation.load_validation(VALIDATION)[0])
    row.pop(field) if value is None else row.update({field: value})
    with pytest.raises(ValueError, match=f"{row['id']}.*{message}"):
        validation.check_rows([row], ["freedom"])


def row(**fields) -> dict:
    """Return a validation row of trial 'freedom' (placebo vs denosumab at month 12)."""
    base = {"trial": "freedom", "arm": "denosumab", "month": 12, "tol": 0.0, "source": "test"}
    return {**base, "status": "R", "compare": "inside", **fields}


def test_page_rows_hold_fail_or_are_not_emulated_from_the_tables():
    """Synthetic tables: incidence 2 % (1 to 5), RR 0.5 (0.3 to 0.9), BMD +2 % in both arms."""
    rows = [
        row(id="inside", measure="incidence_pct", endpoint="hip", published=4.0),
        row(id="outside", measure="incidence_pct", endpoint="hip", published=5.2, tol=0.1),
        row(
            id="rr",
            measure="risk_ratio",
            endpoint="new_vertebral",
            published=0.2,
            compare="overlap",
            published_ci=[0.1, 0.31],
        ),  # fmt: skip
        row(
            id="gap",
            measure="bmd_difference_pts",
            site="LS",
            reference="placebo",
            published=0.5,
            compare="at_least",
            tol=0.4,
        ),  # fmt: skip
        row(id="other", trial="frame", measure="bmd_pct_change", site="LS", published=1.0),
    ]
    tables = synthetic_tables(["placebo", "denosumab"], [12.0], [365.25])
    table = validation.validation_table(rows, "freedom", tables)
    verdicts = dict(zip(table["id"], table["verdict"], strict=True))
    assert [verdicts[k] for k in ("inside", "outside", "rr", "gap")] == [
        "holds", "FAILS", "holds", "FAILS"]  # fmt: skip
    assert verdicts["other"].startswith("not emulated in this run (see the report of trial frame")
    inside = table.row(0, named=True)
    assert (inside["emulated"], inside["ci_low"], inside["ci_high"]) == pytest.approx((2, 1, 5))
    assert table["holds"][-1] is None and math.isnan(table["emulated"][-1])


def test_a_row_the_run_cannot_give_fails():
    tables = synthetic_tables(["placebo", "denosumab"], [12.0], [365.25])
    missing = row(id="m", measure="incidence_pct", endpoint="hip", month=36, published=2.0)
    table = validation.validation_table([missing], "freedom", tables)
    assert table["verdict"].to_list() == ["FAILS"]
