"""Prediction intervals for a future trial: parameter uncertainty plus sampling uncertainty.

What a future trial of this design and size would show, under parameter set k, is an estimate
drawn from a sampling distribution centred on the set's *expected* endpoint
(``analyses.expected``: a cohort of its own, cumulative hazards instead of sampled events), not
on one realised trial. The sampling distribution at the trial's size n (the nominal tables'
counts) is, per statistic:

- ``mean_pct_change`` (bmd): normal, mean mu_k, SD s / sqrt(n), s the nominal table's SD of the
  measured change (true spread plus DXA error);
- ``incidence_frac`` (fractures): the crude proportion of a binomial (n, p_k), exact;
- ``risk_ratio`` (comparisons): log-normal around p1_k / p0_k, SE of the log
  sqrt((1 - p1) / (n1 p1) + (1 - p0) / (n0 p0)) (delta method, at the expected incidences);
- ``hazard_ratio``: log-normal around the expected HR, SE sqrt(1 / (n1 p1) + 1 / (n0 p0)) (the
  Cox information of the expected events).

Over the K parameter sets (equal weights) the predictive distribution is the mixture
F(x) = (1 / K) sum_k F_k(x), and the prediction interval at ``level`` is its (1 - level) / 2 and
(1 + level) / 2 quantiles (``mixture_quantile``). Its coverage of a future trial's estimate is
checked by simulation-based calibration on a problem with a known truth
(``tests/test_prediction_coverage.py``). ``markers`` medians have no sampling part here:
``pi_low``/``pi_high`` are null and only the parameter-only interval is given.

``param_low``/``param_high`` are the quantiles of the K expected values alone (parameter
uncertainty without sampling error). ``estimate``, ``ci_low`` and ``ci_high`` are the nominal
run's (one realised trial with the trial's own parameters), which a future trial's estimate, and
so the nominal one, falls inside with probability about ``level``. A set whose expected value
is not finite (an arm with no expected events) is left out; ``n_parameter_sets`` counts the
sets used. ``time`` is the row's month (``time_unit`` "month") or, for markers, its day;
``month`` is the row's month in every case.
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
    read_frame,
    write_parquet,
)
from osteotrial.units import DAYS_PER_MONTH

# table -> (key columns: arm, reference arm or None, endpoint column, time column),
# and its statistics: (estimate column, CI low, CI high), CI None for markers.
KEYS: dict[str, tuple[str, str | None, str, str]] = {
    "bmd": ("arm", None, "site", "month"),
    "markers": ("arm", None, "marker", "day"),
    "fractures": ("arm", None, "endpoint", "month"),
    "comparisons": ("arm", "reference_arm", "endpoint", "month"),
    "safety_events": ("arm", None, "event", "month"),  # analyses.safety_expected
}
STATISTICS: dict[str, tuple[tuple[str, str | None, str | None], ...]] = {
    "bmd": (("mean_pct_change", "ci_low_pct", "ci_high_pct"),),
    "markers": (("median_pct_change", None, None),),
    "fractures": (("incidence_frac", "ci_low_frac", "ci_high_frac"),),
    "comparisons": (
        ("risk_ratio", "rr_ci_low", "rr_ci_high"),
        ("hazard_ratio", "hr_ci_low", "hr_ci_high"),
    ),
    "safety_events": (("share", "share_ci_low", "share_ci_high"),),
}
# The family of each statistic's sampling distribution (module docstring).
FAMILY: dict[str, str] = {
    "mean_pct_change": "normal",
    "incidence_frac": "binomial",
    "share": "binomial",
    "risk_ratio": "lognormal",
    "hazard_ratio": "lognormal",
}


def binomial_mixture_quantile(p: np.ndarray, n: int, prob: float) -> float:
    """Return the ``prob`` quantile of the mixture of Binomial(n, p_k) / n (exact).

    The mixture's quantile lies between the smallest and the largest of the sets' own
    quantiles, so only those counts are evaluated.
    """
    own = stats.binom.ppf(prob, n, p)
    counts = np.arange(int(np.min(own)), int(np.max(own)) + 1)
    cdf = np.mean(stats.binom.cdf(counts[None, :], n, p[:, None]), axis=0)
    index = min(int(np.searchsorted(cdf, prob - 1e-12)), counts.size - 1)
    return float(counts[index] / n)


def continuous_mixture_quantile(centres: np.ndarray, ses: np.ndarray, prob: float) -> float:
    """Return the ``prob`` quantile of the equal-weight mixture of normals N(centre_k, se_k)."""
    spread = 12.0 * float(np.max(ses)) + 1e-12
    left, right = float(np.min(centres)) - spread, float(np.max(centres)) + spread

    def cdf_minus_prob(x: float) -> float:
        return float(np.mean(special.ndtr((x - centres) / ses))) - prob

    return float(optimize.brentq(cdf_minus_prob, left, right, xtol=1e-12, rtol=1e-12))


def mixture_quantile(family: str, centres, spread, n: int, prob: float) -> float:
    """Return the ``prob`` quantile of the predictive mixture of one statistic.

    ``centres``: the sets' expected values (K,); ``spread``: the SE of each set's sampling
    distribution on the analysis scale (K,; log scale for ``lognormal``), unused for
    ``binomial``; ``n``: the trial's size for ``binomial``.
    """
    centres = np.asarray(centres, dtype=np.float64)
    if centres.size == 0:
        return float("nan")
    if family == "binomial":
        return binomial_mixture_quantile(np.clip(centres, 0.0, 1.0), int(n), prob)
    ses = np.asarray(spread, dtype=np.float64)
    if family == "normal":
        return continuous_mixture_quantile(centres, ses, prob)
    if family == "lognormal":
        return float(np.exp(continuous_mixture_quantile(np.log(centres), ses, prob)))
    raise ValueError(f"family={family!r}; allowed: {sorted(set(FAMILY.values()))}")


def ratio_log_se(statistic: str, p1, p0, n1, n0) -> np.ndarray:
    """Return the SE of log RR or log HR at expected incidences p1, p0 and arm sizes n1, n0."""
    p1, p0 = np.asarray(p1, dtype=np.float64), np.asarray(p0, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if statistic == "risk_ratio":
            return np.sqrt((1.0 - p1) / (n1 * p1) + (1.0 - p0) / (n0 * p0))
        return np.sqrt(1.0 / (n1 * p1) + 1.0 / (n0 * p0))


def _arm_sizes(nominal: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """Return the nominal comparisons keys with n1 (arm) and n0 (reference arm)."""
    counts = nominal["fractures"].select("arm", "endpoint", "month", "n_patients")
    own = counts.rename({"n_patients": "n1"})
    ref = counts.rename({"arm": "reference_arm", "n_patients": "n0"})
    return (
        nominal["comparisons"]
        .join(own, on=["arm", "endpoint", "month"], how="left")
        .join(ref, on=["reference_arm", "endpoint", "month"], how="left")
    )


def _expected_matrix(base: pl.DataFrame, keys: list[str], column: str, sets, value: str):
    """Return the sets' expected ``value`` column, (n_rows, K), in the row order of ``base``."""
    out = []
    for expected in sets:
        frame = expected.filter(pl.col("statistic") == column).rename(
            {"endpoint": keys[-2], "time": keys[-1]}
        )
        frame = frame.select([*keys, value])
        joined = base.select(keys).join(
            frame, on=keys, how="left", maintain_order="left", nulls_equal=True
        )
        out.append(joined[value].to_numpy().astype(np.float64))
    return np.column_stack(out)


def _interval_rows(name, statistic, nominal, sets, level) -> list[dict]:
    """Return the rows of one table and statistic (see the module docstring)."""
    arm, ref, endpoint, time = KEYS[name]
    keys = [c for c in (arm, ref, endpoint, time) if c is not None]
    column, low, high = statistic
    base = (_arm_sizes(nominal) if name == "comparisons" else nominal[name]).sort(keys)
    tables = [s.filter(pl.col("table") == name).drop("table") for s in sets]
    if ref is None:
        tables = [t.drop("reference_arm") for t in tables]
    centres = _expected_matrix(base, keys, column, tables, "value")
    probs = ((1.0 - level) / 2.0, (1.0 + level) / 2.0)
    family = FAMILY.get(column)
    if name == "comparisons":
        p1 = _expected_matrix(base, keys, column, tables, "incidence")
        p0 = _expected_matrix(base, keys, column, tables, "reference_incidence")
        n1, n0 = (base[c].to_numpy().astype(np.float64)[:, None] for c in ("n1", "n0"))
        spread = ratio_log_se(column, p1, p0, n1, n0)
    elif name == "bmd":
        sd = base["sd_pct_change"].to_numpy().astype(np.float64)
        n = base["n_patients"].to_numpy().astype(np.float64)
        spread = np.broadcast_to((sd / np.sqrt(n))[:, None], centres.shape)
    else:
        spread = np.zeros_like(centres)
    rows = []
    for i, row in enumerate(base.iter_rows(named=True)):
        finite = np.isfinite(centres[i])
        param = np.quantile(centres[i][finite], probs) if finite.any() else (np.nan, np.nan)
        used = finite & np.isfinite(spread[i]) & (centres[i] > 0 if family == "lognormal" else True)
        n_trial = int(row.get("n_patients") or 0)
        pi = [None, None]
        if family is not None and used.any() and (family != "binomial" or n_trial > 0):
            pi = [
                mixture_quantile(family, centres[i][used], spread[i][used], n_trial, p)
                for p in probs
            ]
        rows.append(
            {
                "table": name,
                "arm": row[arm],
                "reference_arm": row[ref] if ref else None,
                "endpoint": row[endpoint],
                "time": float(row[time]),
                "time_unit": "day" if time == "day" else "month",
                "month": float(row[time]) / (DAYS_PER_MONTH if time == "day" else 1.0),
                "statistic": column,
                "estimate": row[column],
                "ci_low": row[low] if low else None,
                "ci_high": row[high] if high else None,
                "pi_low": pi[0],
                "pi_high": pi[1],
                "param_low": float(param[0]),
                "param_high": float(param[1]),
                "level": float(level),
                "n_parameter_sets": int(used.sum() if family is not None else finite.sum()),
            }
        )
    return rows


def prediction_intervals(
    nominal: Mapping[str, pl.DataFrame], sets: Sequence[pl.DataFrame], level: float
) -> pl.DataFrame:
    """Return the prediction-interval table (``io.PREDICTION_INTERVALS_SCHEMA``).

    Parameters
    ----------
    nominal
        Endpoint tables of the nominal run (``bmd``, ``markers``, ``fractures``,
        ``comparisons``; the trial's own parameters), by table name: the rows, the trial's
        sizes and the nominal estimates.
    sets
        The expected endpoints of each of the K parameter sets (``analyses.expected``).
    level
        Coverage of the prediction and parameter-only intervals, in (0.5, 1).
    """
    if not 0.5 < level < 1.0:
        raise ValueError(f"level={level} is outside (0.5, 1)")
    if not sets:
        raise ValueError("no parameter sets: need the expected endpoints of at least one set")
    rows = []
    for name, statistics in STATISTICS.items():
        if name == "safety_events" and name not in nominal:  # optional: a run without it
            continue
        for statistic in statistics:
            rows += _interval_rows(name, statistic, nominal, sets, level)
    return pl.from_arrow(pa.Table.from_pylist(rows, schema=PREDICTION_INTERVALS_SCHEMA))


def write_prediction_intervals(
    nominal_paths: Sequence[str | Path],
    expected_paths: Sequence[str | Path],
    parameter_paths: Sequence[str | Path],
    level: float,
    output: Mapping[str, str | Path],
    metadata: Mapping[str, str],
) -> pl.DataFrame:
    """Write ``output["intervals"]`` (prediction intervals) and ``output["parameter_sets"]``.

    ``nominal_paths`` are the nominal endpoint tables (``.../endpoints/{table}.parquet``),
    ``expected_paths`` the expected endpoints of batches of sets (``analyses.expected``, with a
    ``parameter_set`` column), ``parameter_paths`` every set's drawn values
    (``parameter_sets.write_parameter_set``), concatenated into one table by set.
    """
    nominal = {Path(p).stem: read_frame(p) for p in nominal_paths}
    expected = pl.concat([read_frame(p) for p in expected_paths]).sort("parameter_set")
    sets = [
        part.drop("parameter_set")
        for part in expected.partition_by("parameter_set", maintain_order=True)
    ]
    intervals = prediction_intervals(nominal, sets, level)
    meta = {**metadata, "n_parameter_sets": str(len(sets)), "level": str(level)}
    write_parquet(intervals.to_arrow().cast(PREDICTION_INTERVALS_SCHEMA), output["intervals"], meta)
    drawn = pa.concat_tables(
        [pq.read_table(p, schema=PARAMETER_SETS_SCHEMA) for p in parameter_paths]
    )
    write_parquet(drawn.sort_by("parameter_set"), output["parameter_sets"], meta)
    return intervals
