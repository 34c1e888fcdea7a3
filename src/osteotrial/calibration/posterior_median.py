"""The posterior median of the remodeling block as the nominal values (a tool, run by hand).

``median_values`` reads a posterior file and returns each sampled value's median over the
draws (value = fitted * exp(median log shift): the median of a value is the value of the
median log shift). ``python -m osteotrial.calibration.posterior_median`` prints them beside the
fitted values; with ``--write`` it puts them into the model file (``calibrate.write_values``,
comments kept) and re-centres the posterior file on them (``recentred``: the same draws as
shifts from the values as written, so that ``posterior_file.posterior_shifts`` accepts them).

What must follow a ``--write`` (docs/analyses.md, "Nominal run"): the fracture stage is fitted
conditionally on the remodeling values (``calibrate --stage fracture --write``), then the
uncertainty file's Laplace and conditional blocks (``uncertainty --write``). A file sampled
under the old likelihood (``posterior_file.OLD_LIKELIHOOD``) is refused unless
``--allow-old-likelihood``: its median is not that of the posterior of issue 24.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from osteotrial.calibration import calibrate
from osteotrial.calibration.posterior_file import (
    DEFAULT_FILE,
    LIKELIHOOD,
    likelihood_of,
    load_posterior,
    posterior_shifts,
)
from osteotrial.yaml_strict import safe_load_fast


def names_of(posterior: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return the (block, key) names of a posterior file."""
    return [tuple(n.rsplit(".", 1)) for n in posterior["names"]]


def median_shifts(posterior: Mapping[str, Any]) -> np.ndarray:
    """Return the median log shift of each sampled value over the file's draws."""
    return np.median(np.asarray(posterior["log_shifts"], dtype=np.float64), axis=0)


def median_values(posterior: Mapping[str, Any], model: Mapping[str, Any]) -> dict[str, float]:
    """Return {"block.key": posterior median} of a posterior file whose draws were taken at the
    model's values (``posterior_shifts`` checks that)."""
    posterior_shifts(posterior, model, 0)
    fitted = np.asarray(posterior["fitted_values"], dtype=np.float64)
    values = fitted * np.exp(median_shifts(posterior))
    return {name: float(v) for name, v in zip(posterior["names"], values, strict=True)}


def median_model(posterior: Mapping[str, Any], model: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of the model mapping with the posterior medians in place of its values
    (a site ``scale`` sets that site's gammas from the hip's, as ``calibrate.apply_values``)."""
    medians = median_values(posterior, model)
    return calibrate.apply_values(dict(model), names_of(posterior), list(medians.values()))


def recentred(posterior: Mapping[str, Any], fitted: np.ndarray) -> dict[str, Any]:
    """Return the posterior file's content with its draws as shifts from new ``fitted`` values
    (the medians as the model file holds them): the same values, fitted * exp(shift)."""
    old = np.asarray(posterior["fitted_values"], dtype=np.float64)
    move = np.log(old) - np.log(np.asarray(fitted, dtype=np.float64))
    out = dict(posterior)
    out["fitted_values"] = [float(v) for v in fitted]
    for key in ("log_shifts", "last_walkers"):
        shifted = np.asarray(posterior[key], dtype=np.float64) + move
        out[key] = [[round(float(v), 8) for v in row] for row in shifted]
    out["recentred_from"] = [float(v) for v in old]
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: print fitted values and medians; with --write, write both files."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posterior", default=DEFAULT_FILE)
    parser.add_argument("--model", default="config/model.yaml")
    parser.add_argument("--write", action="store_true", help="into --model and --posterior")
    parser.add_argument("--allow-old-likelihood", action="store_true")
    args = parser.parse_args(argv)
    posterior = load_posterior(args.posterior)
    with open(args.model, encoding="utf-8") as handle:
        model = safe_load_fast(handle)
    medians = median_values(posterior, model)
    print(f"{args.posterior}: likelihood {likelihood_of(posterior)!r}")
    for name, fitted in zip(posterior["names"], posterior["fitted_values"], strict=True):
        print(f"{name:46s} fitted {fitted:<10.5g} median {medians[name]:<10.5g}")
    if not args.write:
        return
    if likelihood_of(posterior) != LIKELIHOOD and not args.allow_old_likelihood:
        raise SystemExit(
            f"{args.posterior} was sampled under {likelihood_of(posterior)!r}, not {LIKELIHOOD!r}:"
            " re-run tools/posterior_chain.sh first (or pass --allow-old-likelihood)"
        )
    calibrate.write_values(args.model, median_model(posterior, model), names_of(posterior))
    with open(args.model, encoding="utf-8") as handle:  # the medians as written (6 digits)
        written = calibrate.initial_values(safe_load_fast(handle), names_of(posterior))
    content = recentred(posterior, written)
    Path(args.posterior).write_text(
        "# Posterior draws of the remodeling calibration (osteotrial.calibration.posterior),\n"
        "# re-centred on their medians (osteotrial.calibration.posterior_median --write)\n"
        + yaml.safe_dump(content, sort_keys=False, width=100),
        encoding="utf-8",
    )
    print(f"wrote {args.model} and {args.posterior}; next: calibrate --stage fracture "
          "--write, then uncertainty --write (fracture is conditional on them)")  # fmt: skip


if __name__ == "__main__":
    main()
