"""Tests of the replicate trials' statistics (osteotrial.stats): Fisher's exact test of arrays
of tables, the log-rank test of nested samples."""

from __future__ import annotations

import numpy as np
import pytest

from osteotrial.stats import logrank, tests


def test_vectorized_fisher_equals_scipy():
    """Every table, small or FRAME-sized, symmetric (n1 = n0: equal pmf on both sides of the
    mode, decided with scipy's pmf), empty rows or columns: the p-value of ``fisher_exact_p``."""
    rng = np.random.default_rng(11)
    n1 = np.r_[rng.integers(1, 30, 300), rng.integers(200, 3600, 300), [0, 5, 7, 20, 3000]]
    n0 = np.r_[
        rng.integers(1, 30, 300), n1[300:600] + rng.integers(-3, 4, 300), [4, 0, 7, 20, 3000]
    ]
    x1 = rng.binomial(n1, np.r_[rng.uniform(0, 0.6, 300), np.full(305, 0.006)])
    x0 = rng.binomial(n0, np.r_[rng.uniform(0, 0.6, 300), np.full(305, 0.02)])
    x1[-3:], x0[-3:] = [7, 3, 12], [0, 17, 25]
    got = tests.fisher_exact_ps(x1, n1, x0, n0)
    expected = [tests.fisher_exact_p(*map(int, t)) for t in zip(x1, n1, x0, n0, strict=True)]
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0)
    assert np.any(n1 == n0) and np.any(np.asarray(expected) == 1.0) and min(expected) < 1e-6
    assert tests.fisher_exact_ps(x1[:6].reshape(2, 3), 30, 0, 10).shape == (2, 3)


def nested_sample(rng, n_max: int, sizes):
    """Return (event day, exit day, first size index) of n_max patients per group (2 groups,
    treated first) plus 40 patients in no sample; integer days, so tied times."""
    n = 2 * n_max + 40
    exit_day = np.where(rng.random(n) < 0.3, rng.integers(1, 400, n).astype(float), np.inf)
    event_day = np.where(rng.random(n) < 0.35, rng.integers(1, 400, n).astype(float), np.inf)
    event_day[event_day >= exit_day] = np.inf
    first = np.r_[[np.searchsorted(sizes, rng.permutation(n_max), side="right") for _ in "ab"]]
    return event_day, exit_day, np.r_[first.ravel(), np.full(40, len(sizes))]


def test_nested_logrank_equals_the_efron_score_test_of_each_sample():
    """Ties, censoring, several cutoffs, nested samples, several replicates: U and V equal
    Efron's score and information at beta = 0 (``stats.cox``) computed on each sample alone."""
    rng = np.random.default_rng(2)
    sizes, cutoffs = np.array([15, 40, 90]), np.array([30.0, 200.0, 365.25, 500.0])
    treated = np.r_[np.ones(90, bool), np.zeros(130, bool)]
    event_day, exit_day, _ = nested_sample(rng, 90, sizes)
    leave = np.minimum(event_day, exit_day)
    order = np.argsort(leave, kind="stable")[: np.isfinite(leave).sum()]
    firsts = np.stack([nested_sample(rng, 90, sizes)[2] for _ in range(3)])
    score, information = logrank.nested_logrank(
        leave[order], np.isfinite(event_day[order]), treated[order], firsts[:, order], sizes,
        cutoffs,
    )  # fmt: skip
    for r, s, m in np.ndindex(score.shape):
        sample = firsts[r] <= s
        duration = np.minimum(leave, cutoffs[m])[sample]
        u, v, p = logrank.logrank_test(duration, (event_day <= cutoffs[m])[sample], treated[sample])
        assert (score[r, s, m], information[r, s, m]) == pytest.approx((u, v), rel=1e-10, abs=1e-10)
        assert logrank.logrank_p(score[r, s, m], information[r, s, m]) == pytest.approx(p, rel=1e-9)


@pytest.mark.parametrize("n_leaving", [0, 6])
def test_nested_logrank_without_events_is_zero_with_p_one(n_leaving):
    """No event in any sample (a short trial's power replicates), with or without censored
    patients leaving: U = V = 0 and p = 1 at every cutoff, as ``logrank_test`` gives."""
    sizes, cutoffs = np.array([5, 10]), np.array([30.0, 365.25])
    leave = np.arange(1.0, n_leaving + 1.0)
    treated = np.arange(n_leaving) % 2 == 0
    firsts = np.zeros((3, n_leaving), dtype=np.int64)
    score, information = logrank.nested_logrank(
        leave, np.zeros(n_leaving, bool), treated, firsts, sizes, cutoffs
    )
    assert score.shape == information.shape == (3, 2, 2)
    assert not score.any() and not information.any()
    assert (logrank.logrank_p(score, information) == 1.0).all()
    assert logrank.logrank_test(leave, np.zeros(n_leaving, bool), treated)[2] == 1.0


def test_logrank_without_ties_is_lifelines_logrank_test():
    from lifelines.statistics import logrank_test

    rng = np.random.default_rng(4)
    duration, event = rng.exponential(300.0, 400), rng.random(400) < 0.6
    treated = np.arange(400) < 180
    expected = logrank_test(duration[treated], duration[~treated], event[treated], event[~treated])
    assert logrank.logrank_test(duration, event, treated)[2] == pytest.approx(
        expected.p_value, rel=1e-9
    )


def test_interval_arrays_match_the_scalar_intervals():
    from osteotrial.stats import intervals

    low, high = intervals.proportion_ci_arrays(np.array([0, 5, 20]), np.array([20, 100, 20]))
    for k, n, lo, hi in zip((0, 5, 20), (20, 100, 20), low, high, strict=True):
        assert (lo, hi) == pytest.approx(intervals.proportion_ci(k, n), abs=1e-12)
    assert low[0] == 0.0 and high[2] == 1.0  # exact at no event and at every patient
    nan_low, nan_high = intervals.proportion_ci_arrays(np.array([0]), np.array([0]))
    assert np.isnan(nan_low[0]) and np.isnan(nan_high[0])  # no patient: no interval
    values = np.array([1.0, 2.0, 4.0, 7.0])
    expected = intervals.mean_ci(values)
    got = intervals.mean_ci_arrays(np.array([values.mean()]), np.array([values.std(ddof=1)]), [4])
    assert (got[0][0], got[1][0]) == pytest.approx(expected[1:], rel=1e-12)
