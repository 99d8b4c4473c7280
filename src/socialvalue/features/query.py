"""Compose the registry into SQL: one query per source and one query for the whole feature table.

The query is built in two steps so it can be traced: :func:`compose` turns a :class:`FeatureConfig` into a
template with time placeholders (its hash is the feature code version recorded in the manifest), and
:func:`render` fills in the SQL literals of a :class:`TimeFrame`. :func:`to_spark` transpiles the DuckDB SQL
with SQLGlot for the Spark engine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from socialvalue.features.registry import Feature, FeatureConfig, Source, registry
from socialvalue.features.sources import base_ctes, sources
from socialvalue.features.split import TimeFrame
from socialvalue.sqlsafe import ident  # every output column quoted: ``T`` keeps its case, no keyword clash

__all__ = ["compose", "render", "source_queries", "sql_hash", "to_spark"]

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
    config: FeatureConfig | None = None, *, holdout: bool = False, select: Sequence[str] | None = None
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

    Returns
    -------
    str
        ``WITH population AS (...), src_<name> AS (...) SELECT ...`` in DuckDB's dialect.
    """
    config = config or FeatureConfig()
    out, joined, used, by_source = _plan(config, holdout, select)
    ctes = [f"population AS (\n  {_POPULATION}\n)"]
    shared = base_ctes(config)
    for name in dict.fromkeys(c for src in used.values() for c in src.ctes):
        ctes.append(f"{name} AS (\n  {shared[name]}\n)")
    alias = {}
    for i, (name, src) in enumerate(used.items()):
        alias[name] = f"s{i}"
        ctes.append(f"src_{name} AS (\n  {_source_query(src, by_source[name])}\n)")
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
    seen = " OR ".join(f"{a}.customer_id IS NOT NULL" for n, a in alias.items() if not used[n].holdout)
    where = f"p.signup_at IS NOT NULL OR {seen}" if seen else "p.signup_at IS NOT NULL"
    ctes.append(
        "joined AS (\n  SELECT "
        + ",\n    ".join(cols)
        + f"\n  FROM population p\n  {joins}\n  WHERE {where}\n)"
    )
    final = [
        f"CAST({f.expr} AS {f.sql_type}) AS {ident(f.name)}" if f.source == "final" else ident(f.name)
        for f in out
    ]
    return "WITH " + ",\n".join(ctes) + "\nSELECT customer_id,\n  " + ",\n  ".join(final) + "\nFROM joined"


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
