"""Every read endpoint on a real uvicorn server (``conftest.served``), checked against the store's own tables."""

from __future__ import annotations

import csv
import io
import math

import duckdb
import pytest

AS_OF, AS_OF_BEFORE = "2026-07-01", "2026-04-01"


@pytest.fixture(scope="module")
def db(served):
    """The served store, read directly (the server never holds it)."""
    con = duckdb.connect(str(served.store), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def api(served):
    with served.client("read") as c:
        yield c


def _scores(db, as_of=AS_OF):
    return db.execute(
        "SELECT s.*, coalesce(s.value_score, s.csv, s.clv) AS value, a.action, a.reason AS action_reason "
        "FROM scores s LEFT JOIN actions a USING (customer_id, as_of) WHERE s.as_of = ?",
        [as_of],
    ).df()


def test_health_names_the_published_run(api, db):
    body = api.get("/health").json()
    run_id = db.execute("SELECT run_id FROM _runs WHERE as_of = ?", [AS_OF]).fetchall()[0][0]
    assert body == {"status": "ok", "published": {"run_id": run_id, "as_of": AS_OF}}


def test_overview_kpis_equal_the_store(api, db):
    s = _scores(db)
    body = api.get("/overview").json()
    k = body["kpis"]
    assert k["customers"] == len(s)
    assert k["total_value"] == pytest.approx(s["value"].sum(), rel=1e-12)
    assert k["total_clv"] == pytest.approx(s["clv"].sum(), rel=1e-12)
    assert k["total_social_value"] == pytest.approx(s["social_value"].sum(), rel=1e-12)
    assert k["churn_alerts"] == int(s["churn_alert"].sum())
    assert k["influencers"] == int(s["influencer"].sum())
    assert k["customers_with_action"] == int((s["action"] != "do_nothing").sum())
    dist = body["value_distribution"]
    assert sum(dist["counts"]) == len(s) and len(dist["edges"]) == len(dist["counts"]) + 1
    assert dist["edges"][0] == pytest.approx(s["value"].min())
    assert {r["segment"]: r["customers"] for r in body["segments"]} == s["segment"].value_counts().to_dict()
    assert {r["stage"]: r["customers"] for r in body["stages"]} == s[
        "lifecycle_stage"
    ].value_counts().to_dict()
    assert body["run"]["as_of"] == AS_OF and body["run"]["previous_as_of"] == AS_OF_BEFORE
    assert body["run"]["currency"] == "USD" and "discount" in body["run"]["clv_horizon"]
    roles = {c["role"]: c for c in body["champions"]}
    assert {"purchases", "value"} <= set(roles)
    p = roles["purchases"]
    assert p["champion"] and p["sentence"] and isinstance(p["baseline_won"], bool)
    assert p["margin"] is not None and math.isfinite(p["margin"])


def test_customer_detail_explains_the_stored_scores(api, db):
    s = _scores(db).set_index("customer_id")
    cid = s["social_value"].idxmax()
    row = s.loc[cid]
    body = api.get(f"/customers/{cid}").json()
    assert body["customer_id"] == cid and body["as_of"] == AS_OF and body["currency"] == "USD"
    v = body["value"]
    assert v["total"] == pytest.approx(row["value"]) and v["clv"] == pytest.approx(row["clv"])
    assert v["social_value"] == pytest.approx(row["social_value"])
    # the decomposition adds up to the learned customer social value, largest first
    assert sum(c["value"] for c in v["components"]) == pytest.approx(row["csv"], rel=1e-9)
    sizes = [abs(c["value"]) for c in v["components"]]
    assert sizes == sorted(sizes, reverse=True)
    assert v["top_contributors"] == [c for c in v["components"] if c["value"]][:3]
    assert body["segment"] == row["segment"] and body["lifecycle_stage"] == row["lifecycle_stage"]
    assert body["churn"]["risk"] == pytest.approx(row["churn_risk"])
    assert body["action"]["action"] == row["action"] and body["action"]["reason"] == row["action_reason"]
    assert [h["as_of"] for h in body["history"]] == [AS_OF_BEFORE, AS_OF]
    assert body["history"][-1]["value"] == pytest.approx(row["value"])
    assert body["scores"]["pagerank"] == pytest.approx(row["pagerank"])


def test_churn_reasons_are_listed(api, db):
    cid, reason = db.execute(
        "SELECT customer_id, churn_reason FROM scores WHERE as_of = ? AND churn_reason LIKE '%;%' LIMIT 1",
        [AS_OF],
    ).fetchall()[0]
    body = api.get(f"/customers/{cid}").json()
    assert body["churn"]["reasons"] == [r.strip() for r in reason.split(";")]


def test_unknown_customer_is_a_404_problem(api):
    r = api.get("/customers/NOBODY")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 404


def test_customers_filter_sort_and_pages(api, db):
    s = _scores(db)
    want = s[(s["segment"] == "Champions") & (s["value"] >= 50)].sort_values(
        ["value", "customer_id"], ascending=False
    )
    got, cursor = [], None
    while True:
        params = {"segment": "Champions", "min_value": 50, "limit": 37}
        if cursor:
            params["cursor"] = cursor
        body = api.get("/customers", params=params).json()
        assert body["as_of"] == AS_OF and len(body["items"]) <= 37
        got += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [r["customer_id"] for r in got] == want["customer_id"].tolist()
    assert all(r["segment"] == "Champions" and r["value"] >= 50 for r in got)


@pytest.mark.parametrize("sort", ["churn_risk", "-clv", "customer_id"])
def test_customers_sorts(api, db, sort):
    items = api.get("/customers", params={"sort": sort, "limit": 500, "stage": "decline"}).json()["items"]
    key = sort.lstrip("-")
    s = _scores(db)
    s = s[s["lifecycle_stage"] == "decline"].sort_values(
        [key, "customer_id"] if key != "customer_id" else [key], ascending=not sort.startswith("-")
    )
    assert [r["customer_id"] for r in items] == s["customer_id"].head(500).tolist()


def test_customers_as_csv(api, db):
    r = api.get("/customers", params={"action": "win_back", "format": "csv"})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    s = _scores(db)
    assert sorted(x["customer_id"] for x in rows) == sorted(s.loc[s["action"] == "win_back", "customer_id"])


def test_segments_equal_the_store(api, db):
    s = _scores(db)
    body = api.get("/segments").json()
    by = {r["segment"]: r for r in body["segments"]}
    for seg, grp in s.groupby("segment"):
        assert by[seg]["customers"] == len(grp)
        assert by[seg]["clv"] == pytest.approx(grp["clv"].sum())
        assert by[seg]["churn_alerts"] == int(grp["churn_alert"].sum())
    assert {r["tier"]: r["customers"] for r in body["tiers"]} == s["tier"].value_counts().to_dict()


def test_influencers_are_the_top_scores_with_their_edges(api, db):
    body = api.get("/influencers", params={"k": 40}).json()
    s = _scores(db).sort_values(
        ["influencer_score", "social_value", "customer_id"], ascending=[False, False, True]
    )
    assert [r["customer_id"] for r in body["items"]] == s["customer_id"].head(40).tolist()
    ids = {r["customer_id"] for r in body["items"]}
    edges = {(e["source"], e["target"]) for e in body["edges"]}
    stored = set(
        db.execute(
            "SELECT src_id, dst_id FROM relationships WHERE kind IN ('follow', 'friend') AND src_id <> dst_id "
            "AND created_at < CAST(? AS TIMESTAMP) AND (ended_at IS NULL OR ended_at >= CAST(? AS TIMESTAMP))",
            [AS_OF, AS_OF],
        ).fetchall()
    )
    assert edges == {(a, b) for a, b in stored if a in ids and b in ids}
    assert edges, "the demo's top influencers follow each other"


def test_actions_summary_and_audience(api, db):
    s = _scores(db)
    body = api.get("/actions").json()
    assert {r["action"]: r["customers"] for r in body["actions"]} == s["action"].value_counts().to_dict()
    r = api.get("/actions", params={"format": "csv"})
    assert r.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    want = s[s["action"] != "do_nothing"].sort_values(["action", "customer_id"])
    assert [(x["customer_id"], x["action"]) for x in rows] == list(
        zip(want["customer_id"], want["action"], strict=True)
    )
    one = list(
        csv.DictReader(io.StringIO(api.get("/actions", params={"format": "csv", "action": "win_back"}).text))
    )
    assert one == [x for x in rows if x["action"] == "win_back"]


def test_changes_since_the_previous_run(api, db):
    body = api.get("/changes").json()
    pairs = db.execute(
        "SELECT p.lifecycle_stage, n.lifecycle_stage, count(*) FROM scores n JOIN scores p "
        "ON p.customer_id = n.customer_id AND p.as_of = ? WHERE n.as_of = ? GROUP BY 1, 2",
        [AS_OF_BEFORE, AS_OF],
    ).fetchall()
    assert {(t["from"], t["to"]): t["customers"] for t in body["transitions"]} == {
        (a, b): n for a, b, n in pairs
    }
    assert body["previous_as_of"] == AS_OF_BEFORE
    changes = [x["value_change"] for x in body["slipping"]]
    assert changes == sorted(changes) and all(c < 0 for c in changes)
    moved = body["value_moved"]
    assert moved["customers_compared"] == sum(n for *_, n in pairs)
    assert moved["value_now"] - moved["value_before"] == pytest.approx(moved["gained"] - moved["lost"])


def test_runs_and_one_run_record(api, db):
    items = api.get("/runs").json()["items"]
    stored = [r[0] for r in db.execute("SELECT run_id FROM _runs ORDER BY started_at DESC").fetchall()]
    assert [r["run_id"] for r in items] == stored
    assert [r["published"] for r in items] == [True, False]
    one = api.get(f"/runs/{stored[0]}").json()
    assert one["status"] == "finished" and one["as_of"] == AS_OF
    assert (
        one["champions"]["purchases"]["champion"] == one["diagnostics"]["champions"]["purchases"]["champion"]
    )
    assert set(one["timings"]) >= {"features", "clv", "social", "segments", "actions", "write"}
    assert api.get("/runs/nope").status_code == 404
