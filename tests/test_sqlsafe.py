"""One way to put a value into SQL (issue 13, item 1): the quoting helpers, and a scan of the package.

The scan reads every ``execute(f"...")``/``sql(f"...")`` (and ``scalar``, ``query_df``, ``query_arrow``) in
``src/socialvalue`` and fails on an interpolated expression that is neither passed through
:mod:`socialvalue.sqlsafe` nor an allow-listed internal name (SQL fragments built from the schema and
constants). A new f-string that pastes a path, an id or a word into SQL fails CI here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import duckdb
import pytest

from socialvalue.errors import ConfigError, SchemaError
from socialvalue.sqlsafe import ident, literal, literal_path, reader_path, writer_path

PKG = Path(__file__).resolve().parents[1] / "src" / "socialvalue"
CALLS = {"execute", "sql", "scalar", "query_df", "query_arrow", "executemany"}
SAFE_CALLS = {"ident", "literal", "literal_path", "reader_path", "q", "_ident"}

_STAGING = {"SRC", "RAW", "ROW", "CONV", "_ARROW"}  # the ingest's temporary object names (constants)
#: Per file: interpolated expressions that are internal constants, or SQL fragments assembled only from
#: constants, schema names and sqlsafe output (each checked where it is built). Anything else fails.
INTERNAL: dict[str, set[str]] = {
    "engine/features.py": {"name", "sql"},  # name: checked against _TABLE; sql: rendered feature definitions
    "engine/manifest.py": {"MANIFEST_TABLE", "where"},  # a constant; where: fixed text with ? parameters
    "ingest/convert.py": _STAGING | {"query", "q"},  # query: the plan's SELECT items; q: ident(...)
    "ingest/doctor.py": {"reader", "q", "_DISTINCT"},  # reader: fixed text with ? parameters; q: ident()
    "ingest/load.py": {"body", "target", "anti", "assignments", "match", "differs", "ids"},  # from ident()
    "ingest/sources.py": _STAGING
    | {"anywhere", "starts", "cols", "reader", "opts", "'VIEW' if kind == 'view' else 'TABLE'"},
    "ingest/validate.py": _STAGING
    | {"key", "content", "present", "c.where", "check.value", "check.where", "limit", "keyval", "q", "where"},
    "store.py": {"old"},  # ident() of a schema table name
    # constant SQL fragments (column lists, a join, a coalesce) chosen by whether the store has `actions`
    "published.py": {"value", "action_cols", "join", "hist_action"},
    # alias / a / ids / table: the server's own names for attached snapshots ("s<n>", "ids_s<n>"), never input
    "service/queries.py": {"snap.alias", "snap.ids", "a"},
    "service/snapshots.py": {"alias", "table", "snap.alias", "snap.ids"},
}
#: Files whose SQL others own (issue 13): scanned by test_no_unsafe_sql_in_files_owned_by_others.
OTHERS = ("exports.py", "privacy.py", "report/", "pipeline/")


def _violations(files: list[Path]) -> list[str]:
    out = []
    for path in files:
        rel = path.relative_to(PKG).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        src = path.read_text(encoding="utf-8")
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in CALLS or not node.args:
                continue
            for part in ast.walk(node.args[0]):
                if not isinstance(part, ast.FormattedValue):
                    continue
                value = part.value
                if isinstance(value, ast.Call):
                    fn = value.func
                    name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
                    if name in SAFE_CALLS or name == "join":
                        # join: each joined item is checked where it is built (its own f-strings)
                        continue
                expr = ast.get_source_segment(src, value) or ""
                if expr in INTERNAL.get(rel, set()):
                    continue
                out.append(f"{rel}:{node.lineno}: {{{expr}}}")
    return out


def _files(*, others: bool) -> list[Path]:
    files = sorted(PKG.rglob("*.py"))
    owned_by_others = [f for f in files if f.relative_to(PKG).as_posix().startswith(OTHERS)]
    return owned_by_others if others else [f for f in files if f not in owned_by_others]


def test_no_unsafe_sql_f_strings():
    bad = _violations(_files(others=False))
    assert not bad, "interpolate only through socialvalue.sqlsafe (or bind ? parameters):\n" + "\n".join(bad)


def test_no_unsafe_sql_in_files_owned_by_others():
    bad = _violations(_files(others=True))
    assert not bad, "interpolate only through socialvalue.sqlsafe (or bind ? parameters):\n" + "\n".join(bad)


# -- the helpers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ['a"b', "it's", "x y", "ü", 'x"; DROP TABLE t; --', "SELECT"])
def test_ident_round_trips_through_duckdb(name):
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t ({ident(name)} INTEGER)")
    assert con.execute("SELECT column_name FROM information_schema.columns").fetchall() == [(name,)]


def test_ident_refuses_nul_and_empty():
    for bad in ("a\x00b", ""):
        with pytest.raises(SchemaError):
            ident(bad)


@pytest.mark.parametrize(
    "value", ["it's", "a\\b", "'); COPY t TO '/tmp/pwn.csv'; --", "ü😀", 1, 1.5, True, None]
)
def test_literal_round_trips_through_duckdb(value):
    con = duckdb.connect()
    assert con.execute(f"SELECT {literal(value)}").fetchall()[0][0] == value


def test_literal_refuses_nul_and_objects():
    with pytest.raises(SchemaError):
        literal("a\x00")
    with pytest.raises(SchemaError):
        literal([1])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name", ["o[1].csv", "o*.csv", "a?b.csv", "it's.csv", "back\\slash.csv", "new\nline.csv", "ü 😀.csv"]
)
def test_reader_path_reads_exactly_the_named_file(tmp_path, name):
    for other in ("o1.csv", "other.csv", "a1b.csv"):
        (tmp_path / other).write_text("v\nWRONG\n")
    target = tmp_path / name
    target.write_text("v\nRIGHT\n")
    con = duckdb.connect()
    assert con.execute("SELECT v FROM read_csv(?)", [reader_path(target)]).fetchall() == [("RIGHT",)]
    view = f"CREATE VIEW x AS SELECT v FROM read_csv({literal_path(target)})"
    con.execute(view)
    assert con.execute("SELECT v FROM x").fetchall() == [("RIGHT",)]


def test_writer_path_is_bound_verbatim(tmp_path):
    target = tmp_path / "w[1]*?'); COPY t TO 'pwn.csv'; --.csv"
    con = duckdb.connect()
    con.execute("COPY (SELECT 1 AS a) TO ? (FORMAT csv)", [writer_path(target)])
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    with pytest.raises(ConfigError):
        writer_path("a\x00b")
