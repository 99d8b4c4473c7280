from socialvalue import Store
from socialvalue.schema import KINDS


def test_store_creates_canonical_tables_and_reopens(tmp_path):
    path = tmp_path / "s.duckdb"
    with Store(path) as s:
        assert s.schema_version >= 1
        assert set(KINDS) <= set(s.tables())
        assert s.table_counts() == dict.fromkeys(KINDS, 0)
    with Store(path) as s:  # re-opening applies no migration twice
        assert s.query_df("SELECT count(*) AS n FROM _schema_version")["n"].iloc[0] == s.schema_version
