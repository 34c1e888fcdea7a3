"""Bisphosphonates (model.bisphosphonate): shapes of the drug class, without target numbers.

- Mass balance: every absorbed milligram is on the bone surface, buried in matrix or in urine,
  in the equations and along an integrated run.
- Zoledronic acid's dose follows creatinine clearance (the label table of targets.yaml), and a
  patient below the label's cut-off gets none (flagged with a count).
- The effect on CTX outlasts the last dose by far longer than denosumab's.
- Monotone dose response: more drug, less CTX and more BMD.
- The renal share rises with creatinine clearance; the buried store has a terminal half-life
  of years (the long tail).
- The regimen text reads and writes the bisphosphonates.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from model_fixtures import arm

from osteotrial.calibration.targets import read_targets
from osteotrial.engine.reference import reference_bone
from osteotrial.engine.simulate import simulate_arm
from osteotrial.model import bisphosphonate as bp
from osteotrial.model.bone import N_BONE_STATES
from osteotrial.model.records import pack_model
from osteotrial.trial.regimen_text import format_regimen, parse_regimen
from osteotrial.trial.schedules import Schedule

YEAR = 365.25
WEEKLY_ALN = ("alendronate", 70, 7, 0, YEAR)


@pytest.fixture(scope="module")
def record(params):
    """The remodeling record (bisphosphonate fields included) of the default parameters."""
    return pack_model(params).remodeling[0]


@pytest.fixture(scope="module")
def four(small_frame_cohort):
    """Four screened women."""
    return small_frame_cohort.select(np.array([2, 77, 190, 613]))


def with_crcl(cohort, crcl):
    """Return the cohort with the given creatinine clearances (mL/min)."""
    return dataclasses.replace(cohort, creatinine_clearance_ml_min=np.asarray(crcl, float))


def test_the_equations_conserve_the_drug(record):
    rng = np.random.default_rng(5)
    y = rng.uniform(0.1, 3.0, N_BONE_STATES)
    dy = np.zeros(N_BONE_STATES)
    renal = np.array([0.3, 0.5, 0.7])
    bp.rhs(y, 0.4, 0.7, renal, record, dy)
    for d in range(bp.N_DRUGS):
        rows = [bp.row(d, k) for k in (bp.SURFACE, bp.BURIED, bp.URINE)]
        assert abs(dy[rows].sum()) < 1e-15
        assert dy[bp.row(d, bp.URINE)] > 0.0 and dy[bp.row(d, bp.BURIED)] != 0.0


def test_mass_balance_along_a_run(four, params):
    """Dosed x F = urine + surface + buried at every day of two years (doses up to day 365,
    the LSODA reference's states)."""
    spec = arm(WEEKLY_ALN, ("zoledronic_acid", 5, YEAR, YEAR, 2 * YEAR))
    schedule = Schedule(1.0, 2 * YEAR, (12, 24), (), ())
    days = np.array([30.0, 200.0, 364.0, 500.0, 730.0])
    states = reference_bone(four, spec, params, schedule, days)
    cfg = params.bisphosphonate
    # the state at a dose day is the one before that day's dose
    n_aln = np.array([np.sum(np.rint(spec.phases[0].dose_days()) < d) for d in days])
    absorbed = {
        bp.ALENDRONATE: 70.0 * cfg.alendronate_bioavailability_frac * n_aln,
        bp.ZOLEDRONIC_ACID: 5.0 * (days >= YEAR),
    }
    for d, want in absorbed.items():
        total = sum(states[bp.row(d, k)] for k in (bp.SURFACE, bp.BURIED, bp.URINE))
        np.testing.assert_allclose(total, want[:, None] * np.ones((1, 4)), rtol=1e-9)
        assert (states[bp.row(d, bp.BURIED), -1] > 0.0).all()  # the drug does reach the matrix


def test_zoledronic_acid_dose_follows_the_label_table():
    """targets.yaml bone_metastases_breast.zoledronic_acid_dosing: > 60: 4.0 mg; 50-60: 3.5;
    40-49: 3.3; 30-39: 3.0; < 30 not recommended; 5 mg (osteoporosis) unchanged above 35."""
    text = read_targets()["trials"]["bone_metastases_breast"]["zoledronic_acid_dosing"][0]["what"]
    assert "> 60: 4.0 mg; 50-60: 3.5; 40-49: 3.3; 30-39: 3.0; < 30: not recommended" in text
    table = {90: 4.0, 61: 4.0, 60: 3.5, 50: 3.5, 49.9: 3.3, 40: 3.3, 39: 3.0, 30: 3.0, 29.9: 0.0}
    for crcl, dose in table.items():
        assert bp.zoledronic_dose_mg(4.0, crcl) == dose, crcl
    assert bp.zoledronic_dose_mg(5.0, 36.0) == 5.0 and bp.zoledronic_dose_mg(5.0, 34.0) == 0.0
    assert bp.given_dose_mg(bp.ALENDRONATE, 70.0, 20.0) == 70.0


def test_the_engine_gives_each_patient_her_zoledronic_dose(four, params):
    """Oncology regimen, 4 mg every 4 weeks: the absorbed total (urine + bone) of each patient
    is her label dose times the number of infusions; the one below 30 mL/min gets none and the
    run warns with the count."""
    crcl = np.array([90.0, 55.0, 35.0, 20.0])
    cohort = with_crcl(four, crcl)
    spec = arm(("zoledronic_acid", 4, 28, 0, 84))
    schedule = Schedule(1.0, 90.0, (1,), (), ())
    states = reference_bone(cohort, spec, params, schedule, np.array([90.0]))
    total = sum(states[bp.row(bp.ZOLEDRONIC_ACID, k), 0] for k in (bp.SURFACE, bp.BURIED, bp.URINE))
    np.testing.assert_allclose(total, 3 * np.array([4.0, 3.5, 3.0, 0.0]), rtol=1e-9)
    with pytest.warns(UserWarning, match="1 of 4 patients have a creatinine clearance below"):
        run = simulate_arm(cohort, spec, params, schedule)
    ctx = run.ctx_rel[-1]
    assert ctx[3] == pytest.approx(1.0, abs=1e-9) and (ctx[:3] < 0.9).all()
    assert bp.withheld(np.array([5.0]), crcl).tolist() == [False, False, False, True]


def test_renal_share_rises_with_clearance_and_the_tail_lasts_years(record):
    shares = [bp.renal_frac(bp.ZOLEDRONIC_ACID, c, record) for c in (15.0, 40.0, 80.0, 120.0)]
    assert np.all(np.diff(shares) > 0)
    assert bp.renal_frac(bp.ZOLEDRONIC_ACID, record.bp_reference_crcl_ml_min, record) == (
        pytest.approx(record.bp_zoledronic_acid_urine_frac)
    )
    half_life = bp.tail_half_life_years(bp.renal_frac(bp.ALENDRONATE, 80.0, record), record)
    assert half_life > 5.0  # Khan 1997: terminal half-life > 10 years (a shape here)


def months_to_recover(ctx, days, after_day, level=0.95):
    """Return the months after ``after_day`` until the median CTX is back to ``level``."""
    median = np.median(ctx, axis=1)
    back = np.flatnonzero((days > after_day) & (median >= level))
    return np.inf if back.size == 0 else (days[back[0]] - after_day) / 30.4375


def test_ctx_effect_outlasts_the_stop_far_longer_than_denosumab(four, params):
    """One year of each, then nothing: denosumab's CTX is back within months of the end of its
    dosing interval, the bisphosphonate's stays down for years (the buried store)."""
    months = tuple(range(1, 49))
    schedule = Schedule(1.0, 4 * YEAR, months, (), ())
    den = simulate_arm(four, arm(("denosumab", 60, 182.625, 0, YEAR)), params, schedule)
    aln = simulate_arm(four, arm(WEEKLY_ALN), params, schedule)
    assert np.median(den.ctx_rel[12]) < 0.7 and np.median(aln.ctx_rel[12]) < 0.7  # both act
    den_back = months_to_recover(den.ctx_rel, den.record_days, YEAR)
    aln_back = months_to_recover(aln.ctx_rel, aln.record_days, YEAR)
    assert den_back < 6.0
    assert aln_back > 4 * den_back and aln_back > 24.0


def test_monotone_dose_response(four, params):
    schedule = Schedule(1.0, YEAR, (6, 12), (), ())
    for drug, doses, every in (
        ("alendronate", (10, 35, 70, 140), 7),
        ("zoledronic_acid", (1, 2.5, 5), YEAR),
    ):
        runs = [simulate_arm(four, arm((drug, d, every, 0, YEAR)), params, schedule) for d in doses]
        ctx = [np.median(r.ctx_rel[-1]) for r in runs]
        ls = [np.mean(r.bmd_g_cm2("LS")[-1] / r.bmd_g_cm2("LS")[0]) for r in runs]
        assert np.all(np.diff(ctx) < 0), (drug, ctx)
        assert np.all(np.diff(ls) > 0), (drug, ls)


@pytest.mark.parametrize(
    "text",
    [
        "alendronate 70 mg weekly for 12 months",
        "risedronate 35 mg weekly for 12 months",
        "zoledronic acid 5 mg yearly for 36 months",
        "zoledronic acid 4 mg every 4 weeks for 24 months, then denosumab 60 mg every 6 months "
        "for 12 months",
    ],
)
def test_regimen_text_reads_and_writes_the_bisphosphonates(text):
    phases = parse_regimen(text)
    assert format_regimen(phases) == text
    assert parse_regimen(text.replace("zoledronic acid", "zoledronic_acid")) == phases
    assert phases[0].drug in bp.DRUGS


def test_the_api_simulates_a_bisphosphonate_regimen_text():
    """The API learns the drug names: alendronate, in scope since the alendronate trial, runs
    without a scope warning about it; zoledronic acid is outside the calibrated scope."""
    import warnings

    import osteotrial

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = osteotrial.simulate(
            {
                "aln": "alendronate 70 mg weekly for 12 months",
                "zol": "zoledronic acid 5 mg once for 12 months",
            },
            n_patients=4,
            seed=3,
        )
    year = table.filter(table["month"] == 12)
    for label in ("aln", "zol"):
        rows = year.filter(year["regimen"] == label)
        assert (rows["ctx_pct_change"] < -10.0).all() and (rows["bmd_ls_pct_change"] > 1.0).all()
    text = " ".join(str(w.message) for w in caught)
    assert "zoledronic_acid is not a calibrated drug" in text
    assert "calibrated: ['alendronate', 'denosumab', 'risedronate', 'romosozumab']" in text
    assert "alendronate is not" not in text and "alendronate." not in text


def test_the_bisphosphonate_stage_fits_only_its_block_and_holds_at_the_config():
    """The stage's terms are the alendronate block's rows; it fits only bisphosphonate values;
    at config/model.yaml's values each residual is within its tolerance (|r| <= 1: re-run
    ``python -m osteotrial.calibration.bisphosphonate --write`` when the shared values move)."""
    import yaml

    from osteotrial.calibration import bisphosphonate as stage
    from osteotrial.calibration.targets import CONFIG_DIR

    goals = stage.bisphosphonate_targets()
    block = read_targets()["trials"]["alendronate"]["bmd_pct_change"]
    assert [(g.value, g.scale) for g in goals] == [(t["value"], t["tol"]) for t in block]
    assert all(b == "bisphosphonate" for b, _ in stage.BISPHOSPHONATE_FIT)
    model = yaml.safe_load((CONFIG_DIR / "model.yaml").read_text(encoding="utf-8"))
    residuals = stage.bisphosphonate_residuals(model)
    assert residuals.shape == (2,) and np.all(np.abs(residuals) <= 1.0), residuals


def test_the_risedronate_part_fits_its_potency_to_the_glucocorticoid_rows_and_holds():
    """Part ``risedronate`` of the stage: its terms are the glucocorticoid block's two
    risedronate rows (one per stratum); it fits only risedronate's potency; at
    config/model.yaml's value each residual is within its tolerance."""
    import yaml

    from osteotrial.calibration import bisphosphonate as stage
    from osteotrial.calibration.targets import CONFIG_DIR

    goals = stage.risedronate_targets()
    block = read_targets()["trials"]["glucocorticoid"]["bmd_pct_change"]
    mine = [t for t in block if t["arm"] == "risedronate"]
    assert [(g.value, g.probe[5]) for g in goals] == [(t["value"], t["subgroup"]) for t in mine]
    assert stage.RISEDRONATE_FIT == [("bisphosphonate", "risedronate_potency_rel")]
    assert list(stage.PARTS) == ["alendronate", "risedronate"]  # alendronate's effect first
    model = yaml.safe_load((CONFIG_DIR / "model.yaml").read_text(encoding="utf-8"))
    residuals = stage.risedronate_residuals(model)
    assert residuals.shape == (2,) and np.all(np.abs(residuals) <= 1.0), residuals
    model["bisphosphonate"]["risedronate_potency_rel"] *= 3.0
    assert np.all(stage.risedronate_residuals(model) > residuals)  # more potent, more gain


def test_the_small_stages_share_one_command_line(tmp_path, capsys):
    """``stage_cli``: --part runs one part, --write writes only the fitted parts' values (the
    model file's comments kept); a part's own fitter (the men's) is used as given."""
    import yaml

    from osteotrial.calibration import stage_cli
    from osteotrial.calibration.targets import CONFIG_DIR

    path = tmp_path / "model.yaml"
    path.write_text((CONFIG_DIR / "model.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    calls = []

    def fitter(model, max_nfev):
        calls.append(max_nfev)
        model = {**model, "bisphosphonate": {**model["bisphosphonate"]}}
        model["bisphosphonate"]["surface_ec50_mg"] = 1.5
        return model

    ec50, emax = ("bisphosphonate", "surface_ec50_mg"), ("bisphosphonate", "apoptosis_max_rel")
    parts = {
        "one": stage_cli.Part([ec50], lambda m: np.zeros(1), fitter),
        "two": stage_cli.Part([emax], lambda m: np.ones(1), fitter),
    }
    argv = ["--model", str(path), "--part", "one", "--write", "--max-nfev", "3"]
    stage_cli.stage_main("test", parts, argv)
    assert calls == [3] and "[one] bisphosphonate surface_ec50_mg 1.5" in capsys.readouterr().out
    written = yaml.safe_load(path.read_text(encoding="utf-8"))["bisphosphonate"]
    assert written["surface_ec50_mg"] == 1.5
    assert "surface_ec50_mg: 1.5  # alendronate-equivalent mg" in path.read_text(encoding="utf-8")
