"""The data commands, in-process through socialvalue.cli.main and as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from socialvalue import Store
from socialvalue.cli import main
from socialvalue.store import SCHEMA_VERSION

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
    assert capsys.readouterr().out == f"store {db} ready (schema v{SCHEMA_VERSION})\n"
    assert main(["ingest", db, "customers", str(files / "customers.csv")]) == 0
    assert "customers from customers.csv: 2 rows in, 2 inserted" in capsys.readouterr().out
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
    assert "1 stub customers" in capsys.readouterr().out
    assert main(["info", db]) == 0
    out = capsys.readouterr().out
    assert "orders" in out and "2024-03-01 00:00" in out and "stub customers: 1" in out
    assert main(["erase", db, "a"]) == 0
    res = capsys.readouterr()
    assert res.out.startswith(
        "erased 2 rows (customers 1, orders 1); 0 export files rewritten; store file rewritten"
    )
    assert res.err == ""
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


def test_version_on_stdout(capsys):
    from socialvalue import __version__

    assert main(["--version"]) == 0
    res = capsys.readouterr()
    assert res.out == f"socialvalue {__version__}\n" and res.err == ""


def _erasures(db: str) -> int:
    with Store(db, read_only=True) as s:
        return s.scalar("SELECT count(*) FROM _erasure_log")


def test_erase_unknown_id_fails_and_records_nothing(files, capsys):
    db = str(files / "shop.duckdb")
    assert main(["ingest", db, "customers", str(files / "customers.csv")]) == 0
    capsys.readouterr()
    assert main(["erase", db, "NOPE"]) == 2
    res = capsys.readouterr()
    assert res.out == ""
    assert "Traceback" not in res.err
    assert f"error: no customer 'NOPE' in {db}: nothing was erased or recorded." in res.err
    assert f"run: socialvalue erase {db} NOPE --block-future-loads" in res.err
    assert "block_future_loads=True" not in res.err  # no advice meant for Python callers
    assert _erasures(db) == 0
    nope = files / "nope.csv"
    pd.DataFrame({"customer_id": ["NOPE"]}).to_csv(nope, index=False)
    assert main(["ingest", db, "customers", str(nope)]) == 0  # not blocked


def test_erase_unknown_id_on_purpose_blocks_future_loads(files, capsys):
    db = str(files / "shop.duckdb")
    assert main(["init", db]) == 0
    capsys.readouterr()
    assert main(["erase", db, "NOPE", "--block-future-loads"]) == 0
    res = capsys.readouterr()
    assert res.out.startswith(
        f"no rows about 'NOPE' in {db}; recorded as erased on purpose, so later loads of it are refused; "
        "erasure id "
    )
    assert _erasures(db) == 1
    nope = files / "nope.csv"
    pd.DataFrame({"customer_id": ["NOPE"]}).to_csv(nope, index=False)
    assert main(["ingest", db, "customers", str(nope)]) == 3
    assert "expected a customer who was not erased" in capsys.readouterr().err
    # erasing it again says it was erased before and changes nothing
    assert main(["erase", db, "NOPE"]) == 2
    assert (
        f"error: no customer 'NOPE' in {db}: it was erased before and later loads of it are already refused"
        in capsys.readouterr().err
    )
    assert _erasures(db) == 1


def test_erase_missing_store(files, capsys):
    assert main(["erase", str(files / "none.duckdb"), "a"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (files / "none.duckdb").exists()


def test_real_subprocess_version_and_unknown_erase(files):
    from socialvalue import __version__

    version = subprocess.run([*CLI, "--version"], capture_output=True, text=True, check=False)
    assert (version.returncode, version.stdout, version.stderr) == (0, f"socialvalue {__version__}\n", "")
    db = str(files / "shop.duckdb")
    assert subprocess.run([*CLI, "init", db], capture_output=True, check=False).returncode == 0
    nope = subprocess.run([*CLI, "erase", db, "NOPE"], capture_output=True, text=True, check=False)
    assert nope.returncode == 2 and nope.stdout == ""
    assert "Traceback" not in nope.stderr
    assert nope.stderr.startswith(f"error: no customer 'NOPE' in {db}: nothing was erased or recorded.")
