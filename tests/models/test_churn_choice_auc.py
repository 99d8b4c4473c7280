"""The linear-time weighted AUC of the churn bootstrap equals the rank AUC of the resampled customers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from socialvalue.models.churn_choice import _fast_auc, _tie_groups, _weighted_auc


@pytest.mark.parametrize("seed", range(5))
def test_weighted_auc_equals_the_auc_of_the_resample(seed):
    rng = np.random.default_rng(seed)
    n = 3_000
    y = rng.random(n) < 0.4
    s = np.round(rng.random(n) + 0.4 * y, 2)  # many ties
    groups, n_groups = _tie_groups(s)
    idx = rng.integers(0, n, n)
    w = np.bincount(idx, minlength=n).astype(float)
    got = _weighted_auc(groups, n_groups, y.astype(float), w)
    assert got == pytest.approx(_fast_auc(y[idx], s[idx]), abs=1e-12)
    assert got == pytest.approx(roc_auc_score(y[idx], s[idx]), abs=1e-12)  # scikit-learn as the reference


def test_one_class_gives_nan():
    groups, n_groups = _tie_groups(np.array([0.1, 0.2, 0.3]))
    assert np.isnan(_weighted_auc(groups, n_groups, np.zeros(3), np.ones(3)))


def _reference_gain_interval(y, s, ref, *, draws, level, seed):
    """The bootstrap loop ``_gain_interval`` ran before issue 16: one resample at a time, two weighted AUCs."""
    rng = np.random.default_rng(seed)
    n = y.size
    yf = np.asarray(y, dtype=np.float64)
    gs, ns = _tie_groups(np.asarray(s, dtype=np.float64))
    gr, nr = _tie_groups(np.asarray(ref, dtype=np.float64))
    gains = np.empty(draws)
    for b in range(draws):
        w = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        gains[b] = _weighted_auc(gs, ns, yf, w) - _weighted_auc(gr, nr, yf, w)
    gains = gains[np.isfinite(gains)]
    if gains.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0
    return float(np.quantile(gains, tail)), float(np.quantile(gains, 1.0 - tail))


@pytest.mark.parametrize(("n", "draws", "seed"), [(8, 300, 0), (40, 211, 1), (2_500, 100, 2), (70_000, 3, 3)])
def test_vectorised_gain_interval_equals_the_one_resample_at_a_time_loop(n, draws, seed, monkeypatch):
    """Same draws, same AUCs bit for bit: blocks of resamples come from one ``integers`` call each."""
    import socialvalue.models.churn_choice as churn_choice

    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    s = np.round(rng.random(n) + 0.3 * y, 2)  # ties
    ref = rng.random(n) + 0.1 * y
    expected = _reference_gain_interval(y, s, ref, draws=draws, level=0.9, seed=seed)
    for cells in (churn_choice._BOOTSTRAP_CELLS, 3 * n + 1):  # one block, or blocks of three resamples
        monkeypatch.setattr(churn_choice, "_BOOTSTRAP_CELLS", cells)
        got = churn_choice._gain_interval(y, s, ref, draws=draws, level=0.9, seed=seed)
        assert got == expected  # tiny samples draw one class only now and then: those NaNs are dropped alike


def test_gain_interval_of_one_class_is_nan():
    from socialvalue.models.churn_choice import _gain_interval

    lo, hi = _gain_interval(
        np.zeros(30, bool), np.arange(30.0), -np.arange(30.0), draws=60, level=0.9, seed=0
    )
    assert np.isnan(lo) and np.isnan(hi)
