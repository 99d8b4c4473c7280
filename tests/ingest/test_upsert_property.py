"""Property: after any sequence of batches, each key holds the value of the last batch that was applied.

A batch whose exact content was loaded before is skipped (like a warehouse's COPY skipping files already
loaded), so re-running an old batch does not undo newer ones; every other batch is an upsert.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialvalue import Store

batch = st.lists(
    st.tuples(st.integers(0, 15), st.integers(0, 10_000)), min_size=1, max_size=12, unique_by=lambda t: t[0]
)


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(batches=st.lists(batch, min_size=1, max_size=4))
def test_sequence_of_batches_is_last_write_wins(batches):
    expected: dict[str, Decimal] = {}
    seen: set[tuple] = set()
    with Store(":memory:") as store:
        store.ingest("customers", pd.DataFrame({"customer_id": ["c"]}))
        for rows in batches:
            df = pd.DataFrame(
                {
                    "order_id": [f"o{k}" for k, _ in rows],
                    "customer_id": "c",
                    "ordered_at": "2024-01-01",
                    "amount": [f"{cents / 100:.2f}" for _, cents in rows],
                }
            )
            before = dict(expected)
            report = store.ingest("orders", df)
            new = {f"o{k}": Decimal(cents) / 100 for k, cents in rows}
            assert report.skipped == (tuple(rows) in seen)
            seen.add(tuple(rows))
            if report.skipped:
                continue
            assert report.inserted == sum(k not in before for k in new)
            assert report.updated == sum(k in before and before[k] != v for k, v in new.items())
            assert report.inserted + report.updated + report.unchanged == len(rows)
            expected.update(new)
        got = dict(store.con.execute("SELECT order_id, amount FROM orders").fetchall())
    assert got == expected
