"""One endpoint vocabulary (analyses.vocabulary) for tables, API, CLI and figures.

A name that the vocabulary does not define fails here, wherever it appears: the endpoint
tables' ``endpoint`` values and column names, the API's table and summary columns, the CLI's
printed columns and the quick-look figure's curves.
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest
from conftest import synthetic_cohort, synthetic_result

from osteotrial import api, cli, io
from osteotrial.analyses import counterfactual, endpoints, vocabulary
from osteotrial.analyses.vocabulary import ENDPOINTS, ENGINE_EVENTS
from osteotrial.model.records import FRACTURE_TYPES
from osteotrial.report import figures_regimen
from osteotrial.units import DAYS_PER_MONTH

# Columns that name a fracture endpoint: <endpoint><suffix>.
ENDPOINT_COLUMN = re.compile(
    r"^(?P<name>.+?)_(fractures_cum|incidence_frac|incidence_ci_(low|high)_frac|day|effect)$"
)
FRACTURE_WORDS = ("vertebral", "hip", "fracture", "clinical", "nonvert")
# Columns that carry a fracture word or an endpoint suffix but are no endpoint.
NOT_ENDPOINTS = frozenset(
    {"prevalent_vertebral_fracture_count", "day", "death_day", "exit_day", "dropout_day"}
    | {"cumulative_incidence_frac"}
)
# Printed CLI columns that are no fracture endpoint.
CLI_MEASURES = ("month", "alive", "LS %", "TH %", "FN %", "P1NP %", "CTX %")


def undefined_names(columns) -> list[str]:
    """Return the columns that name a fracture endpoint the vocabulary does not define."""
    bad = []
    for column in columns:
        match = ENDPOINT_COLUMN.match(column)
        if column in NOT_ENDPOINTS or (match and match["name"] in ENDPOINTS):
            continue
        if match or any(word in column for word in FRACTURE_WORDS):
            bad.append(column)
    return bad


def four_patients():
    """Return (ArmResult, Cohort) of 4 women at days 0 and 365.25 with known fractures.

    Patient 0 breaks a hip (day 100); 1 another nonvertebral site (day 50); 2 both (hip day
    200, other day 300) and a clinical vertebra (day 20); 3 nothing.
    """
    hip, other = np.full((2, 4), np.nan), np.full((3, 4), np.nan)
    vertebral, clinical = np.full((3, 4), np.nan), np.zeros((3, 4), dtype=bool)
    hip[0, [0, 2]] = [100.0, 200.0]
    other[0, [1, 2]] = [50.0, 300.0]
    vertebral[0, 2], clinical[0, 2] = 20.0, True
    result = synthetic_result(
        "a",
        [0, 1, 2, 3],
        hip_fracture_days=hip,
        nonvertebral_fracture_days=other,
        vertebral_fracture_days=vertebral,
        vertebral_fracture_clinical=clinical,
    )
    return result, synthetic_cohort(["a"] * 4)


def test_undefined_names_catches_the_old_words():
    old = ["vertebral_fractures_cum", "nonvert_incidence_frac", "hip_fx_day", "vert_effect"]
    assert undefined_names(old) == old
    assert undefined_names(["nonvertebral_other_than_hip_fractures_cum", "death_day"]) == []


def test_every_endpoint_is_made_of_engine_events():
    assert {t for t, _ in ENGINE_EVENTS.values()} == set(FRACTURE_TYPES)
    labels = [e.label for e in ENDPOINTS.values()]
    assert len(set(labels)) == len(labels) and not any("  " in x for x in labels)
    for name, e in ENDPOINTS.items():
        assert e.name == name and e.definition and set(e.events) <= set(ENGINE_EVENTS)
    assert set(vocabulary.endpoint("nonvertebral").events) >= {"hip"}  # the trials' meaning
    with pytest.raises(KeyError, match="not in the vocabulary"):
        vocabulary.endpoint("nonvert")


def test_endpoint_tables_use_only_vocabulary_names():
    result, _ = four_patients()
    events = endpoints.patient_events(pl.from_arrow(io.simulation_table(result)).lazy())
    fractures, comparisons = endpoints.fracture_tables(
        events.vstack(events.with_columns(arm=pl.lit("b"))), "a", [12.0], [12.0]
    )
    assert set(fractures["endpoint"]) | set(comparisons["endpoint"]) <= set(ENDPOINTS)
    assert set(endpoints.FRACTURE_ENDPOINTS) <= set(ENDPOINTS)
    schemas = [*io.ENDPOINT_SCHEMAS.values(), *counterfactual.SCHEMAS.values()]
    assert undefined_names(events.columns) == []
    assert undefined_names(c for schema in schemas for c in schema.names) == []


def test_api_and_cli_use_only_vocabulary_names():
    result, cohort = four_patients()
    summary = api.summarize(api.regimen_table(result, cohort, "r"))
    assert undefined_names(api.COLUMNS) == [] and undefined_names(summary.columns) == []
    assert summary.columns == list(api.SUMMARY_COLUMNS)
    lines = cli._summary_lines(summary, 12)
    headers = re.split(r"\s{2,}", lines[1].strip())
    printed = [h for h in headers if h not in CLI_MEASURES]
    assert printed and len(headers) == len(lines[2].split())
    assert {h.removesuffix(" %") for h in printed} <= {e.label for e in ENDPOINTS.values()}
    assert "nonvert incl hip %" in printed and "hip %" in printed


def test_report_figures_use_only_vocabulary_names():
    from osteotrial.report import build, figures_counterfactual, figures_trial

    named = [*figures_trial.ENDPOINT_NAMES, *build.KM_ENDPOINTS]
    assert set(named) | set(figures_counterfactual.FOREST_ENDPOINTS) <= set(ENDPOINTS)
    assert "hip" in figures_trial.ENDPOINT_NAMES["nonvertebral"]


def test_figure_curves_use_only_vocabulary_names():
    columns = [s[0] for _, _, series in figures_regimen.PANELS for s in series]
    assert undefined_names(columns) == []
    labels = {s[-1] for _, _, series in figures_regimen.PANELS for s in series}
    assert {vocabulary.label("nonvertebral"), vocabulary.label("hip")} <= labels


def test_api_nonvertebral_is_hip_plus_other_as_in_the_tables():
    result, cohort = four_patients()
    table = api.regimen_table(result, cohort, "r").filter(pl.col("month") == 12)
    assert table["hip_fractures_cum"].to_list() == [1, 0, 1, 0]
    assert table["nonvertebral_other_than_hip_fractures_cum"].to_list() == [0, 1, 1, 0]
    assert table["nonvertebral_fractures_cum"].to_list() == [1, 1, 2, 0]
    assert table["clinical_fractures_cum"].to_list() == [1, 1, 3, 0]
    events = endpoints.patient_events(pl.from_arrow(io.simulation_table(result)).lazy())
    shared = [name for name in endpoints.FRACTURE_ENDPOINTS if name in api.FRACTURE_ENDPOINTS]
    for name in shared:  # the same women have an event in both
        in_table = events[f"{name}_day"].to_numpy() <= 12 * DAYS_PER_MONTH
        np.testing.assert_array_equal(table[f"{name}_fractures_cum"].to_numpy() > 0, in_table)
    summary = api.summarize(api.regimen_table(result, cohort, "r")).filter(pl.col("month") == 12)
    assert summary["nonvertebral_incidence_frac"].item() == 0.75
    assert summary["hip_incidence_frac"].item() == 0.5
