"""Endpoint tables and their statistics (osteotrial.stats) on synthetic data with known answers."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import synthetic_cohort, synthetic_result
from scipy.stats import hypergeom

from osteotrial import io
from osteotrial.analyses import endpoints
from osteotrial.stats import cox, intervals, logrank, tests

INF = np.inf


def test_new_vertebral_counts_only_imaged_patients():
    event_day = np.array([100.0, 400.0, INF, 200.0])
    exit_day = np.array([INF, INF, 300.0, 150.0])  # patients 2 and 3 are not imaged at month 12
    assert endpoints.fracture_counts(event_day, exit_day, "new_vertebral", 12.0) == (2, 1)
    assert endpoints.fracture_counts(event_day, exit_day, "hip", 12.0) == (4, 2)


def test_clinical_endpoints_need_an_observed_event():
    hip, vertebral = np.full((2, 4), np.nan), np.full((3, 4), np.nan)
    hip[0, :2] = [50.0, 200.0]  # patient 1 breaks the hip after dropping out at day 100
    vertebral[0, 2:] = [30.0, 40.0]  # only patient 3's vertebral fracture is clinical
    clinical = np.zeros((3, 4), dtype=bool)
    clinical[0, 3] = True
    result = synthetic_result(
        "a",
        [0, 1, 2, 3],
        hip_fracture_days=hip,
        vertebral_fracture_days=vertebral,
        vertebral_fracture_clinical=clinical,
        dropout_day=np.array([100.0, 100.0, INF, INF]),
    )
    events = endpoints.patient_events(pl.from_arrow(io.simulation_table(result)).lazy())
    assert events["hip_day"].to_list() == [50.0, INF, INF, INF]
    assert events["nonvertebral_day"].to_list() == [50.0, INF, INF, INF]
    assert events["new_vertebral_day"].to_list() == [INF, INF, 30.0, 40.0]
    assert events["clinical_vertebral_day"].to_list() == [INF, INF, INF, 40.0]
    assert events["clinical_day"].to_list() == [50.0, INF, INF, 40.0]


def test_multiple_new_vertebral_is_the_second_fracture_seen_at_imaging():
    """Two or more new vertebral fractures by the visit, among the women imaged there: the
    day of a woman's second vertebral fracture, whether clinical or not; one fracture is not
    enough, and a woman off study at the visit is not counted."""
    vertebral = np.full((3, 5), np.nan)
    vertebral[:, 0] = [30.0, 200.0, 500.0]  # second by month 12
    vertebral[:2, 1] = [100.0, 400.0]  # second after month 12
    vertebral[0, 2] = 50.0  # one only
    vertebral[:2, 3] = [60.0, 90.0]  # two, but lost to follow-up at day 300
    result = synthetic_result(
        "a",
        [0, 1, 2, 3, 4],
        vertebral_fracture_days=vertebral,
        vertebral_fracture_clinical=np.ones((3, 5), dtype=bool),
        dropout_day=np.array([INF, INF, INF, 300.0, INF]),
    )
    events = endpoints.patient_events(pl.from_arrow(io.simulation_table(result)).lazy())
    assert events["multiple_new_vertebral_day"].to_list() == [200.0, 400.0, INF, 90.0, INF]
    assert events["new_vertebral_day"].to_list() == [30.0, 100.0, 50.0, 60.0, INF]
    day, exit_day = events["multiple_new_vertebral_day"].to_numpy(), events["exit_day"].to_numpy()
    assert endpoints.fracture_counts(day, exit_day, "multiple_new_vertebral", 12.0) == (4, 1)
    assert endpoints.fracture_counts(day, exit_day, "multiple_new_vertebral", 24.0) == (4, 2)
    fractures, comparisons = endpoints.fracture_tables(
        events.vstack(events.with_columns(arm=pl.lit("b"), patient_id=pl.col("patient_id") + 5)),
        "b",
        [12.0],
        [12.0, 24.0],
    )
    multiple = fractures.filter(pl.col("endpoint") == "multiple_new_vertebral").sort("arm", "month")
    assert multiple["month"].to_list() == [12.0, 24.0, 12.0, 24.0]  # imaging months only
    assert multiple["n_events"].to_list() == [1, 2, 1, 2]
    assert multiple["cumulative_incidence_frac"].is_nan().all()
    compared = comparisons.filter(pl.col("endpoint") == "multiple_new_vertebral")
    assert compared["risk_ratio"].to_list() == pytest.approx([1.0, 1.0])
    assert compared["hazard_ratio"].is_nan().all()  # no time to event: Fisher's test
    assert compared["p_value"].to_list() == pytest.approx([1.0, 1.0])


def test_wilson_interval_matches_its_closed_form():
    z, n, p = 1.959963985, 100, 0.05
    center, half = p + z**2 / (2 * n), z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    expected = ((center - half) / (1 + z**2 / n), (center + half) / (1 + z**2 / n))
    assert intervals.proportion_ci(5, 100) == pytest.approx(expected, rel=1e-8)
    assert np.isnan(intervals.proportion_ci(0, 0)).all()


def test_mean_ci_is_the_t_interval():
    mean, low, high = intervals.mean_ci(np.array([1.0, 2.0, 3.0]))
    half_width = 4.302653 / np.sqrt(3.0)  # t(0.975, df=2) x sd 1 / sqrt(3)
    assert (mean, low, high) == pytest.approx((2.0, 2.0 - half_width, 2.0 + half_width))


def test_risk_ratio_interval_is_the_log_normal_closed_form():
    a, n1, c, n0 = 12, 400, 30, 410
    ratio = (a / n1) / (c / n0)
    half = 1.959963985 * np.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n0)
    expected = (ratio, ratio * np.exp(-half), ratio * np.exp(half))
    assert intervals.risk_ratio_ci(a, n1, c, n0) == pytest.approx(expected, rel=1e-8)
    assert np.isnan(intervals.risk_ratio_ci(3, 10, 0, 0)).all()


def test_fisher_p_value_sums_the_tables_no_more_likely_than_the_observed():
    """Two-sided Fisher p: hypergeometric mass of the tables with the same margins that are at
    most as likely as the observed one, summed here by enumeration."""
    x1, n1, x0, n0 = 2, 30, 9, 32
    pmf = hypergeom(n1 + n0, x1 + x0, n1).pmf(np.arange(x1 + x0 + 1))
    expected = pmf[pmf <= pmf[x1] * (1 + 1e-7)].sum()
    assert tests.fisher_exact_p(x1, n1, x0, n0) == pytest.approx(expected, rel=1e-9)


def test_cox_of_identical_groups_gives_hazard_ratio_one():
    duration = np.tile([10.0, 20.0, 30.0, 40.0, 50.0], 2)
    event = np.tile([True, False, True, True, False], 2)
    treated = np.repeat([True, False], 5)
    hr, low, high, p_value = cox.cox_hazard_ratio(duration, event, treated)
    assert hr == pytest.approx(1.0, abs=1e-6) and low < 1.0 < high and p_value > 0.99
    assert np.isnan(cox.cox_hazard_ratio(duration, event & ~treated, treated)[0])


@pytest.mark.parametrize("tied", [False, True])
def test_cox_fit_matches_lifelines(tied):
    """Our Cox fit against lifelines' CoxPHFitter (Efron ties) on data with a true HR of 0.6.

    Both run Newton-Raphson to convergence (lifelines with ``LIFELINES_FIT_OPTIONS``; with its
    default stopping rule it is 4e-7 off in the hazard ratio here): they agree to about 1e-14 on
    the hazard ratio and its interval and 1.3e-12 on the p-value (1.7e-12), hence rtol 1e-9.
    """
    rng = np.random.default_rng(5)
    treated = rng.random(3000) < 0.5
    days = rng.exponential(2000.0, 3000) / np.where(treated, 0.6, 1.0)
    if tied:
        days = np.round(days / 40.0) * 40.0
    event = (days < 700.0) & (rng.random(3000) < 0.9)
    duration = np.minimum(days, 700.0)
    ours = cox.cox_hazard_ratio(duration, event, treated)
    np.testing.assert_allclose(
        ours, cox.cox_hazard_ratio_lifelines(duration, event, treated), rtol=1e-9
    )
    assert ours[1] < 0.6 < ours[2] and ours[3] < 1e-6


def _write_trial(tmp_path, n_files: int) -> tuple[list, list]:
    arms = ["a", "b", "a", "b", "a", "b"]
    cohort_paths = [tmp_path / f"cohort{i}.parquet" for i in range(n_files)]
    io.write_cohort_shards(synthetic_cohort(arms), cohort_paths, {})
    bmd = np.array([[1.0] * 6, [1.1, 1.2, 1.1, 1.0, 2.0, 1.0]])  # month 12 per patient
    hip = np.full((2, 6), np.nan)
    hip[0, 1] = 20.0
    dropout = np.array([INF, INF, INF, INF, 100.0, INF])  # patient 4 is off study at month 12
    sim_paths = []
    for index, rows in enumerate(io.shard_blocks(np.arange(6), n_files)):
        for arm in ("a", "b"):
            ids = [int(i) for i in rows if arms[i] == arm]
            result = synthetic_result(
                arm,
                ids,
                bmd_ls_g_cm2=bmd[:, ids],
                hip_fracture_days=hip[:, ids],
                dropout_day=dropout[ids],
            )
            sim_paths.append(tmp_path / f"{arm}-{index}.parquet")
            io.write_simulation(result, sim_paths[-1], {})
    return cohort_paths, sim_paths


def test_tables_have_known_values_and_ignore_sharding(tmp_path):
    (tmp_path / "one").mkdir(), (tmp_path / "three").mkdir()
    one = endpoints.compute_endpoint_tables(*_write_trial(tmp_path / "one", 1), "b", [12], [12])
    three = endpoints.compute_endpoint_tables(*_write_trial(tmp_path / "three", 3), "b", [12], [12])
    for name in io.ENDPOINT_TABLES:
        assert one[name].equals(three[name], null_equal=True), name
    ls = one["bmd"].filter(pl.col("site") == "LS").sort("arm")
    assert ls["n_patients"].to_list() == [2, 3]
    assert ls["mean_pct_change"].to_list() == pytest.approx([10.0, 20.0 / 3])
    hip = one["fractures"].filter(pl.col("endpoint") == "hip").sort("arm")
    assert hip["n_events"].to_list() == [0, 1] and hip["n_patients"].to_list() == [3, 3]
    # no death and no dropout before the event: Aalen-Johansen is the crude share
    assert hip["cumulative_incidence_frac"].to_list() == pytest.approx([0.0, 1 / 3])
    imaged = one["fractures"].filter(pl.col("endpoint") == "new_vertebral")
    assert imaged["cumulative_incidence_frac"].is_nan().all()  # NaN in memory, null on disk
    # the p-value of a time-to-event endpoint is the log-rank test's (arm a vs b, hip at day 20)
    compared = one["comparisons"].filter(pl.col("endpoint") == "hip")
    treated = np.array([True, False, True, False, True, False])
    duration = np.array([365.25, 20.0, 365.25, 365.25, 100.0, 365.25])
    event = np.array([False, True, False, False, False, False])
    expected = logrank.logrank_test(duration, event, treated)[2]
    assert compared["p_value"].to_list() == pytest.approx([expected])
    assert one["comparisons"]["reference_arm"].unique().to_list() == ["b"]


def test_no_event_in_an_arm_gives_null_risk_ratio_and_reduction_on_disk(tmp_path):
    tables = endpoints.compute_endpoint_tables(*_write_trial(tmp_path, 2), "b", [12], [12])
    for name, table in tables.items():
        io.write_endpoint_table(name, table, tmp_path / f"{name}.parquet", {})
    compared = pq.read_table(tmp_path / "comparisons.parquet").to_pylist()
    hip = next(row for row in compared if row["endpoint"] == "hip")  # arm a: 0 events, b: 1
    assert (hip["risk_ratio"], hip["rr_ci_low"], hip["rr_ci_high"]) == (None, None, None)
    assert hip["relative_risk_reduction_frac"] is None and hip["p_value"] is not None
    for name in io.ENDPOINT_TABLES:  # missing values are nulls, never NaN
        table = pq.read_table(tmp_path / f"{name}.parquet")
        floats = [c for c in table.columns if pa.types.is_floating(c.type)]
        assert not any(pc.any(pc.is_nan(c)).as_py() for c in floats), name
    assert pq.read_table(tmp_path / "fractures.parquet")["cumulative_incidence_frac"].null_count
    assert all("month" in pq.read_schema(tmp_path / f"{n}.parquet").names for n in tables)
    markers = pq.read_table(tmp_path / "markers.parquet").to_pydict()
    assert markers["month"] == pytest.approx([d / 30.4375 for d in markers["day"]])


def test_visit_frames_give_the_tables_of_the_long_frame(tmp_path):
    """``read_visits`` keeps of each record day only what its tables read, reading one row
    group at a time: bmd, markers, structure and by_sex are those of the long frame, with
    patients leaving the study, women and men, a marker-only day and a visit month that has
    no record day (month 6: empty rows)."""
    from osteotrial.analyses import by_sex, visit_tables
    from osteotrial.analyses.measurement import Measurement

    rng = np.random.default_rng(11)
    n, days = 40, np.array([0.0, 14.0, 30.4375, 365.25])
    arms = ["a"] * n
    io.write_cohort_shards(synthetic_cohort(arms), [tmp_path / "cohort.parquet"], {})
    cohort = pl.read_parquet(tmp_path / "cohort.parquet", columns=list(endpoints.COHORT_COLUMNS))
    cohort = cohort.with_columns(
        sex=pl.Series(["female", "male"] * (n // 2)), bmd_ls_g_cm2=pl.Series(rng.random(n) + 0.5)
    )
    values = {k: rng.random((days.size, n)) + 0.5 for k in ("bmd_ls_g_cm2", "p1np_rel", "ctx_rel")}
    exits = np.where(rng.random(n) < 0.3, rng.uniform(1.0, 400.0, n), INF)
    chunks = [
        synthetic_result(
            "a",
            list(range(start, start + 10)),
            record_days=days,
            **{k: v[:, start : start + 10] for k, v in values.items()},
            bmd_th_g_cm2=np.ones((days.size, 10)),
            bmd_fn_g_cm2=np.ones((days.size, 10)),
            dropout_day=exits[start : start + 10],
        )
        for start in range(0, n, 10)
    ]
    path = tmp_path / "a.parquet"
    io.write_simulation_stream(chunks, path, {})
    assert pq.ParquetFile(path).num_row_groups == 4
    long = pl.read_parquet(path)
    months = [1.0, 6.0, 12.0]
    frames = visit_tables.read_visits([path], "a", months)
    assert frames.days[14.0].columns == ["patient_id", "p1np_pct_change", "ctx_pct_change"]
    measured = Measurement(3, {"LS": 1.0, "TH": 1.5, "FN": 2.0}, 8.0, 6.0)
    patients = endpoints.patient_events(pl.scan_parquet(path).filter(pl.col("day") == 0.0))
    months_of = {"hip": [12.0]}
    for visits in (long, frames):
        bmd = visit_tables.bmd_table(visits, cohort, months, measured)
        tables = {
            "bmd": bmd,
            "markers": visit_tables.markers_table(visits, measured),
            "structure": visit_tables.structure_table(visits, months),
            "by_sex": by_sex.by_group_table(
                "sex", visits, cohort, patients, months, months_of, endpoints.fracture_counts
            ),
        }
        if visits is long:
            expected = tables
    for name, table in tables.items():
        assert table.equals(expected[name], null_equal=True), name
    assert tables["bmd"].filter(pl.col("month") == 6.0).is_empty()  # no record day: no row
    assert 0 < tables["bmd"].filter(pl.col("month") == 12.0)["n_patients"][0] < n
    assert tables["by_sex"]["sex"].unique().sort().to_list() == ["female", "male"]
