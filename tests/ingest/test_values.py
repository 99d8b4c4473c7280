"""Value mapping ([values.<column>]), case-insensitive vocabularies and one spelling for "follow"."""

from __future__ import annotations

import pandas as pd
import pytest

from socialvalue import Store
from socialvalue.errors import ConfigError, SchemaError
from socialvalue.ingest import ColumnMapping
from socialvalue.store import SCHEMA_VERSION


@pytest.fixture
def people(store):
    store.ingest("customers", pd.DataFrame({"customer_id": ["a", "b", "c"]}))
    return store


def _events(kinds):
    n = len(kinds)
    return pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(n)],
            "actor_id": ["a"] * n,
            "kind": kinds,
            "occurred_at": ["2024-01-01"] * n,
        }
    )


def test_vocabulary_ignores_case_and_blanks(people):
    people.ingest("interactions", _events(["LIKE", " Comment ", "view"]))
    got = people.con.execute("SELECT kind FROM interactions ORDER BY event_id").fetchall()
    assert [k for (k,) in got] == ["like", "comment", "view"]


def test_values_map_words_onto_the_vocabulary(people):
    mapping = {"values": {"kind": {"Visit": "view", "fav": "like"}}}
    people.ingest("interactions", _events(["visit", "VISIT", "Fav", "share"]), mapping)
    got = people.con.execute("SELECT kind FROM interactions ORDER BY event_id").fetchall()
    assert [k for (k,) in got] == ["view", "view", "like", "share"]


def test_unmapped_word_names_the_values_section(people):
    with pytest.raises(
        SchemaError,
        match=r"row 1, column 'kind': got 'visit'; expected one of like, comment, .* \(case is ignored\)\n"
        r"(?s:.*)fix: map the other words of column 'kind' onto the vocabulary in the column mapping: "
        r"\[values\.kind\] \"visit\" = \"view\"; \"wave\" = \"<one of the vocabulary>\"",
    ):
        people.ingest("interactions", _events(["visit", "wave"]))


def test_order_statuses(people):
    orders = pd.DataFrame(
        {
            "order_id": ["o1", "o2", "o3"],
            "customer_id": ["a", "b", "c"],
            "ordered_at": ["2024-01-01"] * 3,
            "amount": ["10", "-5", "7"],
            "status": ["Shipped", "RETURNED", "COMPLETED"],
        }
    )
    people.ingest("orders", orders, {"values": {"status": {"shipped": "completed"}}})
    got = people.con.execute("SELECT status, amount FROM orders ORDER BY order_id").fetchall()
    assert [(s, float(a)) for s, a in got] == [("completed", 10.0), ("returned", -5.0), ("completed", 7.0)]


def test_relationships_friend_in_any_case_and_follows_alias(people):
    rel = pd.DataFrame(
        {
            "src_id": ["a", "b", "c", "a"],
            "dst_id": ["b", "c", "a", "c"],
            "kind": ["Friend", "follows", "FOLLOWS", "follow"],
        }
    )
    people.ingest("relationships", rel)
    got = people.con.execute("SELECT kind FROM relationships ORDER BY src_id, dst_id").fetchall()
    assert [k for (k,) in got] == ["friend", "follow", "follow", "follow"]


def test_hostile_keys_and_values_are_bound_safely(people):
    nasty = "x'); DROP TABLE orders; --"
    mapping = {"values": {"kind": {nasty: "view", "it's": "like"}}}
    people.ingest("interactions", _events([nasty, "It's"]), mapping)
    got = people.con.execute("SELECT kind FROM interactions ORDER BY event_id").fetchall()
    assert [k for (k,) in got] == ["view", "like"]
    assert people.con.execute("SELECT count(*) FROM orders").fetchall() == [(0,)]


def test_values_on_a_free_text_column(people):
    orders = pd.DataFrame(
        {
            "order_id": ["o1", "o2"],
            "customer_id": ["a", "b"],
            "ordered_at": ["2024-01-01"] * 2,
            "amount": ["1", "2"],
            "currency": ["€", "eur"],
        }
    )
    people.ingest("orders", orders, {"values": {"currency": {"€": "EUR"}}})
    got = people.con.execute("SELECT currency FROM orders ORDER BY order_id").fetchall()
    assert [c for (c,) in got] == ["EUR", "EUR"]


def test_target_outside_the_vocabulary_is_a_config_error(people):
    with pytest.raises(
        ConfigError,
        match=r"column mapping: \[values\.kind\] visit = 'visitor': 'visitor' is not one of like, comment",
    ):
        people.ingest("interactions", _events(["visit"]), {"values": {"kind": {"visit": "visitor"}}})


def test_values_on_a_non_text_column_is_a_config_error(people):
    with pytest.raises(ConfigError, match=r"\[values\.occurred_at\] names no text column of interactions"):
        people.ingest("interactions", _events(["like"]), {"values": {"occurred_at": {"x": "y"}}})


def test_keys_differing_only_in_case_must_agree(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('[values.kind]\nVisit = "view"\nvisit = "click"\n')
    with pytest.raises(ConfigError, match=r"\[values\.kind\] maps 'visit' twice \(keys ignore case\)"):
        ColumnMapping.from_toml(path)
    path.write_text('[values.kind]\nVisit = "view"\n')
    assert ColumnMapping.from_toml(path).values == {"kind": {"visit": "view"}}


def test_store_migration_rewrites_follows(tmp_path):
    path = tmp_path / "old.duckdb"
    with Store(path) as s:
        s.con.execute(
            "INSERT INTO relationships (src_id, dst_id, kind) VALUES "
            "('a', 'b', 'follows'), ('b', 'a', 'follows'), ('b', 'a', 'follow'), ('a', 'c', 'friend')"
        )
        s.con.execute("DELETE FROM _schema_version WHERE version >= 3")
    with Store(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        got = s.con.execute("SELECT src_id, dst_id, kind FROM relationships ORDER BY ALL").fetchall()
    assert got == [("a", "b", "follow"), ("a", "c", "friend"), ("b", "a", "follow")]
