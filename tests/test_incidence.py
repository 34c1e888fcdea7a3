"""Cumulative incidence with death as a competing risk (stats.incidence, Aalen-Johansen)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from lifelines import AalenJohansenFitter, KaplanMeierFitter

from osteotrial.stats.aalen_johansen import VectorizedAalenJohansen
from osteotrial.stats.incidence import DEATH, EVENT, aalen_johansen, competing_status
from osteotrial.units import DAYS_PER_MONTH

INF = np.inf


def test_status_is_the_first_of_event_death_and_censoring():
    event = np.array([100.0, INF, 300.0, INF, 50.0])
    death = np.array([INF, 200.0, 250.0, INF, INF])
    exit_day = np.array([INF, 200.0, 250.0, 150.0, INF])  # patient 3 dropped out at day 150
    months, status = competing_status(event, death, exit_day, end_day=365.0)
    assert list(status) == [EVENT, DEATH, DEATH, 0, EVENT]
    np.testing.assert_allclose(months * DAYS_PER_MONTH, [100, 200, 250, 150, 50])


def test_without_censoring_the_incidence_is_the_share_with_an_event():
    months = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    status = np.array([EVENT, DEATH, EVENT, 0, DEATH, EVENT, 0, 0])
    status_end = np.where(status == 0, 0, status)  # censored only at the end (month 8 here)
    months_end = np.where(status == 0, 8.0, months)
    _, cif, _, _ = aalen_johansen(months_end, status_end, [2.5, 6.5, 8.0])
    np.testing.assert_allclose(cif, [1 / 8, 3 / 8, 3 / 8])


def test_hand_computed_aalen_johansen_with_censoring():
    """CIF(t) = sum over event times t_j <= t of S(t_j-) d_j / n_j (overall survival S)."""
    months = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    status = np.array([EVENT, 0, DEATH, EVENT, 0])
    # n at risk 5, 4, 3, 2, 1; S after month 1: 4/5; after 3: 4/5 * 2/3
    expected = [1 / 5, 1 / 5, 1 / 5 + (4 / 5) * (2 / 3) * (1 / 2)]
    _, cif, low, high = aalen_johansen(months, status, [1.5, 3.5, 4.5])
    np.testing.assert_allclose(cif, expected, rtol=1e-3)  # lifelines jitters no tie here
    assert np.all((low <= cif) & (cif <= high))


def test_death_as_competing_risk_gives_less_than_one_minus_kaplan_meier():
    gen = np.random.default_rng(5)
    n = 4000
    event = gen.exponential(40.0, n) * DAYS_PER_MONTH
    death = gen.exponential(20.0, n) * DAYS_PER_MONTH
    months, status = competing_status(event, death, death, end_day=24 * DAYS_PER_MONTH)
    _, cif, _, _ = aalen_johansen(months, status, [24.0])
    km = KaplanMeierFitter().fit(months, status == EVENT)
    one_minus_km = 1 - float(km.survival_function_at_times(24.0).iloc[0])
    # truth: integral of h_e exp(-(h_e + h_d) t) = h_e / (h_e + h_d) (1 - exp(-(h_e + h_d) 24))
    h_e, h_d = 1 / 40, 1 / 20
    truth = h_e / (h_e + h_d) * (1 - np.exp(-(h_e + h_d) * 24))
    assert cif[0] == pytest.approx(truth, abs=0.015)
    assert cif[0] < one_minus_km - 0.05


def test_no_event_gives_zero_incidence():
    months = np.array([1.0, 2.0])
    _, cif, low, high = aalen_johansen(months, np.array([0, DEATH]), [1.0, 2.0])
    assert list(cif) == [0.0, 0.0] and list(high) == [0.0, 0.0]


@pytest.mark.parametrize("decimals", [0, 2, 6])
def test_the_vectorized_variance_is_lifelines_loop_bit_for_bit(decimals):
    """VectorizedAalenJohansen replaces lifelines' per-row loop of the variance only: the
    curve, its variance and its interval are the very floats of lifelines' own fitter, ties
    (jittered by lifelines) and rows where everyone at risk has an event included."""
    rng = np.random.default_rng(decimals)
    n = 3000
    months = np.minimum(np.round(rng.exponential(20.0, n), decimals), 24.0)
    status = rng.choice([0, EVENT, DEATH], n, p=[0.8, 0.1, 0.1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = AalenJohansenFitter(seed=0).fit(months, status, event_of_interest=EVENT)
        ours = VectorizedAalenJohansen(seed=0).fit(months, status, event_of_interest=EVENT)
    assert np.array_equal(ours.cumulative_density_, theirs.cumulative_density_)
    assert np.array_equal(ours.variance_, theirs.variance_, equal_nan=True)
    ci_ours = ours.confidence_interval_cumulative_density_.to_numpy()
    ci_theirs = theirs.confidence_interval_cumulative_density_.to_numpy()
    assert np.array_equal(ci_ours, ci_theirs, equal_nan=True)
    finite = np.isfinite(ci_ours).all(axis=1)  # columns: low, high (lifelines' labels swap them)
    assert finite.sum() > 100 and (ci_ours[finite, 0] <= ci_ours[finite, 1]).all()
