"""Every trial with a targets.yaml block lands on every calibration target.

Runs the workflow itself: FRAME and FREEDOM at the published arm sizes (7,180 and 7,808 women),
the FREEDOM extension, the DEFEND-like discontinuation, the dose-ranging trial, the FREEDOM
QCT substudy (bone strength), the men's trials ADAMO and BRIDGE and the alendronate arm of the
dose-ranging trial (alendronate.yaml) at the sizes of their trial files, then compares the endpoint
tables with the targets (osteotrial.calibration.comparison): BMD and strength within tolerance,
published fracture incidences and relative risk reductions inside the 95 % range of a trial of
the published size around the model's expected value for the trial's own cohort (the
workflow's ``expected`` table, calibration.draws), marker shape within 10 points. The cohort
baselines are checked against targets.yaml in test_cohort.py.
"""

from __future__ import annotations

import polars as pl
import pytest
from conftest import NO_ANALYSES, ROOT, run_workflow

from osteotrial.calibration.comparison import compare
from osteotrial.calibration.targets import NOT_ROWS, load_targets
from osteotrial.trial.config import load_config

ARMS = {
    "frame": ("romosozumab_then_denosumab", "placebo_then_denosumab"),
    "freedom": (None, "placebo"),
    "freedom_extension": (None, "placebo"),
    "denosumab_discontinuation": (None, "placebo"),
    "denosumab_dose_ranging": (None, "placebo"),
    "freedom_qct": (None, "placebo"),
    "men_denosumab": (None, "placebo"),
    "men_romosozumab": (None, "placebo"),
    "alendronate": (None, "placebo"),
    "androgen_deprivation": (None, "placebo"),
    "aromatase_inhibitor": (None, "placebo"),
    "glucocorticoid": (None, "risedronate"),
}
N_ROWS = {
    "frame": 20,
    "freedom": 8,
    "freedom_extension": 2,
    "denosumab_discontinuation": 9,
    "denosumab_dose_ranging": 17,
    "freedom_qct": 5,
    "men_denosumab": 3,
    "men_romosozumab": 2,
    "alendronate": 2,
    "androgen_deprivation": 4,
    "aromatase_inhibitor": 2,
    "glucocorticoid": 4,
}


@pytest.fixture(scope="module", params=list(ARMS))
def calibration(request, tmp_path_factory):
    trial = request.param
    workdir = tmp_path_factory.mktemp(trial)
    done = run_workflow(workdir, "--config", f"trial={trial}", *NO_ANALYSES)
    assert done.returncode == 0, done.stderr[-4000:]
    tables = {
        name: pl.read_parquet(workdir / "results" / trial / "endpoints" / f"{name}.parquet")
        for name in (
            "bmd",
            "fractures",
            "comparisons",
            "markers",
            "structure",
            "expected",
            "by_stratum",
        )
    }
    targets = load_targets(ROOT / "config" / "targets.yaml", trial)
    return trial, compare(targets, tables, *ARMS[trial])


def expected_rows(block: dict, n_treated_arms: int) -> int:
    """Count a trial block's targets straight from the file: each list entry, each marker point,
    each site of a range for each treated arm and each placebo value of a range."""
    lists = [v for k, v in block.items() if isinstance(v, list) and k not in NOT_ROWS]
    n = sum(len(value) for value in lists)
    markers = block.get("markers_romosozumab_vs_placebo", {})
    points = [k for m in markers.values() if isinstance(m, dict) for k in m]
    n += sum(k.endswith("_pct") or k == "back_to_placebo_month" for k in points)
    for key, value in block.items():
        if key.endswith("_range"):
            sites = [s for s in value if s != "placebo"]
            n += (
                len(sites) * n_treated_arms
                + len(value.get("placebo", {}))
                - ("status" in value.get("placebo", {}))
            )
    return n


def test_every_target_is_compared(calibration):
    """One row per target of the trial's block, each with an emulated value (none only listed)."""
    trial, table = calibration
    block = load_targets(ROOT / "config" / "targets.yaml", trial)
    n_treated = len(load_config(trial, config_dir=ROOT / "config").arms) - 1
    assert table.height == expected_rows(block, n_treated) == N_ROWS[trial]
    assert table["emulated"].is_finite().all(), table.filter(~pl.col("emulated").is_finite())


# Rows known to miss, said plainly (docs/model.md); none at present. The aromatase-inhibitor
# hip row (letrozole TH month 24, -3.6 +- 1.0) came in with the cortical lever of a sex-steroid
# withdrawal (exposure.sex_steroid_cortical_activation_gain), at about 0.9 tolerances. The test
# fails if a row misses that is not listed here, or a listed one comes in.
KNOWN_MISSES: dict[str, set[tuple[str, str, float]]] = {}


def test_every_target_is_within_tolerance(calibration):
    trial, table = calibration
    missed = table.filter(~pl.col("within"))
    show = ("kind", "arm", "measure", "month", "target", "tol", "emulated")
    keys = {(r["kind"], r["measure"], r["month"]) for r in missed.to_dicts()}
    assert keys == KNOWN_MISSES.get(trial, set()), missed.select(show).to_dicts()


# bone_metastases_breast (issue 26) is not run through the workflow (its SRE tables come with
# the stats side's analyses.sre): its rows come from calibration.metastasis_rows, at the
# trial's size (the hazard ratio's band, the published CI, needs it). One row per SRE share,
# mean count and first-event type per arm (2 + 2 + 8), the HR, the median, 4 PK-PD rows.
BREAST_ROWS = 18
# Known misses, said plainly (docs/model.md, "Tumour in bone"): the median time to first SRE on
# zoledronic acid (22.0 vs 26.4 +- 4 months: the model's hazard rises with the growing burden
# while the trial's curve stays nearly exponential) and the 120 mg trough by month 6 (28.9 vs
# 20.5 +- 5 ug/mL: the shared denosumab PK, fitted at 60 mg, clears too little at 10-fold the
# exposure; not re-fitted, as the brief says). The test fails if another row misses or these
# come in.
BREAST_KNOWN_MISSES = {
    ("endpoints", "zoledronic_acid_4mg_q4w", "median months to first SRE"),
    (
        "denosumab_120mg_pk_pd",
        "denosumab_120mg_q4w",
        "mean steady-state trough, ug/mL, by month 6 of 120 mg every 4 weeks",
    ),
}


def test_bone_metastases_breast_lands_on_its_targets():
    from osteotrial.calibration.metastasis_rows import breast_rows

    block = load_targets(ROOT / "config" / "targets.yaml", "bone_metastases_breast")
    trial = load_config("bone_metastases_breast", config_dir=ROOT / "config")
    table = breast_rows(block, n_per_arm=max(trial.allocation.values()))
    assert table.height == BREAST_ROWS and table["emulated"].is_finite().all()
    missed = table.filter(~pl.col("within"))
    keys = {(r["kind"], r["arm"], r["measure"]) for r in missed.to_dicts()}
    show = ("kind", "arm", "measure", "target", "tol", "emulated")
    assert keys == BREAST_KNOWN_MISSES, missed.select(show).to_dicts()


# safety P11 and P12 (issue 27, calcium): hypocalcemia shares simulated on their trial files
# (dialysis_denosumab, denosumab_older_adults) at the files' sizes by calibration.calcium, not
# through the workflow (the safety tables are another part's). P13 and P14 (ONJ, cardiovascular)
# are the other part's; ``safety`` stays in NOT_EMULATED until both exist.
SAFETY_CALCIUM_ROWS = 2


def test_safety_hypocalcemia_rows_land_on_their_targets():
    from osteotrial.calibration.calcium import calcium_rows
    from osteotrial.model.params import load_model_params

    table = calcium_rows(load_model_params(str(ROOT / "config" / "model.yaml")))
    assert table.height == SAFETY_CALCIUM_ROWS and table["emulated"].is_finite().all()
    show = ("measure", "target", "tol", "emulated")
    assert table["within"].all(), table.select(show).to_dicts()
