"""A load is one transaction: a process killed with SIGKILL in the middle of writing leaves the store as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from socialvalue import Store

N_CUSTOMERS = 1_000
N_ORDERS = 1_500_000

CHILD = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
from socialvalue import Store
store = Store(sys.argv[1])
store.ingest("orders", sys.argv[2])
print("finished", flush=True)
"""


def _fingerprint(path) -> dict[str, tuple]:
    """Row count and an order-independent hash of the content of every table in the store."""
    with Store(path) as s:
        return {
            t: tuple(s.con.execute(f'SELECT count(*), sum(hash(x)::HUGEINT) FROM "{t}" AS x').fetchall()[0])
            for t in s.tables()
        }


@pytest.mark.slow
def test_sigkill_mid_load_leaves_store_unchanged(tmp_path):
    store_path = tmp_path / "store.duckdb"
    big = tmp_path / "orders_big.csv"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT 'c' || i AS customer_id FROM range({N_CUSTOMERS}) r(i)) TO '{tmp_path / 'c.parquet'}' (FORMAT parquet)"
    )
    orders = (
        "SELECT 'o' || i AS order_id, 'c' || (i % {nc}) AS customer_id, "
        "TIMESTAMP '2022-01-01' + to_seconds(i) AS ordered_at, {amount} AS amount FROM range({n}) r(i)"
    )
    con.execute(
        f"COPY ({orders.format(nc=N_CUSTOMERS, amount='1.5', n=1000)}) TO '{tmp_path / 'o.parquet'}' (FORMAT parquet)"
    )
    # The big file updates the 1,000 stored orders (new amount) and adds many more.
    con.execute(
        f"COPY ({orders.format(nc=N_CUSTOMERS, amount='2.5', n=N_ORDERS)}) TO '{big}' (FORMAT csv, HEADER)"
    )
    con.close()
    with Store(store_path) as s:
        s.ingest("customers", tmp_path / "c.parquet")
        s.ingest("orders", tmp_path / "o.parquet")
    before = _fingerprint(store_path)

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(store_path), str(big)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    ) as proc:
        try:
            for line in proc.stderr:  # wait until validation is done and the write transaction starts
                if "writing" in line:
                    break
            time.sleep(0.1)  # inside the transaction writing 1.5 million rows
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the load finished before it could be killed"
    assert _fingerprint(store_path) == before

    # The store is healthy: the same load now runs to completion.
    with Store(store_path) as s:
        report = s.ingest("orders", big)
        assert (report.inserted, report.updated) == (N_ORDERS - 1000, 1000)
