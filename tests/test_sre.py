"""Skeletal-related events: the counting rule, the contract, and the statistics on synthetic
cohorts with known truth, checked against lifelines and statsmodels called directly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from lifelines import KaplanMeierFitter, NelsonAalenFitter

from osteotrial import io
from osteotrial.analyses import sre
from osteotrial.analyses.sre_tables import UNTX_COLUMN, sre_tables
from osteotrial.analyses.vocabulary import SRE_TYPES
from osteotrial.report.files import SRE_FIGURE_SIZES_IN
from osteotrial.stats import recurrent
from osteotrial.stats.cox import cox_hazard_ratio
from osteotrial.units import DAYS_PER_MONTH, DAYS_PER_YEAR

TYPES = list(SRE_TYPES)
TYPE_SHARES = np.array([0.5, 0.3, 0.1, 0.1])


def synthetic_trial(
    n: int = 2000,
    rate_per_year: tuple[float, float] = (0.8, 0.48),
    death_per_year: float = 0.35,
    years: float = 2.0,
    frailty_var: float = 0.0,
    seed: int = 7,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (patients, events) of two arms ``ref`` and ``trt`` (alternating): events a
    Poisson process of the arm's rate (times a gamma frailty of variance ``frailty_var``),
    death exponential, follow-up ended by death or ``years``. The first event's hazard ratio
    and the events' rate ratio are both rate_trt / rate_ref."""
    rng = np.random.default_rng(seed)
    arm = np.where(np.arange(n) % 2 == 0, "ref", "trt")
    frailty = rng.gamma(1 / frailty_var, frailty_var, n) if frailty_var > 0 else np.ones(n)
    rate = np.where(arm == "ref", *rate_per_year) * frailty / DAYS_PER_YEAR
    death = rng.exponential(DAYS_PER_YEAR / death_per_year, n)
    end_day = np.minimum(death, years * DAYS_PER_YEAR)
    counts = rng.poisson(rate * end_day)
    owner = np.repeat(np.arange(n), counts)
    died = death < years * DAYS_PER_YEAR
    patients = pl.DataFrame(
        {"patient_id": np.arange(n), "arm": arm, "end_day": end_day, "died": died}
    )
    events = pl.DataFrame(
        {
            "patient_id": owner,
            "arm": arm[owner],
            "day": rng.uniform(0.0, end_day[owner]),
            "type": rng.choice(TYPES, owner.size, p=TYPE_SHARES),
        }
    )
    return patients, events


@pytest.fixture(scope="module")
def trial():
    """A synthetic trial with overdispersed events (gamma frailty) and its SRE tables with the
    counting rule switched off (gap 0), so the truth is the mixed Poisson process's."""
    patients, events = synthetic_trial(frailty_var=0.5)
    return patients, events, sre_tables(patients, events, reference_arm="ref", gap_days=0.0)


@pytest.fixture(scope="module")
def plain():
    """A synthetic trial without frailty (first events exponential, proportional hazards)."""
    patients, events = synthetic_trial(n=3000, frailty_var=0.0, seed=11)
    return patients, events, sre_tables(patients, events, reference_arm="ref", gap_days=0.0)


def _events(rows: list[tuple[int, float, str]]) -> pl.DataFrame:
    """Return an events frame of (patient_id, day, type) rows, arm 'a'."""
    return pl.DataFrame(
        {
            "patient_id": [r[0] for r in rows],
            "arm": ["a"] * len(rows),
            "day": [float(r[1]) for r in rows],
            "type": [r[2] for r in rows],
        }
    )


def test_counting_rule_is_measured_from_the_last_counted_event():
    fr, rad, surg = "pathologic_fracture", "radiation_to_bone", "surgery_to_bone"
    events = _events(
        [(1, 0, fr), (1, 15, rad), (1, 30, surg)]  # chain: 15 drops, 30 counts (30 after 0)
        + [(2, 10, rad), (2, 31, fr), (2, 51.9, rad)]  # exactly 21 counts; 20.9 does not
        + [(3, 5, surg), (3, 5, fr), (3, 40, fr)]  # same day: one SRE, first listed type
    )
    counted = sre.counted_events(events)
    assert counted.select("patient_id", "day", "type").rows() == [
        (1, 0.0, fr),
        (1, 30.0, surg),
        (2, 10.0, rad),
        (2, 31.0, fr),
        (3, 5.0, fr),
        (3, 40.0, fr),
    ]
    patients = pl.DataFrame(
        {"patient_id": [1, 2, 3], "arm": "a", "end_day": [29.0, 60.0, 40.0], "died": False}
    )
    per = sre.patient_sre(patients, events)  # patient 1's day 30 is after his end of follow-up
    assert per["n_sre"].to_list() == [1, 2, 2] and per["n_drawn"].to_list() == [2, 3, 3]


def _counted_by_loop(patient_id, day, gap):
    """Return the counted mask by the rule read literally, one event at a time."""
    counted, last = [], {}
    for pid, d in zip(patient_id, day, strict=True):
        ok = pid not in last or d >= last[pid] + gap
        counted.append(ok)
        if ok:
            last[pid] = d
    return np.array(counted)


def test_vectorized_counting_rule_matches_a_plain_loop():
    rng = np.random.default_rng(3)
    pid = np.sort(rng.integers(0, 300, 3000))
    day = np.round(rng.uniform(0, 400, pid.size))  # integer days: ties and exact 21-day gaps
    order = np.lexsort((day, pid))
    pid, day = pid[order], day[order]
    for gap in (21.0, 0.0, 60.0):
        np.testing.assert_array_equal(
            sre.counted_mask(pid, day, gap), _counted_by_loop(pid, day, gap)
        )


def test_contract_errors_name_the_column():
    patients, events = synthetic_trial(n=20)
    cases = [
        (patients.drop("died"), events, "'died'"),
        (patients.with_columns(pl.col("end_day").cast(pl.Int64)), events, "'end_day'"),
        (patients, events.drop("type"), "'type'"),
        (patients, events.with_columns(type=pl.lit("hip_fracture")), "'type'"),
        (patients, events.with_columns(day=-pl.col("day") - 1), "'day'"),
        (patients.filter(pl.col("patient_id") != events["patient_id"][0]), events, "'patient_id'"),
        (patients, events.with_columns(arm=pl.lit("other")), "'arm'"),
        (patients.with_columns(stratum=pl.lit(1)), events, "'stratum'"),
    ]
    for p, e, column in cases:
        with pytest.raises(ValueError, match=column):
            sre.check_frames(p, e)
    with pytest.raises(ValueError, match="reference_arm"):
        sre_tables(patients, events, reference_arm="placebo")


def test_first_sre_hazard_ratio_and_median_recover_the_truth(plain, trial):
    cox = plain[2]["sre_comparisons"].filter(method="cox_first_sre").row(0, named=True)
    assert cox["ci_low"] < 0.6 < cox["ci_high"] and abs(np.log(cox["estimate"] / 0.6)) < 0.15
    for (_, _, tables), true_median in (
        (plain, np.log(2) / 0.8 * 12),
        # gamma frailty (mean 1, variance v = 0.5): first-event survival (1 + v r t)^(-1/v)
        (trial, (2**0.5 - 1) / (0.5 * 0.8) * 12),
    ):
        summary = tables["sre_summary"].filter(arm="ref").row(0, named=True)
        assert summary["median_ci_low_months"] < true_median < summary["median_ci_high_months"]


def test_rate_ratios_of_recurrent_events_recover_the_truth(trial):
    """Andersen-Gill (robust SE) and negative binomial cover the rate ratio 0.6; the frailty
    makes first-event and recurrent-event ratios differ, the latter being 0.6 exactly."""
    _, _, tables = trial
    ratios = tables["sre_comparisons"].filter(measure="rate_ratio")
    assert ratios["method"].to_list() == ["andersen_gill", "negative_binomial"]
    for row in ratios.iter_rows(named=True):
        assert row["ci_low"] < 0.6 < row["ci_high"], row
        assert row["p_value"] < 1e-6


def test_mcf_and_cumulative_incidence_recover_the_truth(plain):
    """Without frailty: MCF(t) = r (1 - exp(-m t)) / m with death rate m a terminal event;
    Aalen-Johansen of the first event: r / (r + m) (1 - exp(-(r + m) t))."""
    curves = plain[2]["sre_curves"].filter(arm="ref")
    r, m = 0.8, 0.35
    for years in (0.5, 1.0, 1.9):
        day = np.floor(years * DAYS_PER_YEAR / 7) * 7
        at = curves.filter(pl.col("day") == day)
        t = day / DAYS_PER_YEAR
        mcf = at.filter(curve="mcf")["value"][0]
        assert mcf == pytest.approx(r * (1 - np.exp(-m * t)) / m, rel=0.08)
        cif = at.filter(curve="cuminc_first_sre").row(0, named=True)
        truth = r / (r + m) * (1 - np.exp(-(r + m) * t))
        assert cif["ci_low"] < truth < cif["ci_high"]
        km = at.filter(curve="km_first_sre")["value"][0]
        assert km > cif["value"]  # 1 - KM treats the dead as still at risk: it overstates


def test_ghosh_lin_mcf_agrees_with_lifelines_nelson_aalen_and_kaplan_meier():
    patients, events = synthetic_trial(n=400, seed=5)
    ref = patients.filter(arm="ref")
    counted = sre.counted_events(events, patients=patients).filter(arm="ref")
    process = sre.counting_process(ref, counted).to_pandas()
    grid = np.arange(0.0, 731.0, 7.0)
    end_day, died = ref["end_day"].to_numpy(), ref["died"].to_numpy()
    mcf, followed = recurrent.ghosh_lin_mcf(end_day, died, counted["day"].to_numpy(), grid)
    na = NelsonAalenFitter(nelson_aalen_smoothing=False)
    na.fit(process["stop"], process["event"], entry=process["start"])
    rate = na.cumulative_hazard_.iloc[:, 0]
    km = KaplanMeierFitter().fit(end_day, died)
    steps = rate.index.to_numpy()[rate.diff().fillna(rate).to_numpy() > 0]
    surv_before = km.predict(steps - 1e-9).to_numpy()
    increments = rate.diff().fillna(rate).loc[steps].to_numpy()
    expected = np.array([np.sum((surv_before * increments)[steps <= t]) for t in grid])
    np.testing.assert_allclose(mcf, expected, rtol=1e-10, atol=1e-12)
    assert followed[0] == ref.height and np.all(np.diff(followed) <= 0)
    alive = recurrent.ghosh_lin_mcf(end_day, np.zeros_like(died), counted["day"].to_numpy(), grid)
    np.testing.assert_allclose(alive[0], rate.reindex(grid, method="ffill").fillna(0.0), rtol=1e-10)


def _se(ratio: recurrent.Ratio) -> float:
    """Return the standard error of log ratio behind a Wald 95 % interval."""
    return float(np.log(ratio.ci_high / ratio.ci_low) / (2 * 1.959963984540054))


def test_andersen_gill_agrees_with_statsmodels_phreg():
    """The Andersen-Gill rate ratio and its robust SE (clustered by patient) against
    lifelines' CoxPHFitter with entry times (ratio) and statsmodels' PHReg on the same
    counting-process rows: PHReg puts a row entering at t in
    the risk set at t, so its entries are moved 1e-9 days later; its robust SE is the sandwich
    of its own score residuals (its ``groups`` option returns nan here). A patient bootstrap
    (150 resamples, not run here) gave 0.102 for this SE; lifelines' cluster_col gave 0.074."""
    from lifelines import CoxPHFitter
    from statsmodels.duration.hazard_regression import PHReg

    patients, events = synthetic_trial(n=600, frailty_var=0.5, seed=2)
    counted = sre.counted_events(events, patients=patients)
    rows = sre.counting_process(patients, counted).to_pandas()
    rows["treated"] = (rows["arm"] == "trt").astype(int)
    ours = recurrent.andersen_gill(rows.drop(columns="arm"))
    model = PHReg(
        rows["stop"].to_numpy(),
        rows[["treated"]].to_numpy(float),
        status=rows["event"].to_numpy(),
        entry=rows["start"].to_numpy() + 1e-9,
        ties="efron",
    )
    fit = model.fit()
    assert ours.estimate == pytest.approx(np.exp(fit.params[0]), rel=1e-6)
    columns = ["start", "stop", "event", "treated"]
    lifelines_fit = CoxPHFitter().fit(rows[columns], "stop", "event", entry_col="start")
    assert ours.estimate == pytest.approx(np.exp(lifelines_fit.params_["treated"]), rel=1e-6)
    per_patient = pd.Series(fit.score_residuals[:, 0]).groupby(rows["patient_id"]).sum()
    robust = np.sqrt(fit.cov_params()[0, 0] ** 2 * np.sum(per_patient.to_numpy() ** 2))
    assert _se(ours) == pytest.approx(robust, rel=2e-3)
    assert _se(ours) > fit.bse[0]  # within-patient correlation: robust above model-based


def test_andersen_gill_variance_is_lifelines_robust_one_on_first_events():
    """With one row per patient (entry 0) lifelines' robust variance is right: ours equals it."""
    from lifelines import CoxPHFitter

    patients, events = synthetic_trial(n=600, seed=4)
    per = sre.patient_sre(patients, events)
    frame = pd.DataFrame(
        {
            "patient_id": per["patient_id"],
            "start": 0.0,
            "stop": per["first_day"].fill_null(per["end_day"]).to_numpy(),
            "event": per["first_day"].is_not_null().to_numpy().astype(int),
            "treated": (per["arm"] == "trt").to_numpy().astype(int),
        }
    )
    ours = recurrent.andersen_gill(frame)
    fit = CoxPHFitter().fit(
        frame.drop(columns="start"), "stop", "event", cluster_col="patient_id", robust=True
    )
    assert ours.estimate == pytest.approx(np.exp(fit.params_["treated"]), rel=1e-6)
    assert _se(ours) == pytest.approx(fit.standard_errors_["treated"], rel=1e-4)


def test_cox_and_negative_binomial_agree_with_direct_fits(trial):
    """The first-event HR equals the project's Efron Cox (stats.cox); the NB ratio equals
    statsmodels' formula interface on the per-patient counts."""
    import statsmodels.formula.api as smf

    patients, events, tables = trial
    per = sre.patient_sre(patients, events, gap_days=0.0)
    duration = per["first_day"].fill_null(per["end_day"]).to_numpy()
    treated = (per["arm"] == "trt").to_numpy()
    hr = cox_hazard_ratio(duration, per["first_day"].is_not_null().to_numpy(), treated)
    cox = tables["sre_comparisons"].filter(method="cox_first_sre").row(0, named=True)
    assert cox["estimate"] == pytest.approx(hr[0], rel=1e-6)
    frame = pd.DataFrame({"n": per["n_sre"], "trt": treated.astype(int)})
    frame["log_years"] = np.log(per["end_day"].to_numpy() / DAYS_PER_YEAR)
    direct = smf.negativebinomial("n ~ trt", frame, offset=frame["log_years"]).fit(disp=0)
    nb = tables["sre_comparisons"].filter(method="negative_binomial").row(0, named=True)
    assert nb["estimate"] == pytest.approx(np.exp(direct.params["trt"]), rel=1e-4)


def test_summary_types_and_untx(trial):
    patients, events, tables = trial
    summary = tables["sre_summary"]
    assert summary["n_patients"].sum() == patients.height
    per = sre.patient_sre(patients, events, gap_days=0.0)
    assert summary["n_sre"].sum() == per["n_sre"].sum() == events.height
    mean = summary.filter(arm="ref")["mean_sre_per_patient"][0]
    assert mean == pytest.approx(per.filter(arm="ref")["n_sre"].mean())
    types = tables["sre_types"].filter(arm="ref")
    assert types["type"].to_list() == TYPES
    with_sre = summary.filter(arm="ref")["n_with_sre"][0]
    assert types["n_first"].sum() == with_sre
    np.testing.assert_allclose(types["first_frac_of_first_sres"], TYPE_SHARES, atol=0.05)
    days = np.array([0.0, 7.0, 28.0])
    markers = pl.DataFrame(
        {
            "patient_id": np.repeat(patients["patient_id"].to_numpy(), 3),
            "day": np.tile(days, patients.height),
            UNTX_COLUMN: np.tile([0.0, -80.0, -70.0], patients.height),
        }
    )
    untx = sre_tables(patients, events, markers)["sre_untx"]
    assert untx["day"].to_list() == [7.0, 28.0, 7.0, 28.0]
    assert untx["median_pct_change"].to_list() == [-80.0, -70.0, -80.0, -70.0]
    on_study = int((patients.filter(arm="ref")["end_day"] > 28.0).sum())
    assert untx.filter(arm="ref", day=28.0)["n_patients"][0] == on_study


def test_tables_are_deterministic_and_written_with_their_schemas(tmp_path):
    patients, events = synthetic_trial(n=300, seed=9)
    first = sre_tables(patients, events, reference_arm="ref")
    shuffled = sre_tables(
        patients.sample(fraction=1.0, shuffle=True, seed=1),
        events.sample(fraction=1.0, shuffle=True, seed=2),
        reference_arm="ref",
    )
    assert set(first) == set(io.SRE_TABLES)
    for name, table in first.items():
        assert table.equals(shuffled[name]), name
        path = tmp_path / f"{name}.parquet"
        io.write_endpoint_table(name, table, path, {"trial": "synthetic"})
        assert io.read_frame(path).equals(table), name
    months = first["sre_curves"]["month"].to_numpy()
    np.testing.assert_allclose(months, first["sre_curves"]["day"].to_numpy() / DAYS_PER_MONTH)


def test_sre_report_page_and_figures(tmp_path):
    """The SRE page from synthetic tables: both figures at their fixed size, the tables'
    numbers on the page; the report reads all SRE tables or none and names missing ones."""
    from test_report import png_size

    from osteotrial.report import sre as page
    from osteotrial.report.build import html_page, html_table, read_sre_tables
    from osteotrial.report.figures_trial import DPI, arm_colors

    patients, events = synthetic_trial(n=400, seed=12)
    markers = pl.DataFrame({"patient_id": patients["patient_id"], "day": 7.0, UNTX_COLUMN: -80.0})
    tables = sre_tables(patients, events, markers, reference_arm="ref")
    paths = {}
    for name, table in tables.items():
        paths[name] = tmp_path / f"{name}.parquet"
        io.write_endpoint_table(name, table, paths[name], {"trial": "synthetic"})
    read = read_sre_tables(paths)
    colors = arm_colors(["ref", "trt"], "ref")
    written = page.write_sre_page(
        read, colors, tmp_path, lambda t, s: html_page(t, s, "synthetic"), html_table
    )
    assert [p.name for p in written] == list(page.SRE_REPORT_FILES)
    for name, (width, height) in SRE_FIGURE_SIZES_IN.items():
        png = tmp_path / f"{name}.png"
        assert png_size(png) == (round(width * DPI), round(height * DPI))
        assert png.stat().st_size > 20_000
    text = (tmp_path / "sre.html").read_text()
    cox = tables["sre_comparisons"].filter(method="cox_first_sre").row(0, named=True)
    assert f"{cox['estimate']:.2f} ({cox['ci_low']:.2f} to {cox['ci_high']:.2f})" in text
    share = 100 * tables["sre_summary"].filter(arm="trt")["share_with_sre"][0]
    assert f"{share:.1f} (" in text and "spinal cord compression" in text
    assert "Urinary NTX" in text and "-80" in text
    assert read_sre_tables({"bmd": tmp_path / "x.parquet"}) == {}
    with pytest.raises(FileNotFoundError, match="sre_untx"):
        read_sre_tables({k: v for k, v in paths.items() if k != "sre_untx"})


def test_strata_stratify_the_models():
    """With a ``stratum`` column the Cox and Andersen-Gill fits are stratified (lifelines'
    strata) and the negative binomial adjusts for it: a stratum with four times the rate
    leaves the ratios at the truth, and the Cox HR equals lifelines' stratified fit."""
    from lifelines import CoxPHFitter

    parts = []
    for stratum, rates, offset in (("low", (0.8, 0.48), 0), ("high", (3.2, 1.92), 10_000)):
        p, e = synthetic_trial(n=1000, rate_per_year=rates, seed=5 + offset)
        shift = pl.col("patient_id") + offset
        parts.append((p.with_columns(shift, stratum=pl.lit(stratum)), e.with_columns(shift)))
    patients, events = (pl.concat(frames) for frames in zip(*parts, strict=True))
    tables = sre_tables(patients, events, reference_arm="ref", gap_days=0.0)
    comparisons = tables["sre_comparisons"]
    for row in comparisons.iter_rows(named=True):
        assert row["ci_low"] < 0.6 < row["ci_high"], row
    per = sre.patient_sre(patients, events, gap_days=0.0).to_pandas()
    frame = pd.DataFrame(
        {
            "t": per["first_day"].fillna(per["end_day"]),
            "e": per["first_day"].notna().astype(int),
            "trt": (per["arm"] == "trt").astype(int),
            "stratum": per["stratum"],
        }
    )
    direct = CoxPHFitter().fit(frame, "t", "e", strata=["stratum"])
    cox = comparisons.filter(method="cox_first_sre")["estimate"][0]
    assert cox == pytest.approx(np.exp(direct.params_["trt"]), rel=1e-6)


def test_counting_process_rows_have_positive_length():
    """Rows (start, stop] chain from 0 to end_day, one per counted SRE plus the rest of
    follow-up; an SRE on day 0 or two on one day (gap 0) get rows of length ``EPS_DAYS``, so
    the Andersen-Gill fit runs on them."""
    fr, rad = "pathologic_fracture", "radiation_to_bone"
    events = _events([(1, 0, fr), (1, 30, rad), (2, 12, fr), (2, 12, rad), (2, 50, rad)])
    patients = pl.DataFrame(
        {"patient_id": [1, 2, 3], "arm": "a", "end_day": [30.0, 80.0, 40.0], "died": False}
    )
    rows = sre.counting_process(patients, sre.counted_events(events, 0.0, patients))
    eps = sre.EPS_DAYS
    assert rows.select("patient_id", "start", "stop", "event").rows() == [
        (1, 0.0, eps, 1),
        (1, eps, 30.0, 1),  # the SRE on end_day closes follow-up: no zero-length last row
        (2, 0.0, 12.0, 1),
        (2, 12.0, 12.0 + eps, 1),
        (2, 12.0 + eps, 50.0, 1),
        (2, 50.0, 80.0, 0),
        (3, 0.0, 40.0, 0),
    ]


def test_andersen_gill_ratio_with_tied_days_is_lifelines_efron():
    """Whole days (158 tied event times among 1,120 rows): Efron's ties as in lifelines."""
    from lifelines import CoxPHFitter

    patients, events = synthetic_trial(n=600, frailty_var=0.5, seed=2)
    patients = patients.with_columns(pl.col("end_day").ceil())
    events = events.with_columns(pl.col("day").round())
    rows = sre.counting_process(patients, sre.counted_events(events, patients=patients))
    rows = rows.to_pandas().assign(treated=lambda f: (f["arm"] == "trt").astype(int))
    assert rows.loc[rows["event"] == 1, "stop"].duplicated().sum() > 100
    ours = recurrent.andersen_gill(rows.drop(columns="arm"))
    columns = ["start", "stop", "event", "treated"]
    fit = CoxPHFitter().fit(
        rows[columns], "stop", "event", entry_col="start", fit_options={"precision": 1e-12}
    )
    assert ours.estimate == pytest.approx(np.exp(fit.params_["treated"]), rel=1e-9)
