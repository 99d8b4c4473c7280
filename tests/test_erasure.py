"""Issue 13: erasure leaves nothing — not in any table, not in any file the engine wrote, not in the store's bytes.

A customer who is a referrer, an influencer and a content author is erased from a scored demo store that has
a report, plain and pseudonymized exports. Then every table, every file under the work folder and the raw
bytes of the store file are searched for the id, their order ids, their content ids and a personal field
(an e-mail address kept in ``extra``). Each search is checked against a control customer who stays, so a
search that cannot find anything does not pass by accident.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from socialvalue import Store
from socialvalue.cli import main
from socialvalue.demo import generate
from socialvalue.pipeline import run_pipeline

KEY = "a test pseudonym key of 32 bytes!"


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root = tmp_path_factory.mktemp("erasure")
    with Store(root / "shop.duckdb") as store:
        generate(2_000, seed=5).load_into(store)
        run_pipeline(store, "2026-07-01", report=root / "report.html")
    return root


def _pick(store: Store) -> tuple[str, str]:
    """A referrer, influencer and content author to erase, and a control customer of the same kind."""
    rows = store.con.execute(
        """
        SELECT s.customer_id FROM scores s
        WHERE s.customer_id IN (SELECT src_id FROM relationships WHERE kind = 'referred')
          AND s.customer_id IN (SELECT author_id FROM content)
          AND s.customer_id IN (SELECT actor_id FROM interactions)
        ORDER BY s.csv DESC LIMIT 2
        """
    ).fetchall()
    return rows[0][0], rows[1][0]


def _needles(store: Store, cid: str) -> dict[str, list[str]]:
    orders = [
        r[0] for r in store.con.execute("SELECT order_id FROM orders WHERE customer_id = ?", [cid]).fetchall()
    ]
    content = [
        r[0]
        for r in store.con.execute("SELECT content_id FROM content WHERE author_id = ?", [cid]).fetchall()
    ]
    return {"id": [cid], "orders": orders, "content": content, "email": [f"{cid.lower()}@mail.example"]}


def _table_hits(store: Store, needle: str) -> list[str]:
    hits = []
    for table in store.tables():
        cols = [r[0] for r in store.con.execute(f'DESCRIBE "{table}"').fetchall()]
        cond = " OR ".join(f'contains(CAST("{c}" AS VARCHAR), ?)' for c in cols)
        n = store.con.execute(
            f'SELECT count(*) FROM "{table}" WHERE {cond}', [needle] * len(cols)
        ).fetchall()[0][0]
        if n:
            hits.append(f"{table}: {n}")
    return hits


def _file_hits(root: Path, needle: str) -> list[str]:
    raw = needle.encode()
    return [
        str(p.relative_to(root)) for p in sorted(root.rglob("*")) if p.is_file() and raw in p.read_bytes()
    ]


def test_erasure_leaves_no_trace(scored, tmp_path, capsys, monkeypatch):
    root = tmp_path / "work"
    # the store only: the fixture's report is registered at the fixture's path, not this copy's
    shutil.copytree(scored, root, ignore=shutil.ignore_patterns("*.html"))
    db = root / "shop.duckdb"
    with Store(db) as s:
        cid, control = _pick(s)
        # a personal field, kept in the customers' extra JSON
        emails = pd.DataFrame(
            {"customer_id": [cid, control], "email": [f"{x.lower()}@mail.example" for x in (cid, control)]}
        )
        s.ingest("customers", emails)
        needles = _needles(s, cid)
        controls = _needles(s, control)
    # the engine writes its files: a report and exports, plain and pseudonymized
    assert main(["report", str(db), "--out", str(root / "again.html")]) == 0
    assert (
        main(["export", str(db), "--out", str(root / "plain"), "--format", "csv", "--format", "parquet"]) == 0
    )
    assert main(["features", str(db), "--as-of", "2026-07-01", "--out", str(root / "features.parquet")]) == 0
    monkeypatch.setenv("SOCIALVALUE_PSEUDONYM_KEY", KEY)
    assert main(["export", str(db), "--out", str(root / "pseudo"), "--format", "csv", "--pseudonymize"]) == 0
    monkeypatch.delenv("SOCIALVALUE_PSEUDONYM_KEY")  # erasure must work without the key
    capsys.readouterr()
    # the customer is everywhere before
    with Store(db, read_only=True) as s:
        assert _table_hits(s, cid) and _table_hits(s, needles["email"][0])
    assert _file_hits(root / "plain", cid) and _file_hits(root, needles["orders"][0]) is not None

    code = main(["erase", str(db), cid])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    assert "Traceback" not in cap.out + cap.err
    assert "report rewritten without the customer" in cap.out

    found = {}
    with Store(db, read_only=True) as s:
        for kind, values in needles.items():
            for v in values:
                hits = _table_hits(s, v)
                if hits:
                    found[f"table {kind} {v}"] = hits
        # the control is still there (the search works)
        assert _table_hits(s, control) and _table_hits(s, controls["email"][0])
    for kind, values in needles.items():
        for v in values:
            hits = _file_hits(root, v)  # reports, exports and the raw bytes of the store file
            if hits:
                found[f"file {kind} {v}"] = hits
    assert found == {}
    # the control's personal field is still findable in the raw store bytes only if DuckDB stores it plainly;
    # in the report and plain exports the control id is there
    assert _file_hits(root / "plain", control)
    # the store is intact and usable after the rewrite
    with Store(db, read_only=True) as s:
        assert s.scalar("SELECT count(*) FROM customers") == 1_999
        assert s.scalar("SELECT count(*) FROM _erasure_log") == 1


def test_consent_holds_in_reports_and_run_records(scored):
    """Customers who refused profiling appear in no report, no run record and no network picture."""
    with Store(scored / "shop.duckdb", read_only=True) as s:
        refused = [
            r[0]
            for r in s.con.execute("SELECT customer_id FROM customers WHERE NOT consent_profiling").fetchall()
        ]
        runs = " ".join(str(v) for row in s.con.execute("SELECT * FROM _runs").fetchall() for v in row)
        assert refused
        assert (
            s.scalar(
                "SELECT count(*) FROM scores WHERE customer_id IN (SELECT customer_id FROM customers WHERE NOT consent_profiling)"
            )
            == 0
        )
    html = (scored / "report.html").read_text()
    named = [c for c in refused if c in runs or f'"{c}"' in html or f">{c}<" in html]
    assert named == []


def test_deleted_bytes_stay_in_the_file_until_it_is_rewritten(tmp_path):
    """DuckDB keeps deleted rows' bytes after DELETE and CHECKPOINT (ECOSYSTEM_NOTES); the rewrite removes them."""
    from socialvalue.privacy import compact_store, erase_customer

    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        generate(2_000, seed=5).load_into(s)
        cid = s.scalar("SELECT author_id FROM content GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
        other = s.scalar("SELECT min(customer_id) FROM customers WHERE customer_id <> ?", [cid])
        mails = [f"{x.lower()}@mail.example" for x in (cid, other)]
        s.ingest("customers", pd.DataFrame({"customer_id": [cid, other], "email": mails}))
        s.con.execute("CHECKPOINT")
        assert mails[0].encode() in db.read_bytes() and cid.encode() in db.read_bytes()
        erase_customer(s, cid, compact=False)
        assert mails[0].encode() in db.read_bytes()  # a DELETE alone leaves the bytes behind
        compact_store(s)
        raw = db.read_bytes()
        assert cid.encode() not in raw and mails[0].encode() not in raw
        assert mails[1].encode() in raw  # the control stays, so the search can find what is there
        assert s.scalar("SELECT count(*) FROM customers") == 1_999
