"""Model parameters: the YAML, the dataclasses and the JSON schema agree; bad values fail."""

import json
from dataclasses import fields

import pytest
import yaml
from conftest import ROOT

from osteotrial.model.params import ModelParams, PKParams, RemodelingParams, SiteBMDParams
from osteotrial.trial.schedules import RegimenPhase


def _model_dict():
    return yaml.safe_load((ROOT / "config" / "model.yaml").read_text())


def test_schema_lists_exactly_the_dataclass_fields():
    defs = json.loads((ROOT / "config" / "config.schema.json").read_text())["$defs"]
    for name, cls in (
        ("pk", PKParams),
        ("remodeling", RemodelingParams),
        ("bmd_site", SiteBMDParams),
    ):
        assert set(defs[name]["properties"]) == {f.name for f in fields(cls)}
        assert defs[name]["additionalProperties"] is False


def test_unknown_key_names_the_valid_keys():
    model = _model_dict()
    model["remodeling"]["wnt_max"] = 2.0
    with pytest.raises(KeyError, match="wnt_max.*valid keys"):
        ModelParams.from_dict(model)


@pytest.mark.parametrize(
    "block,key,value",
    [
        ("denosumab", "vc_l", -1.0),
        ("romosozumab", "bioavailability_frac", 1.5),
        ("remodeling", "wnt_max_fold", 0.5),
    ],
)
def test_out_of_range_value_is_rejected(block, key, value):
    model = _model_dict()
    model[block][key] = value
    with pytest.raises(ValueError, match=key):
        ModelParams.from_dict(model)


def test_phase_that_ends_before_it_starts_is_rejected():
    with pytest.raises(ValueError, match="stop_day"):
        RegimenPhase("denosumab", 60.0, 182.625, 100.0, 50.0)


def test_unknown_drug_is_rejected():
    with pytest.raises(ValueError, match="aspirin.*allowed"):
        RegimenPhase("aspirin", 60.0, 182.625, 0.0, 50.0)


def test_every_model_parameter_is_documented_in_config_readme():
    readme = (ROOT / "config" / "README.md").read_text()
    model = _model_dict()
    keys = [f"{block}.{key}" for block, values in model.items() for key in values]
    nested = [
        f"{block}.{sub}.{key}"
        for block, values in model.items()
        for sub, inner in values.items()
        if isinstance(inner, dict)
        for key in inner
    ]
    flat = [k for k in keys if not isinstance(model[k.split(".")[0]][k.split(".")[1]], dict)]
    missing = [k for k in flat + nested if f"`{k}`" not in readme]
    assert not missing, missing
