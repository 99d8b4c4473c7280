r"""DuckDB SQL of the ingest rules, rewritten for Spark: the few functions SQLGlot leaves untranslated.

The conversion and validation rules of :mod:`socialvalue.ingest` are DuckDB expressions (the conversion plan's
``SELECT`` items and the checks' conditions). :func:`to_spark_expr` transpiles one with SQLGlot after
rewriting the DuckDB functions Spark lacks into Spark functions that compute the same value:

=============================  =========================================================================
DuckDB                         Spark
=============================  =========================================================================
``timezone('UTC', ts)``        ``CAST(ts AS TIMESTAMP_NTZ)`` (the session time zone is UTC, see
                               :mod:`socialvalue.spark.session`)
``to_timestamp(seconds)``      ``TIMESTAMP_SECONDS(seconds)`` (keeps the fraction of a second)
``trunc(x)``                   ``x - x % 1`` (exact for a finite double or a decimal; SQLGlot's
                               ``CAST(x AS BIGINT)``, like ``FLOOR``, fails under ANSI on NaN or beyond
                               2^63, where DuckDB's whole-number test of a conversion simply fails)
``regexp_full_match(x, p)``    ``x RLIKE '\A(?:p)\z'`` (Spark's ``RLIKE`` finds a match anywhere)
``isinf(x)``                   ``ABS(x) = CAST('Infinity' AS DOUBLE)``
``CAST(x AS JSON)``            ``CAST(x AS STRING)`` (Spark has no JSON type; the text is kept)
=============================  =========================================================================
"""

from __future__ import annotations

from typing import Any

__all__ = ["to_spark_expr"]


def _rewrite(node: Any) -> Any:
    from sqlglot import exp

    if isinstance(node, exp.Anonymous) and node.name.lower() == "timezone" and len(node.expressions) == 2:
        zone, value = node.expressions
        if isinstance(zone, exp.Literal) and zone.is_string and zone.this.upper() == "UTC":
            return exp.Cast(this=value, to=exp.DataType.build("TIMESTAMP", dialect="duckdb"))
    if isinstance(node, exp.UnixToTime) and node.args.get("scale") is None:
        return exp.Anonymous(this="TIMESTAMP_SECONDS", expressions=[node.this])
    if isinstance(node, exp.Trunc) and not node.args.get("decimals"):
        x = node.this
        return exp.Paren(
            this=exp.Sub(this=x.copy(), expression=exp.Mod(this=x.copy(), expression=exp.Literal.number(1)))
        )
    if isinstance(node, exp.RegexpFullMatch):
        pattern = node.expression
        if isinstance(pattern, exp.Literal) and pattern.is_string:
            anchored = exp.Literal.string("\\A(?:" + pattern.this + ")\\z")
            return exp.RegexpLike(this=node.this, expression=anchored)
    if isinstance(node, exp.IsInf):
        return exp.EQ(
            this=exp.Abs(this=node.this),
            expression=exp.Cast(this=exp.Literal.string("Infinity"), to=exp.DataType.build("DOUBLE")),
        )
    if isinstance(node, exp.Cast | exp.TryCast) and node.to.is_type("json"):
        return exp.Cast(this=node.this, to=exp.DataType.build("TEXT"))
    return node


def to_spark_expr(sql: str) -> str:
    """Spark SQL of one DuckDB expression of the ingest rules (see the module docstring).

    Parameters
    ----------
    sql
        A DuckDB expression, optionally with an ``AS`` alias (a conversion plan's ``SELECT`` item).

    Returns
    -------
    str
        The same expression in Spark SQL.

    Raises
    ------
    sqlglot.errors.UnsupportedError
        If SQLGlot knows the expression has no Spark form. (A function it does not know passes through
        by name and fails when Spark analyses the query.)

    Examples
    --------
    >>> to_spark_expr('isnan("rating") OR isinf("rating")')
    "ISNAN(`rating`) OR ABS(`rating`) = CAST('Infinity' AS DOUBLE)"
    """
    import sqlglot
    from sqlglot.errors import ErrorLevel

    tree = sqlglot.parse_one(sql, read="duckdb")
    # A replaced node's own arguments are not visited again: repeat until nothing changes (nesting depth).
    for _ in range(8):
        rewritten = tree.transform(_rewrite)
        if rewritten == tree:
            break
        tree = rewritten
    return tree.sql(dialect="spark", unsupported_level=ErrorLevel.RAISE)
