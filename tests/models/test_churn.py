"""Churn early warning: definitions, model-based risk, classifier, report, reasons, social features."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import NotFittedError, SchemaError
from socialvalue.models._synthetic import synthetic_features
from socialvalue.models.churn import (
    ChurnClassifier,
    churn_design,
    churn_report,
    load_churn_config,
    model_churn_risk,
)
from socialvalue.models.churn_choice import alert_mask, churn_order, select_churn_risk
from socialvalue.models.churn_reasons import model_reasons, reasons_from_contributions
from socialvalue.models.churn_social import social_churn_features


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_features(20_000, seed=0)


@pytest.fixture(scope="module")
def fitted(synthetic):
    features, _ = synthetic
    return ChurnClassifier().fit(features)


def test_model_churn_risk_formula():
    p = np.array([0.5, 1.0, 0.0, 0.8])
    assert model_churn_risk(p).tolist() == pytest.approx([0.5, 0.0, 1.0, 0.2])
    e = np.array([0.5, 2.0, 0.3, 0.8])
    # 1 - p + p exp(-E / p): 0.5 + 0.5 e^-1; surely alive: Poisson zero e^-2; surely dead: 1.
    expected = [0.5 + 0.5 * np.exp(-1.0), np.exp(-2.0), 1.0, 0.2 + 0.8 * np.exp(-1.0)]
    assert model_churn_risk(p, e).tolist() == pytest.approx(expected)


def test_churn_report_hand_checked():
    y = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.2, 0.6, 0.1, 0.3, 0.4, 0.05, 0.5])
    r = churn_report(y, s, alert_budget=0.2, recency=-s)
    assert r.n == 10 and r.base_rate == pytest.approx(0.3)
    assert r.auc == pytest.approx(20 / 21)  # 20 of the 21 (churner, stayer) pairs ordered right
    assert r.auc_recency == pytest.approx(1 / 21)
    assert r.top_decile_lift == pytest.approx(1 / 0.3)
    assert r.precision_at_budget == 1.0 and r.recall_at_budget == pytest.approx(2 / 3)
    assert list(r.calibration.columns) == ["mean_predicted", "observed"]
    with pytest.raises(SchemaError, match="both classes"):
        churn_report(np.zeros(5), np.ones(5))


@pytest.mark.slow
def test_classifier_beats_recency_alone_on_holdout(synthetic, fitted):
    """The synthetic churn is driven by recency AND falling interactions, a churned referrer, quiet partners."""
    report = fitted.report_
    assert report.definition == "no purchase in the next 90 days"
    assert report.auc > report.auc_recency + 0.08
    assert report.top_decile_lift > 1.5
    assert 0.8 < report.precision_at_budget <= 1.0
    # Calibrated enough: the observed churn rate rises across the predicted-risk deciles.
    cal = report.calibration
    assert np.all(np.diff(cal["observed"].to_numpy()) > -0.08)
    assert np.abs(cal["observed"] - cal["mean_predicted"]).max() < 0.1
    # A fresh draw (other customers, same process) keeps the advantage.
    fresh, _ = synthetic_features(10_000, seed=1)
    again = fitted.evaluate(fresh)
    assert again.auc > again.auc_recency + 0.08
    assert "referrer_churned" in fitted.features_ and "interaction_trend" in fitted.features_


@pytest.mark.slow
def test_classifier_without_social_columns_is_weaker(synthetic, fitted):
    features, _ = synthetic
    plain = ChurnClassifier(features=["days_since_last_purchase", "n_orders", "tenure_days"]).fit(features)
    assert plain.report_.auc < fitted.report_.auc - 0.05


@pytest.mark.slow
def test_not_fitted_and_missing_columns(synthetic, fitted):
    features, _ = synthetic
    with pytest.raises(NotFittedError, match="not fitted yet"):
        ChurnClassifier().predict_risk(features)
    with pytest.raises(SchemaError, match=r"absent from the frame"):
        fitted.predict_risk(features.drop(columns=["tenure_days"]))
    with pytest.raises(SchemaError, match=r"needs column\(s\) 'holdout_transactions'"):
        ChurnClassifier().fit(features.drop(columns=["holdout_transactions"]))


@pytest.mark.slow
def test_reasons_name_the_drivers(synthetic, fitted):
    features, _ = synthetic
    x = features.iloc[:2].copy()
    # A lapsed customer whose referrer churned and whose interactions collapsed ...
    x.loc[x.index[0], ["days_since_last_purchase", "referrer_churned"]] = [900.0, 1.0]
    x.loc[x.index[0], ["interactions_last_90d", "interactions_prev_90d"]] = [1, 20]
    # ... and a recent, engaged one.
    x.loc[x.index[1], ["days_since_last_purchase", "referrer_churned", "partners_quiet_share"]] = [
        2.0,
        0.0,
        0.0,
    ]
    x.loc[x.index[1], ["interactions_last_90d", "interactions_prev_90d"]] = [20, 20]
    risk = fitted.predict_risk(x)
    assert risk[0] > 0.8 > 0.3 > risk[1]
    contrib = fitted.contributions(x)
    assert contrib.loc[x.index[0], "days_since_last_purchase"] > 0
    reasons = fitted.explain(x, top=3)
    parts = reasons.iloc[0].split("; ")
    assert len(parts) == 3
    assert set(parts) <= {
        "no purchase for 900 days",
        "their referrer churned",
        "interactions down 95% vs previous 90 days",
        f"{x['n_orders'].iloc[0]} orders in total",
    } | {p for p in parts if p.startswith(("orders", "interactions", "customer for"))}
    assert "no purchase for 900 days" in parts


def test_reason_phrases_exact():
    frame = pd.DataFrame(
        {
            "days_since_last_purchase": [210.0, 5.0],
            "interactions_last_90d": [2, 3],
            "interactions_prev_90d": [10, 1],
            "referrer_churned": [1.0, np.nan],
        }
    )
    design = churn_design(frame, ["days_since_last_purchase", "interaction_trend", "referrer_churned"])
    contrib = pd.DataFrame([[0.3, 0.2, 0.0], [-0.1, 0.05, 0.2]], columns=design.columns)
    out = reasons_from_contributions(frame, design, contrib, top=2)
    assert out.tolist() == [
        "no purchase for 210 days; interactions down 80% vs previous 90 days",
        # rising interactions (3 vs 1) raised the model's risk, but they are no warning sign: not named
        "not referred by another customer",
    ]
    assert model_reasons(frame, np.array([0.12, 0.9])).tolist() == [
        "likely lapsed (P(alive) 0.12); no purchase for 210 days; interactions down 80% vs previous 90 days",
        "no single warning sign stands out",
    ]


def test_default_config():
    cfg = load_churn_config()
    assert cfg.horizon_days == 90 and cfg.alert_budget == 0.1
    assert "partners_quiet_share" in cfg.features


def test_social_churn_features_on_crafted_graph():
    as_of = pd.Timestamp("2024-01-01")
    features = pd.DataFrame(
        {
            "customer_id": list("abcdef"),
            "days_since_last_purchase": [10, 200, np.nan, 5, 20, 30],  # b and c have churned
            "days_since_last_interaction": [5, 100, np.nan, 200, 1, 2],  # b, c, d are quiet
        }
    )
    relationships = pd.DataFrame(
        {
            "src_id": ["b", "d", "b", "d", "a", "e", "f"],
            "dst_id": ["a", "e", "f", "f", "c", "b", "c"],
            "kind": ["referred", "referred", "referred", "referred", "friend", "follow", "friend"],
            "created_at": pd.to_datetime(["2023-01-01"] * 5 + ["2024-06-01", "2023-01-01"]),  # e->b: future
            "ended_at": pd.to_datetime([None] * 6 + ["2023-06-01"]),  # f-c ended before as_of
        }
    )
    interactions = pd.DataFrame(
        {
            "actor_id": ["a", "a", "a", "e", "e", "b"],
            "target_customer_id": ["d", "b", "e", None, "e", "d"],
            "occurred_at": pd.to_datetime(["2023-12-01"] * 5 + ["2022-11-01"]),  # b->d: outside 365 days
        }
    )
    before = features.copy()
    out = social_churn_features(features, relationships=relationships, interactions=interactions, as_of=as_of)
    pd.testing.assert_frame_equal(features, before)
    ref = dict(zip(out["customer_id"], out["referrer_churned"], strict=True))
    assert ref["a"] == 1.0 and ref["e"] == 0.0 and ref["f"] == 1.0
    assert np.isnan(ref["b"]) and np.isnan(ref["c"]) and np.isnan(ref["d"])
    quiet = dict(zip(out["customer_id"], out["partners_quiet_share"], strict=True))
    assert quiet["a"] == pytest.approx(3 / 4)  # partners c, d, b (quiet) and e (not)
    assert quiet["b"] == 0.0 and quiet["c"] == 0.0 and quiet["d"] == 0.0 and quiet["e"] == 0.0
    assert np.isnan(quiet["f"])  # its only tie ended
    # Without as_of every tie and interaction counts.
    everything = social_churn_features(features, relationships=relationships, interactions=interactions)
    q = dict(zip(everything["customer_id"], everything["partners_quiet_share"], strict=True))
    assert q["b"] == pytest.approx(1 / 3) and q["f"] == 1.0  # b: a, d (quiet), e; f: c (quiet)


def test_unlabelled_rows_are_left_out():
    features, _ = synthetic_features(3000, seed=4)
    with_nan = features.assign(holdout_transactions=features["holdout_transactions"].astype(float))
    with_nan.loc[with_nan.index[:1000], "holdout_transactions"] = np.nan
    model = ChurnClassifier().fit(with_nan)
    assert 540 < model.report_.n < 660  # 30% of the 2,000 labelled customers
    assert model.evaluate(with_nan).n == 2000


# -- champion and challengers, ties, reasons that agree with their figures ----------------------------------
def _small_shop(n: int = 200, seed: int = 14) -> pd.DataFrame:
    """A small shop where churn follows recency, and the classifier sees only noise (the issue-14 case)."""
    rng = np.random.default_rng(seed)
    days = rng.uniform(1, 400, n).round()
    churned = rng.random(n) < 1 / (1 + np.exp(-(days - 200) / 50))
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in range(n)],
            "days_since_last_purchase": days,
            "n_orders_365d": rng.poisson(2, n),
            "noise_a": rng.normal(size=n),
            "noise_b": rng.normal(size=n),
            "noise_c": rng.integers(0, 3, n).astype(float),
            "holdout_transactions": np.where(churned, 0, 1 + rng.poisson(1, n)),
        }
    )


def test_useless_classifier_loses_to_recency_and_is_not_used():
    shop = _small_shop()
    cfg = load_churn_config().model_copy(
        update={"features": ("noise_a", "noise_b", "noise_c"), "horizon_days": 182, "alert_budget": 0.1}
    )
    choice = select_churn_risk(shop, shop, config=cfg)
    m = choice.metrics
    assert choice.champion == "recency" and choice.baseline_won
    assert choice.classifier is not None  # it trained; it just did not earn its place
    assert m.loc["recency", "auc"] > 0.75 and m.loc["classifier", "auc"] < 0.65
    assert m.loc["classifier", "gain_lower"] < 0
    rec, clf = m.loc["recency", "auc"], m.loc["classifier", "auc"]
    assert choice.sentence == (
        f"recency alone ranks churn better than the classifier on this data (AUC {rec:.2f} vs {clf:.2f}); "
        "it is used."
    )
    # published as a probability that keeps recency's ranking exactly (more days = higher risk)
    risk = choice.risk
    assert ((risk > 0) & (risk < 1)).all()
    order = np.argsort(shop["days_since_last_purchase"].to_numpy(), kind="stable")
    assert np.all(np.diff(risk[order]) >= 0)
    assert len(np.unique(risk)) == shop["days_since_last_purchase"].nunique()
    record = choice.as_dict()
    assert record["source"] == "recency" and record["baseline_auc"] == pytest.approx(rec)
    assert record["auc"] == pytest.approx(clf)  # the report's "the classifier ranks ..." reads this
    assert record["definition"] == "no purchase in the next 182 days" and record["horizon_days"] == 182
    entry = record["champion"]  # the run record's champion-and-challengers entry
    assert entry["champion"] == "recency alone (days since last purchase)" and entry["baseline_won"]
    assert {r["key"] for r in entry["metrics"]} == {"classifier", "recency", "recent_count"}
    assert all(0 <= r["top_decile"] <= 1 and -1 <= r["spearman"] <= 1 for r in entry["metrics"])
    json.dumps(record)  # JSON-able for the _runs table


@pytest.mark.slow
def test_classifier_with_real_signal_is_used(synthetic):
    """On the synthetic data churn depends on social signals recency cannot see: the classifier earns its place."""
    features, out = synthetic
    choice = select_churn_risk(
        features,
        features,
        p_alive_cal=out["p_alive"],
        expected_cal=out["expected_transactions"],
        p_alive_now=out["p_alive"],
        expected_now=out["expected_transactions"],
    )
    m = choice.metrics
    assert choice.champion in {"classifier", "model"} and not choice.baseline_won
    assert m.loc[choice.champion, "gain_lower"] > 0
    assert choice.sentence.startswith(("the classifier ranks churn best", "the purchase model"))
    assert "it is used." in choice.sentence


def test_model_candidate_needs_current_inputs_and_labels_of_both_classes():
    shop = _small_shop()
    with pytest.raises(SchemaError, match="both classes"):
        select_churn_risk(shop.assign(holdout_transactions=0), shop)
    p = np.clip(1 - shop["days_since_last_purchase"].to_numpy() / 400, 0.01, 1)
    choice = select_churn_risk(shop, shop, p_alive_cal=p, p_alive_now=p, classifier=False)
    assert "model" in choice.metrics.index and "classifier" not in choice.metrics.index


def test_churn_order_breaks_ties_deterministically():
    risk = np.array([0.5, 0.9, 0.5, 0.5, 0.5, np.nan])
    days = np.array([10.0, 1.0, 30.0, 30.0, 30.0, 500.0])
    expected = np.array([0.1, 0.1, 2.0, 0.5, 0.5, 0.0])
    ids = np.array(["e", "a", "d", "c", "b", "f"])
    order = churn_order(risk, days_since_last_purchase=days, expected_transactions=expected, customer_id=ids)
    # highest risk; then among the 0.5 ties the longest gap, fewer expected purchases, then the id; NaN last
    assert ids[order].tolist() == ["a", "b", "c", "d", "e", "f"]
    perm = np.random.default_rng(1).permutation(len(ids))
    again = churn_order(
        risk[perm],
        days_since_last_purchase=days[perm],
        expected_transactions=expected[perm],
        customer_id=ids[perm],
    )
    assert ids[perm][again].tolist() == ids[order].tolist()
    # 3 of 6 alerted: a, b, c (positions 1, 4, 3); d loses the tie on expected purchases
    assert alert_mask(order, 0.5).tolist() == [False, True, False, True, True, False]


_P = r"(\d+\.\d\d)"


def _check_reason(reason: str, row: pd.Series, p: float) -> None:
    """Every figure a reason cites must be on the side its words claim."""
    import re

    assert f"{p:.2f}" in reason or "P(alive)" not in reason
    if m := re.search(r"(?<!more )likely lapsed \(P\(alive\) " + _P, reason):
        assert float(m.group(1)) < 0.2
    if m := re.search(r"more likely lapsed than active \(P\(alive\) " + _P, reason):
        assert 0.2 <= float(m.group(1)) < 0.5
    if m := re.search(r"no purchase for (\d+) days(?: \((\d+\.\d)x their usual gap\))?", reason):
        assert int(m.group(1)) == round(row["days_since_last_purchase"])
        assert int(m.group(1)) >= 90 or (m.group(2) is not None and float(m.group(2)) >= 1.5)
    if m := re.search(r"(orders|interactions) down (\d+)%", reason):
        assert int(m.group(2)) > 0
    if m := re.search(r"(\d+\.\d) purchases expected", reason):
        assert float(m.group(1)) < 1.0 and round(p, 2) >= 0.5  # compared as printed


def test_reasons_never_contradict_their_figures():
    """Adversarial rows: a Champion, thresholds exactly at the rounding edge, rising trends, never-buyers."""
    frame = pd.DataFrame(
        {
            "days_since_last_purchase": [7.0, 89.6, 90.0, 20.0, np.nan, 300.0, 45.0],
            "ipt_mean_days": [30.0, 80.0, np.nan, 13.4, np.nan, 50.0, 30.0],
            "n_orders": [20, 3, 2, 5, 0, 1, 4],
            "n_orders_365d": [12, 2, 1, 3, 0, 0, 2],
            "orders_last_90d": [6, 1, 0, 1, 0, 0, 2],
            "orders_prev_90d": [3, 1, 1, 2, 0, 0, 1],
            "interactions_last_90d": [10, 5, 0, 1, 0, 0, 9],
            "interactions_prev_90d": [2, 5, 0, 4, 0, 0, 3],
        }
    )
    p = np.array([0.98, 0.196, 0.2049, 0.7, 0.0, 0.4, 0.9])
    e = np.array([3.0, 0.2, 0.95, 0.96, 0.0, 0.1, 2.0])
    for source in ("model", "recency", "recent_count", "classifier"):
        out = model_reasons(frame, p, e, risk=np.full(7, 0.3), source=source, horizon_days=182)
        for i, reason in enumerate(out):
            _check_reason(reason, frame.iloc[i], p[i])
        champion = out.iloc[0]
        assert champion == "churn risk 0.30; no single warning sign stands out"  # not "slowing", not "7 days"
        assert "likely lapsed (P(alive) 0.20)" not in out.iloc[1]  # 0.196 prints 0.20: not "below 0.2"
        assert "more likely lapsed than active (P(alive) 0.20)" in out.iloc[1]
        assert "no purchase for 90 days" in out.iloc[2] and "89" not in out.iloc[1].split("P(alive)")[0]
        assert "1.5x their usual gap" in out.iloc[3]  # 20 / 13.4 = 1.49 prints 1.5: named, as printed
        assert "never purchased" in out.iloc[4]
        assert "orders down" not in out.iloc[6] and "interactions down" not in out.iloc[6]


def test_random_frames_reasons_agree_with_figures():
    rng = np.random.default_rng(7)
    n = 400
    frame = pd.DataFrame(
        {
            "days_since_last_purchase": np.where(rng.random(n) < 0.05, np.nan, rng.uniform(0, 600, n)),
            "ipt_mean_days": rng.uniform(5, 200, n),
            "n_orders_365d": rng.poisson(1.5, n),
            "orders_last_90d": rng.poisson(1, n),
            "orders_prev_90d": rng.poisson(1, n),
            "interactions_last_90d": rng.poisson(3, n),
            "interactions_prev_90d": rng.poisson(3, n),
        }
    )
    p, e = rng.uniform(0, 1, n), rng.gamma(1, 1, n)
    out = model_reasons(frame, p, e, risk=rng.uniform(0, 1, n), horizon_days=182)
    for i, reason in enumerate(out):
        _check_reason(reason, frame.iloc[i], p[i])
        assert reason.count(";") <= 2  # at most three parts


def test_classifier_reasons_skip_drivers_on_the_healthy_side():
    frame = pd.DataFrame({"days_since_last_purchase": [7.0, 300.0], "n_orders": [30.0, 1.0]})
    design = churn_design(frame, ["days_since_last_purchase", "n_orders"])
    contrib = pd.DataFrame([[0.3, 0.2], [0.1, 0.2]], columns=design.columns)
    reference = pd.Series({"days_since_last_purchase": 40.0, "n_orders": 4.0})
    out = reasons_from_contributions(frame, design, contrib, top=2, reference=reference)
    assert out.tolist() == [
        "risk close to the typical customer's",  # 7 days and 30 orders are not warning signs
        "1 orders in total; no purchase for 300 days",
    ]


# -- JSON persistence (issue 15): the trees as arrays, predictions equal to scikit-learn's -----------------------
def _quoted_ids(text: str, ids) -> list[str]:
    """The customer ids of a frame that appear, as JSON strings, in a saved document."""
    import re

    quoted = set(re.findall(r'"((?:[^"\\]|\\.)*)"', text))
    return sorted(quoted & set(map(str, ids)))


@pytest.mark.slow
def test_tree_ensemble_equals_predict_proba_of_real_fitted_models_with_missing_values(synthetic):
    """numpy's level-by-level walk of every tree equals HistGradientBoostingClassifier.predict_proba.

    scikit-learn 1.9's predictor (``_predict_from_raw_data``): a missing value goes where
    ``missing_go_to_left`` says, otherwise ``x <= num_threshold`` goes left; the trees' values are summed in
    order onto the baseline and passed through the logistic function.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    from socialvalue.models.churn import TreeEnsemble

    features, _ = synthetic
    X = churn_design(features, load_churn_config().features).to_numpy()
    y = features["holdout_transactions"].to_numpy() == 0
    rng = np.random.default_rng(3)
    X = np.where(rng.random(X.shape) < 0.15, np.nan, X)  # missing values in every column, at fit and predict
    for settings in (
        {"max_iter": 60, "max_leaf_nodes": 31, "early_stopping": False},
        {"max_iter": 40, "max_leaf_nodes": 5, "min_samples_leaf": 200, "early_stopping": False},
        {"max_iter": 200, "early_stopping": True, "random_state": 0},
    ):
        model = HistGradientBoostingClassifier(**settings).fit(X[:15_000], y[:15_000])
        trees = TreeEnsemble.from_sklearn(model)
        assert trees.n_trees == model.n_iter_
        expected = model.predict_proba(X[15_000:])[:, 1]
        got = trees.predict_proba(X[15_000:])
        assert np.max(np.abs(got - expected)) <= 1e-12
        # every branch is exercised: missing values went both ways somewhere
        nodes = trees.nodes[trees.nodes["is_leaf"] == 0]
        assert nodes["missing_go_to_left"].min() == 0 and nodes["missing_go_to_left"].max() == 1
        back = TreeEnsemble.from_state(trees.to_state())
        assert np.array_equal(back.predict_proba(X), trees.predict_proba(X))


def test_tree_ensemble_row_blocks_do_not_change_predictions(synthetic, fitted, monkeypatch):
    from socialvalue.models.churn import TreeEnsemble

    features, _ = synthetic
    X = churn_design(features, fitted.features_)[fitted.features_].to_numpy()[:3000]
    whole = fitted.trees_.predict_proba(X)
    leaves = fitted.trees_.leaf_values(X)
    base, reset = fitted.trees_.ablate(X, [0, 3], [5.0, np.nan])
    monkeypatch.setattr(TreeEnsemble, "BLOCK", 7)  # blocks of 7 rows (of 3 rows for two resets)
    assert np.array_equal(fitted.trees_.predict_proba(X), whole)
    assert np.array_equal(fitted.trees_.leaf_values(X), leaves)
    got_base, got_reset = fitted.trees_.ablate(X, [0, 3], [5.0, np.nan])
    assert np.array_equal(got_base, base) and np.array_equal(got_reset, reset)


# -- the fast walk (issue 16) against the level-by-level walk it replaced ------------------------------------------
def _reference_leaf_values(trees, X: np.ndarray) -> np.ndarray:
    """The walk TreeEnsemble used before issue 16: every (row, tree) pair at once, one tree level per step."""
    nd = trees.nodes
    feat, thr = nd["feature_idx"], nd["num_threshold"]
    nan_left, leaf = nd["missing_go_to_left"].astype(bool), nd["is_leaf"].astype(bool)
    left, right = nd["left"], nd["right"]
    n, t = X.shape[0], trees.n_trees
    node = np.tile(trees.roots, n)  # position r * t + k: row r, tree k
    row = np.repeat(np.arange(n, dtype=np.int64), t)
    active = np.flatnonzero(~leaf[node])
    while active.size:
        at = node[active]
        x = X[row[active], feat[at]]
        go_left = np.where(np.isnan(x), nan_left[at], x <= thr[at])
        nxt = np.where(go_left, left[at], right[at])
        node[active] = nxt
        active = active[~leaf[nxt]]
    return nd["value"][node].reshape(n, t)


def _reference_proba(trees, X: np.ndarray) -> np.ndarray:
    """The old prediction: leaf values summed tree by tree onto the baseline, then the logistic function."""
    from scipy.special import expit

    values = _reference_leaf_values(trees, X)
    raw = np.full(X.shape[0], trees.baseline)
    for k in range(trees.n_trees):
        raw += values[:, k]
    return expit(raw)


def _random_ensemble(rng: np.random.Generator, X: np.ndarray, n_trees: int):
    """Random trees on ``X``'s columns: thresholds drawn from the data (ties with the data), any shape."""
    from socialvalue.models.churn import TreeEnsemble

    nodes, roots = [], []
    for _ in range(n_trees):
        roots.append(len(nodes))
        n_leaves = int(rng.integers(1, 40))
        tree = [None]  # grown by splitting random leaves: balanced, deep and one-leaf trees all occur
        open_leaves = [0]
        for _ in range(n_leaves - 1):
            i = open_leaves.pop(int(rng.integers(len(open_leaves))))
            tree += [None, None]
            tree[i] = (len(tree) - 2, len(tree) - 1)
            open_leaves += [len(tree) - 2, len(tree) - 1]
        base = roots[-1]
        for split in tree:
            j = int(rng.integers(X.shape[1]))
            finite = X[:, j][np.isfinite(X[:, j])]
            thr = float(rng.choice(finite)) if finite.size else 0.0
            if split is None:
                nodes.append((0, 0.0, 0, 0, 0, 1, float(rng.normal(0, 0.3))))
            else:
                nodes.append((j, thr, int(rng.integers(2)), base + split[0], base + split[1], 0, 0.0))
    dtype = np.dtype(list(TreeEnsemble.FIELDS))
    return TreeEnsemble(np.array(nodes, dtype=dtype), np.array(roots), float(rng.normal()), X.shape[1])


def _random_rows(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    X = rng.normal(size=(n, k)).round(1)  # rounded: many values equal a threshold exactly
    X[rng.random(X.shape) < 0.2] = np.nan
    X[rng.random(X.shape) < 0.01] = np.inf
    X[rng.random(X.shape) < 0.01] = -np.inf
    X[:, -1] = np.nan  # a column with no value at all
    return X


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_tree_walk_equals_the_level_by_level_walk_on_random_trees_with_missing_values(seed, monkeypatch):
    from socialvalue.models.churn import TreeEnsemble

    rng = np.random.default_rng(seed)
    X = _random_rows(rng, 3000, 6)
    trees = _random_ensemble(rng, X, 25)
    expected = _reference_leaf_values(trees, X)
    assert np.array_equal(trees.leaf_values(X), expected)
    assert np.array_equal(trees.predict_proba(X), _reference_proba(trees, X))  # bit for bit: same sum order
    monkeypatch.setattr(TreeEnsemble, "BLOCK", 257)
    assert np.array_equal(trees.leaf_values(X), expected)
    assert np.array_equal(trees.predict_proba(X), _reference_proba(trees, X))
    assert trees.predict_proba(X[:0]).shape == (0,) and trees.leaf_values(X[:0]).shape == (0, 25)


@pytest.mark.parametrize("seed", [0, 1])
def test_ablate_equals_predicting_each_reset_frame(seed, monkeypatch):
    from socialvalue.models.churn import TreeEnsemble

    rng = np.random.default_rng(seed)
    X = _random_rows(rng, 1500, 7)
    trees = _random_ensemble(rng, X, 30)
    columns = [0, 3, 3, 6, 5]  # a column twice, the empty column, and a column no tree may split on
    values = [0.1, np.nan, -2.0, 0.0, np.inf]
    for block in (TreeEnsemble.BLOCK, 101):
        monkeypatch.setattr(TreeEnsemble, "BLOCK", block)
        base, reset = trees.ablate(X, columns, values)
        assert np.array_equal(base, _reference_proba(trees, X))
        for s, (j, v) in enumerate(zip(columns, values, strict=True)):
            changed = X.copy()
            changed[:, j] = v
            assert np.array_equal(reset[:, s], _reference_proba(trees, changed))
    base, reset = trees.ablate(X, [], [])
    assert reset.shape == (1500, 0) and np.array_equal(base, _reference_proba(trees, X))
    with pytest.raises(SchemaError, match="one value per column"):
        trees.ablate(X, [0], [])


def test_contributions_equal_the_one_prediction_per_feature_ablation(synthetic, fitted):
    """``contributions`` re-walks only the trees on the reset feature; the old loop predicted every tree."""
    features, _ = synthetic
    design = fitted._design(features.iloc[:2500])
    X = design.to_numpy(dtype=float)
    got = fitted.contributions(features.iloc[:2500])
    base = _reference_proba(fitted.trees_, X)
    for name in fitted.features_:
        changed = X.copy()
        changed[:, fitted.features_.index(name)] = fitted.reference_[name]
        assert np.array_equal(got[name].to_numpy(), base - _reference_proba(fitted.trees_, changed))


def test_a_saved_tree_with_a_cycle_is_refused():
    from socialvalue.errors import ConfigError
    from socialvalue.models.churn import TreeEnsemble

    dtype = np.dtype(list(TreeEnsemble.FIELDS))
    nodes = np.array([(0, 0.5, 0, 1, 2, 0, 0.0), (0, 0.2, 1, 0, 2, 0, 0.0), (0, 0.0, 0, 0, 0, 1, 1.0)], dtype)
    with pytest.raises(ConfigError, match="cycle"):
        TreeEnsemble(nodes, np.array([0]), 0.0, 1)


def test_tree_ensemble_refuses_categorical_splits_and_bad_shapes(synthetic):
    from sklearn.ensemble import HistGradientBoostingClassifier

    from socialvalue.errors import ConfigError
    from socialvalue.models.churn import TreeEnsemble

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 4, 2000), rng.normal(size=2000)])
    y = (X[:, 0] == 2) ^ (rng.random(2000) < 0.1)
    model = HistGradientBoostingClassifier(max_iter=5, categorical_features=[0]).fit(X, y)
    with pytest.raises(ConfigError, match="categorical"):
        TreeEnsemble.from_sklearn(model)
    numeric_model = HistGradientBoostingClassifier(max_iter=5).fit(X, y)
    trees = TreeEnsemble.from_sklearn(numeric_model)
    with pytest.raises(SchemaError, match="2 feature columns"):
        trees.predict_proba(X[:, :1])
    state = trees.to_state()
    state["nodes"]["fields"]["left"][0] = 10**6  # a child outside the trees
    with pytest.raises(ConfigError, match="outside"):
        TreeEnsemble.from_state(state)


@pytest.mark.slow
def test_classifier_round_trip_predicts_and_explains_the_same(synthetic, fitted):
    from socialvalue.models import persist

    features, _ = synthetic
    text = fitted.to_json()
    for back in (ChurnClassifier.from_json(text), persist.load_model(text)):
        assert isinstance(back, ChurnClassifier) and not hasattr(back, "model_")
        assert back.features_ == fitted.features_
        assert np.array_equal(back.predict_risk(features), fitted.predict_risk(features))
        # the reloaded trees give what scikit-learn's fitted model gives
        X = churn_design(features, fitted.features_)[fitted.features_].to_numpy()
        assert np.max(np.abs(back.predict_risk(features) - fitted.model_.predict_proba(X)[:, 1])) <= 1e-12
        pd.testing.assert_series_equal(back.reference_, fitted.reference_)
        pd.testing.assert_series_equal(back.importance_, fitted.importance_)
        assert back.report_.auc == fitted.report_.auc
        pd.testing.assert_frame_equal(back.report_.calibration, fitted.report_.calibration)
        alerts = features.iloc[:300]
        pd.testing.assert_frame_equal(back.contributions(alerts), fitted.contributions(alerts))
        pd.testing.assert_series_equal(back.explain(alerts), fitted.explain(alerts))
        assert back.fingerprint_ == fitted.fingerprint_
    doc = json.loads(text)
    assert doc["format"] == "socialvalue.model" and doc["model"] == "ChurnClassifier"
    assert doc["settings"]["config"]["horizon_days"] == 90 and doc["fingerprint"]["rows"] > 1000
    assert "holdout_transactions" in doc["fingerprint"]["columns"]


def test_classifier_json_holds_no_customer_id(synthetic, fitted):
    features, _ = synthetic
    text = fitted.to_json()
    ids = features["customer_id"].astype(str)
    assert _quoted_ids(text, ids) == []
    assert _quoted_ids('{"a": "c12", "b": ["x", "c7"]}', ids) == ["c12", "c7"]  # the search finds ids


def test_classifier_json_errors():
    from socialvalue.errors import ConfigError

    with pytest.raises(NotFittedError):
        ChurnClassifier().to_json()
    with pytest.raises(ConfigError, match="not a saved socialvalue model"):
        ChurnClassifier.from_json("[1, 2]")
    with pytest.raises(ConfigError, match="malformed"):
        ChurnClassifier.from_json(
            json.dumps(
                {
                    "format": "socialvalue.model",
                    "format_version": 1,
                    "model": "ChurnClassifier",
                    "settings": {"config": load_churn_config().model_dump(mode="json")},
                    "state": {},
                }
            )
        )
