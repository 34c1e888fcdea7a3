"""The expected fracture rows of a trial's own cohort from exact partial sums, chunk by chunk.

Each expected incidence of ``analyses.expected`` is a ratio of two sums over the patients of an
arm (``expected.incidence_terms``: a mean over all patients for a clinical endpoint, a weighted
mean over those imaged for an imaging one). A cohort too large for one array is simulated in
chunks (one workflow job per cohort shard, each streaming its chunks): every chunk adds its
per-patient terms to a running pair of sums, kept exactly (``stats.exact``), so the pairs of
all chunks and shards add up to the same integers whatever the chunks, the shards or their
order, and the table built from them (rounded once, at the end) is the same Parquet whatever
the layout. Memory holds one chunk's results and the sums, never the cohort's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pyarrow as pa

from osteotrial.analyses.endpoints import FRACTURE_ENDPOINTS, endpoint_months
from osteotrial.analyses.expected import incidence_rows, incidence_terms
from osteotrial.engine.results import ArmResult
from osteotrial.model.params import ModelParams
from osteotrial.stats import exact
from osteotrial.units import DAYS_PER_MONTH

SUMS_SCHEMA = pa.schema(
    [("arm", pa.string()), ("endpoint", pa.string()), ("time", pa.float64())]
    + [("numerator", pa.string()), ("denominator", pa.string())]
)
Key = tuple[str, str, float]  # arm, endpoint, month
Sums = dict[Key, tuple[int, int]]  # exact numerator and denominator (stats.exact's scale)


def fracture_keys(visit_months, imaging_months) -> list[tuple[str, float]]:
    """Return the (endpoint, month) pairs of the expected fracture rows, in the rows' order."""
    return [
        (endpoint, month)
        for endpoint in FRACTURE_ENDPOINTS
        for month in endpoint_months(endpoint, visit_months, imaging_months)
    ]


def chunk_sums(
    result: ArmResult, arm: str, params: ModelParams, keys: Sequence[tuple[str, float]]
) -> Sums:
    """Return the exact sums of one chunk of ``arm``'s event-free patients, for each key."""
    sums: Sums = {}
    for endpoint, month in keys:
        numerator, weight = incidence_terms(result, params, endpoint, month * DAYS_PER_MONTH)
        sums[(arm, endpoint, month)] = (exact.exact_sum(numerator), exact.exact_sum(weight))
    return sums


def add_sums(total: Sums, part: Mapping[Key, tuple[int, int]]) -> Sums:
    """Add ``part`` to ``total`` in place (exact: the order does not matter); return it."""
    for key, (numerator, denominator) in part.items():
        n0, d0 = total.get(key, (0, 0))
        total[key] = (n0 + numerator, d0 + denominator)
    return total


def sums_table(sums: Mapping[Key, tuple[int, int]]) -> pa.Table:
    """Return ``sums`` as a ``SUMS_SCHEMA`` table (exact sums as text), sorted by key."""
    keys = sorted(sums)
    return pa.Table.from_pylist(
        [
            {
                "arm": arm,
                "endpoint": endpoint,
                "time": month,
                "numerator": exact.encode(sums[(arm, endpoint, month)][0]),
                "denominator": exact.encode(sums[(arm, endpoint, month)][1]),
            }
            for arm, endpoint, month in keys
        ],
        schema=SUMS_SCHEMA,
    )


def table_sums(tables: Iterable[pa.Table]) -> Sums:
    """Return the sums of every ``sums_table`` of ``tables``, added."""
    total: Sums = {}
    for table in tables:
        for row in table.to_pylist():
            key = (row["arm"], row["endpoint"], float(row["time"]))
            add_sums(
                total, {key: (exact.decode(row["numerator"]), exact.decode(row["denominator"]))}
            )
    return total


def rows_from_sums(
    sums: Mapping[Key, tuple[int, int]],
    arms: Sequence[str],
    control_arm: str,
    keys: Sequence[tuple[str, float]],
) -> list[dict]:
    """Return the expected ``fractures`` and ``comparisons`` rows (``expected.fracture_rows``)
    from the added sums: each incidence the ratio of its sums, each rounded once (nan for an
    arm without patients)."""
    rows = []
    for endpoint, month in keys:
        p = {arm: _ratio(sums.get((arm, endpoint, month), (0, 0))) for arm in arms}
        rows += incidence_rows(endpoint, month, p, control_arm)
    return rows


def _ratio(pair: tuple[int, int]) -> float:
    numerator, denominator = pair
    if denominator == 0:
        return float("nan")
    return exact.to_float(numerator) / exact.to_float(denominator)
