"""Per-table data-quality summary of a store (``Store.info()``).

Counts, time ranges, nulls, key and range problems, each computed in one SQL scan per table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from socialvalue.schema import KINDS, REFUND_STATUSES, TABLES
from socialvalue.sqlsafe import ident, literal

if TYPE_CHECKING:  # pragma: no cover
    from socialvalue.store import Store

__all__ = ["TableInfo", "store_info"]


@dataclass(frozen=True)
class TableInfo:
    """Summary of one table.

    Attributes
    ----------
    name, rows
        Table name and row count.
    canonical
        One of the five canonical tables (the quality fields are filled only for those).
    time_column, first, last
        The table's time column and its minimum and maximum (UTC).
    nulls
        Missing values per column.
    duplicate_keys
        Rows beyond the first for each primary-key value.
    negative_amounts
        Negative ``amount`` with a status that is not a refund status.
    future_timestamps
        Timestamps (any timestamp column) later than now.
    stubs
        Stub customers (``customers`` only).
    currencies
        Rows per currency (``orders`` only); more than one means amounts cannot be summed without rates.
    """

    name: str
    rows: int
    canonical: bool = True
    time_column: str | None = None
    first: Any = None
    last: Any = None
    nulls: dict[str, int] = field(default_factory=dict)
    duplicate_keys: int = 0
    negative_amounts: int = 0
    future_timestamps: int = 0
    stubs: int = 0
    currencies: dict[str, int] = field(default_factory=dict)

    @property
    def mixed_currencies(self) -> bool:
        """Whether the table's amounts are in more than one currency."""
        return len(self.currencies) > 1


def _canonical(store: Store, kind: str) -> TableInfo:
    t = TABLES[kind]
    cols = list(t.column_names)
    items = ["count(*)"]
    tc = t.time_column
    items += [f"min({ident(tc)})", f"max({ident(tc)})"] if tc else ["NULL", "NULL"]
    items += [f"count(*) - count({ident(c)})" for c in cols]
    key = ", ".join(ident(k) for k in t.primary_key)
    items.append(f"count(*) - count(DISTINCT ({key}))")
    if "amount" in cols:
        refunds = ", ".join(literal(r) for r in REFUND_STATUSES)
        items.append(f'count(*) FILTER (WHERE "amount" < 0 AND "status" NOT IN ({refunds}))')
    else:
        items.append("0")
    ts_cols = [c.name for c in t.columns if c.sql_type.upper() == "TIMESTAMP"]
    future = " OR ".join(f"{ident(c)} > timezone('UTC', now())" for c in ts_cols) or "FALSE"
    items.append(f"count(*) FILTER (WHERE {future})")
    items.append('count(*) FILTER (WHERE "is_stub")' if kind == "customers" else "0")
    row = store.con.execute(f"SELECT {', '.join(items)} FROM {ident(kind)}").fetchall()[0]
    n = len(cols)
    currencies: dict[str, int] = {}
    if "currency" in cols:
        currencies = {
            str(c): int(k)
            for c, k in store.con.execute(
                f'SELECT "currency", count(*) FROM {ident(kind)} GROUP BY 1 ORDER BY 2 DESC, 1'
            ).fetchall()
        }
    return TableInfo(
        name=kind,
        rows=int(row[0]),
        time_column=tc,
        first=row[1],
        last=row[2],
        nulls=dict(zip(cols, (int(v) for v in row[3 : 3 + n]), strict=True)),
        duplicate_keys=int(row[3 + n]),
        negative_amounts=int(row[4 + n]),
        future_timestamps=int(row[5 + n]),
        stubs=int(row[6 + n]),
        currencies=currencies,
    )


def store_info(store: Store) -> dict[str, TableInfo]:
    """Summaries of the canonical tables, then row counts of every other (derived) table."""
    out = {kind: _canonical(store, kind) for kind in KINDS}
    rows = store.con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_type = 'BASE TABLE' ORDER BY 1"
    ).fetchall()
    for (name,) in rows:
        if name in out:
            continue
        n = store.scalar(f"SELECT count(*) FROM {ident(name)}")
        out[name] = TableInfo(name=name, rows=int(n), canonical=False)
    return out
