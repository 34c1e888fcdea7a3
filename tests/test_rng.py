"""Tests of the counter-based named random streams (osteotrial.rng)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from osteotrial import rng

KEYS = np.arange(1000, dtype=np.int64)
KS_ALPHA = 1e-3  # a correct generator fails a KS test at this rate


def test_stream_names_and_keys_are_unique() -> None:
    keys = [rng.stream_key(name) for name in rng.STREAM_NAMES]
    assert len(set(rng.STREAM_NAMES)) == len(rng.STREAM_NAMES)
    assert len(set(keys)) == len(keys)


def test_unknown_stream_is_rejected_with_the_registry() -> None:
    with pytest.raises(KeyError, match="registered streams"):
        rng.uniforms(1, "no.such.stream", KEYS)


def test_same_seed_name_key_gives_identical_draws() -> None:
    a = rng.uniforms(7, "threshold.hip", KEYS, 3)
    b = rng.uniforms(7, "threshold.hip", KEYS, 3)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("seed", "name", "offset"),
    [(8, "threshold.hip", 0), (7, "threshold.death", 0), (7, "threshold.hip", 1)],
)
def test_changing_seed_name_or_key_changes_every_draw(seed: int, name: str, offset: int) -> None:
    base = rng.uniforms(7, "threshold.hip", KEYS, 3)
    other = rng.uniforms(seed, name, KEYS + offset, 3)
    assert not np.any(base == other)


def test_draws_do_not_depend_on_order_batch_or_draw_count() -> None:
    """A patient's draw j is the same alone, in a batch, and with more draws requested."""
    batch = rng.uniforms(3, "iiv", KEYS, 2)
    rng.uniforms(3, "threshold.death", KEYS)  # another stream in between changes nothing
    alone = rng.uniforms(3, "iiv", KEYS[[417]], 5)
    np.testing.assert_array_equal(alone[:2, 0], batch[:, 417])


def test_uniforms_are_in_open_unit_interval_and_uniform() -> None:
    u = rng.uniforms(11, "screening.covariates", np.arange(20_000), 2).ravel()
    assert u.min() > 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > KS_ALPHA


def test_normals_and_exponentials_have_their_distributions() -> None:
    keys = np.arange(20_000)
    z = rng.normals(5, "screening.covariates", keys)[0]
    e = rng.exponentials(5, "threshold.death", keys)[0]
    assert stats.kstest(z, "norm").pvalue > KS_ALPHA
    assert stats.kstest(e, "expon").pvalue > KS_ALPHA


def test_draws_of_a_patient_are_uncorrelated_across_draw_index() -> None:
    u = rng.uniforms(2, "iiv", np.arange(20_000), 7)
    corr = np.corrcoef(u)[np.triu_indices(7, 1)]
    assert np.all(np.abs(corr) < 0.04)  # about 5.6 SE of r at n = 20,000


def test_negative_seed_or_key_is_rejected() -> None:
    with pytest.raises(ValueError, match="root_seed"):
        rng.uniforms(-1, "iiv", KEYS)
    with pytest.raises(ValueError, match="patient keys"):
        rng.uniforms(1, "iiv", np.array([-3]))
