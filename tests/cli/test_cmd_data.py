"""The data commands, in-process through socialvalue.cli.main and as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from socialvalue import Store
from socialvalue.cli import main

_SCRIPT = Path(sys.executable).with_name("socialvalue")
#: The installed console script when present, else the same entry point through the interpreter.
CLI = (
    [str(_SCRIPT)]
    if _SCRIPT.exists()
    else [sys.executable, "-c", "import sys; from socialvalue.cli import main; sys.exit(main())"]
)


@pytest.fixture
def files(tmp_path):
    pd.DataFrame({"customer_id": ["a", "b"], "signup_at": ["2024-01-01", "2024-02-01"]}).to_csv(
        tmp_path / "customers.csv", index=False
    )
    pd.DataFrame(
        {
            "order_id": ["1", "2"],
            "customer_id": ["a", "zz"],
            "ordered_at": ["2024-03-01"] * 2,
            "amount": ["10", "1x"],
        }
    ).to_csv(tmp_path / "bad_orders.csv", index=False)
    pd.DataFrame(
        {
            "order_id": ["1", "2"],
            "customer_id": ["a", "zz"],
            "ordered_at": ["2024-03-01"] * 2,
            "amount": ["10", "3"],
        }
    ).to_csv(tmp_path / "orders.csv", index=False)
    (tmp_path / "map.toml").write_text('default_currency = "EUR"\n')
    return tmp_path


def test_init_ingest_info_erase(files, capsys):
    db = str(files / "shop.duckdb")
    assert main(["init", db]) == 0
    assert main(["ingest", db, "customers", str(files / "customers.csv")]) == 0
    assert "customers from customers.csv: 2 rows in, 2 inserted" in capsys.readouterr().err
    assert (
        main(["ingest", db, "orders", str(files / "orders.csv"), "--mapping", str(files / "map.toml")]) == 3
    )
    err = capsys.readouterr().err
    assert "row 2, column 'customer_id': got 'zz'" in err
    assert (
        main(
            [
                "ingest",
                db,
                "orders",
                str(files / "orders.csv"),
                "-m",
                str(files / "map.toml"),
                "--stub-missing",
            ]
        )
        == 0
    )
    assert "1 stub customers" in capsys.readouterr().err
    assert main(["info", db]) == 0
    out = capsys.readouterr().out
    assert "orders" in out and "2024-03-01 00:00" in out and "stub customers: 1" in out
    assert main(["erase", db, "a"]) == 0
    assert "erased 2 rows (customers 1, orders 1); erasure id " in capsys.readouterr().err
    with Store(db) as s:
        assert s.scalar("SELECT count(*) FROM customers WHERE customer_id = 'a'") == 0
        assert s.scalar("SELECT currency FROM orders LIMIT 1") == "EUR"
    assert main(["ingest", db, "customers", str(files / "customers.csv")]) == 3
    assert "expected a customer who was not erased" in capsys.readouterr().err
    assert main(["ingest", db, "customers", str(files / "customers.csv"), "--force"]) == 0


def test_bad_inputs_give_one_paragraph_and_exit_codes(files, capsys):
    db = str(files / "shop.duckdb")
    assert main(["ingest", db, "customers", str(files / "absent.csv")]) == 3
    assert "no such file" in capsys.readouterr().err
    (files / "bad.toml").write_text("colums = 1\n")
    assert main(["ingest", db, "customers", str(files / "customers.csv"), "-m", str(files / "bad.toml")]) == 4
    assert main(["info", str(files / "none.duckdb")]) == 2
    assert main(["ingest", db, "purchases", str(files / "customers.csv")]) == 3
    assert "unknown table kind 'purchases'; expected one of customers, orders" in capsys.readouterr().err


def test_help_has_examples(capsys):
    for cmd in ("init", "ingest", "info", "erase"):
        assert main([cmd, "--help"]) == 0
        assert f"Example: socialvalue {cmd}" in capsys.readouterr().out


def test_real_subprocess_exit_code_and_no_traceback(files):
    db = str(files / "shop.duckdb")
    ok = subprocess.run(
        [*CLI, "ingest", db, "customers", str(files / "customers.csv")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [*CLI, "ingest", db, "orders", str(files / "bad_orders.csv")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 3
    assert "Traceback" not in bad.stderr + bad.stdout
    assert "bad_orders.csv: 2 problems in 2 rows; nothing was loaded" in bad.stderr
    assert "row 2, column 'amount': got '1x'" in bad.stderr
