"""Background exposures of a trial file (trial.exposures) acting through model.exposure.

Syntax and checks (errors name the field and what is allowed), the plan's levels, and the
shape tests of issue 25 (no target numbers): glucocorticoid formation markers fall within days
and recover within weeks of stopping, with an early, transient rise in resorption; androgen
deprivation loses bone faster in its first year than menopause a decade on; intermittent
androgen deprivation loses on and partly regains off; glucocorticoid fracture risk beyond BMD
only while taken and shortly after.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from osteotrial.calibration.objective import typical_cohort
from osteotrial.engine.reference import reference_bmd_rel
from osteotrial.engine.simulate import simulate_arm
from osteotrial.model import exposure
from osteotrial.model.params import load_model_params
from osteotrial.model.records import pack_model
from osteotrial.trial.config import load_config
from osteotrial.trial.exposures import ExposurePhase, levels_on_grid
from osteotrial.trial.schedules import ArmSpec, RegimenPhase, Schedule
from osteotrial.units import DAYS_PER_MONTH, DAYS_PER_YEAR

YEAR = DAYS_PER_YEAR


@pytest.fixture(scope="module")
def params():
    return load_model_params("config/model.yaml")


def _arm(*exposures: ExposurePhase, days: float = 4000.0) -> ArmSpec:
    return ArmSpec("a", (RegimenPhase("placebo", 0.0, 182.625, 0.0, days),), exposures)


def _run(params, arm: ArmSpec, days: float, marker_days=(), age=70.0):
    """Simulate a typical patient (no variability) of ``age`` under ``arm`` for ``days``."""
    schedule = Schedule(1.0, days, (), tuple(float(d) for d in marker_days), ())
    patient = typical_cohort(age, {"LS": -1.5, "TH": -1.0, "FN": -1.5})
    return simulate_arm(patient, arm, params, schedule, False)


def _ls_pct(run) -> dict[float, float]:
    b = run.bmd_ls_g_cm2[:, 0]
    return dict(zip(run.record_days, 100.0 * (b / b[0] - 1.0), strict=True))


def _trial(tmp_path, exposures: str):
    text = (
        "description: t\ncitation: t\nseed: 1\nn_shards: 1\ncontrol_arm: placebo\n"
        "arms:\n  placebo:\n    - {drug: placebo, dose_mg: 0, every: 6 months, start: month 0,"
        " stop: month 12}\n  other:\n    - {drug: placebo, dose_mg: 0, every: 6 months,"
        " start: month 0, stop: month 12}\nallocation: {placebo: 5, other: 5}\nn_per_arm: null\n"
        "cohort: {dropout_per_year: 0.0, eligibility: {age_years_min: 50, age_years_max: 90,"
        " tscore_min: -4.0, tscore_max: 2.0, tscore_sites_any: [LS]}}\n"
        "schedule: {dt_days: 1.0, duration_months: 12, visit_months: [12],"
        " imaging_months: [12], marker_days: []}\n"
        "targets_file: config/targets.yaml\n" + exposures
    )
    path = tmp_path / "expo_trial.yaml"
    path.write_text(text)
    return load_config(str(path))


def test_exposures_read_like_regimen_phases_per_arm_or_for_all(tmp_path):
    trial = _trial(
        tmp_path,
        "exposures:\n"
        "  - {kind: androgen_deprivation, arms: all, start: month 0, for: 3 months}\n"
        "  - {kind: androgen_deprivation, arms: [other], start: month 6, stop: month 9}\n"
        "  - {kind: glucocorticoid, prednisone_mg_per_day: 10, arms: [other], start: day 7}\n",
    )
    placebo, other = trial.arms["placebo"].exposures, trial.arms["other"].exposures
    before = _trial(tmp_path, "exposures:\n  - {kind: menopause, arms: all, start: month -12}\n")
    assert before.arms["other"].exposures[0].start_day == -12 * DAYS_PER_MONTH
    assert [(p.kind, p.start_day, p.stop_day) for p in placebo] == [
        ("androgen_deprivation", 0.0, 3 * DAYS_PER_MONTH)
    ]
    assert len(other) == 3
    gc = [p for p in other if p.kind == "glucocorticoid"][0]
    assert gc.start_day == 7.0 and math.isinf(gc.stop_day) and gc.prednisone_mg_per_day == 10.0


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("{kind: glucocorticoid, arms: all, start: day 0}", "prednisone_mg_per_day"),
        ("{kind: menopause, prednisone_mg_per_day: 5, arms: all, start: day 0}", "prednisone"),
        ("{kind: glucocorticoid, prednisone_mg_per_day: 5000, arms: all, start: day 0}", "1000"),
        ("{kind: estrogen, arms: all, start: day 0}", "kind"),
        ("{kind: menopause, arms: [nobody], start: day 0}", "exposures[0].arms"),
        ("{kind: menopause, arms: all, start: month 13}", "exposures[0].start_day"),
        ("{kind: menopause, arms: all, start: sometime}", "exposures[0].start"),
    ],
)
def test_bad_exposures_are_refused_naming_the_field(tmp_path, entry, words):
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
        _trial(tmp_path, f"exposures:\n  - {entry}\n")


def test_overlapping_phases_of_one_kind_are_refused(tmp_path):
    with pytest.raises(ValueError, match="overlap"):
        _trial(
            tmp_path,
            "exposures:\n  - {kind: aromatase_inhibitor, arms: all, start: month 0}\n"
            "  - {kind: aromatase_inhibitor, arms: [other], start: month 6}\n",
        )


def test_an_exposure_from_before_randomization_leaves_its_unadapted_part():
    """Long on androgen deprivation at randomization: the withdrawal sets in from day 0, only
    to the part not yet adapted to; the longer before, the less."""
    levels = {
        years: levels_on_grid((ExposurePhase("androgen_deprivation", -years * YEAR),), 1.0, 400)
        for years in (1, 6)
    }
    for years, grid in levels.items():
        adt = grid[:, exposure.ANDROGEN_DEPRIVATION]
        assert adt[0] < 0.1 * adt[90]  # sets in from baseline, not a jump
        assert adt[90] == pytest.approx(
            math.exp(-(years * YEAR + 90.5) / exposure.ADAPTATION_DAYS), rel=0.01
        )
    assert levels[6][90, 1] < levels[1][90, 1]


def test_plan_levels_rise_adapt_and_fall_after_a_stop():
    """Androgen deprivation reaches most of its depth within weeks, wanes over years
    (adaptation), falls back over months after a stop; a glucocorticoid course gives its dose
    while taken (less the part adapted to) and the days since its stop after."""
    phases = (
        ExposurePhase("androgen_deprivation", 0.0, 365.0),
        ExposurePhase("glucocorticoid", 10.0, 40.0, 20.0),
    )
    levels = levels_on_grid(phases, 1.0, 800)
    adt = levels[:, exposure.ANDROGEN_DEPRIVATION]
    assert adt[0] < 0.1 < 0.8 < adt[60] and adt[364] < adt[60]
    assert 0.0 < adt[500] < 0.5 * adt[364] and adt[799] < 0.05
    assert levels[9, exposure.GC_MG] == 0.0 and 19.9 < levels[10, exposure.GC_MG] <= 20.0
    assert levels[39, exposure.GC_MG] < levels[10, exposure.GC_MG]  # adapting (GC_ADAPTATION_DAYS)
    assert levels[40, exposure.GC_MG] == 0.0 and levels[40, exposure.GC_LAST_MG] == 20.0
    assert levels[39, exposure.GC_DAYS_OFF] == 0.0 and levels[49, exposure.GC_DAYS_OFF] == 10.0
    assert np.all(levels[:, exposure.MENOPAUSE] == 0.0)


def test_glucocorticoid_formation_falls_within_days_and_recovers_within_weeks(params):
    arm = _arm(ExposurePhase("glucocorticoid", 0.0, 28.0, 30.0), days=56.0)
    run = _run(params, arm, 56.0, marker_days=(3, 7, 14, 21, 28, 42, 56))
    p1np = dict(zip(run.record_days, run.p1np_rel[:, 0], strict=True))
    ctx = dict(zip(run.record_days, run.ctx_rel[:, 0], strict=True))
    assert p1np[3.0] < 0.85 and p1np[28.0] < 0.85  # down within days, while taken
    assert abs(p1np[56.0] - 1.0) < 0.05  # back within four weeks of stopping
    assert ctx[7.0] > 1.05  # resorption up early
    assert ctx[28.0] < ctx[7.0]  # and transient


def test_androgen_deprivation_first_year_loses_faster_than_menopause_a_decade_on(params):
    """A man's first year of androgen deprivation against a woman's eleventh year after a
    natural menopause that began at randomization (the same lever, adapted for ten years)."""
    adt = _ls_pct(_run(params, _arm(ExposurePhase("androgen_deprivation", 0.0)), YEAR + 1,
                       marker_days=(YEAR,), age=70.0))  # fmt: skip
    meno = _ls_pct(_run(params, _arm(ExposurePhase("menopause", 0.0)), 11 * YEAR + 1,
                        marker_days=(10 * YEAR, 11 * YEAR), age=48.0))  # fmt: skip
    first_year_adt = adt[YEAR]
    eleventh_year_menopause = meno[11 * YEAR] - meno[10 * YEAR]
    assert first_year_adt < 2.0 * eleventh_year_menopause < 0.0


def test_intermittent_androgen_deprivation_loses_on_and_partly_regains_off(params):
    """Nine months on, a year off, nine months on: bone is lost on; off, once testosterone is
    back (months), the loss turns into a partial regain (the same equations, the withdrawal
    gone); the second course loses again."""
    on1 = ExposurePhase("androgen_deprivation", 0.0, 270.0)
    on2 = ExposurePhase("androgen_deprivation", 630.0, 900.0)
    days = tuple(range(30, 1110, 30))
    ls = _ls_pct(_run(params, _arm(on1, on2), 1100.0, marker_days=days))
    off = [ls[float(d)] for d in days if 270 <= d <= 630]
    assert ls[270.0] < -0.5  # lost while on
    assert min(off) < ls[630.0] - 0.05  # regained from the trough while off
    assert ls[630.0] < 0.0  # partly, not all of it
    assert ls[900.0] < ls[630.0] - 0.5  # lost again on the second course


def test_glucocorticoid_fracture_risk_only_while_taken_and_fading_after(params):
    r = pack_model(params).remodeling[0]
    on = exposure.glucocorticoid_fracture_log_rr(r, 0, 10.0, 0.0)
    assert on == pytest.approx(math.log(params.exposure.gc_vertebral_rr_high))
    low = exposure.glucocorticoid_fracture_log_rr(r, 1, 2.0, 0.0)
    assert low == pytest.approx(math.log(params.exposure.gc_hip_rr_low))
    year_off = exposure.glucocorticoid_fracture_log_rr(r, 0, 10.0, 365.0)
    assert 0.0 < year_off < 0.05 * on
    assert exposure.glucocorticoid_fracture_log_rr(r, 0, 0.0, 0.0) == 0.0


def test_no_exposure_leaves_the_model_as_it_was(params):
    """An arm without exposures runs the untreated steady state: markers stay at 1."""
    run = _run(params, _arm(days=400.0), 400.0, marker_days=(7, 365))
    assert np.all(run.p1np_rel == 1.0) and np.all(run.ctx_rel == 1.0)


def test_fixed_step_engine_follows_the_lsoda_reference_under_exposures(params):
    """Intermittent androgen deprivation, a glucocorticoid course and denosumab together:
    the CPU engine's RK4 steps and LSODA (restarted where the plan's levels change) agree."""
    phases = (
        RegimenPhase("denosumab", 60.0, 182.625, 60.0, 300.0),
        RegimenPhase("placebo", 0.0, 182.625, 0.0, 300.0),
    )
    arm = ArmSpec(
        "mixed",
        phases,
        (
            ExposurePhase("androgen_deprivation", 0.0, 90.0),
            ExposurePhase("androgen_deprivation", 180.0),
            ExposurePhase("glucocorticoid", 20.0, 50.0, 15.0),
        ),
    )
    schedule = Schedule(1.0, 300.0, (1, 3, 6, 9), (5.0, 25.0), ())
    patient = typical_cohort(70.0, {"LS": -1.5, "TH": -1.0, "FN": -1.5})
    kernel = simulate_arm(patient, arm, params, schedule)
    reference = reference_bmd_rel(patient, arm, params, schedule)
    for j, site in enumerate(("LS", "TH", "FN")):
        fixed = kernel.bmd_g_cm2(site)[:, 0] / kernel.bmd_g_cm2(site)[0, 0]
        assert np.abs(fixed - 1.0).max() > 0.005  # the exposures moved BMD: the check can fail
        np.testing.assert_allclose(fixed, reference[j, :, 0], rtol=1e-3, err_msg=site)


def _with_gain(params, gain: float):
    """Return ``params`` with the cortical activation gain of a withdrawal set to ``gain``."""
    expo = dataclasses.replace(params.exposure, sex_steroid_cortical_activation_gain=gain)
    return dataclasses.replace(params, exposure=expo)


def test_a_withdrawal_raises_cortical_remodeling_and_loses_the_hip_more(params):
    """Two years of an aromatase inhibitor: the cortical lever adds loss at the mostly cortical
    hip more than at the mostly trabecular spine, so the spine-to-hip ratio of the loss falls
    (the targets ask LS -4.0, TH -3.6); the factor is 1 without a withdrawal and capped at
    full estradiol deficiency."""
    assert params.exposure.sex_steroid_cortical_activation_gain > 0.5
    arm = _arm(ExposurePhase("aromatase_inhibitor", 0.0), days=2 * YEAR + 1)
    loss = {}
    for gain in (0.0, params.exposure.sex_steroid_cortical_activation_gain):
        run = _run(_with_gain(params, gain), arm, 2 * YEAR + 1, marker_days=(2 * YEAR,))
        ls, th = (run.bmd_g_cm2(s)[-1, 0] / run.bmd_g_cm2(s)[0, 0] - 1.0 for s in ("LS", "TH"))
        loss[gain] = (ls, th)
    (ls0, th0), (ls1, th1) = loss.values()
    assert th1 < th0 - 0.004 and ls1 < ls0  # the hip loses at least 0.4 points more
    assert th1 / ls1 > th0 / ls0 + 0.03  # the hip's share of the loss rises
    r = pack_model(params).remodeling[0]
    gain = params.exposure.sex_steroid_cortical_activation_gain
    none, full = np.zeros(exposure.N_CHANNELS), np.zeros(exposure.N_CHANNELS)
    full[exposure.ANDROGEN_DEPRIVATION] = full[exposure.AROMATASE_INHIBITOR] = 1.0
    assert exposure.cortical_activation_factor(none, r) == 1.0
    assert exposure.cortical_activation_factor(full, r) == pytest.approx(1.0 + gain)


def test_the_cortical_lever_leaves_a_run_without_exposures_identical(params):
    """FRAME's and FREEDOM's women carry their menopause as a population, not an exposure:
    with no withdrawal the cortical gain changes nothing, to the last bit."""
    arm = ArmSpec("d", (RegimenPhase("denosumab", 60.0, 182.625, 0.0, 400.0),), ())
    runs = [_run(_with_gain(params, g), arm, 400.0, marker_days=(365,)) for g in (0.0, 5.0)]
    for site in ("LS", "TH", "FN"):
        np.testing.assert_array_equal(runs[0].bmd_g_cm2(site), runs[1].bmd_g_cm2(site))
