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


# -- JSON persistence (issue 15) ----------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["kmeans", "gmm"])
def test_round_trip_predicts_the_same_clusters(method):
    import json

    from socialvalue.models import persist

    frame, _ = _groups(seed=2)
    cfg = load_cluster_config().model_copy(
        update={"method": method, "selection": "bic" if method == "gmm" else "silhouette", "k_max": 5}
    )
    model = BehaviouralClusters(config=cfg).fit(frame)
    later, _ = _groups(n_per=700, seed=9)  # other customers, next month
    text = model.to_json()
    for back in (BehaviouralClusters.from_json(text), persist.load_model(text)):
        assert isinstance(back, BehaviouralClusters) and not hasattr(back, "model_")
        assert np.array_equal(back.predict(frame), model.labels_)
        assert np.array_equal(back.predict(later), model.predict(later))
        pd.testing.assert_frame_equal(back.profile_, model.profile_)
        pd.testing.assert_series_equal(back.selection_, model.selection_)
        assert back.cluster_names().tolist() == model.cluster_names().tolist()
        assert back.fingerprint_ == model.fingerprint_ and back.k_ == model.k_
    doc = json.loads(text)
    assert doc["settings"]["config"]["method"] == method
    assert doc["fingerprint"]["rows"] == len(frame) and "customer_id" not in doc["fingerprint"]["columns"]
    # the assignment computed from the saved arrays is scikit-learn's own
    z = model._transform(model._raw(later, model.features_))
    assert np.array_equal(model.relabel_[model.model_.predict(z)], back.predict(later))
    if method == "gmm":
        assert set(doc["state"]) >= {"means", "covariances", "weights", "precisions_cholesky"}
        assert np.allclose(back.covariances_, model.model_.covariances_)
    else:
        assert np.array_equal(back.centers_, model.model_.cluster_centers_)


def test_saved_clusters_hold_no_customer_id_and_errors():
    import re

    from socialvalue.errors import ConfigError

    frame, _ = _groups(n_per=300)
    model = BehaviouralClusters(k=3).fit(frame)
    text = model.to_json()
    quoted = set(re.findall(r'"((?:[^"\\]|\\.)*)"', text))
    assert "total_spend" in quoted and not quoted & set(frame["customer_id"])
    with pytest.raises(NotFittedError):
        BehaviouralClusters().to_json()
    broken = text.replace('"k": 3', '"k": 4')
    with pytest.raises(ConfigError, match="inconsistent"):
        BehaviouralClusters.from_json(broken)
