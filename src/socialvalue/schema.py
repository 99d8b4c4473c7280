"""The canonical data model: five tables, their typed columns, keys and vocabularies.

This module is the single place that says what a valid ``customers``, ``orders``, ``interactions``,
``relationships`` or ``content`` row is. The store creates its tables from it, ingest validates against it and
``docs/data-model.md`` describes it. It imports nothing heavier than the standard library.

Beside the five, :data:`OPTIONAL_TABLES` declares the tables a user may supply for one analysis
(``category_spend``, the estimated category spend wallet share divides by): ingest reads and validates them
(:func:`socialvalue.ingest.optional.read_optional`), the store does not keep them.

Conventions
-----------
* Timestamps are stored as ``TIMESTAMP`` holding **UTC** wall-clock time (time zones are converted at ingest).
* Money is ``DECIMAL(18, 4)`` beside an ISO-4217 ``currency`` column.
* Source columns that the canonical model does not name are kept, not dropped, in a ``extra`` JSON column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CONTENT_KINDS",
    "INTERACTION_KINDS",
    "KINDS",
    "OPTIONAL_TABLES",
    "ORDER_STATUSES",
    "REFUND_STATUSES",
    "RELATIONSHIP_KINDS",
    "TABLES",
    "Column",
    "ForeignKey",
    "OptionalKind",
    "Table",
    "TableKind",
    "optional_table",
    "table",
]

TableKind = Literal["customers", "orders", "interactions", "relationships", "content"]
KINDS: tuple[TableKind, ...] = ("customers", "orders", "interactions", "relationships", "content")
OptionalKind = Literal["category_spend"]

#: Default vocabularies (configurable through :class:`socialvalue.config.Vocabulary`).
INTERACTION_KINDS: tuple[str, ...] = (
    "like",
    "comment",
    "share",
    "follow",
    "review",
    "post",
    "mention",
    "click",
    "view",
    "rating",
    "reply",
    "helpful_vote",
    "message",
)
RELATIONSHIP_KINDS: tuple[str, ...] = ("follow", "friend", "referred")
CONTENT_KINDS: tuple[str, ...] = ("review", "post", "photo", "video", "question", "answer", "comment")
ORDER_STATUSES: tuple[str, ...] = ("completed", "pending", "cancelled", "returned", "refunded")
#: Statuses under which an amount may be negative (money flowing back to the customer).
REFUND_STATUSES: tuple[str, ...] = ("returned", "refunded")


@dataclass(frozen=True)
class Column:
    """One typed column of a canonical table.

    Attributes
    ----------
    name
        Canonical column name.
    sql_type
        DuckDB type the column is stored as.
    required
        Whether the column must be present in a source (after mapping).
    nullable
        Whether a value may be missing.
    description
        One line for the data-model documentation.
    vocabulary
        Name of the configurable vocabulary its values must belong to (``None`` for free values).
    """

    name: str
    sql_type: str
    required: bool = True
    nullable: bool = False
    description: str = ""
    vocabulary: str | None = None
    default: str | None = None  # SQL expression used when an optional column is absent


@dataclass(frozen=True)
class ForeignKey:
    """A reference from ``column`` to ``customers.customer_id``."""

    column: str
    nullable: bool = False


@dataclass(frozen=True)
class Table:
    """A canonical table: columns, primary key and the columns that reference a customer."""

    name: TableKind | OptionalKind
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    time_column: str | None = None
    description: str = ""
    customer_columns: tuple[str, ...] = field(default=())

    @property
    def column_names(self) -> tuple[str, ...]:
        """Canonical column names in storage order (without ``extra``)."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """Return the column called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def ddl(self, *, enforce_primary_key: bool = False) -> str:
        """``CREATE TABLE`` statement for this table (with an ``extra`` JSON column).

        The primary key is enforced by ingest (duplicates in a batch are errors, keys already stored are
        updated), not by a DuckDB index: an ART index makes bulk loads about three times slower and is not
        used by the scans and joins the engine runs. ``enforce_primary_key=True`` adds the constraint.
        """
        cols = [f'"{c.name}" {c.sql_type}{"" if c.nullable else " NOT NULL"}' for c in self.columns]
        cols.append('"extra" JSON')
        if enforce_primary_key:
            cols.append("PRIMARY KEY (" + ", ".join(f'"{c}"' for c in self.primary_key) + ")")
        return f'CREATE TABLE IF NOT EXISTS "{self.name}" (\n  ' + ",\n  ".join(cols) + "\n)"


_TS = "TIMESTAMP"
_MONEY = "DECIMAL(18,4)"

TABLES: dict[str, Table] = {
    "customers": Table(
        name="customers",
        description="One row per customer (person or account).",
        primary_key=("customer_id",),
        time_column="signup_at",
        customer_columns=("customer_id",),
        columns=(
            Column("customer_id", "VARCHAR", description="Stable customer identifier (string)."),
            Column(
                "signup_at",
                _TS,
                required=False,
                nullable=True,
                description="When the customer registered (UTC).",
            ),
            Column(
                "acquisition_channel",
                "VARCHAR",
                required=False,
                nullable=True,
                description="How the customer was acquired (organic, paid, referral, ...).",
            ),
            Column("country", "VARCHAR", required=False, nullable=True, description="ISO country code."),
            Column(
                "consent_marketing",
                "BOOLEAN",
                required=False,
                default="FALSE",
                description="May receive marketing actions. Missing means no.",
            ),
            Column(
                "consent_profiling",
                "BOOLEAN",
                required=False,
                default="TRUE",
                description="May be scored and exported individually. Missing means yes (legitimate interest).",
            ),
            Column(
                "is_stub",
                "BOOLEAN",
                required=False,
                default="FALSE",
                description="Created automatically by a load that referenced an unknown customer.",
            ),
        ),
    ),
    "orders": Table(
        name="orders",
        description="Purchases, returns and cancellations.",
        primary_key=("order_id",),
        foreign_keys=(ForeignKey("customer_id"),),
        time_column="ordered_at",
        customer_columns=("customer_id",),
        columns=(
            Column("order_id", "VARCHAR", description="Order identifier."),
            Column("customer_id", "VARCHAR", description="Buyer."),
            Column("ordered_at", _TS, description="When the order was placed (UTC)."),
            Column("amount", _MONEY, description="Order value; negative only for returns/refunds."),
            Column(
                "currency",
                "VARCHAR",
                required=False,
                default="'XXX'",
                description="ISO-4217 currency; XXX (no currency) when the source names none.",
            ),
            Column(
                "status",
                "VARCHAR",
                required=False,
                default="'completed'",
                vocabulary="order_statuses",
                description="completed, pending, cancelled, returned or refunded.",
            ),
            Column("quantity", "INTEGER", required=False, nullable=True, description="Items in the order."),
        ),
    ),
    "interactions": Table(
        name="interactions",
        description="Social events: likes, comments, shares, follows, reviews, posts, mentions, clicks ...",
        primary_key=("event_id",),
        foreign_keys=(ForeignKey("actor_id"), ForeignKey("target_customer_id", nullable=True)),
        time_column="occurred_at",
        customer_columns=("actor_id", "target_customer_id"),
        columns=(
            Column("event_id", "VARCHAR", description="Event identifier."),
            Column("actor_id", "VARCHAR", description="Customer who acted."),
            Column(
                "target_customer_id",
                "VARCHAR",
                required=False,
                nullable=True,
                description="Customer acted upon (null for the brand).",
            ),
            Column(
                "content_id",
                "VARCHAR",
                required=False,
                nullable=True,
                description="Content acted upon, if any.",
            ),
            Column("kind", "VARCHAR", vocabulary="interaction_kinds", description="Kind of interaction."),
            Column("channel", "VARCHAR", required=False, nullable=True, description="web, app, email, ..."),
            Column("occurred_at", _TS, description="When it happened (UTC)."),
            Column(
                "duration_s",
                "DOUBLE",
                required=False,
                nullable=True,
                description="Seconds the interaction lasted (a visit, a video watched), if the source records it.",
            ),
        ),
    ),
    "relationships": Table(
        name="relationships",
        description="Directed ties between customers: src follows/befriended/referred dst.",
        primary_key=("src_id", "dst_id", "kind"),
        foreign_keys=(ForeignKey("src_id"), ForeignKey("dst_id")),
        time_column="created_at",
        customer_columns=("src_id", "dst_id"),
        columns=(
            Column("src_id", "VARCHAR", description="Origin (follower, friend, referrer)."),
            Column("dst_id", "VARCHAR", description="Target (followed, friend, referred customer)."),
            Column(
                "kind",
                "VARCHAR",
                vocabulary="relationship_kinds",
                description="follow, friend or referred (`follows` is read as follow).",
            ),
            Column("created_at", _TS, required=False, nullable=True, description="When the tie began (UTC)."),
            Column(
                "ended_at", _TS, required=False, nullable=True, description="When it ended, if it did (UTC)."
            ),
        ),
    ),
    "content": Table(
        name="content",
        description="User-generated content: reviews, posts, photos, videos, questions and answers.",
        primary_key=("content_id",),
        foreign_keys=(ForeignKey("author_id"),),
        time_column="created_at",
        customer_columns=("author_id",),
        columns=(
            Column("content_id", "VARCHAR", description="Content identifier."),
            Column("author_id", "VARCHAR", description="Customer who created it."),
            Column("kind", "VARCHAR", vocabulary="content_kinds", description="review, post, photo, ..."),
            Column("created_at", _TS, description="When it was published (UTC)."),
            Column(
                "rating", "DOUBLE", required=False, nullable=True, description="Star rating, reviews only."
            ),
            Column(
                "helpful_votes",
                "INTEGER",
                required=False,
                nullable=True,
                description="Helpfulness votes received.",
            ),
            Column("views", "BIGINT", required=False, nullable=True, description="Times it was seen."),
            Column(
                "product_id", "VARCHAR", required=False, nullable=True, description="Product it is about."
            ),
        ),
    ),
}

#: Tables a user may supply for one analysis, read and validated by ingest but not kept in the store.
#: ``category_spend``: exactly one of ``customer_id`` and ``segment`` per row, and no two rows with the same
#: (``customer_id``, ``segment``, ``category``, ``as_of``), empty values comparing equal (ingest checks both).
OPTIONAL_TABLES: dict[str, Table] = {
    "category_spend": Table(
        name="category_spend",
        description="Estimated spend in a product category, per customer or per member of a segment.",
        primary_key=("customer_id", "segment", "category", "as_of"),
        foreign_keys=(ForeignKey("customer_id", nullable=True),),
        time_column="as_of",
        customer_columns=("customer_id",),
        columns=(
            Column(
                "customer_id",
                "VARCHAR",
                required=False,
                nullable=True,
                description="Customer the estimate is for (empty when the row is for a segment).",
            ),
            Column(
                "segment",
                "VARCHAR",
                required=False,
                nullable=True,
                description="Segment the estimate is for, per member (empty when the row is for a customer).",
            ),
            Column("category", "VARCHAR", description="Product category the spend is in."),
            Column(
                "estimated_spend",
                _MONEY,
                description="Estimated spend in the category over the wallet-share window (a year unless "
                "the analysis says otherwise), per customer or per segment member; >= 0.",
            ),
            Column(
                "currency",
                "VARCHAR",
                required=False,
                default="'XXX'",
                description="ISO-4217 currency of the estimate; XXX (no currency) when the source names none.",
            ),
            Column(
                "as_of",
                _TS,
                required=False,
                nullable=True,
                description="When the estimate was made (UTC); the latest one up to an analysis date is used. "
                "Empty: it applies at any date.",
            ),
        ),
    ),
}


def optional_table(kind: str) -> Table:
    """Return the optional :class:`Table` called ``kind`` (see :data:`OPTIONAL_TABLES`).

    Raises
    ------
    SchemaError
        If ``kind`` is not an optional table.
    """
    try:
        return OPTIONAL_TABLES[kind]
    except KeyError:
        from socialvalue.errors import SchemaError

        raise SchemaError(
            f"unknown optional table {kind!r}; expected one of {', '.join(OPTIONAL_TABLES)}"
        ) from None


def table(kind: str) -> Table:
    """Return the canonical :class:`Table` for ``kind``.

    Raises
    ------
    SchemaError
        If ``kind`` is not one of the five canonical tables.
    """
    try:
        return TABLES[kind]
    except KeyError:
        from socialvalue.errors import SchemaError

        raise SchemaError(f"unknown table kind {kind!r}; expected one of {', '.join(KINDS)}") from None


def markdown_tables() -> str:
    """The column tables of ``docs/data-model.md``, generated from :data:`TABLES` (a test keeps them in sync)."""
    out = []
    for kind in KINDS:
        t = TABLES[kind]
        out.append(f"### `{t.name}`\n\n{t.description}\n\n")
        out.append(f"Primary key: ({', '.join(f'`{k}`' for k in t.primary_key)})")
        refs = ", ".join(f"`{fk.column}`" for fk in t.foreign_keys)
        if refs:
            out.append(f" · references `customers.customer_id`: {refs}")
        if t.time_column:
            out.append(f" · time column: `{t.time_column}`")
        out.append(
            "\n\n| column | type | required | nullable | default | description |\n|---|---|---|---|---|---|\n"
        )
        for c in t.columns:
            vocab = f" Vocabulary: `{c.vocabulary}`." if c.vocabulary else ""
            out.append(
                f"| `{c.name}` | {c.sql_type} | {'yes' if c.required else 'no'} | {'yes' if c.nullable else 'no'} "
                f"| {c.default or ''} | {c.description}{vocab} |\n"
            )
        out.append("| `extra` | JSON | no | yes |  | Source columns the canonical table does not name. |\n\n")
    return "".join(out).rstrip() + "\n"
