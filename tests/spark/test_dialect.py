"""The rewrites of DuckDB functions Spark lacks (socialvalue.spark.dialect): each gives DuckDB's value on Spark."""

from __future__ import annotations

import duckdb
import pytest

from socialvalue.spark.dialect import to_spark_expr

#: (DuckDB expression over x, the values of x): each evaluated by both engines on the same rows
CASES = [
    (
        "x IS NOT NULL AND NOT regexp_full_match(x, '[A-Z]{3}')",
        "VARCHAR",
        ["EUR", "EURO", "xEUR", "EU", None],
    ),
    ("isnan(x) OR isinf(x)", "DOUBLE", [1.5, "nan", "inf", "-inf", None]),
    (
        "CASE WHEN x = trunc(x) THEN TRY_CAST(x AS INTEGER) END",
        "DOUBLE",
        [2.0, -2.0, 1.5, -1.5, "nan", "inf", 1e20, 2**53 + 2.0],
    ),
    ("timezone('UTC', to_timestamp(TRY_CAST(x AS DOUBLE)))", "VARCHAR", ["0", "1700000000.25", "x", None]),
    (
        "CAST(timezone('UTC', TRY_CAST(x AS TIMESTAMPTZ)) AS VARCHAR)",
        "VARCHAR",
        ["2024-01-31 13:45:00+02:00"],
    ),
    ("CAST(x AS JSON)", "VARCHAR", ['{"a": 1}', None]),
]


def _duckdb(expr: str, sql_type: str, values: list) -> list:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE TABLE t (i INTEGER, x {sql_type})")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values)))
    return [r[0] for r in con.execute(f"SELECT {expr} FROM t ORDER BY i").fetchall()]


@pytest.mark.parametrize(("expr", "sql_type", "values"), CASES, ids=[c[0][:40] for c in CASES])
def test_rewritten_expressions_give_duckdbs_values(spark, expr, sql_type, values):
    spark_type = {"VARCHAR": "string", "DOUBLE": "double"}[sql_type]
    rows = [(i, None if v is None else str(v)) for i, v in enumerate(values)]
    frame = spark.createDataFrame(rows, "i int, x string").selectExpr("i", f"CAST(x AS {spark_type}) AS x")
    ours = [r[0] for r in frame.orderBy("i").selectExpr(to_spark_expr(expr)).collect()]
    theirs = _duckdb(expr, sql_type, values)
    if "JSON" in expr:  # Spark has no JSON type: the text is kept
        theirs = [None if v is None else str(v) for v in theirs]
    assert ours == theirs
