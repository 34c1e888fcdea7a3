"""Significance tests of two groups with binary outcomes: Fisher's exact test, pooled z-test.

``fisher_exact_p`` is scipy's two-sided Fisher test of one 2 x 2 table (the trial's comparisons
table). ``fisher_exact_ps`` gives the same p-values for arrays of tables (the power analysis:
10^4-10^5 replicate tables), each distinct table once.

scipy's rule (1.17): x1 is hypergeometric given the margins; p = 1 when pmf(x1) equals the pmf
at the mode within a relative 1e-14; otherwise p is the tail of x1's own side plus, on the
other side of the mode, the values with pmf below pmf(x1) (1 + 1e-14) (strictly below when x1
is under the mode, at most when not: its binary searches). ``fisher_exact_ps`` enumerates the
support with log-gamma pmf values (scipy's boost pmf takes 19 us per value at 6 000 patients);
its cost is (tables) x (events + 1) values, 0.7 s for 16 000 tables of FRAME's new vertebral
counts. A table where a pmf is within 1e-9 of one of those thresholds, where log-gamma rounding
could take the other decision (always the mirror cell when n1 = n0), is decided again with
scipy's pmf values at those cells. The p-values agree to about 1e-11 relative (log-gamma
rounding at 10^4 patients).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from osteotrial.arrays import FloatArray, IntArray

FISHER_EPSILON = 1e-14  # scipy.stats.fisher_exact: relative tolerance on "no more likely"
FISHER_CHUNK_CELLS = 1_000_000  # pmf values evaluated at once (memory bound)
FISHER_BORDER = 1e-9  # pmf this close (relative) to a threshold: scipy decides


def fisher_exact_p(x1: int, n1: int, x0: int, n0: int) -> float:
    """Return the two-sided p-value of Fisher's exact test of x1/n1 against x0/n0."""
    from scipy import stats  # lazily: tests/test_imports.py

    return float(stats.fisher_exact([[x1, n1 - x1], [x0, n0 - x0]])[1])


def fisher_exact_ps(x1, n1, x0, n0) -> FloatArray:
    """Return two-sided Fisher p-values of x1/n1 against x0/n0 (integer arrays, broadcast).

    Equal to ``fisher_exact_p`` element by element (module docstring); every distinct table
    (x1, n1, x0, n0) is computed once.
    """
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=np.int64) for v in (x1, n1, x0, n0)))
    tables = np.stack([a.ravel() for a in arrays], axis=1)
    unique, inverse = np.unique(tables, axis=0, return_inverse=True)
    width = np.minimum(unique[:, 0] + unique[:, 2], unique[:, 1]) + 1  # support bound
    size_class = np.ceil(np.log2(width)).astype(np.int64)  # tables of similar support together
    p = np.empty(unique.shape[0])
    for cls in np.unique(size_class):
        rows = np.flatnonzero(size_class == cls)
        step = max(1, FISHER_CHUNK_CELLS >> int(cls))
        for start in range(0, rows.size, step):
            p[rows[start : start + step]] = _fisher_unique(unique[rows[start : start + step]])
    return p[inverse.ravel()].reshape(arrays[0].shape)


def _log_hypergeom_pmf(k, total, drawn_from, events):
    """Return log P(X = k) of the hypergeometric law (arrays broadcast; k inside the support)."""

    def log_choose(a, b):
        return special.gammaln(a + 1.0) - special.gammaln(b + 1.0) - special.gammaln(a - b + 1.0)

    return (
        log_choose(drawn_from, k)
        + log_choose(total - drawn_from, events - k)
        - log_choose(total, events)
    )


def _fisher_unique(tables: IntArray) -> FloatArray:
    """Return the two-sided Fisher p-values of rows (x1, n1, x0, n0), scipy's rule.

    Module docstring: the support of x1 (hypergeometric: n1 + n0 patients, n1 drawn from,
    x1 + x0 events) enumerated on a (tables, width) grid. Tables with an empty row or column
    give 1 (scipy).
    """
    x1, n1, x0, n0 = (tables[:, i].astype(np.float64) for i in range(4))
    law = (n1 + n0, n1, x1 + x0)  # total, drawn from, events
    mode = np.floor((law[2] + 1) * (n1 + 1) / (law[0] + 2))
    low, high = np.maximum(0.0, law[2] - n0), np.minimum(law[2], n1)
    k = low[:, None] + np.arange(int(np.max(high - low, initial=0.0)) + 1)
    inside = k <= high[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        pmf = np.exp(_log_hypergeom_pmf(np.minimum(k, high[:, None]), *(a[:, None] for a in law)))
        pmf = np.where(inside, pmf, 0.0)
        observed, at_mode = (np.exp(_log_hypergeom_pmf(v, *law)) for v in (x1, mode))
    below = (x1 < mode)[:, None]
    own = np.where(below, k <= x1[:, None], k >= x1[:, None])
    beyond = np.where(below, k >= mode[:, None], k <= mode[:, None]) & inside
    other, tie = _decide(np.where(beyond, pmf, np.nan), observed, at_mode, below)
    _decide_near_with_scipy(other, tie, k, beyond, law, x1, mode, below)
    p = np.minimum(np.sum(pmf * (own | other), axis=1), 1.0)
    settled = (n1 == 0) | (n0 == 0) | (law[2] == 0) | (law[2] == law[0]) | (x1 == mode)
    return np.where(tie | settled, 1.0, p)  # x1 at the mode: scipy compares pmf(x1) to itself


def _decide(beyond_pmf, observed, at_mode, below):
    """Return (other, tie): the cells beyond the mode in the p-value, and the tables with p = 1.

    ``beyond_pmf`` (tables, cells): pmf of the cells on the other side of the mode, nan
    elsewhere; ``observed`` and ``at_mode``: pmf(x1) and pmf(mode) (tables,).
    """
    threshold = (observed * (1.0 + FISHER_EPSILON))[:, None]
    with np.errstate(invalid="ignore"):
        other = np.where(below, beyond_pmf < threshold, beyond_pmf <= threshold)
        tie = np.abs(observed - at_mode) / np.maximum(observed, at_mode) <= FISHER_EPSILON
    return other, tie


def _decide_near_with_scipy(other, tie, k, beyond, law, x1, mode, below) -> None:
    """Redo, with scipy's own pmf values, the decisions log-gamma rounding could flip.

    A table whose pmf(x1) is within ``FISHER_BORDER`` of pmf(mode), or whose cell beyond the
    mode is within it of the threshold (equal pmf on both sides when n1 = n0), is decided again
    with ``scipy.stats.hypergeom.pmf`` at x1, the mode and those cells; ``other`` and ``tie``
    are updated in place.
    """
    from scipy import stats  # lazily: tests/test_imports.py

    with np.errstate(invalid="ignore", divide="ignore"):
        log_x1 = _log_hypergeom_pmf(x1, *law)
        log_k = _log_hypergeom_pmf(np.where(beyond, k, x1[:, None]), *(a[:, None] for a in law))
        near = beyond & (np.abs(np.expm1(log_k - log_x1[:, None])) < FISHER_BORDER)
        close = np.abs(np.expm1(_log_hypergeom_pmf(mode, *law) - log_x1)) < FISHER_BORDER
    rows = np.flatnonzero(near.any(axis=1) | (close & (x1 != mode)))
    if rows.size == 0:
        return
    sub = tuple(a[rows] for a in law)
    observed, at_mode = (stats.hypergeom.pmf(v[rows], *sub) for v in (x1, mode))
    cells = np.where(near[rows], k[rows], np.nan)
    beyond_pmf = stats.hypergeom.pmf(cells, *(a[:, None] for a in sub))
    redone, tie[rows] = _decide(beyond_pmf, observed, at_mode, below[rows])
    other[rows] = np.where(near[rows], redone, other[rows])


def pooled_z_test(x1, n1, x0, n0) -> FloatArray:
    """Return two-sided p-values of the pooled z-test of two proportions (arrays broadcast).

    z = (p1 - p0) / sqrt(p (1 - p) (1/n1 + 1/n0)) with p = (x1 + x0) / (n1 + n0), p-value
    2 Phi(-|z|) (the uncorrected chi-square test of the 2 x 2 table). p = 1 where the pooled
    variance is zero (no event, or only events) or an arm is empty.
    """
    from scipy import stats  # lazily: tests/test_imports.py

    x1, n1, x0, n0 = (np.asarray(v, dtype=np.float64) for v in (x1, n1, x0, n0))
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (x1 + x0) / (n1 + n0)
        se = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n0))
        z = (x1 / n1 - x0 / n0) / se
        p = 2.0 * stats.norm.sf(np.abs(z))
    return np.where((n1 > 0) & (n0 > 0) & (se > 0), p, 1.0)
