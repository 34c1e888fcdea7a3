"""The posterior's likelihood: SDs from published SEs plus a stated discrepancy
(calibration.likelihood)."""

from __future__ import annotations

import numpy as np
import pytest

from osteotrial.calibration import likelihood
from osteotrial.calibration.targets import read_targets

DATA = read_targets()
FREEDOM_TH_12 = "trials.freedom_bmd_only.bmd_pct_change[0]"


def test_freedom_hip_sd_by_hand_from_its_published_ci():
    """FREEDOM's month-12 total-hip change, denosumab 3.2 % (95 % CI 3.1 to 3.3, Austin 2012 in
    targets.yaml's additions): SE = 0.2 / (2 x 1.96) = 0.0510, then SD^2 = SE^2 + (0.3^2 +
    (0.10 x 3.2)^2) with the BMD discrepancy."""
    (ci_row,) = [
        r
        for r in DATA["trials"]["freedom_bmd_only"]["bmd_pct_change_sd"]
        if (r["arm"], r["site"], r["month"]) == ("denosumab", "TH", 12)
    ]
    assert ci_row["ci95"] == [3.1, 3.3]  # the published interval the hand computation uses
    se = (3.3 - 3.1) / (2 * 1.96)
    sd = np.sqrt(se**2 + 0.3**2 + (0.10 * 3.2) ** 2)
    (row,) = [r for r in likelihood.likelihood_rows(DATA) if r.source == FREEDOM_TH_12]
    assert row.kind == "bmd_pct" and likelihood.DISCREPANCY["bmd_pct"][:2] == (0.3, 0.10)
    assert row.se == pytest.approx(se, rel=1e-3) and row.sd == pytest.approx(sd, rel=1e-4)


def test_published_se_from_n_from_an_sd_and_on_the_log_scale():
    """A proportion with n: sqrt(p (1 - p) / n) (FRAME's placebo new vertebral fractures); an SD
    with n: SD / sqrt(n); a ratio's CI on the log scale; nothing published: none."""
    se, how = likelihood.published_se(DATA, "trials.frame.fracture_incidence[0]")
    assert se == pytest.approx(np.sqrt(0.018 * 0.982 / 3322)) and "n 3322" in how
    made_up = {"pk": {"x": {"cmax": {"value": 20.0, "sd": 6.0, "n": 36}}}}
    assert likelihood.published_se(made_up, "pk.x.cmax")[0] == pytest.approx(1.0)
    no_n = likelihood.published_se(DATA, "pk.romosozumab_210mg_single_dose.cmax_ug_per_ml")
    assert no_n[0] is None and "without n" in no_n[1]
    hr = likelihood.se_from_ci(0.71, 0.95, log=True)
    assert hr == pytest.approx((np.log(0.95) - np.log(0.71)) / (2 * 1.959964))


def test_every_row_has_a_stated_discrepancy_and_a_positive_sd():
    rows = likelihood.likelihood_rows(DATA)
    assert {r.kind for r in rows} <= set(likelihood.DISCREPANCY)
    assert all(len(likelihood.DISCREPANCY[r.kind][2]) > 40 for r in rows)
    assert all(r.sd >= r.discrepancy > 0.0 and r.sd >= r.se for r in rows)
    # the SD is the likelihood's, not the fit's weight (tol / 2): FRAME LS 13.1 +- 1.5
    frame_ls = next(r for r in rows if r.source == "trials.frame.bmd_pct_change[0]")
    assert frame_ls.sd == pytest.approx(np.hypot(0.3, 1.31)) and frame_ls.sd != 0.75


def test_a_target_of_a_new_kind_needs_a_stated_discrepancy():
    from osteotrial.calibration.objective import Target

    unknown = Target("trials.made_up.qct_vbmd[0]", 5.3, 1.0, ("qct_vbmd",))
    with pytest.raises(ValueError, match="DISCREPANCY"):
        likelihood.target_kind(unknown)


def test_strength_rows_use_the_strength_discrepancy_and_publish_no_se():
    """FREEDOM's QCT finite-element rows (Keaveny 2014) publish no CI in targets.yaml: their SD
    is the stated strength discrepancy alone, hypot(1.0, 0.15 x |value|); spine +18.2 -> 2.91."""
    rows = [r for r in likelihood.likelihood_rows(DATA) if "bone_strength" in r.source]
    assert len(rows) == len(DATA["trials"]["bone_strength"]["strength_pct_change"]) == 5
    assert {r.kind for r in rows} == {"strength_pct"} and all(r.se == 0.0 for r in rows)
    spine = next(r for r in rows if r.value == 18.2)
    assert spine.sd == pytest.approx(np.hypot(1.0, 0.15 * 18.2))


def test_one_sided_rows_cost_nothing_inside_their_bound_and_shapes_pass_through():
    rows = [
        likelihood.Row("a", "bmd_pct", 5.0, 0.0, "", 0.5, 0.5, False),
        likelihood.Row("b", "ctx_bound", 0.2, 0.0, "", 0.05, 0.05, True),
    ]
    emulated = np.array([[5.5, 4.0], [0.1, 0.3]])  # (rows, sets)
    shapes = np.array([[0.0, 2.0]])
    got = likelihood.residuals_of_rows(rows, emulated, shapes)
    np.testing.assert_allclose(got, [[1.0, 0.0, 0.0], [-2.0, 2.0, 2.0]])
