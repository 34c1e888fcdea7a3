"""The posterior's likelihood: each target's SD from its published uncertainty plus a stated
model discrepancy, not the fit's weights.

For each point target of the remodeling stage (``remodeling.remodeling_targets``) the residual
is (emulated - published) / SD, with

    SD^2 = SE^2 + discrepancy^2,   discrepancy = hypot(absolute, relative * |published|),

SE the standard error that targets.yaml publishes (``published_se``: from a 95 % CI as
(high - low) / (2 * 1.96); from an SD and n as SD / sqrt(n); for a proportion from n as
sqrt(p (1 - p) / n); none where the file gives none) and the discrepancy per kind of target
(``DISCREPANCY``, each with its reason): what the typical patient of the calibration, and the
model itself, may miss a trial's published mean by. The published SEs are small (FREEDOM's
month-12 hip: 0.05 points; most rows publish none), so the discrepancy term carries the
likelihood: it is an assumption, stated here, reported by
``python -m osteotrial.calibration.likelihood`` and in docs/analyses.md.

A one-sided target ("at least": CTX suppression by day 5) costs nothing on its side of the
bound and (emulated - bound) / SD beyond it. The qualitative shapes (continued denosumab, after
stopping, the dose-ranging BMD range; ``remodeling.continued_treatment_shape`` and
``denosumab``'s hinges) publish no number: the likelihood keeps their hinges as the fit states
them (margins and scales in those modules, this project's reading of the words), a soft
constraint that each shape holds.

The fit's objective (``calibrate``, ``remodeling.remodeling_residuals``) is unchanged: its
tolerances stay weights of a point estimate; this is the posterior's likelihood only.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from osteotrial.calibration.objective import Target, positive_part
from osteotrial.calibration.posterior_file import LIKELIHOOD
from osteotrial.calibration.remodeling import emulated_of_sets, remodeling_targets
from osteotrial.calibration.targets import read_targets
from osteotrial.model.params import ModelParams
from osteotrial.yaml_strict import safe_load_fast

Z95 = 1.959963984540054  # the 97.5 % normal quantile: a 95 % CI is mean +- Z95 SE
# kind -> (absolute, relative, why): discrepancy = hypot(absolute, relative * |published|),
# the absolute part in the target's unit. Assumptions (A), each argued from what this project
# measured or what the targets file itself shows.
DISCREPANCY: dict[str, tuple[float, float, str]] = {
    "bmd_pct": (
        0.3,
        0.10,
        "mean % BMD change (points): the typical patient misses the cohort mean by about 0.3 "
        "points (DEFEND LS month 36: typical 1.9, cohort 2.2; calibration.denosumab), and one "
        "regimen's mean change differs between trials by about a tenth of itself (A)",
    ),
    "marker_pct": (
        5.0,
        0.10,
        "marker % of baseline or % difference: typical-patient values sit 5-10 points from the "
        "trials' medians (calibration.denosumab, after stopping), plus a tenth of the value for "
        "readings from figures and data files (A)",
    ),
    "marker_ratio": (
        0.05,
        0.10,
        "treated / placebo marker ratio read from FRAME's figure ('shape matters more than the "
        "exact points', targets.yaml): 5 % of the placebo level plus a tenth of the ratio (A)",
    ),
    "pk": (
        0.0,
        0.20,
        "single-dose PK statistic: values of one dose differ between studies and populations by "
        "about a fifth (targets.yaml's own denosumab half-life: 15 d in one population, 25.4 d "
        "on the label) (A)",
    ),
    "pk_tmax": (
        2.0,
        0.0,
        "tmax in days: read off the sampling days of a PK study (days 1-3, 5, 7, 10, 14) and off "
        "the model's daily grid, so known to about 2 days (A)",
    ),
    "strength_pct": (
        1.0,
        0.15,
        "mean % change of finite-element strength (points): the strength index is a power law "
        "of compartment density and porosity (model.bone.strength_rel; exponents about 2 and "
        "10), so the typical patient's BMD margin of about 0.3 points becomes about 1 point, "
        "and a density surrogate, which reads no geometry or load path, may miss QCT "
        "finite-element strength (Keaveny 2014, targets.yaml bone_strength) by about a "
        "seventh of the change; no SE is published (A)",
    ),
    "ctx_bound": (
        0.05,
        0.0,
        "CTX / baseline beyond an 'at least 80 %' suppression: near the assay's lower limit, "
        "about 5 % of baseline (A)",
    ),
}


@dataclass(frozen=True)
class Row:
    """One point target's likelihood term: where it is, its kind, the published value, SE
    (0 when none is published) and how it was read, the discrepancy and the total SD."""

    source: str
    kind: str
    value: float
    se: float
    se_from: str
    discrepancy: float
    sd: float
    one_sided: bool


def se_from_ci(low: float, high: float, log: bool = False) -> float:
    """Return the SE of an estimate from its 95 % CI: (high - low) / (2 Z95), on the log scale
    for a ratio (``log``)."""
    if log:
        low, high = np.log(low), np.log(high)
    return float((high - low) / (2.0 * Z95))


def target_kind(target: Target) -> str:
    """Return the ``DISCREPANCY`` kind of a remodeling target, from its probe; a probe of a new
    kind is an error until its discrepancy is stated."""
    kind = target.probe[0]
    if kind == "pk":
        return "pk_tmax" if target.probe[2] == "tmax" else "pk"
    if kind == "vs_placebo":
        return "bmd_pct" if target.probe[1].endswith("_bmd_pct_points") else "marker_pct"
    kinds = {
        "bmd": "bmd_pct",
        "marker_ratio": "marker_ratio",
        "ctx": "ctx_bound",
        "ctx_pct": "marker_pct",
        "strength": "strength_pct",
    }
    if kind not in kinds:
        raise ValueError(
            f"{target.source}: no model discrepancy is stated for targets of kind {kind!r}; "
            "add one to calibration.likelihood.DISCREPANCY (with its reason) and target_kind"
        )
    return kinds[kind]


def entry_at(data: Mapping[str, Any], source: str) -> tuple[Any, Any]:
    """Return (the targets.yaml entry a target's ``source`` names, the block above it);
    a ``measure`` name selects an entry of a list."""
    node: Any = data
    parent: Any = None
    for part in source.split("."):
        found = re.fullmatch(r"(\w+)\[(\d+)\]", part)
        parent = node
        if found:
            node = node[found.group(1)][int(found.group(2))]
        elif isinstance(node, list):
            node = next(e for e in node if e.get("measure") == part)
        else:
            node = node[part]
    return node, parent


def published_se(data: Mapping[str, Any], source: str) -> tuple[float | None, str]:
    """Return (the SE targets.yaml publishes for a target, how it was read) or (None, why not).

    A 95 % CI (``ci95`` or ``ci``, of the entry or of the matching ``bmd_pct_change_sd`` row of
    its trial, arm, site and month) gives (high - low) / (2 Z95); an SD with n gives SD /
    sqrt(n); a proportion with n gives sqrt(p (1 - p) / n)."""
    entry, parent = entry_at(data, source)
    if not isinstance(entry, Mapping):
        return None, "none published (a point read from a figure)"
    ci = entry.get("ci95", entry.get("ci"))
    if ci is None and isinstance(parent, Mapping) and "bmd_pct_change_sd" in parent:
        keys = ("arm", "site", "month")
        same = [r for r in parent["bmd_pct_change_sd"] if all(r[k] == entry.get(k) for k in keys)]
        ci = same[0].get("ci95") if same else None
    if ci is not None:
        return se_from_ci(*ci), f"95 % CI {ci[0]}-{ci[1]}"
    n = entry.get("n")
    if "sd" in entry and isinstance(n, int | float):
        return float(entry["sd"] / np.sqrt(n)), f"SD {entry['sd']} / sqrt({n})"
    if isinstance(n, int | float) and 0.0 <= entry.get("value", -1.0) <= 1.0:
        p = float(entry["value"])
        return float(np.sqrt(p * (1.0 - p) / n)), f"proportion {p}, n {n}"
    if "sd" in entry:
        return None, "SD between subjects without n: SE not published"
    return None, "none published"


def likelihood_rows(data: Mapping[str, Any] | None = None) -> list[Row]:
    """Return the likelihood term of each remodeling point target, in the order of
    ``remodeling.remodeling_targets``."""
    data = read_targets() if data is None else data
    rows = []
    for target in remodeling_targets(data):
        kind = target_kind(target)
        se, how = published_se(data, target.source)
        absolute, relative, _ = DISCREPANCY[kind]
        discrepancy = float(np.hypot(absolute, relative * abs(target.value)))
        sd = float(np.hypot(se or 0.0, discrepancy))
        rows.append(
            Row(target.source, kind, float(target.value), se or 0.0, how, discrepancy, sd,
                target.hinge)
        )  # fmt: skip
    return rows


def residuals_of_rows(rows: Sequence[Row], emulated: np.ndarray, shapes: np.ndarray) -> np.ndarray:
    """Return the likelihood residuals (n_sets, n_rows + n_shapes) of emulated values
    (n_rows, n_sets) and shape hinges (n_shapes, n_sets)."""
    value = np.array([r.value for r in rows])[:, None]
    sd = np.array([r.sd for r in rows])[:, None]
    one_sided = np.array([r.one_sided for r in rows])[:, None]
    diff = emulated - value
    points = np.where(one_sided, positive_part(diff), diff) / sd
    return np.ascontiguousarray(np.vstack([points, np.asarray(shapes, dtype=float)]).T)


def likelihood_residuals_of_sets(
    sets: Sequence[ModelParams],
    targets: Mapping[str, Any] | None = None,
    rows: Sequence[Row] | None = None,
) -> np.ndarray:
    """Return the likelihood residuals of each parameter set (n_sets, n_residuals), every set a
    patient of the same engine calls (``remodeling.emulated_of_sets``: a mean row is the typical
    value plus its typical-to-cohort offset, ``cohort_offset``); the log likelihood of set w is
    -|row w|^2 / 2."""
    data = read_targets() if targets is None else targets
    rows = likelihood_rows(data) if rows is None else rows
    emulated, shapes = emulated_of_sets(sets, data)
    return residuals_of_rows(rows, emulated, shapes)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: print every row's SE, discrepancy and SD, and the residuals at a model."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="config/model.yaml")
    args = parser.parse_args(argv)
    with open(args.model, encoding="utf-8") as handle:
        model = safe_load_fast(handle)
    rows = likelihood_rows()
    res = likelihood_residuals_of_sets([ModelParams.from_dict(model)], rows=rows)[0]
    for row, r in zip(rows, res, strict=False):
        print(f"{row.source:75s} {row.kind:12s} SE {row.se:<8.3g} disc {row.discrepancy:<7.3g} "
              f"SD {row.sd:<7.3g} z {r:+6.2f}  ({row.se_from})")  # fmt: skip
    points, shapes = res[: len(rows)], res[len(rows) :]
    print(f"likelihood {LIKELIHOOD!r}: {len(rows)} point rows, sum z^2 {points @ points:.2f}; "
          f"{len(shapes)} shape hinges, sum {shapes @ shapes:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
