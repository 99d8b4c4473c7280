"""Pre-flight checks of a run: scoring dates, history, currencies (issue 12, "dates are understood or refused")."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from socialvalue import Store
from socialvalue.errors import ConfigError, SchemaError
from socialvalue.pipeline import RunConfig
from socialvalue.pipeline.preflight import check_dates, check_scoring_date, resolve_as_of, resolve_money


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "s.duckdb")
    s.ingest("customers", pd.DataFrame({"customer_id": ["a", "b"]}))
    s.ingest(
        "orders",
        pd.DataFrame(
            {
                "order_id": ["1", "2", "3"],
                "customer_id": ["a", "b", "a"],
                "ordered_at": ["2025-01-10", "2025-03-01", "2025-12-30"],
                "amount": [10.0, 20.0, 5.0],
                "currency": ["EUR"] * 3,
            }
        ),
    )
    yield s
    s.close()


def test_as_of_forms(store):
    assert resolve_as_of(store, "2025-06-01") == pd.Timestamp("2025-06-01")
    assert resolve_as_of(store, "latest") == pd.Timestamp("2025-12-31")
    assert resolve_as_of(store, " Today ") == pd.Timestamp(dt.datetime.now(dt.UTC).date())
    assert resolve_as_of(store, dt.date(2025, 6, 1)) == pd.Timestamp("2025-06-01")
    aware = pd.Timestamp("2025-06-01 01:30", tz="Europe/Berlin")  # 2025-05-31 23:30 UTC
    assert resolve_as_of(store, aware) == pd.Timestamp("2025-05-31")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("01/11/2026", r"could mean 2026-11-01 or 2026-01-11"),
        ("13/01/2026", r"did you mean 2026-01-13\?"),
        ("2026-02-30", r"is not a real date"),
        ("yesterday", r"expected a date as YYYY-MM-DD \(e.g. 2026-11-01\), 'today' or 'latest'"),
        ("2026-1-5", r"is not a date I can read"),
    ],
)
def test_unreadable_dates_are_refused_never_guessed(store, text, match):
    with pytest.raises(ConfigError, match=match):
        resolve_as_of(store, text)


def test_history_checks_name_the_range_and_the_largest_holdout(store):
    cfg = RunConfig()  # 26 weeks of holdout
    with pytest.raises(
        ConfigError, match=r"before the data: the 3 purchases run from 2025-01-10 to 2025-12-30"
    ):
        check_dates(store, pd.Timestamp("2025-01-10"), cfg)
    with pytest.raises(ConfigError, match=r"after the data: .* use --as-of latest \(2025-12-31\)"):
        check_dates(store, pd.Timestamp("2027-01-01"), cfg)
    # 2025-01-10 .. 2025-06-01 is 142 days: 20 whole weeks, one of which must stay for calibration
    with pytest.raises(
        ConfigError, match=r"the largest holdout_periods that works as of 2025-06-01 is 19 \(weeks\)"
    ):
        check_dates(store, pd.Timestamp("2025-06-01"), cfg)
    ok = RunConfig.model_validate({"run": {"holdout_periods": 19}})
    assert check_dates(store, pd.Timestamp("2025-06-01"), ok).orders == 3


def test_empty_store_is_refused(tmp_path):
    with Store(tmp_path / "e.duckdb") as s, pytest.raises(SchemaError, match="no completed purchases"):
        check_dates(s, pd.Timestamp("2025-01-01"), RunConfig())


def test_money_is_the_orders_currency_unless_configured(store):
    money = resolve_money(store, pd.Timestamp("2026-01-01"), RunConfig())
    assert money.currency == "EUR" and not money.converted
    usd = RunConfig.model_validate({"run": {"currency": "USD"}})
    with pytest.raises(ConfigError, match="currency is USD but the orders are in EUR"):
        resolve_money(store, pd.Timestamp("2026-01-01"), usd)
    rates_only = RunConfig.model_validate({"run": {"exchange_rates": "r.csv"}})
    with pytest.raises(ConfigError, match="exchange_rates needs \\[run\\] currency"):
        resolve_money(store, pd.Timestamp("2026-01-01"), rates_only)


def test_bad_rate_files_say_which_row(store, tmp_path):
    (tmp_path / "r.csv").write_text("currency,rate\nEUR,1.1\nUSD,-2\n")
    cfg = RunConfig.model_validate({"run": {"currency": "USD", "exchange_rates": str(tmp_path / "r.csv")}})
    with pytest.raises(ConfigError, match=r"r.csv, row 3: got currency 'USD' and rate -2.0"):
        resolve_money(store, pd.Timestamp("2026-01-01"), cfg)
    (tmp_path / "r.csv").write_text("code,value\nEUR,1.1\n")
    with pytest.raises(ConfigError, match="needs the columns currency,rate"):
        resolve_money(store, pd.Timestamp("2026-01-01"), cfg)


def test_scoring_dates_need_no_holdout_but_not_before_the_models(store):
    """A scoring with stored models (issue 15) needs no calibration history; it cannot precede its models."""
    cfg = RunConfig()  # 26-week holdout: a run as of 2025-03-01 would have no calibration period
    rng = check_scoring_date(store, pd.Timestamp("2025-03-01"), "2025-02-01", cfg)
    assert rng.first == dt.date(2025, 1, 10) and rng.orders == 3
    with pytest.raises(ConfigError, match="before the models' date 2025-04-01"):
        check_scoring_date(store, pd.Timestamp("2025-03-01"), "2025-04-01", cfg)
    with pytest.raises(ConfigError, match="before the data"):
        check_scoring_date(store, pd.Timestamp("2025-01-10"), "2024-12-01", cfg)
    # up to one holdout (182 days) after the last purchase, as a run allows
    check_scoring_date(store, pd.Timestamp("2026-06-30"), "2025-12-31", cfg)
    with pytest.raises(ConfigError, match=r"after the data.*up to 2026-06-30"):
        check_scoring_date(store, pd.Timestamp("2026-07-01"), "2025-12-31", cfg)
