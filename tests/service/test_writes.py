"""Writes through the API on a real server (``conftest.served_rw``): ingest, rescoring runs, erasure.

And the promise of the design: reads never go dark and never see half a run while a run writes the store,
listings keep paging the run they started on, and an erased customer is gone from every response and byte.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from pathlib import Path

import duckdb
import httpx

AS_OF, AS_OF_BEFORE, AS_OF_NEXT = "2026-07-01", "2026-04-01", "2026-07-15"


def _count(store: Path, table: str) -> int:
    with duckdb.connect(str(store), read_only=True) as con:
        return con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]


def _wait(
    client: httpx.Client, run_id: str, seconds: float = 600
) -> tuple[dict, list[tuple[str, str | None]]]:
    """Poll ``GET /runs/{id}`` until the run ends; return its last body and the (status, stage) seen."""
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = client.get(f"/runs/{run_id}").json()
        seen.append((body["status"], body.get("stage")))
        if body["status"] in ("finished", "failed"):
            return body, seen
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end: {seen[-3:]}")


def _file_hits(root: Path, needle: str) -> list[str]:
    raw = needle.encode()
    return [
        str(p.relative_to(root)) for p in sorted(root.rglob("*")) if p.is_file() and raw in p.read_bytes()
    ]


def test_ingest_validates_like_the_cli_and_changes_nothing_on_failure(served_rw):
    before = _count(served_rw.store, "orders")
    bad = (
        "order_id,customer_id,ordered_at,amount,currency\n"
        "API-1,C0000001,2026-06-01,10.5,USD\n"
        "API-2,C0000002,not a date,11,USD\n"
        "API-3,C0000003,2026-06-02,abc,USD\n"
        "API-4,NO-SUCH-CUSTOMER,2026-06-02,5,USD\n"
    )
    with served_rw.client("write") as c:
        r = c.post("/ingest/orders", content=bad, headers={"Content-Type": "text/csv"})
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
        problem = r.json()
        rows = sorted({e.get("row") for e in problem["errors"]} - {None})
        assert rows == [2, 3, 4], problem  # every bad row, by its data row number
        assert {e["column"] for e in problem["errors"]} >= {"ordered_at", "amount", "customer_id"}
        assert "tmp" not in r.text and "socialvalue-ingest" not in r.text  # no server path leaks
        assert _count(served_rw.store, "orders") == before

        good = "order_id,customer_id,ordered_at,amount,currency\nAPI-1,C0000001,2026-06-01,10.5,USD\n"
        r = c.post("/ingest/orders", content=good, headers={"Content-Type": "text/csv"})
        assert r.status_code == 200, r.text
        assert r.json()["rows_inserted"] == 1 and r.json()["kind"] == "orders"
        assert _count(served_rw.store, "orders") == before + 1
        js = '[{"order_id": "API-J", "customer_id": "C0000004", "ordered_at": "2026-06-03", "amount": 3, "currency": "USD"}]'
        r = c.post("/ingest/orders", content=js, headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text
        assert _count(served_rw.store, "orders") == before + 2


def test_reads_never_go_dark_during_a_run_and_never_see_half_a_run(served_rw):
    with duckdb.connect(str(served_rw.store), read_only=True) as con:
        ids = [
            r[0]
            for r in con.execute(
                "SELECT customer_id FROM scores WHERE as_of = ? LIMIT 20", [AS_OF]
            ).fetchall()
        ]
        n_before = con.execute("SELECT count(*) FROM scores WHERE as_of = ?", [AS_OF]).fetchall()[0][0]
    stop = threading.Event()
    failures: list[str] = []
    seen: dict[str, int] = {}
    reads = 0

    def reader() -> None:
        nonlocal reads
        with served_rw.client("read") as c:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    d = c.get(f"/customers/{ids[i % len(ids)]}")
                    o = c.get("/overview")
                except httpx.HTTPError as exc:
                    failures.append(f"transport: {exc!r}")
                    continue
                if d.status_code != 200 or o.status_code != 200:
                    failures.append(f"status {d.status_code}/{o.status_code}")
                    continue
                body = d.json()
                # one run whole: the history ends at the scoring date the scores are from
                if body["history"][-1]["as_of"] != body["as_of"]:
                    failures.append(f"mixed: scores {body['as_of']} history {body['history'][-1]['as_of']}")
                ov = o.json()
                seen[ov["run"]["as_of"]] = ov["kpis"]["customers"]
                reads += 2

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        with served_rw.client("write") as c:
            r = c.post("/runs", json={"as_of": AS_OF_NEXT})
            assert r.status_code == 202, r.text
            job = r.json()
            assert job["status"] == "queued" and job["href"] == f"/runs/{job['run_id']}"
            # while the run holds the store, other writers are told so, in one line
            time.sleep(1.0)
            busy = c.post("/ingest/orders", content="order_id\n", headers={"Content-Type": "text/csv"})
            assert busy.status_code == 409 and busy.headers["retry-after"], busy.text
            body, states = _wait(c, job["run_id"])
        assert body["status"] == "finished", body
        assert any(s == "running" and stage for s, stage in states), states  # progress with stage names
        assert {"features", "clv", "write"} <= set(body["stages_done"])
        deadline = time.monotonic() + 5
        while AS_OF_NEXT not in seen and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert reads > 50
    assert set(seen) == {AS_OF, AS_OF_NEXT}, seen  # reads crossed the swap
    assert seen[AS_OF] == n_before
    with duckdb.connect(str(served_rw.store), read_only=True) as con:
        assert (
            seen[AS_OF_NEXT]
            == con.execute("SELECT count(*) FROM scores WHERE as_of = ?", [AS_OF_NEXT]).fetchall()[0][0]
        )
    with served_rw.client("read") as c:
        assert c.get("/health").json()["published"]["as_of"] == AS_OF_NEXT
        record = c.get(f"/runs/{job['run_id']}").json()
        assert record["status"] == "finished" and record["published"] is True and record["diagnostics"]


def test_a_cli_writer_gets_one_clear_line_while_a_run_holds_the_store(served_rw, run_cli):
    with served_rw.client("write") as c:
        job = c.post("/runs", json={"as_of": "2026-07-20"}).json()
        deadline = time.monotonic() + 60
        while c.get(f"/runs/{job['run_id']}").json()["stage"] is None and time.monotonic() < deadline:
            time.sleep(0.05)
        done = run_cli("run", str(served_rw.store), "--as-of", "2026-07-21")
        assert done.returncode != 0
        assert "being written by another process" in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) <= 2
        assert _wait(c, job["run_id"])[0]["status"] == "finished"


def test_a_failed_run_says_why(served_rw):
    with served_rw.client("write") as c:
        job = c.post("/runs", json={"as_of": "1999-01-01"}).json()
        body, _ = _wait(c, job["run_id"])
    assert body["status"] == "failed" and "1999" in body["error"] and "Traceback" not in body["error"]


def test_pages_stay_on_their_run_while_a_new_run_is_published(served_rw):
    with served_rw.client("write") as c:
        first = c.get("/customers", params={"limit": 100, "sort": "customer_id"}).json()
        job = c.post("/runs", json={"as_of": "2026-08-01"}).json()
        assert _wait(c, job["run_id"])[0]["status"] == "finished"
        deadline = time.monotonic() + 5
        while c.get("/health").json()["published"]["as_of"] != "2026-08-01" and time.monotonic() < deadline:
            time.sleep(0.05)
        items, cursor = list(first["items"]), first["next_cursor"]
        while cursor:
            page = c.get("/customers", params={"limit": 100, "sort": "customer_id", "cursor": cursor}).json()
            assert page["run_id"] == first["run_id"]
            items += page["items"]
            cursor = page["next_cursor"]
        fresh = c.get("/customers", params={"limit": 5}).json()
    assert fresh["as_of"] == "2026-08-01" and fresh["run_id"] != first["run_id"]
    ids = [r["customer_id"] for r in items]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    with duckdb.connect(str(served_rw.store), read_only=True) as con:
        want = [
            r[0]
            for r in con.execute(
                "SELECT customer_id FROM scores WHERE as_of = ? ORDER BY 1", [first["as_of"]]
            ).fetchall()
        ]
    assert ids == want


def test_erasure_removes_the_customer_from_every_response_and_every_byte(served_rw):
    with served_rw.client("write") as c:
        top = c.get("/influencers", params={"k": 10}).json()["items"]
        cid = top[0]["customer_id"]
        old = c.get("/customers", params={"limit": 10, "sort": "customer_id"}).json()
        assert c.get(f"/customers/{cid}").status_code == 200
        before = _file_hits(served_rw.store.parent, cid)
        assert any(".serving/snapshot-" in h for h in before), before  # the byte search sees snapshots
        r = c.delete(f"/customers/{cid}")
        assert r.status_code == 200, r.text
        assert r.json()["erased"] is True and r.json()["rows_removed"] > 0
        assert c.get(f"/customers/{cid}").status_code == 404
        texts = [
            c.get("/customers", params={"format": "csv"}).text,
            c.get("/actions", params={"format": "csv"}).text,
            c.get("/influencers", params={"k": 500}).text,
            c.get("/changes").text,
            c.get("/overview").text,
            c.get("/runs").text,
        ]
        assert all(cid not in t for t in texts)
        # the listing the erased customer's run was paging is gone, not served from a stale snapshot
        gone = c.get("/customers", params={"limit": 10, "sort": "customer_id", "cursor": old["next_cursor"]})
        assert gone.status_code == 410
        assert c.delete(f"/customers/{cid}").status_code == 404
    assert _file_hits(served_rw.store.parent, cid) == []
    rows = list(csv.DictReader(io.StringIO(texts[0])))
    assert rows and top[1]["customer_id"] in {x["customer_id"] for x in rows}  # the search works
