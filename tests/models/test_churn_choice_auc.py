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
