"""Fuzzing ingest (issue 13, item 10): malformed files and frames through ``Store.ingest`` and the CLI.

Every generated input must end in a load report or a :class:`~socialvalue.errors.SocialValueError` with a
plain message (no traceback, no internal SQL); on rejection the store's tables and row counts are unchanged.
Derandomized, so CI sees the same cases every run.
"""

from __future__ import annotations

import functools
import io
import shutil
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialvalue import Store
from socialvalue.cli import main
from socialvalue.errors import SocialValueError
from socialvalue.ingest import LoadReport

FUZZ = settings(
    max_examples=150,  # three tests: 150 + 130 + 90 cases, about 60 s on two cores
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
KINDS = ["customers", "orders", "interactions", "relationships", "content"]
HEADERS = [
    "customer_id", "CUSTOMER_ID", "order_id", "ordered_at", "amount", "quantity", "status", "currency",
    "event_id", "actor_id", "target_id", "kind", "occurred_at", "src_id", "dst_id", "content_id",
    "author_id", "created_at", "rating", "signup_at", "country", "file_row_number", "_sv_row", "extra",
    'we"ird', "it's", "x y", "ü", "",
]  # fmt: skip
CELLS = st.one_of(
    st.sampled_from(
        [
            "",
            "c1",
            "c2",
            "1.5",
            "2.0",
            "-3",
            "1e309",
            "99999999999999999999999",
            "NaN",
            "inf",
            "1704103200",
            "2024-01-01",
            "2024-01-01T10:00:00+25:00",
            "2024-02-30",
            "0000-00-00",
            "31.12.2024",
            "9999-12-31",
            '"',
            '""',
            "'",
            "a,b",
            "a\nb",
            "\x00",
            "\ufeff",
            "é",
            "😀",
            "=HYPERLINK(1)",
            '{"a": 1}',
            "[1]",
            "true",
            "yes",
            "completed",
            "review",
            "follow",
            "EUR",
            "€ 12,50",
            "'); DROP TABLE orders; --",
        ]
    ),
    st.text(max_size=12),
)
ROWS = st.lists(st.lists(CELLS, min_size=0, max_size=6), min_size=0, max_size=6)
INTERNAL = ("Traceback", "LINE 1:", "_sv_src", "_sv_conv", "_sv_raw", "_sv_write", "__raw__", "EXCLUDE (")


def _fresh_store() -> Store:
    store = Store(":memory:")
    store.ingest("customers", pd.DataFrame({"customer_id": ["c1", "c2"]}))
    return store


def _state(store: Store) -> tuple:
    return (
        tuple(store.tables()),
        tuple(sorted(store.table_counts().items())),
        store.scalar("SELECT count(*) FROM _loads"),
    )


def _check(store: Store, kind: str, source) -> None:
    before = _state(store)
    try:
        report = store.ingest(kind, source)
    except SocialValueError as exc:
        msg = str(exc)
        assert msg.strip(), "an error without a message"
        assert not any(word in msg for word in INTERNAL), msg
        assert _state(store) == before, f"a rejected load changed the store: {msg}"
    else:
        assert isinstance(report, LoadReport)


@functools.cache
def _template_store() -> Path:
    """A store file with two customers, copied for each CLI case (cheaper than creating one)."""
    path = Path(tempfile.mkdtemp(prefix="sv-fuzz-")) / "template.duckdb"
    with Store(path) as s:
        s.ingest("customers", pd.DataFrame({"customer_id": ["c1", "c2"]}))
        s.con.execute("CHECKPOINT")
    return path


def _csv_text(header: list[str], rows: list[list[str]], sep: str) -> str:
    lines = [sep.join(header)] + [sep.join(r) for r in rows]
    return "\n".join(lines) + "\n"


@FUZZ
@given(
    kind=st.sampled_from(KINDS),
    suffix=st.sampled_from([".csv", ".tsv", ".json", ".jsonl", ".parquet", ".csv.gz"]),
    payload=st.one_of(
        st.binary(max_size=200),
        st.builds(
            lambda h, r, s: _csv_text(h, r, s).encode("utf-8", "surrogatepass"),
            st.lists(st.sampled_from(HEADERS), min_size=1, max_size=6),
            ROWS,
            st.sampled_from([",", ";", "\t"]),
        ),
        st.builds(
            lambda recs: ("[" + ",".join(recs) + "]").encode(),
            st.lists(
                st.builds(
                    lambda k, v: '{"' + k.replace('"', "") + '": ' + v + "}",
                    st.sampled_from(HEADERS),
                    st.sampled_from(
                        ['"c1"', "1", "1.5", "null", "true", '{"a": 1}', "[1, 2]", '"\\u0000"', "1e400"]
                    ),
                ),
                max_size=5,
            ),
        ),
    ),
    bom=st.booleans(),
)
def test_fuzz_files_through_store_ingest(kind, suffix, payload, bom):
    if bom:
        payload = b"\xef\xbb\xbf" + payload
    with tempfile.TemporaryDirectory() as tmp, _fresh_store() as store:
        path = Path(tmp) / f"data{suffix}"
        path.write_bytes(payload)
        _check(store, kind, path)


@settings(FUZZ, max_examples=130)
@given(
    kind=st.sampled_from(KINDS),
    columns=st.lists(st.sampled_from(HEADERS), min_size=1, max_size=6),
    cells=st.lists(
        st.one_of(
            CELLS, st.integers(min_value=-(2**70), max_value=2**70), st.floats(), st.none(), st.booleans()
        ),
        max_size=24,
    ),
)
def test_fuzz_frames_through_store_ingest(kind, columns, cells):
    n = len(columns)
    rows = [cells[i : i + n] + [None] * (n - len(cells[i : i + n])) for i in range(0, len(cells), n)] or [
        [None] * n
    ]
    frame = pd.DataFrame(rows, columns=columns)
    with _fresh_store() as store:
        _check(store, kind, frame)


@settings(FUZZ, max_examples=90)
@given(
    kind=st.sampled_from(KINDS),
    header=st.lists(st.sampled_from(HEADERS), min_size=1, max_size=5),
    rows=ROWS,
    suffix=st.sampled_from([".csv", ".json", ".jsonl"]),
)
def test_fuzz_cli_ingest(kind, header, rows, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db = root / "s.duckdb"
        shutil.copyfile(_template_store(), db)
        with Store(db, read_only=True) as s:
            before = _state(s)
        path = root / f"data{suffix}"
        if suffix == ".csv":
            path.write_text(_csv_text(header, rows, ","), encoding="utf-8", errors="surrogatepass")
        else:
            import json

            recs = [dict(zip(header, r, strict=False)) for r in rows]
            text = json.dumps(recs) if suffix == ".json" else "\n".join(json.dumps(r) for r in recs)
            path.write_text(text)
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["ingest", str(db), kind, str(path)])
        text = out.getvalue() + err.getvalue()
        assert code in (0, 2, 3, 4), text
        assert not any(word in text for word in INTERNAL), text
        if code != 0:
            with Store(db, read_only=True) as s:
                assert _state(s) == before


@pytest.mark.parametrize("kind", KINDS)
def test_empty_frame_of_every_kind(kind):
    with _fresh_store() as store:
        _check(store, kind, pd.DataFrame())
