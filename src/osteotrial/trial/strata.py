"""Strata of a trial file: subgroups randomized within, each with its own background exposures.

A trial may enrol patients of several kinds and randomize each kind separately (the
glucocorticoid trial: patients who had just started glucocorticoids and patients long on
them). A trial file says so with a top-level ``strata`` list::

    strata:
      - {name: initiating, share: 0.365, exposures: [{kind: glucocorticoid, arms: all,
          start: month -1.5, prednisone_mg_per_day: 10}]}
      - {name: continuing, share: 0.635, exposures: [...]}

``share``: the stratum's part of every arm (the shares sum to 1). ``exposures``: phases with
the syntax of the top-level ``exposures`` (``trial.exposures``), added to those of each arm
they name for the patients of the stratum. A patient's stratum is drawn from the named
counter-based stream ``stratum`` keyed by the patient's candidate id (``assign``), so it is
the same whatever the shards, chunks or cohort size, and the same under every arm (the
counterfactual twins keep it): a stratum holds its share of each arm up to sampling (the
trial randomized within strata; the model's arms are exchangeable, so stratified
randomization would change no expected result). The simulation runs each (arm, stratum) with
its own plan (``arm_for_stratum``; ``engine.simulate.iter_simulate_strata``); the endpoint
table ``by_stratum`` (``analyses.by_sex.by_group_table``) carries each stratum's results, and
the calibration table matches a target's ``subgroup`` to a stratum's name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from osteotrial import rng
from osteotrial.trial.exposures import check_exposures, phases_of_arm
from osteotrial.trial.phase_units import normalize_phase
from osteotrial.trial.schedules import ArmSpec

STREAM = "stratum"
SHARE_SUM_TOL = 1e-6  # the shares must add up to 1 within this


@dataclass(frozen=True)
class Stratum:
    """One stratum: its name, its share of every arm and its (normalized) exposure entries."""

    name: str
    share: float
    exposures: tuple[Mapping[str, Any], ...] = ()


def normalize_strata(strata: Any) -> Any:
    """Return the ``strata`` block with each stratum's exposure phases in day fields
    (anything that is not a list of mappings as it is, for the schema to report)."""
    if not isinstance(strata, list):
        return strata
    return [
        {**s, "exposures": _normalized(s["exposures"], f"strata[{k}].exposures")}
        if isinstance(s, Mapping) and "exposures" in s
        else s
        for k, s in enumerate(strata)
    ]


def _normalized(exposures: Any, where: str) -> Any:
    """Return a stratum's exposure phases in day fields; errors name ``where[i]``."""
    if not isinstance(exposures, list):
        return exposures
    return [
        normalize_phase(e, f"{where}[{i}]") if isinstance(e, Mapping) else e
        for i, e in enumerate(exposures)
    ]


def strata_of(raw: Mapping[str, Any]) -> tuple[Stratum, ...]:
    """Return the strata of a validated configuration (empty: the trial has none)."""
    return tuple(
        Stratum(str(s["name"]), float(s["share"]), tuple(s.get("exposures") or ()))
        for s in raw.get("strata") or ()
    )


def check_strata(merged: Mapping[str, Any]) -> None:
    """Refuse strata with repeated names, shares not adding up to 1, or exposures that name
    unknown arms, start after the trial or overlap the arm's own (ValueError naming the
    field and what is allowed)."""
    strata = strata_of(merged)
    if not strata:
        return
    names = [s.name for s in strata]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"strata: names {repeated} repeat; allowed: each name once")
    total = sum(s.share for s in strata)
    if abs(total - 1.0) > SHARE_SUM_TOL:
        raise ValueError(
            f"strata[*].share add up to {total:g}; allowed: shares that sum to 1 "
            f"(each stratum's part of every arm; {names})"
        )
    for k, s in enumerate(strata):
        combined = [*(merged.get("exposures") or []), *s.exposures]
        try:
            check_exposures({**merged, "exposures": combined})
        except ValueError as error:
            raise ValueError(f"strata[{k}] ({s.name}): {error}") from None


def assign(strata: Sequence[Stratum], seed: int, candidate_id: np.ndarray) -> np.ndarray:
    """Return each patient's stratum name (str array): the patient's uniform of the stream
    ``stratum`` (keyed by candidate id) against the cumulative shares, in the file's order."""
    if not strata:
        return np.full(np.shape(candidate_id), "", dtype=object)
    u = rng.uniforms(seed, STREAM, np.asarray(candidate_id, dtype=np.int64))[0]
    edges = np.cumsum([s.share for s in strata])
    index = np.minimum(np.searchsorted(edges / edges[-1], u, side="right"), len(strata) - 1)
    return np.array([s.name for s in strata], dtype=object)[index]


def arm_for_stratum(arm: ArmSpec, stratum: Stratum) -> ArmSpec:
    """Return the arm as the patients of a stratum get it: the stratum's exposure phases that
    name the arm added to the arm's own."""
    extra = phases_of_arm(stratum.exposures, arm.name)
    return ArmSpec(arm.name, arm.phases, tuple(arm.exposures) + extra)
