"""Targets in one place: config/targets.yaml is the only source of the numbers the code fits.

The calibration objectives (remodeling and fracture stages) are built from the file through the
one loader, so their target vectors equal the file's values, and a changed file changes the
residuals and nothing else. The comparison with a trial lists every target of the trial's
block, the ones the model does not emulate yet included (as missed, not dropped).
"""

from __future__ import annotations

import ast
import copy
import itertools
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from conftest import ROOT

from osteotrial import io
from osteotrial.calibration import (
    comparison,
    estimates,
    fracture,
    objective,
    remodeling,
    targets,
)
from osteotrial.trial.config import available_trials
from osteotrial.units import DAYS_PER_MONTH

TARGETS = ROOT / "config" / "targets.yaml"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "science" / "targets.yaml"
MODEL = yaml.safe_load((ROOT / "config" / "model.yaml").read_text())
RAW = yaml.safe_load(TARGETS.read_text(encoding="utf-8"))  # read here without the loader


def test_targets_file_is_the_shared_science_file_followed_by_sourced_additions():
    if not SHARED.exists():
        pytest.skip(f"{SHARED} is not here")
    shared, ours = SHARED.read_bytes(), TARGETS.read_bytes()
    assert ours.startswith(shared)
    added = yaml.safe_load(ours[len(shared) :].decode())
    assert set(added) == {"additions"}
    for key, sections in added["additions"]["trials"].items():
        assert key in RAW["trials"]
        for section, entries in sections.items():
            assert section not in RAW["trials"][key]  # never overrides the shared file
            for entry in entries:
                assert entry["source"] in RAW["trial_sources"], entry


def test_additions_are_merged_into_their_trial_and_may_not_override():
    data = targets.read_targets()
    assert "additions" not in data
    sd = data["trials"]["freedom_bmd_only"]["bmd_pct_change_sd"]
    assert {(e["arm"], e["site"], e["month"]) for e in sd} >= {("denosumab", "TH", 12)}
    for entry in sd:  # the range is the one its CI and n give: SD = half-width / 1.96 sqrt(n)
        low_ci, high_ci = entry["ci95"]
        half = [(high_ci - low_ci) / 2 - 0.05, (high_ci - low_ci) / 2 + 0.05]  # rounded to 0.1
        n_low, n_high = entry["n"]
        assert entry["low"] == pytest.approx(half[0] / 1.96 * np.sqrt(n_low), abs=0.05)
        assert entry["high"] == pytest.approx(half[1] / 1.96 * np.sqrt(n_high), abs=0.05)
    clash = {"trials": {"frame": {"design": {}}}, "additions": {"trials": {"frame": {"design": 1}}}}
    with pytest.raises(ValueError, match=r"trials.frame.design is already a target"):
        targets.merge_additions(clash)


def expected_remodeling_targets() -> list[tuple[float, float, bool]]:
    """(value, scale, hinge) of each remodeling target, read from the raw file here."""
    den = RAW["pk"]["denosumab_60mg_single_dose"]
    rom = RAW["pk"]["romosozumab_210mg_single_dose"]
    low, high = rom["tmax_days"]["range"]
    out = [
        (den["tmax_days"]["value"], den["tmax_days"]["tol"] * remodeling.PK_SCALE_PER_TOL, False),
        (
            den["terminal_half_life_days"]["value"],
            den["terminal_half_life_days"]["tol"] * remodeling.PK_SCALE_PER_TOL,
            False,
        ),
        (rom["cmax_ug_per_ml"]["value"], rom["cmax_ug_per_ml"]["sd"], False),
        (rom["auc_ug_day_per_ml"]["value"], rom["auc_ug_day_per_ml"]["sd"], False),
        (rom["tmax_days"]["value"], (high - low) / 2, False),
        (rom["effective_half_life_days"]["value"], remodeling.EFFECTIVE_HALF_LIFE_SCALE, False),
    ]
    markers = RAW["trials"]["frame"]["markers_romosozumab_vs_placebo"]
    for marker, key in remodeling.MARKER_SCALE:
        pct = 0.0 if key == "back_to_placebo_month" else markers[marker][key]
        out.append((1 + pct / 100, remodeling.MARKER_SCALE[marker, key], False))
    half = remodeling.BMD_SCALE_PER_TOL
    frame_bmd = RAW["trials"]["frame"]["bmd_pct_change"]
    out += [
        (t["value"], t["tol"] * half, False)
        for t in frame_bmd
        if t["arm"] == "romosozumab_then_denosumab"
    ]
    ctx = den["ctx_reduction_by_day_5"]["value_pct"]
    out.append((1 + ctx / 100, remodeling.CTX_SUPPRESSION_SCALE, True))
    freedom_bmd = RAW["trials"]["freedom_bmd_only"]["bmd_pct_change"]
    out += [(t["value"], t["tol"] * half, False) for t in freedom_bmd if t["arm"] == "denosumab"]
    extension = RAW["trials"]["freedom_extension"]["bmd_pct_change"]
    out += [(t["value"], t["tol"] * half, False) for t in extension]
    defend = RAW["trials"]["denosumab_discontinuation"]["on_treatment_month_24_vs_placebo"]
    out += [(t["value"], t["tol"] * half, False) for t in defend]
    dose_ranging = RAW["trials"]["denosumab_dose_ranging"]["ctx_pct_of_baseline"]
    out += [(t["value"], t["tol"] * half, False) for t in dose_ranging]
    strength = RAW["trials"]["bone_strength"]["strength_pct_change"]
    out += [(t["value"], t["tol"] * half, False) for t in strength]
    return out


def test_remodeling_targets_are_the_values_of_targets_yaml():
    goals = remodeling.remodeling_targets()
    got = [(g.value, g.scale, g.hinge) for g in goals]
    np.testing.assert_allclose(got, expected_remodeling_targets(), rtol=1e-12)
    by_source = {g.source.rsplit(".", 1)[-1]: g for g in goals}
    # the numbers issue 11 found copied wrong into the code
    assert by_source["ctx_reduction_by_day_5"].value == pytest.approx(0.20)
    assert by_source["cmax_ug_per_ml"].scale == 5.8 and by_source["auc_ug_day_per_ml"].scale == 127
    assert by_source["terminal_half_life_days"].scale == 8 * remodeling.PK_SCALE_PER_TOL


def test_fracture_targets_are_the_values_of_targets_yaml():
    frame = RAW["trials"]["frame"]
    expected = [
        (t["value"], np.sqrt(t["value"] * (1 - t["value"]) / t["n"]))
        for t in frame["fracture_incidence"]
    ]
    expected += [(t["value"], fracture.RRR_SCALE) for t in frame["relative_risk_reduction"]]
    got = [(g.value, g.scale) for g in fracture.fracture_targets()]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_typical_patients_have_the_mean_baseline_of_their_trial_cohort():
    """The typical patient carries the mean age and T-scores of the trial's emulated cohort,
    which land on the targets.yaml baselines (tolerances of the file)."""
    for trial, key in (("frame", "frame"), ("freedom", "freedom_bmd_only")):
        baseline = RAW["trials"][key]["baseline"]
        patient = objective.typical_patient(trial)
        age = baseline["age_mean_years"]
        assert abs(patient.age_years[0] - age["value"]) <= age["tol"]
        tscores = baseline["t_score_mean"]
        for site in ("LS", "TH", "FN"):
            got = getattr(patient, f"tscore_{site.lower()}")[0]
            assert -4.0 < got < 0.0
            if site in tscores:
                assert abs(got - tscores[site]) <= tscores["tol"], (trial, site, got)


def shifted(data: dict) -> dict:
    """Return targets with every value, tolerance and SD of the fitted blocks moved."""
    out = copy.deepcopy(data)

    def move(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("value", "tol", "sd", "value_pct") and isinstance(value, (int, float)):
                    node[key] = value * 1.1 + 0.01 if key != "value_pct" else value * 0.9
                elif key.endswith("_pct") and isinstance(value, (int, float)):
                    node[key] = value + 7.0
                else:
                    move(value)
        elif isinstance(node, list):
            for item in node:
                move(item)

    for block in (out["pk"], out["trials"]["frame"], out["trials"]["freedom_bmd_only"]):
        move({k: v for k, v in block.items() if k != "baseline"})
    return out


@pytest.mark.parametrize("stage", ["remodeling", "fracture"])
def test_residuals_are_the_emulated_values_against_the_file(stage):
    """Residuals = (emulated - value) / scale with value and scale from the given targets: a
    number kept in code would not move with a changed file."""
    build, emulate, residuals = {
        "remodeling": (
            remodeling.remodeling_targets,
            lambda m, t: remodeling.remodeling_emulated(m, t)[0],
            remodeling.remodeling_residuals,
        ),
        "fracture": (
            fracture.fracture_targets,
            fracture.fracture_emulated,
            fracture.fracture_residuals,
        ),
    }[stage]
    data = targets.read_targets()
    emulated = emulate(MODEL, data)
    moved = shifted(data)
    assert [g.value for g in build(moved)] != [g.value for g in build(data)]
    for content in (data, moved):
        goals = build(content)
        res = residuals(MODEL, content)[: len(goals)]
        want = [
            (max(0.0, e - g.value + g.scale) if g.hinge else e - g.value) / g.scale
            for g, e in zip(goals, emulated, strict=True)
        ]
        np.testing.assert_allclose(res, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(emulate(MODEL, moved), emulated)


# Every module that reads targets.yaml or builds an objective, a comparison or an analysis from
# it. The model (model/, cohort/) is written from ../shared/science/model-anchors.md with its own
# sources and is fitted, never given a target; its short literature constants (CVs, bounds,
# eligibility windows of the design blocks) would collide by chance with one- or two-digit
# tolerances. report/ holds plot styling (alphas, widths) and reads numbers from the tables.
CODE = sorted(
    path
    for package in ("calibration", "analyses")
    for path in (ROOT / "src" / "osteotrial" / package).glob("*.py")
)
# Coordinates and descriptions of a target, not published results: design blocks (arm sizes,
# imaging months), the baseline (typical_patient reads it through the loader), days and months.
NOT_RESULTS = {"design", "baseline", "month", "day", "n", "allocation", "dose_mg_per_day"}
ROUND_VALUES = {round(x / 2, 9) for x in range(-4, 61)} | {0.05, 0.15, 0.25, 0.35, 0.75, 1.5, 100.0}
# (module, literal): why a literal equal to a number of the file is not a copy of it.
EXEMPT = {
    ("estimates.py", 0.975): "two-sided 95 % quantile of t and chi-square",
    ("estimates.py", 0.025): "two-sided 95 % quantile of chi-square",
    ("parameter_sets.py", 1.2): "STEP_FRAC, the random-walk proposal's tuning",
    ("proposal.py", 1.2): "STEP_FRAC, the random-walk proposal's tuning",
    ("meta_regression.py", 0.35): "LOG_RR_TOLERANCE, an assumption (docs/model.md)",
    ("power.py", 0.95): "upper quantile of the simulated risk ratios",
    ("visit_tables.py", 0.75): "upper quartile of the measured change",
    ("sre_tables.py", 0.75): "upper quartile of the urinary NTX change",
    ("hip_base.py", 0.82): "Million Women Study hip cases per 100 women (S49), a literature input",
    ("likelihood.py", 0.3): "DISCREPANCY of a mean BMD change, 0.3 points: an assumption (A)",
    ("likelihood.py", 0.1): "DISCREPANCY, a tenth of the published value: an assumption (A)",
    ("likelihood.py", 0.2): "DISCREPANCY of a PK statistic, a fifth: an assumption (A)",
    ("metastasis.py", 0.1): "TOL of the mean SREs per patient: this project's tolerance (A)",
    ("men.py", 0.8): "START of men.activation_rel: men's turnover markers 20-40 % below (R)",
    ("men.py", 0.3): "PRIOR_SD and lower bound of men.activation_rel: assumptions (A)",
}


def published_numbers(raw: dict) -> dict[float, str]:
    """Every distinctive number of every block of ``raw`` (new blocks and additions included),
    with the values the objective derives from them (1 + pct / 100; tol / 2 and sd / 2), each
    mapped to where it is in the file."""
    numbers: dict[float, str] = {}

    def collect(node, where: str, key: str = "") -> None:
        if isinstance(node, dict):
            for k, value in node.items():
                if k not in NOT_RESULTS:
                    collect(value, f"{where}.{k}", str(k))
        elif isinstance(node, list):
            for value in node:
                collect(value, where, key)
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            x = float(node)
            if round(x, 9) in ROUND_VALUES:
                return
            derived = {x, 1 + x / 100} | ({x / 2} if key in ("tol", "sd") else set())
            for value in derived:
                numbers.setdefault(round(value, 9), where)

    for key, block in raw["trials"].items():
        collect(block, f"trials.{key}")
    collect(raw["pk"], "pk")
    collect(raw.get("additions", {}), "additions")
    return numbers


def numeric_literals(source: str) -> list[tuple[int, float]]:
    """(line, value) of every number written in ``source``, a leading minus folded in, the
    ``BOUNDS`` box of the fitted parameters (not target values) left out."""
    tree = ast.parse(source)
    skip = {
        id(node)
        for bounds in ast.walk(tree)
        if isinstance(bounds, ast.AnnAssign) and getattr(bounds.target, "id", "") == "BOUNDS"
        for node in ast.walk(bounds)
    }
    negated = {
        id(node.operand)
        for node in ast.walk(tree)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
    }
    return [
        (node.lineno, -float(node.value) if id(node) in negated else float(node.value))
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
        and id(node) not in skip
    ]


def copied_numbers(path: Path, numbers: dict[float, str]) -> list[tuple[int, float, str]]:
    return [
        (line, value, numbers[round(value, 9)])
        for line, value in numeric_literals(path.read_text(encoding="utf-8"))
        if round(value, 9) in numbers and (path.name, value) not in EXEMPT
    ]


def test_no_code_carries_a_published_number():
    """No number of targets.yaml (every block: the new populations, safety and bone strength
    too) nor a value the objective derives from one is written as a literal in the calibration
    or analysis code, denosumab.py, targets.py and meta_regression.py included."""
    numbers = published_numbers(RAW)
    blocks = {where.split(".")[1] for where in numbers.values()}
    assert set(RAW["trials"]) <= blocks  # every block of the file is read, the new ones too
    names = {path.name for path in CODE}
    assert {"denosumab.py", "targets.py", "meta_regression.py", "remodeling.py"} <= names
    for path in CODE:
        assert not copied_numbers(path, numbers), path.name


def test_the_literal_scan_finds_a_copied_number(tmp_path):
    """The scan is not blind: a copied target (here FRAME's LS gain, DEFEND's CTX difference as
    the objective's ratio, a bone-strength value of the new block, FREEDOM's SD bound of the
    additions) is found, written plainly or negated."""
    numbers = published_numbers(RAW)
    copy_of = tmp_path / "denosumab.py"
    copy_of.write_text("A = 13.1\nB = 0.37\nC = -5.6\nD = 4.78 / 2\nE = (1e-3, 1.2)\n")
    found = {value for _, value, _ in copied_numbers(copy_of, numbers)}
    assert found == {13.1, 0.37, -5.6, 4.78, 1.2}


def test_every_target_block_has_a_trial_file_or_is_listed_as_not_emulated():
    trials = available_trials(ROOT / "config")
    emulated = {targets.TARGET_KEYS.get(t, t) for t in trials}
    for key in RAW["trials"]:
        assert (key in emulated) != (key in targets.NOT_EMULATED), key


def synthetic_tables(arms: list[str], months: list[float], days: list[float]) -> dict:
    """Endpoint tables with a row for every arm, site/marker/endpoint and month or day."""
    ends = ("new_vertebral", "clinical_vertebral", "hip", "nonvertebral", "clinical")
    keys = {
        "bmd": itertools.product(arms, ("LS", "TH", "FN"), months),
        "markers": ((*k, k[2] / 30.4375) for k in itertools.product(arms, ("P1NP", "CTX"), days)),
        "fractures": itertools.product(arms, ends, months),
        "comparisons": itertools.product(ends, months, arms[1:]),
    }
    values = {
        "bmd": (100, 2.0, 1.5, 2.5, 3.0, 2.77, 0.4),
        "markers": (-50.0, -60.0, -40.0),
        "fractures": (100, 2, 0.02, 0.01, 0.05, 0.02),
        "comparisons": (arms[0], 0.5, 0.3, 0.9, 0.5, 0.5, 0.3, 0.9, 0.01),
    }
    return {
        name: pl.DataFrame(
            [(*key, *values[name]) for key in keys[name]],
            schema=io.ENDPOINT_SCHEMAS[name].names,
            orient="row",
        )
        for name in keys
    }


def _with_markers(tables: dict, arm: str, marker: str, day: float, pct: float) -> dict:
    """Return tables whose marker row (arm, marker, day) has median change ``pct``."""
    markers = tables["markers"].with_columns(
        median_pct_change=pl.when(
            (pl.col("arm") == arm) & (pl.col("marker") == marker) & (pl.col("day") == day)
        )
        .then(pct)
        .otherwise(pl.col("median_pct_change"))
    )
    return {**tables, "markers": markers}


def test_after_stopping_shapes_are_checked_by_their_rules():
    """Each after-stopping shape gets a row; the rules hold or fail with the tables' values."""
    block = targets.load_targets(TARGETS, "denosumab_discontinuation")
    months = [24.0, 30.0, 36.0, 48.0]
    days = [m * DAYS_PER_MONTH for m in months]
    tables = synthetic_tables(["placebo", "denosumab"], months, days)
    table = comparison.compare(block, tables, None, "placebo")
    shapes = table.filter(pl.col("kind") == "after_stopping")
    assert shapes.height == len(block["after_stopping"])
    # synthetic markers are -50 % everywhere: CTX and P1NP are not above baseline at month 30
    assert not shapes.filter(pl.col("month") == 30.0)["within"].any()
    rebound = _with_markers(tables, "denosumab", "CTX", days[1], 40.0)
    rows = comparison.compare(block, rebound, None, "placebo").filter(
        pl.col("kind") == "after_stopping", pl.col("measure").str.starts_with("CTX above")
    )
    assert rows["within"].to_list() == [True] and rows["emulated"].to_list() == [40.0]
    # BMD: +2 % in both arms (synthetic): within 2 points of baseline at month 36, and not
    # above the placebo arm at month 48
    bmd = shapes.filter(pl.col("measure").str.starts_with("LS within"))
    assert bmd["within"].to_list() == [True]
    assert shapes.filter(pl.col("measure").str.starts_with("LS-placebo"))["within"].to_list() == [
        False
    ]


def test_on_treatment_and_dose_ranging_targets_are_compared_where_the_arms_exist():
    block = targets.load_targets(TARGETS, "denosumab_discontinuation")
    tables = synthetic_tables(["placebo", "denosumab"], [12.0, 24.0], [28.0, 84.0, 730.5])
    table = comparison.compare(block, tables, None, "placebo")
    on_treatment = table.filter(pl.col("kind") == "on_treatment_month_24_vs_placebo")
    assert on_treatment.height == 4 and on_treatment["emulated"].to_list() == [0.0] * 4
    dose_ranging = targets.load_targets(TARGETS, "denosumab_dose_ranging")
    arms = sorted({t["arm"] for t in dose_ranging["ctx_pct_of_baseline"]})
    tables = synthetic_tables(["placebo", *arms], [12.0], [28.0, 84.0])
    table = comparison.compare(dose_ranging, tables, None, "placebo")
    ctx = table.filter(pl.col("kind") == "ctx_pct_of_baseline")
    assert ctx.height == len(dose_ranging["ctx_pct_of_baseline"])
    at_28_84 = ctx.filter(pl.col("month") < 3.0)
    assert (at_28_84["emulated"] == 50.0).all() and ctx.filter(pl.col("month") > 3)[
        "emulated"
    ].is_nan().all()
    # synthetic BMD is +2 % in every arm: inside the TH range (1.9-3.6), below the LS range
    # (3.0-6.7), and 2.8 points off the placebo LS value (-0.8)
    ranges = table.filter(pl.col("kind") == "bmd_range")
    treated = ranges.filter(pl.col("arm") != "placebo")
    assert treated.height == 2 * len(arms)
    assert treated.filter(pl.col("measure") == "TH")["within"].all()
    assert not treated.filter(pl.col("measure") == "LS")["within"].any()
    assert not ranges.filter(pl.col("arm") == "placebo")["within"].any()


def test_reductions_are_compared_with_the_measure_the_trial_reported():
    """FRAME's clinical and nonvertebral reductions are hazard ratios (S1): the calibration
    table takes 1 - the Cox HR there and 1 - RR for new vertebral fractures."""
    frame = targets.load_targets(TARGETS, "frame")
    assert targets.ratio_measure(frame, "clinical") == "hazard_ratio"
    assert targets.ratio_measure(frame, "nonvertebral") == "hazard_ratio"
    assert targets.ratio_measure(frame, "new_vertebral") == "risk_ratio"
    assert targets.ratio_measure({}, "hip") == "risk_ratio"
    with pytest.raises(ValueError, match="allowed: risk_ratio, hazard_ratio"):
        bad = {"relative_risk_reduction_measure": [{"endpoint": "hip", "measure": "odds"}]}
        targets.ratio_measure(bad, "hip")
    tables = synthetic_tables(
        ["placebo_then_denosumab", "romosozumab_then_denosumab"], [12.0], [14.0]
    )
    tables["comparisons"] = tables["comparisons"].with_columns(
        hazard_ratio=pl.lit(0.64), hr_ci_low=pl.lit(0.5), hr_ci_high=pl.lit(0.8)
    )
    table = comparison.compare(
        frame, tables, "romosozumab_then_denosumab", "placebo_then_denosumab"
    )
    rows = {
        r["measure"]: r
        for r in table.iter_rows(named=True)
        if r["kind"] == "relative_risk_reduction"
    }
    assert rows["clinical"]["emulated"] == pytest.approx(0.36)  # 1 - HR, not 1 - RR (0.5)
    assert rows["new_vertebral"]["emulated"] == pytest.approx(0.5)


def test_after_stopping_intervals_hold_the_values_of_the_shared_rule():
    """estimates.after_stopping_estimate and targets.after_stopping_value define each measure
    once each: the same value from the same tables, inside its interval."""
    months = [24.0, 30.0, 48.0]
    tables = synthetic_tables(
        ["placebo", "denosumab"], months, [m * DAYS_PER_MONTH for m in months]
    )
    tables = _with_markers(tables, "denosumab", "P1NP", 30.0 * DAYS_PER_MONTH, 70.0)
    tables["markers"] = tables["markers"].with_columns(n_patients=pl.lit(100))
    bmd = {"denosumab": 3.0, "placebo": 1.0}
    mean = pl.col("arm").replace_strict(bmd)
    tables["bmd"] = tables["bmd"].with_columns(
        mean_pct_change=mean, ci_low_pct=mean - 0.5, ci_high_pct=mean + 0.5
    )

    def marker_pct(arm, marker, month):
        return estimates.marker_median(tables["markers"], arm, marker, month * DAYS_PER_MONTH)[0]

    def bmd_pct(arm, site, month):
        return estimates.bmd_mean(tables["bmd"], arm, site, month)[0]

    for measure in ("CTX+P1NP", "LS-placebo", "CTX", "LS"):
        got = estimates.after_stopping_estimate(measure, 30.0, tables)
        assert got.value == targets.after_stopping_value(measure, 30.0, marker_pct, bmd_pct)
        assert got.low <= got.value <= got.high


@pytest.mark.parametrize("shape", ["normal", "skewed"])
def test_median_interval_covers_the_true_median(shape):
    """The marker interval, median +- 1.96 IQR / sqrt(n), covers at least 95 % (binomial
    tolerance: 1,000 samples give a standard error of 0.7 points) and is not wildly wide."""
    normals = np.random.default_rng(7).normal(size=(1000, 200))
    values = normals * 20 if shape == "normal" else 100 * (np.exp(0.5 * normals) - 1)
    q25, median, q75 = np.quantile(values, [0.25, 0.5, 0.75], axis=1)
    quartiles = zip(median, q25, q75, strict=True)
    ends = np.array([estimates.median_interval(*q, 200)[1:] for q in quartiles])
    coverage = np.mean((ends[:, 0] <= 0.0) & (0.0 <= ends[:, 1]))
    assert 0.935 <= coverage <= 0.99
