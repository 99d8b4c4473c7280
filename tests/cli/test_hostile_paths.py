"""Every command that takes a path, with hostile names (issue 13, item 1).

Names carry quotes, glob characters (``* ? [ ]``), spaces, newlines, unicode, backslashes and an SQL fragment
that once copied the customer table to a file of the attacker's choosing. Each command must succeed on exactly
the named file, or fail with a clean error; never a traceback, never a file nobody asked for (the test
compares the directory tree before and after), never ``/tmp/pwn.csv``.

``report --out`` and ``export --out`` are in ``test_hostile_paths_report_and_export``.
"""

from __future__ import annotations

import io
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from socialvalue import Store
from socialvalue.cli import main

PWN = Path("/tmp/pwn.csv")
NAMES = {
    "quote": 'it\'s "q"',
    "glob": "o[1]*?",
    "space": "a b  c",
    "newline": "new\nline",
    "unicode": "ünï 😀 ß",
    "backslash": "back\\slash",
    "sql": "x'); COPY customers TO '/tmp/pwn.csv'; --",
}
IDS = list(NAMES)
RUN_IDS = ["quote", "glob", "newline", "sql"]  # a run takes seconds: the names that broke things before


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A 300-customer demo store with one run (for report and export)."""
    from socialvalue.demo import generate

    path = tmp_path_factory.mktemp("hostile_template") / "demo.duckdb"
    with Store(path) as s:
        generate(300, seed=3).load_into(s)
    assert main(["run", str(path), "--as-of", "latest"]) == 0
    return path


def _tree(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def _cli(args: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue() + err.getvalue()


def _hostile(root: Path, key: str, suffix: str) -> Path:
    """A path under ``root`` whose name (and, for the SQL fragment, folders) is the hostile text."""
    path = root / "in" / (NAMES[key] + suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _decoys(folder: Path, suffix: str, text: str) -> None:
    """Files a glob reading of the hostile name would pick up as well."""
    for name in ("o1" + suffix, "o1xx" + suffix, "other" + suffix):
        (folder / name).write_text(text)


def _clean(code: int, text: str) -> None:
    assert "Traceback" not in text, text
    assert code in (0, 2, 3, 4, 74), text  # 70 would be an internal error
    if code:
        assert "error:" in text, text
    assert not PWN.exists(), "the SQL in a path was executed"


@pytest.fixture(autouse=True)
def _no_pwn():
    if PWN.exists():  # pragma: no cover - left by an unrelated earlier attack
        PWN.unlink()
    yield
    assert not PWN.exists()


@pytest.mark.parametrize("key", IDS)
def test_init_info_erase_store_path(tmp_path, template, key):
    store = _hostile(tmp_path, key, ".duckdb")
    before = _tree(tmp_path)
    code, text = _cli(["init", store])
    _clean(code, text)
    if key == "backslash":  # DuckDB would open back/slash.duckdb instead: refused, nothing created
        assert code == 2 and "backslash" in text and _tree(tmp_path) == before
        return
    assert code == 0 and store.is_file()
    store.unlink()
    shutil.copyfile(template, store)
    code, text = _cli(["info", store])
    _clean(code, text)
    assert code == 0 and "customers" in text
    with Store(store, read_only=True) as s:
        victim = s.scalar("SELECT min(customer_id) FROM customers")
    code, text = _cli(["erase", store, victim])
    _clean(code, text)
    assert code == 0
    with Store(store, read_only=True) as s:
        assert s.scalar("SELECT count(*) FROM customers WHERE customer_id = ?", [victim]) == 0
    extra = {p for p in _tree(tmp_path) - before if p != store}
    assert not extra, extra


@pytest.mark.parametrize("key", IDS)
def test_ingest_file_and_mapping(tmp_path, key):
    store = tmp_path / "s.duckdb"
    assert _cli(["init", store])[0] == 0
    data = _hostile(tmp_path, key, ".csv")
    data.write_text("id\nright-1\nright-2\n")
    _decoys(data.parent, ".csv", "id\nWRONG\n")
    mapping = _hostile(tmp_path, key, ".toml")
    mapping.write_text('kind = "customers"\n[columns]\ncustomer_id = "id"\n')
    _decoys(mapping.parent, ".toml", 'kind = "orders"\n')
    before = _tree(tmp_path)
    code, text = _cli(["ingest", store, "customers", data, "--mapping", mapping])
    _clean(code, text)
    assert code == 0, text
    with Store(store, read_only=True) as s:
        assert sorted(s.scalar("SELECT list(customer_id) FROM customers")) == ["right-1", "right-2"]
    assert _tree(tmp_path) - before <= {store.with_name(store.name + ".wal")}


@pytest.mark.parametrize("key", IDS)
def test_doctor_file_and_out(tmp_path, key):
    data = _hostile(tmp_path, key, ".csv")
    data.write_text("order_no,client,when,total\n1,a,2024-01-01,3.5\n")
    _decoys(data.parent, ".csv", "x\nWRONG\n")
    out = _hostile(tmp_path, key, ".mapping.toml")
    before = _tree(tmp_path)
    code, text = _cli(["doctor", data, "--kind", "orders", "--out", out])
    _clean(code, text)
    assert code == 0, text
    assert out.is_file() and "order_no" in out.read_text()
    assert _tree(tmp_path) - before == {out}


@pytest.mark.parametrize("key", IDS)
def test_features_out(tmp_path, template, key):
    store = tmp_path / "s.duckdb"
    shutil.copyfile(template, store)
    out = _hostile(tmp_path, key, ".parquet")
    before = _tree(tmp_path)
    code, text = _cli(["features", store, "--as-of", "2026-01-01", "--out", out])
    _clean(code, text)
    assert code == 0, text
    import pyarrow.parquet as pq

    assert pq.read_table(out).num_rows > 0
    assert _tree(tmp_path) - before <= {out, store.with_name(store.name + ".wal")}


@pytest.mark.parametrize("key", IDS)
def test_config_and_playbook_files(tmp_path, key):
    cfg = _hostile(tmp_path, key, ".toml")
    before = _tree(tmp_path)
    code, text = _cli(["config", "init", cfg])
    _clean(code, text)
    assert code == 0 and cfg.is_file()
    code, text = _cli(["config", "check", cfg])
    _clean(code, text)
    assert code == 0, text
    play = _hostile(tmp_path, key, ".playbook.toml")
    code, text = _cli(["playbook", "show"])
    assert code == 0
    play.write_text(text)
    code, text = _cli(["playbook", "check", play])
    _clean(code, text)
    assert code == 0, text
    assert _tree(tmp_path) - before == {cfg, play}


@pytest.mark.parametrize("key", RUN_IDS)
def test_run_report_and_config(tmp_path, template, key):
    store = tmp_path / "s.duckdb"
    shutil.copyfile(template, store)
    cfg = _hostile(tmp_path, key, ".cfg.toml")
    cfg.write_text("[run]\nmargin = 0.3\n")
    report = _hostile(tmp_path, key, ".html")
    _decoys(report.parent, ".html", "old")
    before = _tree(tmp_path)
    code, text = _cli(["run", store, "--as-of", "latest", "--config", cfg, "--report", report])
    _clean(code, text)
    assert code == 0, text
    assert report.is_file() and report.stat().st_size > 1000
    serving = store.with_name(store.name + ".serving")  # the run's snapshot for the REST API
    snapshots = {p for p in serving.glob("snapshot-*.duckdb")}
    assert len(snapshots) == 1
    allowed = {report, store.with_name(store.name + ".wal"), serving, serving / "CURRENT", *snapshots}
    assert _tree(tmp_path) - before <= allowed


@pytest.mark.parametrize("key", IDS)
def test_hostile_paths_report_and_export(tmp_path, template, key):
    """``report --out`` and ``export --out`` (implemented in report/builder.py and exports.py)."""
    store = tmp_path / "s.duckdb"
    shutil.copyfile(template, store)
    report = _hostile(tmp_path, key, ".html")
    before = _tree(tmp_path)
    code, text = _cli(["report", store, "--out", report])
    _clean(code, text)
    assert code == 0, text
    assert report.is_file() and report.stat().st_size > 1000
    assert _tree(tmp_path) - before <= {report, store.with_name(store.name + ".wal")}
    folder = _hostile(tmp_path, key, "exports")
    before = _tree(tmp_path)
    code, text = _cli(["export", store, "--out", folder])
    _clean(code, text)
    assert code == 0, text
    written = _tree(tmp_path) - before
    assert written and all(p == folder or folder in p.parents or p.name.endswith(".wal") for p in written), (
        written
    )
