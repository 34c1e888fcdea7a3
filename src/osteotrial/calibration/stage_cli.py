"""The command line of the small calibration stages (``calibration.men``,
``calibration.bisphosphonate``): one helper instead of an argparse ``main`` each.

A small stage fits a few values of its own block to its own rows of targets.yaml, every
shared value held fixed, and is re-run in one command after the shared values change::

    python -m osteotrial.calibration.<stage> [--write] [--max-nfev N] [--part NAME]

A stage is one or more ``Part``s fitted in order, each on the model the previous one left
(the bisphosphonate stage: alendronate's effect, then risedronate's potency relative to it);
``--part`` fits only one of them (the others keep the model file's values). Each part prints
its residuals and fitted values; ``--write`` writes the fitted values into the model file,
comments kept (``calibrate.write_values``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from osteotrial.calibration.calibrate import fit, initial_values, write_values
from osteotrial.yaml_strict import safe_load_fast

Model = dict[str, Any]


@dataclass(frozen=True)
class Part:
    """One fit of a stage: the values it fits (block, key), the weighted residuals of its
    targets for a model mapping, and how it fits (default ``calibrate.fit``: log space, weak
    priors at the current values; a stage whose values may be negative brings its own)."""

    names: Sequence[tuple[str, str]]
    residuals: Callable[[Model], np.ndarray]
    fitter: Callable[[Model, int], Model] | None = None

    def fit(self, model: Model, max_nfev: int) -> Model:
        """Return the model mapping with this part's values fitted."""
        if self.fitter is not None:
            return self.fitter(model, max_nfev)
        return fit(model, self.names, self.residuals, max_nfev)


def run_parts(model: Model, parts: Mapping[str, Part], chosen: str, max_nfev: int) -> Model:
    """Fit the parts in order (``chosen``: one part's name, or "all"), print each part's
    residuals and values, and return the fitted model mapping."""
    for name, part in parts.items():
        if chosen not in ("all", name):
            continue
        model = part.fit(model, max_nfev)
        print(f"[{name}] residuals:", np.round(part.residuals(model), 2), flush=True)
        for (block, key), value in zip(part.names, initial_values(model, part.names), strict=True):
            print(f"[{name}] {block} {key} {value:.6g}", flush=True)
    return model


def stage_main(
    description: str,
    parts: Mapping[str, Part],
    argv: Sequence[str] | None = None,
    max_nfev: int = 60,
) -> Model:
    """Command line of a small stage (module docstring); returns the fitted model mapping."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", default="config/model.yaml")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--max-nfev", type=int, default=max_nfev)
    parser.add_argument("--part", choices=("all", *parts), default="all")
    args = parser.parse_args(argv)
    with open(args.model, encoding="utf-8") as handle:
        model = safe_load_fast(handle)
    fitted = run_parts(model, parts, args.part, args.max_nfev)
    if args.write:
        names = [n for key, p in parts.items() if args.part in ("all", key) for n in p.names]
        write_values(args.model, fitted, names)
    return fitted
