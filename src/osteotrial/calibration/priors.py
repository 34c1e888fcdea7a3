"""Priors of the posterior sample, from a file of literature values (config/priors.yaml).

Each sampled parameter of the remodeling calibration (``calibration.posterior``: the names of
``calibration.remodeling.REMODELING_FIT``, as the uncertainty file lists them) has an entry
``block.key`` with its distribution, centre, spread, source and grade; a parameter without a
published value is marked ``weakly_informative`` and says why its spread (config/README.md,
"Priors"). The file, not this module, lists the parameters: a parameter added to the
calibration needs only an entry there.

The sampler moves x = log(value / fitted) (``shifts.apply_shifts``), so the log prior is given
as a density of log(value): a log-normal prior is normal there; a normal prior on the value
gains the Jacobian log(value).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from jsonschema import Draft202012Validator

from osteotrial.yaml_strict import safe_load_fast

DEFAULT_FILE = "config/priors.yaml"
SCHEMA_FILE = "config/priors.schema.json"


def load_priors(path: str | Path = DEFAULT_FILE) -> dict[str, dict[str, Any]]:
    """Return the ``priors`` mapping of a priors file, validated with its JSON schema (next to
    it, ``priors.schema.json``); a log-normal centre must be positive."""
    from osteotrial.trial.checks import describe_error
    from osteotrial.trial.locate import repo_path

    file = repo_path(path)
    with open(file, encoding="utf-8") as handle:
        data = safe_load_fast(handle)
    schema = json.loads((file.parent / Path(SCHEMA_FILE).name).read_text(encoding="utf-8"))
    errors = sorted(
        Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.absolute_path)
    )
    if errors:
        raise ValueError(f"{path}: " + "; ".join(describe_error(e) for e in errors[:10]))
    priors = data["priors"]
    bad = [n for n, p in priors.items() if p["distribution"] == "lognormal" and p["centre"] <= 0]
    if bad:
        raise ValueError(f"{path}: a log-normal centre must be > 0 ({', '.join(bad)})")
    return priors


@dataclass(frozen=True)
class Priors:
    """The priors of an ordered list of parameters, as arrays (one entry per parameter)."""

    names: tuple[str, ...]
    lognormal: np.ndarray  # bool: log-normal (else normal)
    centre: np.ndarray
    spread: np.ndarray

    @classmethod
    def of(cls, names: Sequence[tuple[str, str]], priors: Mapping[str, Any]) -> Priors:
        """Return the priors of ``names`` ((block, key) pairs) from a ``load_priors`` mapping;
        a parameter without an entry is an error naming it."""
        dotted = tuple(f"{block}.{key}" for block, key in names)
        missing = [n for n in dotted if n not in priors]
        if missing:
            raise ValueError(
                f"config/priors.yaml has no prior for the sampled parameter(s) {missing}: add "
                "an entry with its distribution, centre, spread, source and grade"
            )
        entries = [priors[n] for n in dotted]
        return cls(
            names=dotted,
            lognormal=np.array([e["distribution"] == "lognormal" for e in entries]),
            centre=np.array([float(e["centre"]) for e in entries]),
            spread=np.array([float(e["spread"]) for e in entries]),
        )

    def log_density(self, values: np.ndarray) -> np.ndarray:
        """Return the log prior density of log(value) for each row of ``values`` (n, d), the
        parameters in natural units (constants dropped; -inf for a non-positive value)."""
        values = np.atleast_2d(np.asarray(values, dtype=np.float64))
        with np.errstate(divide="ignore", invalid="ignore"):
            log_values = np.log(values)
            z_log = (log_values - np.log(np.where(self.lognormal, self.centre, 1.0))) / self.spread
            z_lin = (values - self.centre) / self.spread
            terms = np.where(self.lognormal, -0.5 * z_log**2, -0.5 * z_lin**2 + log_values)
        out = terms.sum(axis=1)
        return np.where(np.all(values > 0.0, axis=1), out, -np.inf)


def table(priors: Mapping[str, Any], fitted: Mapping[str, float]) -> list[str]:
    """Return printable lines: each prior, the fitted value and how many spreads apart."""
    lines = []
    for name, p in priors.items():
        value = fitted.get(name)
        if value is None:
            lines.append(f"{name:46s} (not sampled)")
            continue
        log = p["distribution"] == "lognormal"
        z = (np.log(value / p["centre"]) if log else value - p["centre"]) / p["spread"]
        lines.append(
            f"{name:46s} {p['distribution']:9s} {p['centre']:<9.4g} {p['spread']:<5.3g} "
            f"fit {value:<9.4g} z {z:+5.2f} {p['basis']:18s} {p['grade']}"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: print every prior beside the model's value of the sampled parameters."""
    from osteotrial.calibration import calibrate, uncertainty

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--priors", default=DEFAULT_FILE)
    parser.add_argument("--model", default="config/model.yaml")
    args = parser.parse_args(argv)
    with open(args.model, encoding="utf-8") as handle:
        model = safe_load_fast(handle)
    names = uncertainty.stages()["remodeling"][0]
    values = calibrate.initial_values(model, names)
    fitted = {f"{b}.{k}": float(v) for (b, k), v in zip(names, values, strict=True)}
    print("\n".join(table(load_priors(args.priors), fitted)))


if __name__ == "__main__":
    main()
