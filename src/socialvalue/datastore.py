"""The user-facing store: the leaf :class:`socialvalue.store.Store` plus loading, erasure and a summary.

``socialvalue.Store`` is this class. It sits above :mod:`socialvalue.ingest` and :mod:`socialvalue.privacy`, so
the leaf store never imports them and no import cycle forms (``docs/architecture.md``). Each method delegates
to one function, which library code calls directly with any store:

- :meth:`Store.ingest` to :func:`socialvalue.ingest.load.ingest`,
- :meth:`Store.erase` to :func:`socialvalue.privacy.erase_customer`,
- :meth:`Store.info` to :func:`socialvalue.ingest.quality.store_info`.

Those modules are imported when a method is first called, so opening a store stays as cheap as the leaf's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from socialvalue.store import Store as _LeafStore

if TYPE_CHECKING:  # pragma: no cover
    from socialvalue.ingest import ColumnMapping, IngestRules, LoadReport
    from socialvalue.ingest.quality import TableInfo
    from socialvalue.privacy import ErasureReport

__all__ = ["Store"]


class Store(_LeafStore):
    """An embedded DuckDB store of customers, orders, interactions, relationships and content.

    The leaf :class:`socialvalue.store.Store` (connection, migrations, queries) with three conveniences:
    :meth:`ingest`, :meth:`erase` and :meth:`info`.

    Parameters
    ----------
    path
        DuckDB file to open or create; ``":memory:"`` for a throw-away store.
    read_only
        Open without write access (several readers may share a file).

    Examples
    --------
    >>> from socialvalue import Store
    >>> with Store(":memory:") as store:
    ...     store.table_counts()["orders"]
    0
    """

    def ingest(
        self,
        kind: str,
        source: Any,
        mapping: ColumnMapping | dict[str, Any] | str | Path | None = None,
        *,
        on_missing_customer: Literal["reject", "stub"] = "reject",
        force: bool = False,
        rules: IngestRules | None = None,
        on_stage: Callable[[str, str], None] | None = None,
    ) -> LoadReport:
        """Validate a batch and upsert it into the canonical table ``kind``, atomically.

        Parameters
        ----------
        kind
            ``"customers"``, ``"orders"``, ``"interactions"``, ``"relationships"`` or ``"content"``.
        source
            A file path (``.csv``/``.tsv``, ``.parquet``, ``.json`` array or ``.jsonl``/``.ndjson``, chosen by
            extension), a pandas or Polars DataFrame, or an Arrow table.
        mapping
            A :class:`~socialvalue.ingest.ColumnMapping` (or a dict, or the path of its TOML file): source
            column names, constants, date format, time zone, decimal comma, currency, boolean spellings.
        on_missing_customer
            ``"reject"`` rows referring to a customer the store does not have, or ``"stub"``: create a
            customer row with ``is_stub = TRUE`` for each.
        force
            Load rows of customers erased earlier, and reload content already loaded.
        rules
            Data-quality rules (:class:`~socialvalue.ingest.IngestRules`): time range, vocabularies.
        on_stage
            Progress callback ``(stage, "start"|"end")`` around ``read``, ``validate`` and ``write``.

        Returns
        -------
        LoadReport
            Rows in / inserted / updated / unchanged.

        Raises
        ------
        SchemaError
            Listing every problem of the batch (file, row, column, value, expectation); nothing is written.
        ErasedCustomerError
            If the batch names erased customers and ``force`` is false.

        Notes
        -----
        One load is one transaction: it commits fully or not at all, also if the process is killed. Content
        loaded before (same bytes or values, table and mapping) is skipped and changes nothing, even after
        newer loads (``force=True`` re-applies it); any other batch upserts: new keys are inserted, known keys
        updated in the columns the batch provides. Source columns the canonical table does not name are
        kept in the ``extra`` JSON column. See ``docs/data-model.md``.

        Examples
        --------
        >>> import pandas as pd
        >>> from socialvalue import Store
        >>> store = Store(":memory:")
        >>> store.ingest("customers", pd.DataFrame({"customer_id": ["a", "b"]})).inserted
        2
        >>> orders = pd.DataFrame(
        ...     {"order_id": ["o1"], "customer_id": ["a"], "ordered_at": ["2024-03-01 10:00"], "amount": ["12.5"]}
        ... )
        >>> print(store.ingest("orders", orders).as_dict()["inserted"])
        1
        """
        from socialvalue.ingest.load import ingest

        return ingest(
            self,
            kind,
            source,
            mapping,
            on_missing_customer=on_missing_customer,
            force=force,
            rules=rules,
            on_stage=on_stage,
        )

    def erase(self, customer_id: str, *, block_future_loads: bool = False) -> ErasureReport:
        """Remove every row about ``customer_id`` from every table, in one transaction.

        Canonical tables are searched on all their customer columns; every other table in the store with a
        ``customer_id`` (or another customer-reference) column is searched too. An ``_erasure_log`` entry
        records a salted hash of the id, the counts and the time, and later loads of this customer's rows
        are refused unless forced. An id with no row in any table raises
        :class:`~socialvalue.errors.UnknownCustomerError` and changes nothing, unless ``block_future_loads``
        asks to record it anyway. See :func:`socialvalue.privacy.erase_customer`.
        """
        from socialvalue.privacy import erase_customer

        return erase_customer(self, customer_id, block_future_loads=block_future_loads)

    def info(self) -> dict[str, TableInfo]:
        """Per table: row count, time range and a data-quality summary.

        See :func:`socialvalue.ingest.quality.store_info`.
        """
        from socialvalue.ingest.quality import store_info

        return store_info(self)
