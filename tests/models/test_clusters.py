"""Behavioural clusters (socialvalue.models.clusters)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from socialvalue.errors import NotFittedError, SchemaError
from socialvalue.models.clusters import BehaviouralClusters, ClusterConfig, load_cluster_config


def _groups(n_per: int = 1500, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Three well-separated behaviours on a log scale: big spenders, reviewers, and quiet light buyers."""
    rng = np.random.default_rng(seed)
    centers = {  # log1p-scale centres of total_spend, n_orders, content_review, int_given_365d
        0: (8.0, 3.0, 0.2, 1.0),
        1: (4.0, 1.0, 3.0, 5.0),
        2: (3.0, 0.7, 0.0, 0.3),
    }
    rows, truth = [], []
    for g, c in centers.items():
        logs = rng.normal(c, 0.25, size=(n_per, 4))
        rows.append(np.expm1(np.clip(logs, 0, None)))
        truth.append(np.full(n_per, g))
    x = np.vstack(rows)
    frame = pd.DataFrame(x, columns=["total_spend", "n_orders", "content_review", "int_given_365d"])
    frame.insert(0, "customer_id", [f"c{i}" for i in range(len(frame))])
    return frame, np.concatenate(truth)


def test_recovers_well_separated_groups_and_chooses_k():
    frame, truth = _groups()
    model = BehaviouralClusters().fit(frame)
    assert model.k_ == 3
    assert model.selection_.idxmax() == 3
    assert adjusted_rand_score(truth, model.labels_) > 0.9
    assert (model.predict(frame) == model.labels_).all()
    assert model.features_ == ["total_spend", "n_orders", "int_given_365d", "content_review"]  # config order


def test_gaussian_mixture_with_bic():
    frame, truth = _groups(seed=1)
    cfg = load_cluster_config().model_copy(update={"method": "gmm", "selection": "bic", "k_max": 5})
    model = BehaviouralClusters(config=cfg).fit(frame)
    assert model.k_ == 3 and model.selection_.idxmin() == 3
    assert adjusted_rand_score(truth, model.labels_) > 0.9


def test_profile_names_clusters_by_distinguishing_features():
    frame, truth = _groups()
    model = BehaviouralClusters().fit(frame)
    prof = model.profile_
    assert prof["size"].tolist() == sorted(prof["size"], reverse=True)  # numbered by size
    assert prof["share"].sum() == pytest.approx(1.0)
    spender = model.labels_[truth == 0][0]
    reviewer = model.labels_[truth == 1][0]
    assert "high spend" in prof.loc[spender, "name"]
    assert "many reviews" in prof.loc[reviewer, "name"]
    assert prof["name"].is_unique
    assert prof.loc[spender, "total_spend"] > 10 * prof.loc[reviewer, "total_spend"]
    assert model.cluster_names().equals(prof["name"])


def test_fixed_k_and_errors():
    frame, _ = _groups(n_per=200)
    model = BehaviouralClusters(k=2).fit(frame)
    assert model.k_ == 2 and model.selection_.empty
    with pytest.raises(NotFittedError):
        BehaviouralClusters().predict(frame)
    with pytest.raises(SchemaError, match="at least two"):
        BehaviouralClusters().fit(frame[["customer_id", "total_spend"]])
    with pytest.raises(SchemaError, match=r"\['content_review'\]"):
        model.predict(frame.drop(columns=["content_review"]))
    with pytest.raises(ValueError, match="selection = 'bic' needs method = 'gmm'"):
        ClusterConfig(selection="bic", features=("a", "b"))
