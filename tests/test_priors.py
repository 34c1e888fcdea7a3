"""Priors of the posterior sample from config/priors.yaml (calibration.priors)."""

from __future__ import annotations

import copy
import shutil

import numpy as np
import pytest
import yaml
from conftest import ROOT
from scipy import stats

from osteotrial.calibration import calibrate, priors, uncertainty

MODEL = yaml.safe_load((ROOT / "config" / "model.yaml").read_text())
PRIORS = priors.load_priors(ROOT / priors.DEFAULT_FILE)


def sampled_names() -> list[tuple[str, str]]:
    """The parameters the posterior samples: the calibration's own list, not one kept here."""
    return list(uncertainty.stages()["remodeling"][0])


def test_every_sampled_parameter_has_a_prior_with_a_source_and_a_grade():
    """Each sampled value has an entry with a source and a grade; a literature prior cites an
    S.. source or a named publication, and a weakly informative one says why its spread."""
    for block, key in sampled_names():
        entry = PRIORS[f"{block}.{key}"]
        assert len(entry["source"]) > 10 and entry["grade"] in ("V", "V-code", "R", "D", "A")
        if entry["basis"] == "weakly_informative":
            assert len(entry["why"]) > 10, key
        else:
            assert any(ch.isdigit() for ch in entry["source"]), (key, "no year or S id")
    built = priors.Priors.of(sampled_names(), PRIORS)
    assert np.all(np.isfinite(built.log_density(calibrate.initial_values(MODEL, sampled_names()))))


def test_a_parameter_without_a_prior_is_refused_by_name():
    fewer = {k: v for k, v in PRIORS.items() if k != "remodeling.wnt_max_fold"}
    with pytest.raises(ValueError, match="wnt_max_fold"):
        priors.Priors.of(sampled_names(), fewer)


def test_changing_a_prior_centre_moves_the_log_prior_by_the_lognormal_or_normal_amount():
    """Log-normal: the log density of log(value) is normal; normal: N(value) times value (the
    Jacobian of the sampler's log coordinate)."""
    names = sampled_names()
    values = calibrate.initial_values(MODEL, names)
    base = priors.Priors.of(names, PRIORS).log_density(values)[0]
    for name, factor in (("remodeling.oca_apoptosis_per_day", 2.0), ("bmd.th.gamma_ob", 0.5)):
        moved = copy.deepcopy(PRIORS)
        moved[name]["centre"] *= factor
        got = priors.Priors.of(names, moved).log_density(values)[0]
        v, p = values[[f"{b}.{k}" for b, k in names].index(name)], PRIORS[name]
        expected = -0.5 * (
            (np.log(v / (p["centre"] * factor)) ** 2 - np.log(v / p["centre"]) ** 2)
            / p["spread"] ** 2
        )
        assert got - base == pytest.approx(expected, rel=1e-9) and got != base
    normal = priors.Priors.of([("x", "y")], {"x.y": {"distribution": "normal", "centre": 0.5,
                                                     "spread": 0.2}})  # fmt: skip
    pair = normal.log_density(np.array([[0.3], [0.6]]))
    by_hand = stats.norm.logpdf([0.3, 0.6], 0.5, 0.2) + np.log([0.3, 0.6])
    assert pair[1] - pair[0] == pytest.approx(by_hand[1] - by_hand[0], rel=1e-12)
    assert normal.log_density(np.array([[-0.1]]))[0] == -np.inf


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p["bmd.th.gamma_ob"].pop("why"), "why"),
        (lambda p: p["bmd.th.gamma_ob"].update(spread=0.0), "spread"),
        (lambda p: p["bmd.th.gamma_ob"].update(grade="X"), "grade"),
        (lambda p: p["bmd.th.gamma_ob"].update(centre_value=1.0), "centre_value"),
        (lambda p: p["bmd.th.gamma_ob"].update(centre=-1.0), "log-normal centre"),
    ],
)
def test_the_priors_file_is_validated_by_its_schema(tmp_path, edit, message):
    shutil.copy(ROOT / priors.SCHEMA_FILE, tmp_path / "priors.schema.json")
    bad = copy.deepcopy(PRIORS)
    edit(bad)
    (tmp_path / "priors.yaml").write_text(yaml.safe_dump({"priors": bad}), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        priors.load_priors(tmp_path / "priors.yaml")
