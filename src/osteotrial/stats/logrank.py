"""The log-rank test of nested samples at several administrative censoring times, vectorized.

The log-rank test here is the score test at beta = 0 of the Cox partial likelihood with
Efron's ties (``stats.cox``: the likelihood of the trial's Cox Wald test): with d events at a
time (d1 treated), n at risk (n1 treated), the terms j = 0 .. d-1 have
p_j = (n1 - j d1 / d) / (n - j); the score is U = sum (d1 - sum_j p_j), its information
V = sum_j p_j (1 - p_j), and chi^2 = U^2 / V with 1 degree of freedom. Without tied event times
it is the textbook (Mantel-Haenszel) log-rank test; with ties its variance differs from the
hypergeometric one by the order of d / n.

``nested_logrank`` computes U and V of many replicate trials at once, for every sample of a
nested family (the first n patients of each group, for every n of a grid) and every
administrative censoring time ("cutoff"). Every patient who leaves the risk set (event or
censoring) is an *entry*, sorted once by time; patients who never leave stay at risk. Later
cutoffs do not change the risk sets at earlier times: at an event time t <= cutoff the risk set
is every patient with leaving time >= t. So one pass of cumulative sums over the entries gives,
for every event, the numbers at risk of every sample, and a cumulative sum of the event terms
read at each cutoff gives U and V at every cutoff.
"""

from __future__ import annotations

import numpy as np

from osteotrial.arrays import BoolArray, FloatArray, IntArray
from osteotrial.stats.cox import efron_terms, score_and_information


def _sums_before(values: np.ndarray, index: IntArray) -> np.ndarray:
    """Return sums of ``values[..., :i]`` along the last axis for every i of ``index``.

    The cumulative sums start with the empty sum, so that i = 0 reads 0, also where the last
    axis is empty (no event, or no patient leaving, in any replicate: a short trial).
    """
    dtype = np.float64 if values.dtype == np.float64 else np.int32
    total = np.zeros((*values.shape[:-1], values.shape[-1] + 1), dtype=dtype)
    np.cumsum(values, axis=-1, dtype=dtype, out=total[..., 1:])
    return total[..., index]


def _tie_groups(times: FloatArray) -> tuple[IntArray, IntArray]:
    """Return (start, stop): for each of sorted ``times``, the index range of its equal values."""
    return np.searchsorted(times, times, side="left"), np.searchsorted(times, times, side="right")


def _at_risk(held: BoolArray, treated: BoolArray, before: IntArray, sizes: IntArray):
    """Return (treated, all) at risk before each event, shape (R, S, E).

    ``held`` (R, S, K): entry in sample s; ``before`` (E,): entries leaving strictly before
    each event; every sample has ``sizes[s]`` patients per group.
    """
    n = sizes.astype(np.float64)[:, np.newaxis]
    left_treated = _sums_before(held & treated, before)
    return n - left_treated, 2.0 * n - _sums_before(held, before)


def _event_shares(held: BoolArray, treated: BoolArray, times: FloatArray, at_risk_treated, at_risk):
    """Return Efron's p_j of every event (R, S, E), 0 for events outside the sample.

    ``held`` (R, S, E): the event is in sample s; ``times`` (E,) ascending. Within the d tied
    events of a time (d1 treated), the j-th held one has p_j = (n1 - j d1 / d) / (n - j).
    """
    start, stop = _tie_groups(times)
    count = np.cumsum(held, axis=-1, dtype=np.int32)
    count_treated = np.cumsum(held & treated, axis=-1, dtype=np.int32)
    ties = np.maximum(count[..., stop - 1] - count[..., start] + held[..., start], 1)
    ties_treated = (
        count_treated[..., stop - 1] - count_treated[..., start] + (held & treated)[..., start]
    )
    rank = count - held - (count[..., start] - held[..., start])
    share = (at_risk_treated - rank * ties_treated / ties) / np.maximum(at_risk - rank, 1.0)
    return np.where(held, share, 0.0)


def nested_logrank(
    leave: FloatArray,
    event: BoolArray,
    treated: BoolArray,
    first_sample: np.ndarray,
    sizes: IntArray,
    cutoffs: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Return the log-rank score U and information V, both (R, S, M) (module docstring).

    ``leave`` (K,): ascending leaving times of the entries; ``event`` (K,): the entry leaves by
    an event (else censored); ``treated`` (K,): its group. ``first_sample`` (R, K): in replicate
    r, the smallest sample index s that holds the entry, ``len(sizes)`` for none; samples are
    nested (sample s holds every entry with first_sample <= s) and sample s has ``sizes[s]``
    patients in each group. ``cutoffs`` (M,): administrative censoring times; an event at
    t <= cutoff counts, at-risk sets are those at t.
    """
    samples = np.arange(len(sizes))[:, np.newaxis]
    first_sample = np.ascontiguousarray(first_sample)  # cumulative sums run along K
    held = first_sample[:, np.newaxis, :] <= samples  # (R, S, K)
    index = np.flatnonzero(event)
    times = leave[index]
    at_risk_treated, at_risk = _at_risk(
        held, treated, np.searchsorted(leave, times, side="left"), sizes
    )
    held = held[..., index]  # (R, S, E): the events of each sample
    share = _event_shares(held, treated[index], times, at_risk_treated, at_risk)
    ends = np.searchsorted(times, cutoffs, side="right")
    score = _sums_before(held & treated[index], ends) - _sums_before(share, ends)
    return score, _sums_before(share * (1.0 - share), ends)


def logrank_p(score, information) -> FloatArray:
    """Return the two-sided p-value of chi^2 = U^2 / V (1 df); 1 where V = 0 (no event)."""
    from scipy import stats  # lazily: tests/test_imports.py

    score, information = np.asarray(score), np.asarray(information)
    positive = information > 0
    chi2 = np.where(positive, score**2 / np.where(positive, information, 1.0), 0.0)
    return np.where(positive, stats.chi2.sf(chi2, 1), 1.0)


def logrank_test(duration, event, treated) -> tuple[float, float, float]:
    """Return (U, V, p) of one sample, straight from Efron's terms (``stats.cox``).

    ``duration`` (n,) days to the event or censoring, ``event`` and ``treated`` bool (n,). The
    reference ``nested_logrank`` is checked against; no event gives (0, 0, 1).
    """
    event, treated = np.asarray(event, dtype=bool), np.asarray(treated, dtype=bool)
    if not event.any():
        return 0.0, 0.0, 1.0
    terms = efron_terms(np.asarray(duration, dtype=np.float64), event, treated)
    score, information = score_and_information(0.0, terms)
    return float(score), float(information), float(logrank_p(score, information))
