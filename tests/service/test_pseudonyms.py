"""Pseudonymised ids on a real server (``socialvalue serve --pseudonymize``, issue 17).

A server on an 800-customer demo store of its own, with ``SOCIALVALUE_PSEUDONYM_KEY`` set: every customer id
it shows is ``socialvalue.privacy.pseudonymize([raw], key)[0]`` of a customer of the store, no raw id
appears in any answer, paths take pseudonyms only, and ``DELETE /customers/{pseudonym}`` erases the right
customer. Without the key the command refuses to start, with one line.
"""

from __future__ import annotations

import csv
import io
import math
import re

import duckdb
import pytest

from socialvalue.privacy import KEY_ENV_VAR, pseudonymize

KEY = "socialvalue-tests-pseudonym-key-0042"


@pytest.fixture(scope="module")
def store(store_factory):
    return store_factory()


@pytest.fixture(scope="module")
def raw(store) -> dict[str, dict]:
    """The store's customers as the server started: raw id -> its scores at the last date (or {})."""
    with duckdb.connect(str(store), read_only=True) as con:
        ids = [r[0] for r in con.execute("SELECT customer_id FROM customers").fetchall()]
        result = con.execute("SELECT * FROM scores WHERE as_of = (SELECT max(as_of) FROM scores)")
        names = [d[0] for d in result.description]
        scored = {row[0]: dict(zip(names, row, strict=True)) for row in result.fetchall()}
    return {i: scored.get(i, {}) for i in ids}


@pytest.fixture(scope="module")
def pseudo(raw) -> dict[str, str]:
    """Pseudonym -> raw id, one id at a time as a client holding the key would compute it."""
    mapping = {pseudonymize([i], KEY)[0]: i for i in raw}
    assert len(mapping) == len(raw)
    return mapping


@pytest.fixture(scope="module")
def server(start_server, store, raw):
    return start_server(store, "--pseudonymize", env={KEY_ENV_VAR: KEY})


@pytest.fixture(scope="module")
def api(server):
    with server.client("read") as c:
        yield c


@pytest.fixture(scope="module")
def raw_pattern(raw) -> re.Pattern:
    return re.compile("|".join(re.escape(i) for i in sorted(raw, key=len, reverse=True)))


def _all_pages(api) -> list[dict]:
    items, cursor = [], None
    while True:
        page = api.get("/customers", params={"limit": 500, **({"cursor": cursor} if cursor else {})}).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def _csv_ids(text: str) -> list[str]:
    return [row["customer_id"] for row in csv.DictReader(io.StringIO(text))]


# -- every id shown is a pseudonym ----------------------------------------------------------------------------
def test_the_listing_shows_every_scored_customer_by_pseudonym(api, raw, pseudo):
    items = _all_pages(api)
    shown = [i["customer_id"] for i in items]
    scored = {i for i, s in raw.items() if s}
    assert len(shown) == len(set(shown)) == len(scored)
    assert {pseudo[i] for i in shown} == scored  # each is the pseudonym of a scored customer
    for item in items[:50]:
        assert math.isclose(item["clv"], raw[pseudo[item["customer_id"]]]["clv"], rel_tol=1e-9)
    csv_ids = _csv_ids(api.get("/customers", params={"format": "csv"}).text)
    assert sorted(csv_ids) == sorted(shown)


def test_influencers_changes_and_the_audience_show_pseudonyms(api, pseudo):
    inf = api.get("/influencers", params={"k": 500}).json()
    assert len(inf["items"]) == 500 and inf["edges"]
    ids = [i["customer_id"] for i in inf["items"]]
    ids += [e[end] for e in inf["edges"] for end in ("source", "target")]
    changes = api.get("/changes").json()
    assert changes["slipping"]
    ids += [s["customer_id"] for s in changes["slipping"]]
    audience = api.get("/actions", params={"format": "csv"})
    assert audience.status_code == 200
    audience_ids = _csv_ids(audience.text)
    assert audience_ids
    assert not [i for i in ids + audience_ids if i not in pseudo]


def test_one_customer_is_found_by_pseudonym_and_explains_the_right_scores(api, raw, pseudo):
    for p, r in list(pseudo.items())[:40]:
        if not raw[r]:
            continue
        body = api.get(f"/customers/{p}").json()
        assert body["customer_id"] == p
        assert math.isclose(body["value"]["clv"], raw[r]["clv"], rel_tol=1e-9)
        assert body["lifecycle_stage"] == raw[r]["lifecycle_stage"]


def test_a_raw_id_is_not_found(api, raw):
    for r in list(raw)[:10]:
        resp = api.get(f"/customers/{r}")
        assert resp.status_code == 404 and resp.headers["content-type"] == "application/problem+json"


def test_no_answer_holds_a_raw_id(api, pseudo, raw_pattern):
    paths = [
        "/customers?limit=500",
        "/customers?limit=500&sort=customer_id",
        "/customers?format=csv",
        "/influencers?k=500",
        "/changes",
        "/overview",
        "/segments",
        "/actions",
        "/actions?format=csv",
        "/insight",
    ]
    paths += [f"/customers/{p}" for p in list(pseudo)[:40]]
    for path in paths:
        r = api.get(path)
        assert r.status_code in (200, 404), path
        assert raw_pattern.search(r.text) is None, (path, raw_pattern.search(r.text))


def test_run_records_hold_no_raw_id(api, raw_pattern):
    runs = api.get("/runs")
    assert runs.status_code == 200
    assert raw_pattern.search(runs.text) is None
    for run in runs.json()["items"]:
        assert raw_pattern.search(api.get(f"/runs/{run['run_id']}").text) is None


# -- the key is needed ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "named"), [(None, KEY_ENV_VAR), ("too short", "16 bytes")])
def test_serve_refuses_to_pseudonymize_without_a_usable_key(store, run_cli, monkeypatch, value, named):
    if value is None:
        monkeypatch.delenv(KEY_ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(KEY_ENV_VAR, value)
    done = run_cli("serve", str(store), "--pseudonymize", "--port", "0")
    assert done.returncode != 0 and "serving" not in done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "Traceback" not in done.stderr


# -- erasure by pseudonym (last: it changes the store) --------------------------------------------------------
def test_delete_by_pseudonym_erases_the_right_customer(server, api, raw, pseudo):
    victim_p, victim = next((p, r) for p, r in pseudo.items() if raw[r])
    bystander = next(r for p, r in pseudo.items() if raw[r] and r != victim)

    def count(con, customer: str) -> dict[str, int]:
        return {
            t: con.execute(f'SELECT count(*) FROM "{t}" WHERE customer_id = ?', [customer]).fetchall()[0][0]
            for t in ("customers", "orders", "scores")
        }

    with duckdb.connect(str(server.store), read_only=True) as con:
        assert count(con, victim)["customers"] == 1 and count(con, victim)["scores"] >= 1
        bystander_before = count(con, bystander)
    with server.client("write") as w:
        r = w.delete(f"/customers/{victim}")  # a raw id is not accepted
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
        r = w.delete(f"/customers/{victim_p}")
        assert r.status_code == 200, r.text
        assert r.json()["erased"] is True and r.json()["rows_removed"] > 0
        assert w.delete(f"/customers/{victim_p}").status_code == 404
    with duckdb.connect(str(server.store), read_only=True) as con:
        assert count(con, victim) == {"customers": 0, "orders": 0, "scores": 0}
        assert count(con, bystander) == bystander_before
    assert api.get(f"/customers/{victim_p}").status_code == 404
    assert api.get(f"/customers/{pseudonymize([bystander], KEY)[0]}").status_code == 200
    assert victim_p not in {i["customer_id"] for i in _all_pages(api)}
