"""The fitted values in the docs come from config/model.yaml and cannot go stale.

docs/model.md carries a block written by tools/fitted_values.py (the remodeling stage's fitted
values and DEFEND's typical patient after stopping denosumab); it must equal what the tool makes
of the current config. The prose elsewhere refers to that block instead of repeating numbers,
and config/model.yaml's comment on the untreated-loss multiplier says what the cohort draws.
"""

from __future__ import annotations

import importlib.util
import re

import pytest
from conftest import ROOT

from osteotrial.cohort.population import PopulationParams
from osteotrial.cohort.variability import NORMAL_IIV

SPEC = importlib.util.spec_from_file_location("fitted_values", ROOT / "tools" / "fitted_values.py")
fitted_values = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(fitted_values)


@pytest.fixture(scope="module")
def model_md() -> str:
    return (ROOT / "docs" / "model.md").read_text(encoding="utf-8")


def test_the_fitted_values_block_of_model_md_is_current(model_md):
    """Re-run ``python tools/fitted_values.py --write`` after a re-fit if this fails."""
    assert fitted_values.current_block(model_md) == fitted_values.render()


def test_the_block_moves_with_the_config(tmp_path):
    """The block is made from the config, not copied: a changed fitted value changes it."""
    text = (ROOT / "config" / "model.yaml").read_text(encoding="utf-8")
    moved = re.sub(r"modeling_formation_frac: [0-9.]+", "modeling_formation_frac: 0.3", text)
    assert moved != text
    (tmp_path / "model.yaml").write_text(moved, encoding="utf-8")
    block = fitted_values.render(tmp_path / "model.yaml")
    assert "| `remodeling.modeling_formation_frac` | 0.3 | 30.0 %" in block
    assert block != fitted_values.render()
    doc = "before\n" + fitted_values.render() + "\nafter\n"
    assert fitted_values.replace_block(doc, block) == "before\n" + block + "\nafter\n"


def test_the_denosumab_rebound_shape_the_docs_describe(model_md):
    """docs/model.md's prose: CTX above baseline from month 27, highest around month 30,
    falling back to within 10 % of baseline by month 48 (after month 36); P1NP follows."""
    course = fitted_values.discontinuation_course()
    ctx, p1np = course["CTX"], course["P1NP"]
    months = list(fitted_values.STOP_MONTHS)
    assert ctx[0] < 0.0 < ctx[months.index(27.0)]
    assert max(ctx) == ctx[months.index(30.0)] and abs(ctx[-1]) < 10.0
    assert ctx[-1] < ctx[months.index(36.0)]
    assert max(p1np) == p1np[months.index(30.0)] > 0.0
    assert (
        "highest around month 30, falling back to within 10 % of baseline\nby month 48" in model_md
    )


def test_the_loss_multiplier_comment_says_what_the_cohort_draws():
    text = (ROOT / "config" / "model.yaml").read_text(encoding="utf-8")
    cv = PopulationParams().iiv_cv_bmd_loss_rate_frac
    assert "bmd_loss_rate" in NORMAL_IIV
    assert f"normal\n  # multiplier of mean 1 and CV {cv:g}" in text
    assert "median" not in text.split("\nbmd:")[1].split("\nfracture")[0]


@pytest.mark.parametrize("doc", ["model.md", "scenarios.md"])
def test_prose_does_not_repeat_old_fitted_values(doc):
    """The fitted values issue 24 found stale in the prose (modeling fraction 0.21, precursor
    renewal about 330 days, CTX +8 % at month 30) are gone; the prose points at the block."""
    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    for stale in ("fit 0.21", "about 330 days", "+8 % at month 30"):
        assert stale not in text, stale


SCENARIO_SPEC = importlib.util.spec_from_file_location(
    "scenario_numbers", ROOT / "tools" / "scenario_numbers.py"
)
scenario_numbers = importlib.util.module_from_spec(SCENARIO_SPEC)
SCENARIO_SPEC.loader.exec_module(scenario_numbers)


@pytest.mark.slow
def test_the_scenario_tables_of_scenarios_md_are_current():
    """Every table of docs/scenarios.md is what the trial file and the current model give
    (about 20 million patient-days; re-run ``python tools/scenario_numbers.py --write``)."""
    text = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    for name in scenario_numbers.SCENARIOS:
        assert scenario_numbers.current_block(text, name) == scenario_numbers.render(name), name
