"""``socialvalue doctor`` through the command line: profile, write the mapping, and ingest with it."""

from __future__ import annotations

from socialvalue import Store
from socialvalue.cli import main

EURO = (
    "Order ID;Customer;Date;Amount;Status\n"
    "A-1;c1;31/01/2026;12,50;Shipped\n"
    "A-2;c2;13/02/2025;-1.234,00;Returned\n"
    "A-3;c1;05/03/2025;7,25;SHIPPED\n"
)


def _clean(text: str) -> None:
    for bad in ("Traceback", "_sv_", "SELECT"):
        assert bad not in text


def test_doctor_then_ingest(tmp_path, capsys):
    data = tmp_path / "orders.csv"
    data.write_text(EURO, encoding="utf-8")
    mapping = tmp_path / "orders.toml"
    db = tmp_path / "shop.duckdb"
    assert main(["doctor", str(data), "--kind", "orders", "--out", str(mapping)]) == 0
    err = capsys.readouterr().err
    _clean(err)
    assert "orders.csv -> orders:" in err
    assert "fields are separated by ';'" in err
    assert "'Amount' uses decimal commas" in err
    assert "'Date' holds dates like" in err and "format %d/%m/%Y" in err
    assert "'Status': 'shipped' (any case) is read as 'completed'" in err
    assert "TODO: the file names no currency" in err
    assert f"wrote {mapping}; load with: socialvalue ingest STORE orders {data} --mapping {mapping}" in err
    text = mapping.read_text(encoding="utf-8")
    assert 'order_id = "Order ID"' in text and '"shipped" = "completed"' in text

    assert main(["init", str(db)]) == 0
    argv = ["ingest", str(db), "orders", str(data), "--mapping", str(mapping), "--stub-missing"]
    assert main(argv) == 0
    cap = capsys.readouterr()
    _clean(cap.out + cap.err)
    assert "orders from orders.csv: 3 rows in, 3 inserted" in cap.out  # results on stdout
    with Store(db, read_only=True) as s:
        got = s.con.execute("SELECT order_id, amount, status FROM orders ORDER BY order_id").fetchall()
    assert [(o, float(a), st) for o, a, st in got] == [
        ("A-1", 12.5, "completed"),
        ("A-2", -1234.0, "returned"),
        ("A-3", 7.25, "completed"),
    ]


def test_doctor_default_out_and_overwrite(tmp_path, capsys):
    data = tmp_path / "orders.csv"
    data.write_text(EURO, encoding="utf-8")
    assert main(["doctor", str(data), "--kind", "orders"]) == 0
    written = tmp_path / "orders.mapping.toml"
    assert written.is_file()
    capsys.readouterr()
    assert main(["doctor", str(data), "--kind", "orders"]) == 4
    err = capsys.readouterr().err
    _clean(err)
    assert "orders.mapping.toml exists; pass --overwrite to replace it" in err
    assert main(["doctor", str(data), "--kind", "orders", "--overwrite"]) == 0


def test_doctor_errors_are_one_line(tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert main(["doctor", str(empty), "--kind", "orders", "--out", str(tmp_path / "m.toml")]) == 3
    err = capsys.readouterr().err
    _clean(err)
    assert "empty.csv is empty" in err
    assert main(["doctor", str(empty), "--kind", "purchases", "--out", str(tmp_path / "m.toml")]) == 3
    assert "unknown table kind 'purchases'" in capsys.readouterr().err
    assert not (tmp_path / "m.toml").exists()
