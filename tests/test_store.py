import pandas as pd

from socialvalue import Store
from socialvalue.schema import KINDS
from socialvalue.store import SCHEMA_VERSION


def test_store_creates_canonical_tables_and_reopens(tmp_path):
    path = tmp_path / "s.duckdb"
    with Store(path) as s:
        assert s.schema_version >= 1
        assert set(KINDS) <= set(s.tables())
        assert s.table_counts() == dict.fromkeys(KINDS, 0)
    with Store(path) as s:  # re-opening applies no migration twice
        assert s.query_df("SELECT count(*) AS n FROM _schema_version")["n"].iloc[0] == s.schema_version


def test_migration_2_drops_primary_key_indexes_and_keeps_rows(tmp_path):
    """A store created by the first schema (with ART primary keys) is rebuilt without them, rows intact."""
    import duckdb

    from socialvalue.schema import TABLES

    path = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(path))
    for kind in KINDS:
        con.execute(TABLES[kind].ddl(enforce_primary_key=True))
    con.execute(
        """
        CREATE TABLE _schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP);
        INSERT INTO _schema_version VALUES (1, now()::TIMESTAMP);
        CREATE TABLE _store_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
        INSERT INTO _store_meta VALUES ('erasure_salt', 'abc');
        CREATE TABLE _loads (
            load_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, source VARCHAR, content_hash VARCHAR,
            rows_in BIGINT, rows_inserted BIGINT, rows_updated BIGINT, loaded_at TIMESTAMP NOT NULL);
        CREATE TABLE _erasure_log (
            erasure_id VARCHAR PRIMARY KEY, erased_at TIMESTAMP NOT NULL, subject_hash VARCHAR NOT NULL,
            rows_removed BIGINT NOT NULL, tables_touched VARCHAR);
        INSERT INTO customers (customer_id, consent_marketing, consent_profiling, is_stub)
            VALUES ('c1', TRUE, TRUE, FALSE);
        """
    )
    con.close()
    with Store(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert (
            s.scalar(
                "SELECT count(*) FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY' "
                "AND table_name IN ('customers', 'orders')"
            )
            == 0
        )
        assert s.con.execute("SELECT customer_id, consent_marketing FROM customers").fetchall() == [
            ("c1", True)
        ]
        assert {"rows_unchanged", "stubs_created"} <= {
            r[0] for r in s.con.execute("DESCRIBE _loads").fetchall()
        }


def test_info_reports_counts_ranges_and_quality(store):
    import datetime as dt

    import pandas as pd

    store.ingest("customers", pd.DataFrame({"customer_id": ["a", "b"], "signup_at": ["2023-01-01", None]}))
    store.ingest(
        "orders",
        pd.DataFrame(
            {
                "order_id": ["o1", "o2", "o3"],
                "customer_id": ["a", "b", "zz"],
                "ordered_at": ["2024-01-01", "2024-02-01", "2024-03-01"],
                "amount": ["5", "-2", "1"],
                "status": ["completed", "refunded", "completed"],
            }
        ),
        on_missing_customer="stub",
    )
    # Problems that ingest would refuse, written behind its back, show up in the summary.
    store.con.execute(
        "INSERT INTO orders VALUES ('o1', 'a', TIMESTAMP '2999-01-01', -3, 'USD', 'completed', NULL, NULL)"
    )
    store.con.execute("CREATE TABLE scores (customer_id VARCHAR, clv DOUBLE)")
    info = store.info()
    c, o = info["customers"], info["orders"]
    assert (c.rows, c.stubs, c.nulls["signup_at"], c.first) == (3, 1, 2, dt.datetime(2023, 1, 1))
    assert (o.rows, o.first, o.last) == (4, dt.datetime(2024, 1, 1), dt.datetime(2999, 1, 1))
    assert (o.duplicate_keys, o.negative_amounts, o.future_timestamps, o.nulls["quantity"]) == (1, 1, 1, 4)
    assert info["scores"].rows == 0 and not info["scores"].canonical
    assert info["interactions"].rows == 0 and info["interactions"].first is None


def test_data_model_doc_matches_schema():
    """docs/data-model.md embeds the column tables generated from schema.py, unchanged."""
    from pathlib import Path

    from socialvalue.schema import markdown_tables

    doc = (Path(__file__).resolve().parents[1] / "docs" / "data-model.md").read_text(encoding="utf-8")
    assert markdown_tables() in doc


def test_query_df_keeps_duckdbs_pandas_conventions():
    # query_df converts through Arrow (DuckDB 2's .df() is ~10x slower); the dtypes must stay what .df() gives
    q = (
        "SELECT 1.25::DECIMAL(18,2) AS d, NULL::INTEGER AS i_null, 3::INTEGER AS i, NULL::BOOLEAN AS b_null, "
        "TRUE AS b, 'x' AS s, DATE '2020-01-02' AS day, TIMESTAMP '2020-01-02 03:04:05' AS ts, "
        "NULL::UBIGINT AS u_null FROM range(2)"
    )
    with Store(":memory:") as store:
        got = store.query_df(q)
        ref = store.con.sql(q).df()
    assert got.dtypes.astype(str).to_dict() == ref.dtypes.astype(str).to_dict()
    assert got["d"].tolist() == [1.25, 1.25]
    assert got["day"].iloc[0] == pd.Timestamp("2020-01-02")
    assert got["i_null"].isna().all() and str(got["i_null"].dtype) == "Int32"
