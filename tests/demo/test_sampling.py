"""The vectorised sampling helpers of the demo generator, against direct computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from socialvalue.datasets._common import fixed_width_ids
from socialvalue.demo._sampling import Csr, Groups, alive_weight, grouped_cumsum, truncated_exponential


def test_grouped_cumsum_restarts_per_group_including_empty_groups():
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_allclose(grouped_cumsum(values, np.array([0, 2, 0, 3, 0])), [1, 3, 3, 7, 12])
    np.testing.assert_allclose(grouped_cumsum(values, np.array([5])), np.cumsum(values))


def test_weighted_pick_follows_weights_inside_the_group():
    rng = np.random.default_rng(0)
    group_of = np.array([1, 0, 1, 1, 2, 0])  # group 1 = items 0, 2, 3
    weights = np.array([1.0, 5.0, 2.0, 7.0, 1.0, 1.0])
    groups = Groups(group_of)
    picks = groups.weighted_pick(rng, weights, np.full(40_000, 1))
    counts = np.bincount(picks, minlength=6)
    assert counts[[1, 4, 5]].sum() == 0
    expected = 40_000 * np.array([1.0, 2.0, 7.0]) / 10.0
    assert stats.chisquare(counts[[0, 2, 3]], expected).pvalue > 0.001


def test_uniform_pick_and_csr_sample():
    rng = np.random.default_rng(1)
    groups = Groups(np.array([0, 1, 0, 1, 1]))
    picks = groups.pick(rng, np.full(30_000, 1))
    assert set(np.unique(picks)) == {1, 3, 4}
    assert stats.chisquare(np.bincount(picks)[[1, 3, 4]]).pvalue > 0.001
    csr = Csr(np.array([2, 0, 2, 2]), 3)  # edges 0, 2, 3 point at node 2
    assert list(csr.degree) == [1, 0, 3]
    assert set(np.unique(csr.sample(rng, np.full(1000, 2)))) == {0, 2, 3}
    assert set(csr.sample(rng, np.zeros(10, int))) == {1}


def test_truncated_exponential_and_decay():
    rng = np.random.default_rng(2)
    x = truncated_exponential(rng, 3.0, 14.0, 100_000)
    assert x.min() >= 0 and x.max() <= 14.0
    exact = stats.truncexpon(b=14.0 / 3.0, scale=3.0).mean()
    assert x.mean() == pytest.approx(exact, rel=0.01)
    w = alive_weight(np.array([0.0, 10.0, 40.0]), np.array([10.0, 10.0, 10.0]), 30.0)
    np.testing.assert_allclose(w, [1.0, 1.0, np.exp(-1.0)])


def test_fixed_width_ids():
    ids = fixed_width_ids("C", np.array([0, 42, 9_999_999]), 7)
    assert ids.to_pylist() == ["C0000000", "C0000042", "C9999999"]
    assert fixed_width_ids("X", np.array([], int), 3).to_pylist() == []
    with pytest.raises(ValueError, match="ids must lie in"):
        fixed_width_ids("C", np.array([1000]), 3)
