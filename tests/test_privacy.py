"""Erasure leaves no trace in any table; the erasure log holds no personal data; pseudonyms are keyed."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pandas as pd
import pytest

from socialvalue.errors import ConfigError, ErasedCustomerError, StoreError, UnknownCustomerError
from socialvalue.privacy import KEY_ENV_VAR, pseudonymize, subject_hash

KEY = "test-key-of-sufficient-length"


@pytest.fixture
def social_store(store):
    store.ingest(
        "customers", pd.DataFrame({"customer_id": ["alice", "bob", "carol"], "country": ["DE", "FR", "US"]})
    )
    store.ingest(
        "orders",
        pd.DataFrame(
            {
                "order_id": ["o1", "o2", "o3"],
                "customer_id": ["alice", "bob", "alice"],
                "ordered_at": ["2024-01-01"] * 3,
                "amount": [1, 2, 3],
            }
        ),
    )
    store.ingest(
        "interactions",
        pd.DataFrame(
            {
                "event_id": ["e1", "e2", "e3"],
                "actor_id": ["bob", "alice", "carol"],
                "target_customer_id": ["alice", "carol", "bob"],
                "kind": ["like", "comment", "share"],
                "occurred_at": ["2024-01-02"] * 3,
            }
        ),
    )
    store.ingest(
        "relationships",
        pd.DataFrame(
            {
                "src_id": ["alice", "bob", "carol"],
                "dst_id": ["bob", "carol", "alice"],
                "kind": ["follow"] * 3,
            }
        ),
    )
    store.ingest(
        "content",
        pd.DataFrame(
            {
                "content_id": ["r1", "r2"],
                "author_id": ["alice", "bob"],
                "kind": ["review"] * 2,
                "created_at": ["2024-01-03"] * 2,
            }
        ),
    )
    # Derived tables made later by other parts of the engine.
    store.con.execute("CREATE TABLE features_demo AS SELECT customer_id, 1.0 AS x FROM customers")
    store.con.execute("CREATE TABLE scores (customer_id VARCHAR, clv DOUBLE)")
    store.con.execute("INSERT INTO scores VALUES ('alice', 10), ('bob', 5)")
    store.con.execute("CREATE SCHEMA analytics")
    store.con.execute("CREATE TABLE analytics.actions (customer_id VARCHAR, action VARCHAR)")
    store.con.execute("INSERT INTO analytics.actions VALUES ('alice', 'coupon'), ('carol', 'call')")
    store.con.execute("CREATE TABLE unrelated (k VARCHAR)")
    store.con.execute("INSERT INTO unrelated VALUES ('alice')")  # no customer column: left alone
    return store


def _mentions(store, value: str) -> dict[str, int]:
    """Rows of every table (canonical, derived, bookkeeping) whose any column, as text, contains value."""
    out = {}
    for t in store.tables():
        cols = [r[0] for r in store.con.execute(f'DESCRIBE "{t}"').fetchall()]
        where = " OR ".join(f'CAST("{c}" AS VARCHAR) LIKE ?' for c in cols)
        n = store.scalar(f'SELECT count(*) FROM "{t}" WHERE {where}', [f"%{value}%"] * len(cols))
        if n:
            out[t] = n
    return out


def test_erasure_removes_every_row_in_every_table(social_store):
    s = social_store
    assert set(_mentions(s, "alice")) >= {
        "customers",
        "orders",
        "interactions",
        "relationships",
        "content",
        "features_demo",
        "scores",
    }
    report = s.erase("alice")
    assert report.tables == {
        "customers": 1,
        "orders": 2,
        "interactions": 2,
        "relationships": 2,
        "content": 1,
        "features_demo": 1,
        "scores": 1,
        "analytics.actions": 1,
    }
    assert report.rows_removed == 11
    assert _mentions(s, "alice") == {"unrelated": 1}
    assert s.con.execute("SELECT customer_id FROM analytics.actions").fetchall() == [("carol",)]
    assert s.table_counts() == {
        "customers": 2,
        "orders": 1,
        "interactions": 1,
        "relationships": 1,
        "content": 1,
    }


def test_erasure_log_holds_no_personal_data(social_store):
    s = social_store
    report = s.erase("alice")
    rows = s.con.execute(
        "SELECT erasure_id, subject_hash, rows_removed, tables_touched FROM _erasure_log"
    ).fetchall()
    assert len(rows) == 1
    _, digest, removed, tables = rows[0]
    salt = s.scalar("SELECT value FROM _store_meta WHERE key = 'erasure_salt'")
    assert digest == subject_hash(salt, "alice") == report.subject_hash
    assert digest != hashlib.sha256(b"alice").hexdigest()  # salted: not an unsalted hash of the id
    assert removed == 11 and '"orders": 2' in tables
    assert "alice" not in repr(rows)
    # Python's subject_hash and the SQL used at load time agree.
    assert s.scalar("SELECT sha256(? || ':' || 'alice')", [salt]) == digest


def test_erased_customer_reload_refused_unless_forced(social_store, tmp_path):
    s = social_store
    path = tmp_path / "back.csv"
    pd.DataFrame({"customer_id": ["dave", "alice"], "country": ["NL", "DE"]}).to_csv(path, index=False)
    s.erase("alice")
    with pytest.raises(
        ErasedCustomerError,
        match=r"back\.csv: 1 problem in 2 rows; nothing was loaded:\n  row 2, column 'customer_id'",
    ):
        s.ingest("customers", path)
    assert s.scalar("SELECT count(*) FROM customers WHERE customer_id IN ('alice', 'dave')") == 0
    assert s.ingest("customers", path, force=True).inserted == 2


def test_same_file_loaded_before_an_erasure_is_checked_again(social_store, tmp_path):
    s = social_store
    path = tmp_path / "c.csv"
    pd.DataFrame({"customer_id": ["erin"]}).to_csv(path, index=False)
    s.ingest("customers", path)
    s.erase("erin")
    with pytest.raises(ErasedCustomerError):
        s.ingest("customers", path)  # not skipped as "already loaded"


def test_erasing_an_unknown_id_is_an_error_and_changes_nothing(social_store):
    s = social_store
    before = {t: s.scalar(f'SELECT count(*) FROM "{t}"') for t in s.tables()}
    with pytest.raises(
        UnknownCustomerError,
        match=r"^no customer 'nobody' in .*store\.duckdb: nothing was erased or recorded "
        r"\(to refuse future loads of this id anyway, erase it with block_future_loads=True\)$",
    ) as info:
        s.erase("nobody")
    assert isinstance(info.value, LookupError) and info.value.customer_id == "nobody"
    assert not info.value.erased_before
    assert {t: s.scalar(f'SELECT count(*) FROM "{t}"') for t in s.tables()} == before
    assert s.ingest("customers", pd.DataFrame({"customer_id": ["nobody"]})).inserted == 1  # not blocked
    with pytest.raises(StoreError, match="non-empty customer id"):
        s.erase("")


def test_erasing_an_unknown_id_on_purpose_blocks_it(social_store):
    s = social_store
    report = s.erase("nobody", block_future_loads=True)
    assert report.rows_removed == 0 and report.tables == {}
    salt = s.scalar("SELECT value FROM _store_meta WHERE key = 'erasure_salt'")
    assert s.scalar("SELECT subject_hash FROM _erasure_log") == subject_hash(salt, "nobody")
    with pytest.raises(ErasedCustomerError):
        s.ingest("customers", pd.DataFrame({"customer_id": ["nobody"]}))
    # asked again without the flag: it was erased before, and nothing more is written
    with pytest.raises(UnknownCustomerError, match="it was erased before") as info:
        s.erase("nobody")
    assert info.value.erased_before
    assert s.scalar("SELECT count(*) FROM _erasure_log") == 1


def test_block_future_loads_changes_nothing_for_a_known_customer(social_store):
    report = social_store.erase("alice", block_future_loads=True)
    assert report.rows_removed == 11


def test_pseudonymize_is_keyed_hmac_sha256_truncated():
    ids = ["alice", "bob", "alice"]
    out = pseudonymize(ids, KEY)
    expected = hmac.new(KEY.encode(), b"alice", hashlib.sha256).hexdigest()[:16]
    assert out[0] == expected == out[2]
    assert len(out[1]) == 16 and out[1] != out[0]
    assert pseudonymize(ids, KEY) == out  # stable across calls
    assert pseudonymize(ids, "another-key-of-enough-length")[0] != out[0]
    assert (
        pseudonymize(["alice"], KEY, length=32)[0]
        == hmac.new(KEY.encode(), b"alice", hashlib.sha256).hexdigest()[:32]
    )


def test_pseudonymize_containers_missing_values_and_env_key(monkeypatch):
    s = pd.Series(["a", None, "c"], index=[10, 11, 12], name="customer_id")
    out = pseudonymize(s, KEY)
    assert list(out.index) == [10, 11, 12] and out.name == "customer_id" and out.iloc[1] is None
    arr = pseudonymize(np.array([1, 2]), KEY)
    assert isinstance(arr, np.ndarray) and arr[0] == pseudonymize(["1"], KEY)[0]
    monkeypatch.setenv(KEY_ENV_VAR, KEY)
    assert pseudonymize(["a"]) == pseudonymize(["a"], KEY)
    monkeypatch.delenv(KEY_ENV_VAR)
    with pytest.raises(ConfigError, match=KEY_ENV_VAR):
        pseudonymize(["a"])
    with pytest.raises(ConfigError, match="at least 16 bytes"):
        pseudonymize(["a"], "short")


def test_pseudonymize_a_million_ids_is_unique():
    ids = [f"customer-{i}" for i in range(1_000_000)]
    out = pseudonymize(ids, KEY)
    assert len(set(out)) == len(ids)


def test_logs_never_contain_identifiers(store, caplog):
    import logging

    caplog.set_level(logging.DEBUG, logger="socialvalue")
    store.ingest("customers", pd.DataFrame({"customer_id": ["zed-4711"], "country": ["SE"]}))
    with pytest.raises(Exception, match="ghost-0815"):  # errors name values; logs do not
        store.ingest(
            "orders",
            pd.DataFrame(
                {
                    "order_id": ["o"],
                    "customer_id": ["ghost-0815"],
                    "ordered_at": ["2024-01-01"],
                    "amount": [1],
                }
            ),
        )
    store.erase("zed-4711")
    assert caplog.records, "expected some log output to check"
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "zed-4711" not in text and "ghost-0815" not in text


def test_an_old_load_never_reverts_newer_values_after_an_erasure(social_store, tmp_path):
    """Issue 13: load A (o2 = 20), load B (o2 = 25), erase someone else, load A again: o2 stays 25."""
    s = social_store
    cust = s.scalar("SELECT min(customer_id) FROM customers")
    other = s.scalar("SELECT max(customer_id) FROM customers")
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    row = {"order_id": ["o2"], "customer_id": [cust], "ordered_at": ["2024-05-01"]}
    pd.DataFrame({**row, "amount": [20]}).to_csv(a, index=False)
    pd.DataFrame({**row, "amount": [25]}).to_csv(b, index=False)
    s.ingest("orders", a)
    s.ingest("orders", b)
    s.erase(other)
    report = s.ingest("orders", a)
    assert report.skipped
    assert float(s.scalar("SELECT amount FROM orders WHERE order_id = 'o2'")) == 25.0
    assert float(s.ingest("orders", a, force=True).updated) == 1  # on purpose, it does
