"""The calibration check of an event-count row: the published figure, itself one draw, must lie
in the 95 % range of a trial of the published size around the model's expected value
(calibration.draws, calibration.comparison)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from conftest import ROOT
from test_targets import synthetic_tables

from osteotrial.calibration import comparison, draws, targets
from osteotrial.calibration.targets import last_fracture_month

FRAME = targets.load_targets(ROOT / "config" / "targets.yaml", "frame")
TREATED, CONTROL = "romosozumab_then_denosumab", "placebo_then_denosumab"


def test_binomial_range_holds_95_percent_of_draws():
    rng = np.random.default_rng(1)
    for p, n in ((0.015, 3589), (0.005, 3321), (0.2, 50)):
        drawn = draws.binomial_interval(p, n)
        k = rng.binomial(n, p, size=200_000) / n
        coverage = np.mean((k >= drawn.low) & (k <= drawn.high))
        assert 0.95 <= coverage <= 0.985, (p, n, coverage)  # discrete: at least 95 %
        assert drawn.low < p < drawn.high


@pytest.mark.parametrize("measure", ["risk_ratio", "hazard_ratio"])
def test_ratio_range_holds_about_95_percent_of_trial_ratios(measure):
    """Crude risk ratios of two binomial arms fall in the range about 95 % of the time (the
    hazard ratio's Peto variance is that of the log RR at small risks)."""
    rng = np.random.default_rng(2)
    p1, p0, n1, n0 = 0.008, 0.02, 3500, 3500
    ratio = p1 / p0 if measure == "risk_ratio" else np.log1p(-p1) / np.log1p(-p0)
    drawn = draws.ratio_interval(measure, ratio, p1, n1, p0, n0)
    k1, k0 = rng.binomial(n1, p1, 100_000), rng.binomial(n0, p0, 100_000)
    ok = (k1 > 0) & (k0 > 0)
    rr = (k1[ok] / n1) / (k0[ok] / n0)
    coverage = np.mean((rr >= drawn.low) & (rr <= drawn.high))
    assert 0.93 <= coverage <= 0.97, coverage
    with pytest.raises(ValueError, match="allowed"):
        draws.log_ratio_se("odds_ratio", p1, n1, p0, n0)


def _expected_table(incidence: dict[str, float], month: float) -> pl.DataFrame:
    """An ``expected`` table (analyses.expected schema) with one incidence per arm for every
    endpoint and the comparisons of TREATED against CONTROL."""
    rows = []
    ends = ("new_vertebral", "clinical_vertebral", "hip", "nonvertebral", "clinical")
    for end in ends:
        for arm, p in incidence.items():
            rows.append(("fractures", arm, None, end, month, "incidence_frac", p, None, None))
        p1, p0 = incidence[TREATED], incidence[CONTROL]
        for statistic, value in (
            ("risk_ratio", p1 / p0),
            ("hazard_ratio", np.log1p(-p1) / np.log1p(-p0)),
        ):
            rows.append(("comparisons", TREATED, CONTROL, end, month, statistic, value, p1, p0))
    columns = ("table", "arm", "reference_arm", "endpoint", "time", "statistic", "value")
    schema = dict.fromkeys(columns[:4], pl.String) | dict.fromkeys(columns[4:], pl.Float64)
    schema = {**schema, "statistic": pl.String, "incidence": pl.Float64}
    schema["reference_incidence"] = pl.Float64
    return pl.DataFrame(rows, schema=schema, orient="row")


def _frame_rows(tables: dict, expected: pl.DataFrame | None) -> pl.DataFrame:
    table = comparison.compare(FRAME, {**tables, "expected": expected}, TREATED, CONTROL)
    return table.filter(pl.col("kind").is_in(["fracture_incidence", "relative_risk_reduction"]))


def test_row_passes_on_the_expected_value_not_on_the_one_draw():
    """The emulated draw's CI excludes every published value (synthetic tables: 50 %, CI 45-55 %,
    for every arm and endpoint), yet a model whose expected incidence equals the
    published one passes the nonvertebral incidence rows; a model at a third of it fails them. The
    sampled value and its CI stay in the table beside the expected one."""
    month = last_fracture_month(FRAME)
    tables = synthetic_tables([CONTROL, TREATED], [month], [14.0])
    tables["fractures"] = tables["fractures"].with_columns(
        incidence_frac=pl.lit(0.5), ci_low_frac=pl.lit(0.45), ci_high_frac=pl.lit(0.55)
    )
    published = {
        (t["arm"], t["endpoint"]): t["value"] for t in FRAME["fracture_incidence"]
    }  # one expected incidence per arm: use the nonvertebral ones
    exact = {arm: published[arm, "nonvertebral"] for arm in (CONTROL, TREATED)}
    rows = _frame_rows(tables, _expected_table(exact, month))
    nv = rows.filter(pl.col("kind") == "fracture_incidence", pl.col("measure") == "nonvertebral")
    assert nv["within"].all() and (nv["emulated"] == 0.5).all()
    assert (nv["expected"] == nv["target"]).all()
    assert (nv["expected_low"] < nv["target"]).all() and (nv["target"] < nv["expected_high"]).all()
    third = {arm: p / 3 for arm, p in exact.items()}
    rows = _frame_rows(tables, _expected_table(third, month))
    nv = rows.filter(pl.col("kind") == "fracture_incidence", pl.col("measure") == "nonvertebral")
    assert nv.height == 2 and not nv["within"].any()
    unchecked = _frame_rows(tables, None)  # no expected table: cannot be checked, not within
    assert unchecked["expected"].is_nan().all() and not unchecked["within"].any()


def test_reduction_row_uses_the_expected_ratio_and_the_published_arm_sizes():
    month = last_fracture_month(FRAME)
    tables = synthetic_tables([CONTROL, TREATED], [month], [14.0])
    target = {t["endpoint"]: t["value"] for t in FRAME["relative_risk_reduction"]}
    p0 = 0.02
    for endpoint, rrr in target.items():
        measure = targets.ratio_measure(FRAME, endpoint)
        if measure == "risk_ratio":
            p1 = p0 * (1 - rrr)
        else:  # hazard ratio (1 - rrr) of the expected incidences
            p1 = -np.expm1((1 - rrr) * np.log1p(-p0))
        rows = _frame_rows(tables, _expected_table({CONTROL: p0, TREATED: p1}, month))
        row = rows.filter(
            pl.col("kind") == "relative_risk_reduction", pl.col("measure") == endpoint
        ).row(0, named=True)
        assert row["expected"] == pytest.approx(rrr) and row["within"], row
        n = draws.arm_size(
            FRAME, tables["fractures"], TREATED, {"endpoint": endpoint, "month": month}
        )
        published_n = [t["n"] for t in FRAME["fracture_incidence"] if t["arm"] == TREATED]
        assert n in published_n  # the published size, not the synthetic table's 100
    no_effect = _frame_rows(tables, _expected_table({CONTROL: p0, TREATED: p0}, month))
    reductions = no_effect.filter(pl.col("kind") == "relative_risk_reduction")
    strong = reductions.filter(pl.col("target") > 0.5)  # new vertebral: 0.73
    assert strong.height >= 1 and not strong["within"].any()


def test_what_the_fracture_stage_fits_is_what_the_check_centres_on(params):
    """The fracture stage's emulated values are the expected values of the calibration table for
    FRAME's own cohort (the trial file's arm sizes and seed), read from the same table: every
    incidence row's ``expected`` equals the fit's value, and the expected table stops at the
    last fracture target; a trial without fracture targets gets an empty one."""
    import yaml

    from osteotrial.calibration import fracture
    from osteotrial.calibration.objective import trial_design
    from osteotrial.cohort.sampling import CohortSpec, sample_cohort
    from osteotrial.trial.jobs import trial_expected_fractures

    model = yaml.safe_load((ROOT / "config" / "model.yaml").read_text())
    fitted = fracture.fracture_emulated(model)
    design = trial_design("frame")
    randomized = design.cohort_allocation("randomized"), design.cohort_seed("randomized")
    cohort = sample_cohort(CohortSpec.from_dict(design.cohort_spec), *randomized)
    month = last_fracture_month(FRAME)
    expected = trial_expected_fractures(cohort, design, params, month)
    assert expected["time"].max() == month
    tables = synthetic_tables([CONTROL, TREATED], [month], [14.0])
    rows = comparison.compare(FRAME, {**tables, "expected": expected}, TREATED, CONTROL)
    incidence = rows.filter(pl.col("kind") == "fracture_incidence")["expected"].to_numpy()
    reduction = rows.filter(pl.col("kind") == "relative_risk_reduction")["expected"].to_numpy()
    n = len(FRAME["fracture_incidence"])
    np.testing.assert_allclose(fitted, np.concatenate([incidence, reduction]), rtol=1e-12)
    assert fitted[:n].min() > 0.0
    assert trial_expected_fractures(cohort, design, params, 0.0).height == 0
