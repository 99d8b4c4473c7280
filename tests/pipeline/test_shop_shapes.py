"""Issue 12: every run on an ordinary shop's data finishes, or stops with one clear line and changes nothing.

Each shape is generated here (``shops.py``), loaded and run through the command line as a user would
(``socialvalue init / ingest / run``). A shape either finishes (exit 0, with any fallback named in the run log
``_runs``) or stops with one line that says what is wrong and how to fix it; no shape prints a traceback, and a
refused run leaves the store exactly as it was.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from socialvalue import Store
from socialvalue.cli import main

from .shops import Shop, generate_shop

AS_OF = "2026-07-01"


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    assert "Traceback" not in cap.out + cap.err
    return code, cap.out, cap.err


def _load(tmp: Path, shop: Shop, capsys, name: str) -> Path:
    paths = generate_shop(shop, tmp / f"{name}_data")
    store = tmp / f"{name}.duckdb"
    assert _cli(capsys, "init", store)[0] == 0
    for kind in ("customers", "orders", "relationships", "interactions"):
        if kind in paths:
            code, _out, err = _cli(capsys, "ingest", store, kind, paths[kind])
            assert code == 0, err
    return store


def _state(path: Path) -> dict[str, int]:
    """Every table of the store with its row count (what a refused run must not change)."""
    with Store(path, read_only=True) as s:
        return {t: int(s.scalar(f'SELECT count(*) FROM "{t}"')) for t in s.tables()}


def _last_run(path: Path) -> dict:
    with Store(path, read_only=True) as s:
        diag = s.scalar("SELECT diagnostics_json FROM _runs ORDER BY started_at DESC LIMIT 1")
    return json.loads(diag)


def _config(tmp: Path, text: str) -> Path:
    path = tmp / "socialvalue.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def shops(tmp_path_factory):
    """The generated shops, each loaded once into its own store (runs use copies)."""
    root = tmp_path_factory.mktemp("shops")
    capsys = _NoCapture()
    shapes = {
        "ordinary": Shop(),
        "fixed_price": Shop(fixed_price=29.90),
        "one_order": Shop(one_order_each=True),
        "three_months": Shop(start="2026-04-01"),
        "fifty": Shop(customers=50, seed=3),
        "mixed": Shop(currency=("EUR", "USD", "JPY"), seed=5),
    }
    return {name: _load(root, shop, capsys, name) for name, shop in shapes.items()}


class _NoCapture:
    """capsys stand-in for the module fixture (output of set-up loads is not asserted)."""

    def readouterr(self):
        return type("C", (), {"out": "", "err": ""})()


@pytest.fixture
def copy_of(shops, tmp_path):
    def make(name: str) -> Path:
        dst = tmp_path / f"{name}.duckdb"
        shutil.copy(shops[name], dst)
        return dst

    return make


def test_ordinary_eur_shop_finishes_and_reports_in_eur(copy_of, capsys, tmp_path):
    store = copy_of("ordinary")
    code, out, err = _cli(capsys, "run", store, "--as-of", AS_OF, "--report", tmp_path / "r.html")
    assert code == 0, err
    assert "money: amounts in EUR, the orders' currency" in out
    diag = _last_run(store)
    assert diag["currency"] == "EUR"
    html = (tmp_path / "r.html").read_text()
    assert "EUR" in html and "How this run was made" in html
    with Store(store, read_only=True) as s:
        assert s.scalar("SELECT DISTINCT currency FROM scores") == "EUR"
        assert s.scalar("SELECT DISTINCT currency FROM actions") == "EUR"
        # a run stores its results, not its intermediate feature tables
        assert not [t for t in s.tables() if t.startswith("features_")]


def test_fixed_price_catalogue_falls_back_to_shrunk_spend(copy_of, capsys):
    store = copy_of("fixed_price")
    code, out, err = _cli(capsys, "run", store, "--as-of", AS_OF)
    assert code == 0, err
    ladder = _last_run(store)["btyd"]["ladders"]["spend"]
    assert ladder["used"] == "shrunk mean spend" and ladder["fallback"]
    assert "fallback: spend model: fell back to shrunk mean spend" in out
    with Store(store, read_only=True) as s:
        clv = s.query_df("SELECT clv FROM scores")["clv"]
    assert clv.notna().all() and (clv >= 0).all() and clv.max() > 0


def test_every_customer_with_one_order_falls_back_to_the_rate_model(copy_of, capsys):
    store = copy_of("one_order")
    code, _out, err = _cli(capsys, "run", store, "--as-of", AS_OF)
    assert code == 0, err
    diag = _last_run(store)
    assert diag["btyd"]["ladders"]["purchase"]["used"] == "plain rate model"
    assert any(f.startswith("purchase model: fell back to plain rate model") for f in diag["fallbacks"])
    assert diag["btyd"]["ladders"]["spend"]["used"] == "shrunk mean spend"
    assert "one year rather than a lifetime" in diag["clv_horizon"]


def test_three_months_of_history_with_the_default_holdout_stops_with_the_largest_that_works(
    copy_of, capsys, tmp_path
):
    store = copy_of("three_months")
    before = _state(store)
    code, out, err = _cli(capsys, "run", store, "--as-of", AS_OF)
    assert code != 0 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "not enough history for the holdout" in err
    assert "the largest holdout_periods that works as of 2026-07-01 is 12 (weeks)" in err
    assert _state(store) == before
    # and the advice works
    cfg = _config(tmp_path, "[run]\nholdout_periods = 12\n")
    code, out, err = _cli(capsys, "run", store, "--as-of", AS_OF, "--config", cfg)
    assert code == 0, err


def test_fifty_customers_finish(copy_of, capsys):
    store = copy_of("fifty")
    code, _out, err = _cli(capsys, "run", store, "--as-of", AS_OF)
    assert code == 0, err
    with Store(store, read_only=True) as s:
        assert s.scalar("SELECT count(*) FROM scores") > 0


def test_mixed_currencies_are_refused_with_counts_and_converted_with_rates(copy_of, capsys, tmp_path):
    store = copy_of("mixed")
    before = _state(store)
    code, out, err = _cli(capsys, "run", store, "--as-of", AS_OF)
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert "orders are in 3 currencies (" in err and "which cannot be summed" in err
    with Store(store, read_only=True) as s:
        counts = dict(s.con.execute("SELECT currency, count(*) FROM orders GROUP BY 1").fetchall())
    for cur, n in counts.items():
        assert f"{cur} {n:,} rows" in err
    assert _state(store) == before
    # info flags them
    code, out, err = _cli(capsys, "info", store)
    assert code == 0 and "mixed currencies" in out
    # with rates, amounts are converted into the reporting currency
    (tmp_path / "rates.csv").write_text("currency,rate\nUSD,0.9\nJPY,0.006\n")
    cfg = _config(tmp_path, '[run]\ncurrency = "EUR"\nexchange_rates = "rates.csv"\n')
    code, out, err = _cli(capsys, "run", store, "--as-of", AS_OF, "--config", cfg)
    assert code == 0, err
    assert "amounts converted to EUR at the configured rates" in out
    with Store(store, read_only=True) as s:
        got = s.query_df("SELECT customer_id, total_spend FROM scores WHERE n_orders > 0")
        raw = s.query_df(
            "SELECT customer_id, sum(CAST(amount AS DOUBLE) * CASE currency WHEN 'USD' THEN 0.9 "
            "WHEN 'JPY' THEN 0.006 ELSE 1 END) AS want FROM orders "
            "WHERE ordered_at < '2026-07-01' AND status IN ('completed', 'returned', 'refunded') GROUP BY 1"
        )
        # the stored orders themselves are untouched
        assert dict(s.con.execute("SELECT currency, count(*) FROM orders GROUP BY 1").fetchall()) == counts
    both = got.merge(raw, on="customer_id")
    assert len(both) > 0
    assert (both["total_spend"] - both["want"]).abs().max() < 0.01


def test_rates_missing_a_currency_are_refused(copy_of, capsys, tmp_path):
    store = copy_of("mixed")
    (tmp_path / "rates.csv").write_text("currency,rate\nUSD,0.9\n")
    cfg = _config(tmp_path, '[run]\ncurrency = "EUR"\nexchange_rates = "rates.csv"\n')
    code, _out, err = _cli(capsys, "run", store, "--as-of", AS_OF, "--config", cfg)
    assert code != 0 and "has no rate for JPY" in err


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        (
            "2023-01-01",
            r"--as-of 2023-01-01 is before the data: the [\d,]+ purchases run from 2024-\d\d-\d\d",
        ),
        (
            "2031-01-01",
            r"--as-of 2031-01-01 is after the data: .* holds no purchase; use --as-of latest \(2026-0",
        ),
        (
            "01/11/2026",
            r"not a date I can read: expected a date as YYYY-MM-DD .*could mean 2026-11-01 or 2026-01-11",
        ),
        ("2026-13-01", r"--as-of '2026-13-01' is not a real date: expected a date as YYYY-MM-DD"),
        ("yesterday", r"--as-of 'yesterday' is not a date I can read: expected a date as YYYY-MM-DD"),
    ],
)
def test_bad_scoring_dates_stop_before_any_work(copy_of, capsys, as_of, message):
    import re

    store = copy_of("ordinary")
    before = _state(store)
    code, out, err = _cli(capsys, "run", store, "--as-of", as_of)
    assert code != 0 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert re.search(message, err), err
    assert _state(store) == before


def test_as_of_latest_and_inside_the_data(copy_of, capsys):
    store = copy_of("ordinary")
    code, _out, err = _cli(capsys, "run", store, "--as-of", "latest")
    assert code == 0, err
    with Store(store, read_only=True) as s:
        last = pd.Timestamp(s.scalar("SELECT max(ordered_at) FROM orders")).date()
        assert str(s.scalar("SELECT max(as_of) FROM scores")) == str(last + pd.Timedelta(days=1))
    code, _out, err = _cli(capsys, "run", store, "--as-of", "2026-03-01")
    assert code == 0, err


def test_european_csv_conventions_load_through_doctors_mapping_and_run(tmp_path, capsys):
    """A shop export with ';', decimal commas, day-first dates, spaced headers and its own status words."""
    paths = generate_shop(Shop(seed=11), tmp_path / "eu")
    orders = pd.read_csv(paths["orders"])
    eu = pd.DataFrame(
        {
            "Order ID": orders["order_id"],
            "Customer": orders["customer_id"],
            "Date": pd.to_datetime(orders["ordered_at"]).dt.strftime("%d/%m/%Y %H:%M"),
            "Amount": orders["amount"].map(lambda v: f"{v:.2f}".replace(".", ",")),
            "Currency": orders["currency"],
            "Status": orders["status"].map({"completed": "Shipped", "returned": "Returned"}),
        }
    )
    eu_path = tmp_path / "eu" / "bestellungen.csv"
    eu.to_csv(eu_path, sep=";", index=False)
    store = tmp_path / "eu.duckdb"
    assert _cli(capsys, "init", store)[0] == 0
    assert _cli(capsys, "ingest", store, "customers", paths["customers"])[0] == 0
    # without a mapping: one message that names the fixes
    code, out, err = _cli(capsys, "ingest", store, "orders", eu_path)
    assert code != 0
    assert "the file's columns are: 'Order ID', 'Customer', 'Date', 'Amount', 'Currency', 'Status'" in err
    assert 'add to the mapping\'s [columns]: order_id = "Order ID"' in err
    mapping = tmp_path / "eu" / "orders.toml"
    code, out, err = _cli(capsys, "doctor", eu_path, "--kind", "orders", "--out", mapping)
    assert code == 0, err
    text = mapping.read_text()
    assert 'delimiter = ";"' in text and "decimal_comma = true" in text and "%d/%m/%Y" in text
    code, out, err = _cli(capsys, "ingest", store, "orders", eu_path, "--mapping", mapping)
    assert code == 0, err
    with Store(store, read_only=True) as s:
        got = s.query_df("SELECT order_id, CAST(amount AS DOUBLE) AS amount, status, ordered_at FROM orders")
    both = got.merge(orders, on="order_id", suffixes=("", "_src"))
    assert len(both) == len(orders)
    assert (both["amount"] - both["amount_src"]).abs().max() < 1e-9
    assert (both["status"] == both["status_src"]).all()
    assert (both["ordered_at"].dt.strftime("%Y-%m-%d %H:%M") == both["ordered_at_src"].str[:16]).all()
    code, out, err = _cli(capsys, "run", store, "--as-of", AS_OF)
    assert code == 0, err
    assert "amounts in EUR" in out


def test_orders_without_a_currency_are_not_called_usd(tmp_path, capsys):
    paths = generate_shop(Shop(seed=13, social=False), tmp_path / "nocur")
    pd.read_csv(paths["orders"]).drop(columns=["currency"]).to_csv(paths["orders"], index=False)
    store = tmp_path / "nocur.duckdb"
    assert _cli(capsys, "init", store)[0] == 0
    assert _cli(capsys, "ingest", store, "customers", paths["customers"])[0] == 0
    code, out, err = _cli(capsys, "ingest", store, "orders", paths["orders"])
    assert code == 0, err
    assert "has no currency column: amounts are stored with currency XXX" in out
    assert 'add default_currency = "EUR"' in out
    code, out, err = _cli(capsys, "run", store, "--as-of", AS_OF)
    assert code == 0, err
    assert "money: amounts in XXX: the orders name no currency" in out
    assert "USD" not in out


def test_a_playbook_in_another_currency_is_refused(copy_of, capsys, tmp_path):
    store = copy_of("ordinary")
    code, out, _ = _cli(capsys, "playbook", "show")
    assert code == 0
    (tmp_path / "playbook.toml").write_text('currency = "USD"\n' + out)
    cfg = _config(tmp_path, '[actions]\nplaybook = "playbook.toml"\n')
    before = _state(store)
    code, out, err = _cli(capsys, "run", store, "--as-of", AS_OF, "--config", cfg)
    assert code != 0 and "the playbook's costs are in USD but this run's amounts are in EUR" in err
    assert _state(store) == before


def test_every_published_score_names_its_champion_and_challengers(copy_of, capsys):
    store = copy_of("ordinary")
    assert _cli(capsys, "run", store, "--as-of", AS_OF)[0] == 0
    champions = _last_run(store)["champions"]
    assert {"purchases", "value"} <= set(champions)
    for record in champions.values():
        names = [m["name"] for m in record["metrics"]]
        assert record["champion"] in names and len(names) >= 3
        assert any(m["kind"] == "baseline" for m in record["metrics"])
        best = max(m["spearman"] for m in record["metrics"])
        won = next(m for m in record["metrics"] if m["name"] == record["champion"])
        assert won["spearman"] >= best - 0.01  # the champion ranks the holdout best (a model keeps ties)
    with Store(store, read_only=True) as s:
        sources = s.query_df("SELECT DISTINCT value_source FROM scores")["value_source"].tolist()
    assert sources == [champions["value"]["champion"]]
