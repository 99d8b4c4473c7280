"""Scoring a new date with the models a run stored (issue 15): nothing refitted, the origin recorded.

One demo store (3,000 customers, seed 7) is run as of 2026-04-01, which stores its models in ``_models``; the
tests score 2026-06-01 with them (with every fitting routine patched to fail, so a fit cannot happen
unnoticed), compare with a direct computation from the reloaded models and with a fresh run at the new date,
and check that scoring the models' own date reproduces the run bit for bit.
"""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from socialvalue import Store
from socialvalue.demo import generate
from socialvalue.errors import ConfigError, StoreError
from socialvalue.models import persist
from socialvalue.pipeline import RunConfig, run_pipeline, score_with_models
from socialvalue.pipeline.fitted import ROLES, RunChoices

pytestmark = pytest.mark.slow

FIT_AS_OF = "2026-04-01"
NEW_AS_OF = "2026-06-01"


@pytest.fixture(scope="module")
def fitted_store(tmp_path_factory):
    """The demo store after one run as of FIT_AS_OF (the file, closed; each test works on a copy)."""
    root = tmp_path_factory.mktemp("score")
    path = root / "base.duckdb"
    with Store(path) as store:
        generate(3000, seed=7).load_into(store)
        result = run_pipeline(store, FIT_AS_OF)
    return {"root": root, "path": path, "run": result}


@pytest.fixture
def store(fitted_store, tmp_path):
    path = tmp_path / "copy.duckdb"
    shutil.copyfile(fitted_store["path"], path)
    with Store(path) as s:
        yield s


@pytest.fixture(scope="module")
def scored(fitted_store):
    """The store copy scored as of NEW_AS_OF with the run's models, every fitting routine patched to fail."""
    path = fitted_store["root"] / "scored.duckdb"
    shutil.copyfile(fitted_store["path"], path)
    with pytest.MonkeyPatch.context() as mp:
        calls = _forbid_fitting(mp)
        with Store(path) as s:
            result = score_with_models(s, NEW_AS_OF, fitted_store["run"].run_id)
    assert calls == []
    return {"path": path, "result": result}


def _forbid_fitting(mp: pytest.MonkeyPatch) -> list[str]:
    """Make every routine that learns something raise (the graph's edge probabilities are measured afresh)."""
    from sklearn.cluster import KMeans
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.mixture import GaussianMixture

    from socialvalue.models import churn_choice
    from socialvalue.models.btyd import ladder
    from socialvalue.models.btyd._base import BTYDModel
    from socialvalue.models.btyd.gammagamma import GammaGamma
    from socialvalue.models.btyd.rate import RateModel
    from socialvalue.models.btyd.shrunk_spend import ShrunkMeanSpend
    from socialvalue.models.churn import ChurnClassifier
    from socialvalue.models.clusters import BehaviouralClusters
    from socialvalue.social.customer_value import CustomerSocialValue

    calls: list[str] = []

    def forbidden(name):
        def fail(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} was called while scoring with stored models")

        return fail

    for cls in (
        BTYDModel,
        GammaGamma,
        RateModel,
        ShrunkMeanSpend,
        ChurnClassifier,
        BehaviouralClusters,
        CustomerSocialValue,
        HistGradientBoostingClassifier,
        KMeans,
        GaussianMixture,
        LogisticRegression,
    ):
        mp.setattr(cls, "fit", forbidden(f"{cls.__name__}.fit"))
    for module, name in (
        (ladder, "fit_purchase_ladder"),
        (ladder, "fit_spend_ladder"),
        (churn_choice, "select_churn_risk"),
    ):
        mp.setattr(module, name, forbidden(name))
    return calls


def _stored_params(store: Store, run_id: str) -> dict:
    return json.loads(store.scalar("SELECT params_json FROM _runs WHERE run_id = ?", [run_id]))


def _models(store: Store, run_id: str) -> dict:
    rows = store.con.execute("SELECT role, json FROM _models WHERE run_id = ?", [run_id]).fetchall()
    return {
        role: (RunChoices.from_json(t) if role == "choices" else persist.load_model(t)) for role, t in rows
    }


def test_a_run_stores_every_fitted_model(fitted_store, store):
    run_id = fitted_store["run"].run_id
    rows = store.query_df("SELECT * FROM _models WHERE run_id = ? ORDER BY role", [run_id]).set_index("role")
    assert set(rows.index) == set(ROLES)  # the demo fits every role
    classes = rows["model_class"].to_dict()
    assert classes["purchase"] in {"BetaGeo", "ModifiedBetaGeo", "ParetoNBD", "RateModel"}
    assert classes["spend"] in {"GammaGamma", "ShrunkMeanSpend"}
    assert {k: classes[k] for k in ("choices", "churn", "clusters", "social_value", "social_value_own")} == {
        "choices": "RunChoices",
        "churn": "ChurnChampion",
        "clusters": "BehaviouralClusters",
        "social_value": "CustomerSocialValue",
        "social_value_own": "CustomerSocialValue",
    }
    models = _models(store, run_id)
    diag = fitted_store["run"].diagnostics
    assert models["purchase"].params_ == diag["btyd"]["params"]  # the model the run applied
    assert models["spend"].params_ == diag["btyd"]["spend_params"]
    for role, text in rows["json"].items():
        fingerprint = json.loads(text)["fingerprint"]
        if role == "choices":
            assert fingerprint is None and pd.isna(rows.loc[role, "fingerprint_sha256"])
        else:
            assert rows.loc[role, "fingerprint_sha256"] == fingerprint["sha256"] and fingerprint["rows"] > 100
    assert (
        rows.loc["purchase", "fingerprint_sha256"] != rows.loc["purchase_calibration", "fingerprint_sha256"]
    )
    # the run record names itself as the models' origin
    assert store.scalar("SELECT models_from FROM _runs WHERE run_id = ?", [run_id]) == run_id
    assert diag["models_from"]["refitted"] is True
    choices = models["choices"]
    assert choices.as_of == FIT_AS_OF and choices.unit == "W" and choices.currency == "USD"
    assert choices.calibration_end == diag["data_range"]["calibration_end"]


def test_stored_models_hold_no_customer_id(fitted_store, store):
    """Erasure need not rewrite _models: no document names a customer (every id of the store is searched)."""
    ids = set(store.query_df("SELECT customer_id FROM customers")["customer_id"].astype(str))
    assert len(ids) == 3000
    texts = [t for (t,) in store.con.execute("SELECT json FROM _models").fetchall()]
    assert len(texts) == len(ROLES)
    for text in texts:
        quoted = set(re.findall(r'"((?:[^"\\]|\\.)*)"', text))
        assert not quoted & ids
        assert not re.search(r"C\d{7}", text)  # the demo's id pattern, quoted or not
    assert re.search(r"C\d{7}", store.scalar("SELECT diagnostics_json FROM _runs"))  # the search can find ids


def test_scoring_applies_the_stored_models_and_fits_nothing(fitted_store, scored):
    run_id = fitted_store["run"].run_id
    res = scored["result"]
    with Store(scored["path"], read_only=True) as s:
        # a new run row for the new date, naming the models' run
        row = s.query_df("SELECT * FROM _runs WHERE run_id = ?", [res.run_id]).iloc[0]
        assert str(row["as_of"])[:10] == NEW_AS_OF and row["models_from"] == run_id
        diag = json.loads(row["diagnostics_json"])
        origin = diag["models_from"]
        assert origin["run_id"] == run_id and origin["as_of"] == FIT_AS_OF and origin["refitted"] is False
        assert (
            origin["sentence"] == f"scored with models fitted on {FIT_AS_OF} (run {run_id}); nothing refitted"
        )
        assert "champions of run" in origin["champions"]
        # the purchase and spend parameters are the stored ones, exactly
        assert _stored_params(s, res.run_id) == _stored_params(s, run_id)
        # nothing new was stored: the scoring used the models of the earlier run
        assert s.scalar("SELECT count(*) FROM _models WHERE run_id = ?", [res.run_id]) == 0
        # the champions of the holdout contests are carried (a scoring has no holdout)
        assert diag["champions"] == fitted_store["run"].diagnostics["champions"]
        scores = s.query_df("SELECT * FROM scores WHERE as_of = ? ORDER BY customer_id", [NEW_AS_OF])
        actions = s.query_df("SELECT * FROM actions WHERE as_of = ?", [NEW_AS_OF])
        old = s.query_df("SELECT * FROM scores WHERE as_of = ? ORDER BY customer_id", [FIT_AS_OF])
        models = _models(s, run_id)
        feats = _features(s, NEW_AS_OF)
    assert len(scores) == len(res.scores) > 2000 and len(actions) == len(res.actions) > 0
    assert len(old) > 0  # the models' own date keeps its scores
    # a direct computation with the reloaded models gives the published values
    buyers = feats[feats["frequency"].notna()].set_index("customer_id")
    s_b = scores.set_index("customer_id").loc[buyers.index]
    np.testing.assert_array_equal(
        s_b["p_alive"].to_numpy(), models["purchase"].probability_alive(buyers).to_numpy()
    )
    choices = models["choices"]
    if choices.purchase_champion == choices.purchase_model:  # the model won the holdout contest
        expected = models["purchase"].predict_purchases(buyers, 26.0).to_numpy()
    else:  # a baseline won: its forecast is published again
        from socialvalue.pipeline.stage_clv import PURCHASE_BASELINES

        expected = PURCHASE_BASELINES[choices.purchase_champion](buyers.reset_index(), 26.0, 7.0)
    np.testing.assert_array_equal(s_b["expected_transactions"].to_numpy(), expected)
    on = feats.set_index("customer_id").loc[scores["customer_id"]]
    np.testing.assert_array_equal(scores["cluster"].to_numpy(), models["clusters"].predict(on))
    churn = models["churn"]
    risk = churn.risk(
        on,
        p_alive=scores["p_alive"].to_numpy(),
        expected_transactions=scores["expected_transactions"].to_numpy(),
    )
    np.testing.assert_array_equal(scores["churn_risk"].to_numpy(), risk)
    assert (scores["churn_risk_source"] == churn.champion).all()
    # the dates moved on: the customers' recency grew, so the scores are not the old ones
    assert not np.array_equal(
        scores.set_index("customer_id")["p_alive"].reindex(old["customer_id"]).to_numpy(),
        old["p_alive"].to_numpy(),
    )


def _features(store: Store, as_of: str) -> pd.DataFrame:
    from socialvalue.engine import build

    return build(store, as_of=pd.Timestamp(as_of), unit="W", materialize=False)


def test_a_fresh_run_at_the_new_date_refits(fitted_store, scored, tmp_path):
    path = tmp_path / "fresh.duckdb"
    shutil.copyfile(fitted_store["path"], path)
    with Store(path) as s:
        fresh = run_pipeline(s, NEW_AS_OF)
        params = _stored_params(s, fresh.run_id)
        stored = _stored_params(s, fitted_store["run"].run_id)
        fingerprints = dict(
            s.con.execute("SELECT run_id, fingerprint_sha256 FROM _models WHERE role = 'purchase'").fetchall()
        )
    assert params["transaction"] != stored["transaction"]  # refitted on the data up to the new date
    assert fresh.models_from["refitted"] and fresh.models_from["run_id"] == fresh.run_id
    assert fingerprints[fresh.run_id] != fingerprints[fitted_store["run"].run_id]
    # the scoring with last month's models published last month's parameters, not these
    assert scored["result"].diagnostics["btyd"]["params"] == stored["transaction"] != params["transaction"]


def test_scoring_the_models_own_date_reproduces_the_run_bit_for_bit(fitted_store, store):
    """One code path: the stored models applied at their own date give the run's scores and actions exactly."""
    before = store.query_df("SELECT * FROM scores WHERE as_of = ? ORDER BY customer_id", [FIT_AS_OF])
    plan = store.query_df("SELECT * FROM actions WHERE as_of = ? ORDER BY customer_id, action", [FIT_AS_OF])
    res = score_with_models(store, FIT_AS_OF, fitted_store["run"].run_id)
    after = store.query_df("SELECT * FROM scores WHERE as_of = ? ORDER BY customer_id", [FIT_AS_OF])
    plan_after = store.query_df(
        "SELECT * FROM actions WHERE as_of = ? ORDER BY customer_id, action", [FIT_AS_OF]
    )
    assert res.models_from["refitted"] is False
    pd.testing.assert_frame_equal(after, before, check_exact=True)
    pd.testing.assert_frame_equal(plan_after, plan, check_exact=True)


def test_a_scoring_runs_id_and_latest_lead_to_the_models(fitted_store, scored):
    with Store(scored["path"]) as s:
        via_scoring = score_with_models(s, "2026-06-08", scored["result"].run_id)
        latest = score_with_models(s, "2026-06-15", "latest")
    for res in (via_scoring, latest):
        assert res.models_from["run_id"] == fitted_store["run"].run_id


def _refused(error, pattern, *args, **kwargs) -> str:
    with pytest.raises(error, match=pattern) as caught:
        score_with_models(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message  # one line
    return message


def test_errors_are_one_line_and_refuse_before_any_write(fitted_store, store):
    run_id = fitted_store["run"].run_id
    n_runs = store.scalar("SELECT count(*) FROM _runs")
    _refused(
        ConfigError,
        rf"--models nope: no such run in .*; stored runs: {run_id} \({FIT_AS_OF}\)",
        store,
        NEW_AS_OF,
        "nope",
    )
    # a run recorded before runs stored their models
    store.con.execute(
        "INSERT INTO _runs (run_id, as_of, started_at, config_json) VALUES ('oldrun', DATE '2026-03-01', "
        "TIMESTAMP '2020-01-01', '{}')"
    )
    _refused(
        StoreError,
        r"run oldrun \(as of 2026-03-01\) was recorded before runs stored their models.*re-run `socialvalue run",
        store,
        NEW_AS_OF,
        "oldrun",
    )
    _refused(
        ConfigError,
        r"unit = 'W' \(weeks\) but the configuration has unit = 'D' \(days\)",
        store,
        NEW_AS_OF,
        run_id,
        RunConfig(run={"unit": "D"}),
    )
    _refused(
        ConfigError,
        r"holdout_periods = 26 .* holdout_periods = 13",
        store,
        NEW_AS_OF,
        run_id,
        RunConfig(run={"holdout_periods": 13}),
    )
    _refused(ConfigError, f"before the models' date {FIT_AS_OF}", store, "2026-03-01", run_id)
    # models fitted on amounts in another currency than the data now
    store.con.execute(
        'UPDATE _models SET json = replace(json, \'"currency": "USD"\', \'"currency": "EUR"\') '
        "WHERE role = 'choices'"
    )
    _refused(
        ConfigError,
        "fitted on amounts in EUR but this scoring's amounts are in USD",
        store,
        NEW_AS_OF,
        run_id,
    )
    assert store.scalar("SELECT count(*) FROM _runs") == n_runs + 1  # only the row this test inserted
    assert store.scalar("SELECT count(*) FROM scores WHERE as_of = ?", [NEW_AS_OF]) == 0


def test_the_report_of_a_scoring_says_nothing_was_refitted(fitted_store, store, tmp_path):
    res = score_with_models(store, NEW_AS_OF, fitted_store["run"].run_id, report=tmp_path / "r.html")
    text = (tmp_path / "r.html").read_text(encoding="utf-8")
    origin = res.diagnostics["models_from"]
    assert f"Nothing was refitted: the scores use the models fitted on {origin['as_of']}" in text
    assert "Models were compared and trained on a calibration period" not in text
