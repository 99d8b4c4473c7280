"""Compose the registry into SQL: one query per source and one query for the whole feature table.

The query is built in two steps so it can be traced: :func:`compose` turns a :class:`FeatureConfig` into a
template with time placeholders (its hash is the feature code version recorded in the manifest), and
:func:`render` fills in the SQL literals of a :class:`TimeFrame`. :func:`feature_sql` and
:func:`feature_query` do both for one ``as_of``; :func:`to_spark` transpiles the DuckDB SQL with SQLGlot for
the Spark engine. Nothing here executes: :mod:`socialvalue.engine.features` runs the queries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from socialvalue.errors import ConfigError
from socialvalue.features.definition import Query
from socialvalue.features.registry import GROUPS, Feature, FeatureConfig, Source, registry
from socialvalue.features.sources import base_ctes, sources
from socialvalue.features.split import TimeFrame
from socialvalue.sqlsafe import ident  # every output column quoted: ``T`` keeps its case, no keyword clash

__all__ = [
    "compose",
    "feature_query",
    "feature_sql",
    "render",
    "source_queries",
    "sql_hash",
    "table_name_for",
    "to_spark",
    "unsigned_customers_query",
]

#: Population: consented customers who existed before ``as_of`` (signed up before it; a customer without a
#: signup time enters once any non-holdout source has a row for them, see ``compose``).
_POPULATION = (
    "SELECT c.customer_id, c.signup_at, c.acquisition_channel, c.consent_marketing FROM customers c "
    "WHERE c.consent_profiling AND (c.signup_at IS NULL OR c.signup_at < {as_of})"
)


def _source_query(source: Source, feats: list[Feature]) -> str:
    cols = ",\n    ".join(f"{f.expr} AS {ident(f.name)}" for f in feats)
    return f"SELECT {source.key} AS customer_id,\n    {cols}\n  {source.sql}\n  GROUP BY {source.key}"


def _plan(
    config: FeatureConfig, holdout: bool, select: Sequence[str] | None
) -> tuple[tuple[Feature, ...], list[Feature], dict[str, Source], dict[str, list[Feature]]]:
    """Output features, joined (computed) features, used sources and the features of each source."""
    out = registry(config, holdout=holdout, select=select)
    every = {f.name: f for f in registry(config, holdout=holdout)}
    wanted = {f.name for f in out} | {n for f in out for n in f.needs}
    joined = [f for f in every.values() if f.name in wanted and f.source != "final"]
    srcs = sources(config)
    by_source: dict[str, list[Feature]] = {}
    for f in joined:
        if f.source != "customers":
            by_source.setdefault(f.source, []).append(f)
    return out, joined, {n: srcs[n] for n in by_source}, by_source


def source_queries(config: FeatureConfig | None = None, *, holdout: bool = True) -> dict[str, str]:
    """One standalone aggregate query (template) per source, by source name."""
    config = config or FeatureConfig()
    _, _, used, by_source = _plan(config, holdout, None)
    shared = base_ctes(config)
    out = {}
    for name, src in used.items():
        with_ = ", ".join(f"{c} AS ({shared[c]})" for c in src.ctes)
        out[name] = (f"WITH {with_}\n" if with_ else "") + _source_query(src, by_source[name])
    return out


def compose(
    config: FeatureConfig | None = None,
    *,
    holdout: bool = False,
    select: Sequence[str] | None = None,
    population: Sequence[str] | None = None,
) -> str:
    """The whole feature-table query as a template with ``{as_of}``-style placeholders.

    Parameters
    ----------
    config
        Vocabularies, windows and status rules (defaults: :class:`FeatureConfig`).
    holdout
        Include the holdout targets (needs ``{holdout_end}``).
    select
        Feature and/or group names to compute (``None``: all); only the sources they need are queried.
    population
        Feature and/or group names of the table whose rows to keep (``None``: ``select``'s own). A customer
        without a signup time is a row only if a past-data source of the table has a row for them; with
        ``population`` wider than ``select`` (e.g. :data:`~socialvalue.features.registry.GROUPS`, the whole
        table), the sources ``select`` leaves out are read for that presence only, without their aggregates,
        so a few columns come with exactly the rows of the wider table.

    Returns
    -------
    str
        ``WITH population AS (...), src_<name> AS (...) SELECT ...`` in DuckDB's dialect.
    """
    config = config or FeatureConfig()
    out, joined, used, by_source = _plan(config, holdout, select)
    presence: dict[str, Source] = {}
    if population is not None:
        wider = _plan(config, holdout, population)[2]
        presence = {n: s for n, s in wider.items() if not s.holdout and n not in used}
    ctes = [f"population AS (\n  {_POPULATION}\n)"]
    shared = base_ctes(config)
    for name in dict.fromkeys(c for src in [*used.values(), *presence.values()] for c in src.ctes):
        ctes.append(f"{name} AS (\n  {shared[name]}\n)")
    alias = {}
    for i, (name, src) in enumerate(used.items()):
        alias[name] = f"s{i}"
        ctes.append(f"src_{name} AS (\n  {_source_query(src, by_source[name])}\n)")
    if presence:
        keys = "\n  UNION ALL ".join(
            f"SELECT {src.key} AS customer_id {src.sql}" for src in presence.values()
        )
        ctes.append(f"present AS (\n  {keys}\n)")
    cols = ["p.customer_id AS customer_id"]
    for f in joined:
        if f.source == "customers":
            value = f.expr
        else:
            value = f"{alias[f.source]}.{ident(f.name)}"
            if f.fill is not None:
                value = f"COALESCE({value}, {f.fill})"
        cols.append(f"CAST({value} AS {f.sql_type}) AS {ident(f.name)}")
    joins = "\n  ".join(
        f"LEFT JOIN src_{name} {a} ON {a}.customer_id = p.customer_id" for name, a in alias.items()
    )
    # A customer without a signup time is only known from activity: require a row in a past-data source.
    seen = [f"{a}.customer_id IS NOT NULL" for n, a in alias.items() if not used[n].holdout]
    if presence:
        seen.append("p.customer_id IN (SELECT customer_id FROM present)")
    where = " OR ".join(["p.signup_at IS NOT NULL", *seen])
    ctes.append(
        "joined AS (\n  SELECT "
        + ",\n    ".join(cols)
        + f"\n  FROM population p\n  {joins}\n  WHERE {where}\n)"
    )
    final = [
        f"CAST({f.expr} AS {f.sql_type}) AS {ident(f.name)}" if f.source == "final" else ident(f.name)
        for f in out
    ]
    return "WITH " + ",\n".join(ctes) + "\nSELECT " + ",\n  ".join(["customer_id", *final]) + "\nFROM joined"


def table_name_for(frame: TimeFrame) -> str:
    """``features_<YYYYMMDD>`` for the frame's ``as_of`` (``_HHMMSS`` appended when not midnight)."""
    return f"features_{frame.table_suffix}"


def feature_sql(
    as_of: Any,
    unit: str = "W",
    calibration_end: Any = None,
    holdout_end: Any = None,
    *,
    config: FeatureConfig | None = None,
    select: Sequence[str] | None = None,
    dialect: str = "duckdb",
) -> str:
    """The SQL that computes the feature table, in ``"duckdb"`` or ``"spark"`` dialect.

    Examples
    --------
    >>> sql = feature_sql("2024-01-01", dialect="spark")
    >>> "TIMESTAMP_NTZ" in sql
    True
    """
    frame = TimeFrame.resolve(as_of, unit, calibration_end, holdout_end)
    config = config or FeatureConfig()
    sql = render(compose(config, holdout=frame.holdout_end is not None, select=select), frame, config)
    if dialect == "duckdb":
        return sql
    if dialect == "spark":
        return to_spark(sql)
    raise ConfigError(f"unknown SQL dialect {dialect!r}; use 'duckdb' or 'spark'")


def feature_query(
    frame: TimeFrame,
    config: FeatureConfig | None = None,
    *,
    select: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    unsigned: bool = True,
) -> Query:
    """The feature table of ``frame`` as a :class:`~socialvalue.features.definition.Query`, by customer.

    Parameters
    ----------
    frame
        ``as_of``, unit and optional holdout end.
    config
        Vocabularies, windows and status rules.
    select
        Feature and/or group names of the table (``None``: all).
    columns
        Feature columns to compute, among ``select``'s (``None``: all of them). Only the sources these
        columns need are aggregated, and the rows are those of ``select``'s whole table. The query's columns
        are ``customer_id`` and these, in table order.
    unsigned
        Whether consented customers without a signup time may be in the store (they are rows only if a source
        has a row for them, so a query of a few columns reads the other sources for their presence).
        ``False`` skips that reading: pass it when :func:`unsigned_customers_query` found none.

    Returns
    -------
    Query
        The rendered DuckDB SQL, ordered by ``customer_id``.

    Raises
    ------
    ConfigError
        If ``select`` names an unknown feature or group, or ``columns`` a column the table does not have.
    """
    config = config or FeatureConfig()
    holdout = frame.holdout_end is not None
    if columns is None:
        return Query(
            render(compose(config, holdout=holdout, select=select), frame, config), order="customer_id"
        )
    names = _feature_columns(columns, config, holdout, select)
    population = None
    if unsigned:
        population = list(select) if select is not None else list(GROUPS)
    template = compose(config, holdout=holdout, select=names, population=population)
    return Query(render(template, frame, config), order="customer_id")


def unsigned_customers_query() -> Query:
    """Whether any consented customer has no signup time (one ``BOOLEAN``)."""
    return Query(
        "SELECT EXISTS (SELECT 1 FROM customers c WHERE c.consent_profiling AND c.signup_at IS NULL)"
    )


def _feature_columns(
    columns: Sequence[str], config: FeatureConfig, holdout: bool, select: Sequence[str] | None
) -> list[str]:
    """The feature names among ``columns`` (``customer_id`` left out), checked against the table's."""
    if isinstance(columns, str):
        raise ConfigError(f"columns must be a list of column names, got the string {columns!r}")
    have = [f.name for f in registry(config, holdout=holdout, select=select)]
    names = [c for c in columns if c != "customer_id"]
    unknown = [c for c in names if c not in have]
    if unknown:
        shown = ", ".join(repr(c) for c in unknown)
        need = not holdout and any(c.startswith("holdout_") for c in unknown)
        hint = " (holdout_* columns need a holdout_end)" if need else ""
        raise ConfigError(
            f"no feature column {shown} in the table{hint}; its columns are listed by registry()"
        )
    if len(set(columns)) != len(columns):
        raise ConfigError(f"columns lists a column twice: {list(columns)}")
    return names


def render(template: str, frame: TimeFrame, config: FeatureConfig | None = None) -> str:
    """Fill the time placeholders of ``template`` with the SQL literals of ``frame``."""
    config = config or FeatureConfig()
    params = frame.sql_params(config.all_windows())
    try:
        return template.format_map(params)
    except KeyError as exc:  # pragma: no cover - a definition used an undeclared window
        raise RuntimeError(f"feature SQL uses an unknown placeholder {exc}") from None


def sql_hash(template: str) -> str:
    """Short SHA-256 of a query template: the feature code version recorded in the manifest."""
    return hashlib.sha256(template.encode("utf-8")).hexdigest()[:16]


def to_spark(sql: str) -> str:
    """Transpile DuckDB SQL to Spark SQL with SQLGlot, failing on anything it cannot translate.

    Raises
    ------
    sqlglot.errors.UnsupportedError
        If the query uses DuckDB syntax with no Spark equivalent.
    """
    import sqlglot
    from sqlglot.errors import ErrorLevel

    return sqlglot.transpile(sql, read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE)[0]
