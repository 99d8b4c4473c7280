"""Published snapshots (``socialvalue.published``): complete, atomic, few, and erased with the customer."""

from __future__ import annotations

import duckdb
import pytest

from socialvalue import Store
from socialvalue.demo import generate
from socialvalue.pipeline import run_pipeline
from socialvalue.privacy import erase_customer
from socialvalue.published import POINTER, current_snapshot, publish, republish, serving_dir, snapshot_files


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    path = tmp_path_factory.mktemp("published") / "shop.duckdb"
    with Store(path) as store:
        generate(600, seed=3).load_into(store)
        first = run_pipeline(store, "2026-04-01")
        second = run_pipeline(store, "2026-07-01")
    return path, first, second


def _read(path):
    return duckdb.connect(str(path), read_only=True)


def test_every_run_publishes_a_complete_snapshot(scored):
    path, first, second = scored
    folder = serving_dir(path)
    assert folder == path.parent / "shop.duckdb.serving"
    assert second.published == current_snapshot(folder)
    assert (folder / POINTER).read_text().strip() == second.published.name
    assert [p.name for p in snapshot_files(folder)] == [first.published.name, second.published.name]
    with _read(second.published) as snap, _read(path) as store:
        meta = dict(snap.execute("SELECT key, value FROM meta").fetchall())
        assert meta["run_id"] == second.run_id and meta["as_of"] == "2026-07-01"
        assert meta["previous_as_of"] == "2026-04-01" and meta["currency"] == "USD"
        n = store.execute("SELECT count(*) FROM scores WHERE as_of = '2026-07-01'").fetchall()[0][0]
        assert snap.execute("SELECT count(*), count(DISTINCT customer_id) FROM latest").fetchall()[0] == (
            n,
            n,
        )
        # the scores and their actions, value by value
        mine = store.execute(
            "SELECT s.customer_id, s.clv, s.social_value, a.action FROM scores s JOIN actions a "
            "USING (customer_id, as_of) WHERE s.as_of = '2026-07-01' ORDER BY 1"
        ).fetchall()
        assert (
            snap.execute("SELECT customer_id, clv, social_value, action FROM latest ORDER BY 1").fetchall()
            == mine
        )
        assert snap.execute("SELECT count(DISTINCT as_of) FROM history").fetchall()[0][0] == 2
        assert snap.execute("SELECT count(*) FROM runs").fetchall()[0][0] == 2
        changes = snap.execute("SELECT count(*) FROM changes").fetchall()[0][0]
        both = store.execute(
            "SELECT count(*) FROM scores n JOIN scores p USING (customer_id) "
            "WHERE n.as_of = '2026-07-01' AND p.as_of = '2026-04-01'"
        ).fetchall()[0][0]
        assert changes == both > 0


def test_only_the_newest_snapshots_are_kept(scored, tmp_path):
    path, _, second = scored
    with Store(path) as store:
        third = publish(store, second.run_id)
        folder = serving_dir(path)
        assert len(snapshot_files(folder)) == 2 and current_snapshot(folder) == third
        assert publish(store, "no-such-run") is None and current_snapshot(folder) == third
    with Store(":memory:") as mem:
        assert publish(mem) is None


def test_a_failed_publish_keeps_the_current_snapshot(scored, monkeypatch):
    path, *_ = scored
    folder = serving_dir(path)
    before = current_snapshot(folder)
    with Store(path) as store:
        store.con.execute("CREATE OR REPLACE TEMP VIEW relationships AS SELECT 1 AS nothing")  # breaks _fill
        from socialvalue.errors import StoreError

        with pytest.raises(StoreError, match="the previous one stays"):
            publish(store)
    assert current_snapshot(folder) == before
    assert not [p for p in folder.iterdir() if p.name.startswith(".publishing-")]


def test_erasure_republishes_and_deletes_every_older_snapshot(scored):
    path, *_ = scored
    folder = serving_dir(path)
    with Store(path) as store:
        cid = store.scalar(
            "SELECT customer_id FROM scores WHERE as_of = '2026-07-01' ORDER BY csv DESC LIMIT 1"
        )
        assert any(cid.encode() in p.read_bytes() for p in snapshot_files(folder))
        erase_customer(store, cid)
    files = snapshot_files(folder)
    assert len(files) == 1 and current_snapshot(folder) == files[0]
    assert cid.encode() not in files[0].read_bytes()
    with _read(files[0]) as snap:
        assert snap.execute("SELECT count(*) FROM history WHERE customer_id = ?", [cid]).fetchall()[0][0] == 0
        assert snap.execute("SELECT count(*) FROM latest").fetchall()[0][0] > 0


def test_republish_without_any_snapshot_does_nothing(tmp_path):
    with Store(tmp_path / "s.duckdb") as store:
        assert republish(store) is None
    assert not serving_dir(tmp_path / "s.duckdb").exists()
