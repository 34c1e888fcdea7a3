"""Prediction intervals that combine parameter and sampling uncertainty, next to every endpoint.

What a trial of this design and size would show is, under parameter set k, an estimate with a
sampling distribution that we approximate by a two-piece normal through the set's own estimate
m_k (its median) and 95 % CI (``stats.intervals.CONFIDENCE``): below m_k a normal of SD
(m_k - low_k) / z, above it one of SD (high_k - m_k) / z, z = z_0.975, so the distribution's
2.5 % and 97.5 % quantiles are exactly the set's CI bounds, whatever their asymmetry (Wilson
interval of an incidence, log-normal interval of a risk ratio, Wald interval of a Cox hazard
ratio, t interval of a mean). Over the K parameter sets (equal weights) the predictive
distribution is the mixture

    F(x) = (1 / K) sum_k F_k(x),

and the prediction interval at ``level`` is its (1 - level) / 2 and (1 + level) / 2 quantiles
(scipy.optimize.brentq on F). When every set gives the same estimate and CI, the 95 % PI is that
CI; at 95 % the PI lies within [min_k low_k, max_k high_k]. Working on the natural scale (not
logit or log) keeps estimates of 0 (no events) inside their intervals: a set with 0 events has
low = m = 0, i.e. half its mass at 0, as the Wilson interval [0, high] says.

Special cases: a ``risk_ratio`` with no events in the treated arm is 0 with an upper bound nan
(scipy); its upper bound then comes from the counts of the ``fractures`` table plus 0.5 (log RR
and its delta-method SE), as do all three numbers when the control arm has no events (RR inf).
A ratio without events in either arm, or a hazard ratio that is not estimable (nan), leaves the
set out of the mixture; ``n_parameter_sets`` counts the sets used. ``markers`` medians have no
sampling CI: ``pi_low``/``pi_high`` are null there and only the parameter-only interval is given.

``param_low``/``param_high`` are the (1 - level) / 2 and (1 + level) / 2 quantiles of the K
estimates alone (parameter uncertainty without sampling error); ``estimate``, ``ci_low`` and
``ci_high`` are the nominal run's (the trial's own parameters). ``time`` is the row's month
(``time_unit`` "month") or, for markers, its day (``time_unit`` "day").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from scipy import optimize, special, stats

from osteotrial.io import (
    PARAMETER_SETS_SCHEMA,
    PREDICTION_INTERVALS_SCHEMA,
    write_parquet,
)
from osteotrial.stats.intervals import CONFIDENCE

# table -> (key columns: arm, reference arm or None, endpoint column, time column),
# and its statistics: (estimate column, CI low, CI high), CI None for markers.
KEYS: dict[str, tuple[str, str | None, str, str]] = {
    "bmd": ("arm", None, "site", "month"),
    "markers": ("arm", None, "marker", "day"),
    "fractures": ("arm", None, "endpoint", "month"),
    "comparisons": ("arm", "reference_arm", "endpoint", "month"),
}
STATISTICS: dict[str, tuple[tuple[str, str | None, str | None], ...]] = {
    "bmd": (("mean_pct_change", "ci_low_pct", "ci_high_pct"),),
    "markers": (("median_pct_change", None, None),),
    "fractures": (("incidence_frac", "ci_low_frac", "ci_high_frac"),),
    "comparisons": (
        ("risk_ratio", "rr_ci_low", "rr_ci_high"),
        ("hazard_ratio", "hr_ci_low", "hr_ci_high"),
    ),
}
Z = float(stats.norm.ppf(0.5 + CONFIDENCE / 2.0))


def two_piece_cdf(x: float, modes: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> np.ndarray:
    """Return F_k(x) of every set, shape (K,): two-piece normals through (low_k, m_k, high_k).

    low_k and high_k are the 2.5 % and 97.5 % quantiles; a zero half-width is a step.
    """
    sd_low, sd_high = (modes - lows) / Z, (highs - modes) / Z
    sd = np.where(x < modes, sd_low, sd_high)
    safe = np.where(sd > 0.0, sd, 1.0)
    return np.where(sd > 0.0, special.ndtr((x - modes) / safe), (x >= modes).astype(np.float64))


def mixture_quantile(modes: np.ndarray, lows: np.ndarray, highs: np.ndarray, prob: float) -> float:
    """Return the ``prob`` quantile of the equal-weight mixture of the sets' two-piece normals.

    Arrays have shape (K,) with lows <= modes <= highs; returns nan when K is 0.
    """
    modes, lows, highs = (np.asarray(a, dtype=np.float64) for a in (modes, lows, highs))
    if modes.size == 0:
        return float("nan")
    if np.any(lows > modes) or np.any(highs < modes):
        raise ValueError("every set needs low <= estimate <= high")
    spread = 12.0 / Z
    left = float(np.min(modes - spread * (modes - lows))) - 1e-9
    right = float(np.max(modes + spread * (highs - modes))) + 1e-9

    def cdf_minus_prob(x: float) -> float:
        return float(np.mean(two_piece_cdf(x, modes, lows, highs))) - prob

    quantile = optimize.brentq(cdf_minus_prob, left, right, xtol=1e-13, rtol=1e-12)
    # At an atom (a set with low == estimate, e.g. 0 events) brentq stops within xtol of the
    # jump, on either side: snap to the atom.
    atoms = modes[(lows == modes) | (highs == modes)]
    near = atoms[np.abs(atoms - quantile) <= 1e-9 * max(1.0, abs(quantile))]
    return float(near[0]) if near.size else float(quantile)


def _risk_ratio_counts(comparisons: pl.DataFrame, fractures: pl.DataFrame) -> pl.DataFrame:
    """Return the comparisons rows with a, n1 (arm) and c, n0 (reference arm) counts."""
    counts = fractures.select("arm", "endpoint", "month", "n_events", "n_patients")
    own = counts.rename({"n_events": "a", "n_patients": "n1"})
    ref = counts.rename({"arm": "reference_arm", "n_events": "c", "n_patients": "n0"})
    return comparisons.join(own, on=["arm", "endpoint", "month"], how="left").join(
        ref, on=["reference_arm", "endpoint", "month"], how="left"
    )


def _risk_ratio_zero_counts(frame: pl.DataFrame, est, lo, hi):
    """Return (est, lo, hi) with counts plus 0.5 where an arm has no events (docstring)."""
    a, n1, c, n0 = (frame[x].to_numpy().astype(np.float64) for x in ("a", "n1", "c", "n0"))
    with np.errstate(all="ignore"):
        log_rr = np.log((a + 0.5) / (n1 + 0.5)) - np.log((c + 0.5) / (n0 + 0.5))
        se = np.sqrt(1 / (a + 0.5) - 1 / (n1 + 0.5) + 1 / (c + 0.5) - 1 / (n0 + 0.5))
    valid = (n1 > 0) & (n0 > 0) & (a + c > 0)
    none_treated = valid & (a == 0) & (c > 0)
    none_control = valid & (c == 0) & (a > 0)
    hi = np.where(none_treated | none_control, np.exp(log_rr + Z * se), hi)
    lo = np.where(none_control, np.exp(log_rr - Z * se), lo)
    est = np.where(none_control, np.exp(log_rr), est)
    return est, lo, hi


def components(
    statistic: tuple, frame: pl.DataFrame, fractures: pl.DataFrame | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (estimate, CI low, CI high) of every row, nan where a set cannot be used."""
    column, low, high = statistic
    est = frame[column].to_numpy().astype(np.float64)
    if low is None or high is None:
        return est, np.full(est.size, np.nan), np.full(est.size, np.nan)
    lo, hi = (frame[c].to_numpy().astype(np.float64) for c in (low, high))
    if column == "risk_ratio" and fractures is not None:
        est, lo, hi = _risk_ratio_zero_counts(_risk_ratio_counts(frame, fractures), est, lo, hi)
    ok = np.isfinite(est) & np.isfinite(lo) & np.isfinite(hi) & (lo <= est) & (est <= hi)
    nan = np.full(est.size, np.nan)
    return np.where(ok, est, nan), np.where(ok, lo, nan), np.where(ok, hi, nan)


def _aligned(nominal: pl.DataFrame, other: pl.DataFrame, keys: list[str], columns: dict) -> dict:
    """Return ``columns`` (name -> array over other's rows) in the row order of ``nominal``."""
    frame = pl.DataFrame({**{k: other[k] for k in keys}, **columns})
    joined = nominal.select(keys).join(
        frame, on=keys, how="left", maintain_order="left", nulls_equal=True
    )
    return {c: joined[c].to_numpy().astype(np.float64) for c in columns}


def _interval_rows(name: str, statistic: tuple, nominal: Mapping, sets: Sequence[Mapping], level):
    """Return the rows of one table and statistic (see the module docstring)."""
    arm, ref, endpoint, time = KEYS[name]
    keys = [c for c in (arm, ref, endpoint, time) if c is not None]
    column, low, high = statistic
    base = nominal[name].sort(keys)
    parts: dict[str, list[np.ndarray]] = {"raw": [], "m": [], "lo": [], "hi": []}
    for tables in sets:
        est, lo, hi = components(statistic, tables[name], tables.get("fractures"))
        got = _aligned(
            base, tables[name], keys, {"raw": tables[name][column], "m": est, "lo": lo, "hi": hi}
        )
        for key, values in got.items():
            parts[key].append(values)
    raw, modes, lows, highs = (np.column_stack(parts[k]) for k in ("raw", "m", "lo", "hi"))
    probs = ((1.0 - level) / 2.0, (1.0 + level) / 2.0)
    rows = []
    for i, row in enumerate(base.iter_rows(named=True)):
        finite = np.isfinite(raw[i])
        param = np.quantile(raw[i][finite], probs) if finite.any() else (np.nan, np.nan)
        used = np.isfinite(modes[i])
        pi = [None, None]
        if low is not None and used.any():
            pi = [mixture_quantile(modes[i][used], lows[i][used], highs[i][used], p) for p in probs]
        rows.append(
            {
                "table": name,
                "arm": row[arm],
                "reference_arm": row[ref] if ref else None,
                "endpoint": row[endpoint],
                "time": float(row[time]),
                "time_unit": "day" if time == "day" else "month",
                "statistic": column,
                "estimate": row[column],
                "ci_low": row[low] if low else None,
                "ci_high": row[high] if high else None,
                "pi_low": pi[0],
                "pi_high": pi[1],
                "param_low": float(param[0]),
                "param_high": float(param[1]),
                "level": float(level),
                "n_parameter_sets": int(used.sum() if low is not None else finite.sum()),
            }
        )
    return rows


def prediction_intervals(
    nominal: Mapping[str, pl.DataFrame], sets: Sequence[Mapping[str, pl.DataFrame]], level: float
) -> pl.DataFrame:
    """Return the prediction-interval table (``io.PREDICTION_INTERVALS_SCHEMA``).

    Parameters
    ----------
    nominal
        Endpoint tables of the nominal run (``bmd``, ``markers``, ``fractures``,
        ``comparisons``; the trial's own parameters), by table name.
    sets
        The same tables of each of the K parameter sets (same cohort and design).
    level
        Coverage of the prediction and parameter-only intervals, in (0.5, 1).
    """
    if not 0.5 < level < 1.0:
        raise ValueError(f"level={level} is outside (0.5, 1)")
    if not sets:
        raise ValueError("no parameter sets: need at least one set of endpoint tables")
    rows = []
    for name, statistics in STATISTICS.items():
        for statistic in statistics:
            rows += _interval_rows(name, statistic, nominal, sets, level)
    return pl.from_arrow(pa.Table.from_pylist(rows, schema=PREDICTION_INTERVALS_SCHEMA))


def read_tables(paths: Sequence[str | Path]) -> dict[str, dict[str, pl.DataFrame]]:
    """Return endpoint tables by folder then table name: ``<folder>/<table>.parquet``.

    The folder key is the name of the folder above ``endpoints`` (the parameter set, e.g.
    ``p003``, or the trial for the nominal tables).
    """
    tables: dict[str, dict[str, pl.DataFrame]] = {}
    for path in map(Path, paths):
        tables.setdefault(path.parent.parent.name, {})[path.stem] = pl.read_parquet(path)
    return tables


def write_prediction_intervals(
    nominal_paths: Sequence[str | Path],
    set_paths: Sequence[str | Path],
    parameter_paths: Sequence[str | Path],
    level: float,
    output: Mapping[str, str | Path],
    metadata: Mapping[str, str],
) -> pl.DataFrame:
    """Write ``output["intervals"]`` (prediction intervals) and ``output["parameter_sets"]``.

    ``nominal_paths`` are the nominal endpoint tables, ``set_paths`` every set's tables
    (``.../{pset}/endpoints/{table}.parquet``), ``parameter_paths`` every set's drawn values
    (``parameter_sets.write_parameter_set``), concatenated into one table by set.
    """
    (nominal,) = read_tables(nominal_paths).values()
    sets = read_tables(set_paths)
    intervals = prediction_intervals(nominal, [sets[k] for k in sorted(sets)], level)
    meta = {**metadata, "n_parameter_sets": str(len(sets)), "level": str(level)}
    write_parquet(intervals.to_arrow().cast(PREDICTION_INTERVALS_SCHEMA), output["intervals"], meta)
    drawn = pa.concat_tables(
        [pq.read_table(p, schema=PARAMETER_SETS_SCHEMA) for p in parameter_paths]
    )
    write_parquet(drawn.sort_by("parameter_set"), output["parameter_sets"], meta)
    return intervals
