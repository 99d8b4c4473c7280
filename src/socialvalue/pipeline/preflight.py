"""Checks a run makes before any work starts: the scoring date, the history it needs, and the money.

Everything here reads the data through an engine (:class:`~socialvalue.engine.DuckDBEngine` on a store, or the
Spark engine: portable SQL with bound parameters, :class:`~socialvalue.features.definition.Query`) and either
returns what the run needs or raises one error whose message says what is wrong and how to fix it; nothing is
written. Each function takes a :class:`~socialvalue.store.Store` (read through a DuckDB engine) or an engine.
The checks are:

* :func:`resolve_as_of` reads ``--as-of``: an ISO date (``2026-11-01``), ``today`` (UTC) or ``latest`` (the
  day after the last order). Anything else is refused, never guessed (``01/11/2026`` could be either of two
  days).
* :func:`check_dates` refuses a scoring date before the orders, a holdout that would hold no orders (a date
  after the data), and a calibration period with no history; each message gives the data's date range and the
  largest ``holdout_periods`` that would work.
* :func:`check_scoring_date` is :func:`check_dates` for scoring with stored models: no holdout is needed, and
  a date before the models' own is refused.
* :func:`resolve_money` finds the orders' currency. Orders in several currencies are refused with the
  currencies and their row counts unless an exchange-rate table is configured; then amounts are converted to
  the reporting currency for the run (:func:`converted_orders`: a temporary view of the converted orders, on
  the store's connection or in the Spark engine).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from socialvalue.errors import ConfigError, SchemaError
from socialvalue.features.definition import Query

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

    from socialvalue.pipeline.config import RunConfig

__all__ = [
    "DataRange",
    "Money",
    "check_dates",
    "check_scoring_date",
    "converted_orders",
    "data_range",
    "engine_of",
    "local_files",
    "money_and_playbook",
    "parse_iso_date",
    "resolve_as_of",
    "resolve_money",
]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UNIT_DAYS = {"W": 7, "D": 1}
_EXPECTED = (
    "expected a date as YYYY-MM-DD (e.g. 2026-11-01), 'today' or 'latest' (the day after the last order)"
)


@dataclass(frozen=True)
class DataRange:
    """The span of the purchases a run can use."""

    first: dt.date
    last: dt.date
    orders: int

    @property
    def latest(self) -> dt.date:
        """The day after the last order: the scoring date that uses all the data."""
        return self.last + dt.timedelta(days=1)

    def describe(self) -> str:
        """``orders run from A to B``."""
        return f"the {self.orders:,} purchases run from {self.first} to {self.last}"


def _ambiguity(text: str) -> str:
    m = re.fullmatch(r"\s*(\d{1,2})[./-](\d{1,2})[./-](\d{4})\s*", text)
    if not m:
        return ""
    a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
    readings = []
    for day, month in ((a, b), (b, a)):
        try:
            readings.append(str(dt.date(y, month, day)))
        except ValueError:
            pass
    readings = list(dict.fromkeys(readings))
    if len(readings) == 2:
        return f" ({text.strip()} could mean {readings[0]} or {readings[1]})"
    if len(readings) == 1:
        return f" (did you mean {readings[0]}?)"
    return ""


def parse_iso_date(value: str, option: str = "--as-of") -> str:
    """``value`` as ``YYYY-MM-DD`` (for options naming an existing scoring), or one line saying what is expected.

    Raises
    ------
    ConfigError
        Anything but a real ISO date.
    """
    text = str(value).strip()
    if not _ISO_DATE.match(text):
        raise ConfigError(
            f"{option} {value!r} is not a date I can read: expected a date as YYYY-MM-DD (e.g. 2026-11-01)"
            f"{_ambiguity(text)}"
        )
    try:
        return str(dt.date.fromisoformat(text))
    except ValueError:
        raise ConfigError(f"{option} {value!r} is not a real date: expected YYYY-MM-DD") from None


def engine_of(source: Any) -> Any:
    """``source`` as an engine: a new :class:`~socialvalue.engine.DuckDBEngine` on a store, else itself."""
    from socialvalue.store import Store

    if isinstance(source, Store):
        from socialvalue.engine import DuckDBEngine

        return DuckDBEngine(source)
    return source


#: The purchases a run models (completed, positive amount): their count and first and last time.
_PURCHASES = Query(
    "SELECT count(*) AS n, min(ordered_at) AS first_at, max(ordered_at) AS last_at FROM orders "
    "WHERE status = 'completed' AND amount > 0"
)


def data_range(source: Any) -> DataRange | None:
    """First and last purchase day and the number of purchases (None without purchases).

    ``source`` is a store or an engine (see the module docstring).
    """
    row = engine_of(source).table(_PURCHASES).to_pylist()[0]
    if not row["n"]:
        return None
    return DataRange(
        first=pd.Timestamp(row["first_at"]).date(),
        last=pd.Timestamp(row["last_at"]).date(),
        orders=int(row["n"]),
    )


def resolve_as_of(store: Any, value: Any) -> pd.Timestamp:
    """The scoring date (midnight UTC, exclusive) for ``value``.

    Parameters
    ----------
    store
        The store or engine (read for ``latest``).
    value
        An ISO date string, ``"today"``, ``"latest"``, or a ``date``/``datetime``/``Timestamp``.

    Raises
    ------
    ConfigError
        One line naming the format expected, for anything else (including impossible dates).
    SchemaError
        ``latest`` on a store without purchases.
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "today":
            return pd.Timestamp(dt.datetime.now(dt.UTC).date())
        if text == "latest":
            rng = data_range(store)
            if rng is None:
                raise SchemaError("--as-of latest: the store has no completed purchases; load orders first")
            return pd.Timestamp(rng.latest)
        if not _ISO_DATE.match(text):
            raise ConfigError(f"--as-of {value!r} is not a date I can read: {_EXPECTED}{_ambiguity(value)}")
        try:
            return pd.Timestamp(dt.date.fromisoformat(text))
        except ValueError:
            raise ConfigError(f"--as-of {value!r} is not a real date: {_EXPECTED}") from None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ConfigError(f"as_of {value!r} is not a date: {_EXPECTED}") from None
    if ts is pd.NaT:
        raise ConfigError(f"as_of is missing: {_EXPECTED}")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.normalize()


def check_dates(store: Any, as_of: pd.Timestamp, cfg: RunConfig) -> DataRange:
    """Refuse a scoring date the data cannot support, before any work starts.

    Raises
    ------
    SchemaError
        No purchases at all.
    ConfigError
        ``as_of`` on or before the first purchase day; a holdout ``[as_of - holdout, as_of)`` with no purchase
        in it (``as_of`` after the data); or less than one unit of calibration history before the holdout.
    """
    rng = data_range(store)
    if rng is None:
        raise SchemaError(
            "the store has no completed purchases (orders with status completed and amount > 0)"
        )
    unit = cfg.run.unit
    days = _UNIT_DAYS[unit]
    word = "weeks" if unit == "W" else "days"
    h = cfg.run.holdout_periods
    day = as_of.date()
    cal_end = day - dt.timedelta(days=days * h)
    # calibration needs at least one unit of history after the first purchase day
    span = (day - rng.first).days
    largest = math.floor(span / days) - 1
    fits = f"the largest holdout_periods that works as of {day} is {largest} ({word})" if largest >= 1 else ""
    if day <= rng.first:
        raise ConfigError(
            f"--as-of {day} is before the data: {rng.describe()}; use a date after {rng.first} "
            f"(--as-of latest is {rng.latest})"
        )
    if cal_end > rng.last:
        raise ConfigError(
            f"--as-of {day} is after the data: {rng.describe()}, so the holdout from {cal_end} to {day} "
            f"({h} {word}) holds no purchase; use --as-of latest ({rng.latest}) or a date up to "
            f"{rng.last + dt.timedelta(days=days * h)}"
        )
    if (cal_end - rng.first).days < days:
        advice = f"; {fits}" if fits else f"; the data span only {span} days before {day}"
        raise ConfigError(
            f"not enough history for the holdout: with holdout_periods = {h} ({word}) the calibration period "
            f"would end on {cal_end}, but {rng.describe()}{advice} (set [run] holdout_periods in the "
            "configuration)"
        )
    return rng


def check_scoring_date(store: Any, as_of: pd.Timestamp, models_as_of: str, cfg: RunConfig) -> DataRange:
    """Refuse a date the stored models of ``models_as_of`` cannot score, before any work starts.

    A scoring has no holdout, so no calibration history is needed; the date must be after the first purchase,
    on or after the date the models were fitted at (an earlier date would be scored by models that saw what
    came after it), and no further after the last purchase than a run's holdout may reach.

    Raises
    ------
    SchemaError
        No purchases at all.
    ConfigError
        ``as_of`` on or before the first purchase day, before ``models_as_of``, or after the data.
    """
    rng = data_range(store)
    if rng is None:
        raise SchemaError(
            "the store has no completed purchases (orders with status completed and amount > 0)"
        )
    day = as_of.date()
    fitted_at = dt.date.fromisoformat(str(models_as_of))
    reach = dt.timedelta(days=_UNIT_DAYS[cfg.run.unit] * cfg.run.holdout_periods)
    if day <= rng.first:
        raise ConfigError(
            f"--as-of {day} is before the data: {rng.describe()}; use a date after {rng.first} "
            f"(--as-of latest is {rng.latest})"
        )
    if day < fitted_at:
        raise ConfigError(
            f"--as-of {day} is before the models' date {fitted_at}: they were fitted on the data up to "
            f"{fitted_at}, so they would score {day} with what happened after it; score a date on or after "
            f"{fitted_at}, or fit models as of {day} with `socialvalue run`"
        )
    if day - reach > rng.last:
        raise ConfigError(
            f"--as-of {day} is after the data: {rng.describe()}; use --as-of latest ({rng.latest}) or a date "
            f"up to {rng.last + reach}"
        )
    return rng


@dataclass(frozen=True)
class Money:
    """The reporting currency of a run and, when orders are converted, the rates used."""

    currency: str
    rates: dict[str, float] = field(default_factory=dict)  # currency -> reporting units per unit
    counts: dict[str, int] = field(default_factory=dict)  # order rows per source currency

    @property
    def converted(self) -> bool:
        """Whether amounts are converted for the run."""
        return bool(self.rates)

    def describe(self) -> str:
        """One sentence for the run log and the report."""
        if not self.converted and self.currency == "XXX":
            return (
                "amounts in XXX: the orders name no currency (set default_currency in the orders' mapping to "
                "name it)"
            )
        if not self.converted:
            return f"amounts in {self.currency}, the orders' currency"
        parts = ", ".join(f"{c} x {self.rates[c]:g}" for c in sorted(self.counts))
        return f"amounts converted to {self.currency} at the configured rates ({parts})"


def money_and_playbook(store: Any, as_of: pd.Timestamp, cfg: RunConfig) -> tuple[Money, Any]:
    """The run's reporting currency (:func:`resolve_money`) and its playbook (``store``: a store or an engine).

    Raises
    ------
    ConfigError
        The playbook's costs are in another currency than the run's amounts.
    """
    from socialvalue.decisions import default_playbook, load_playbook

    money = resolve_money(store, as_of, cfg)
    playbook = load_playbook(cfg.actions.playbook) if cfg.actions.playbook else default_playbook()
    if playbook.currency is not None and playbook.currency != money.currency:
        raise ConfigError(
            f"the playbook's costs are in {playbook.currency} but this run's amounts are in {money.currency}: "
            f'set currency = "{money.currency}" in the playbook with costs in {money.currency}, or remove the key'
        )
    return money, playbook


@contextmanager
def local_files() -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection of its own (in memory, UTC) for the small files a run reads on this machine.

    Exchange rates and past campaigns are configuration files beside the run, not canonical tables: they are
    read the same way whatever engine holds the data (the Spark driver reads them too).
    """
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        yield con
    finally:
        con.close()


def _read_rates(path: str) -> dict[str, float]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"[run] exchange_rates: file {path!r} does not exist")
    try:
        with local_files() as con:
            rows = con.execute(
                "SELECT upper(trim(CAST(currency AS VARCHAR))), TRY_CAST(rate AS DOUBLE) "
                "FROM read_csv(?, header = true, all_varchar = true)",
                [str(p)],
            ).fetchall()
    except Exception as exc:  # a DuckDB binder/reader error: no such columns, not a CSV
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "currency" in first or "rate" in first:
            first = "it needs the columns currency,rate"
        raise ConfigError(f"[run] exchange_rates: cannot read {p.name}: {first}") from None
    rates: dict[str, float] = {}
    for i, (cur, rate) in enumerate(rows, start=2):
        if not cur or not re.fullmatch(r"[A-Z]{3}", cur) or rate is None or not rate > 0:
            raise ConfigError(
                f"[run] exchange_rates: {p.name}, row {i}: got currency {cur!r} and rate {rate!r}; expected a "
                "three-letter currency code and a rate > 0"
            )
        rates[cur] = float(rate)
    return rates


def resolve_money(store: Any, as_of: pd.Timestamp, cfg: RunConfig) -> Money:
    """The run's reporting currency; refuse amounts that cannot be summed (``store``: a store or an engine).

    Raises
    ------
    SchemaError
        Orders in several currencies (listed with their row counts) and no exchange rates configured.
    ConfigError
        A configured currency that differs from the orders' without rates, or rates missing a currency.
    """
    query = Query(
        "SELECT currency, count(*) AS n FROM orders WHERE ordered_at < ? GROUP BY currency",
        [as_of.to_pydatetime()],
        order="n DESC, currency",
    )
    rows = engine_of(store).table(query).to_pylist()
    counts = {str(r["currency"]): int(r["n"]) for r in rows}
    want = cfg.run.currency
    listed = ", ".join(f"{c} {n:,} rows" for c, n in counts.items())
    if not cfg.run.exchange_rates:
        if len(counts) > 1:
            raise SchemaError(
                f"orders are in {len(counts)} currencies ({listed}), which cannot be summed: set [run] "
                'exchange_rates = "rates.csv" (columns currency,rate) and [run] currency in the configuration, '
                "or load orders in one currency"
            )
        only = next(iter(counts), want or "XXX")
        if want and want != only:
            raise ConfigError(
                f"[run] currency is {want} but the orders are in {only}: remove the key to report in {only}, or "
                'set [run] exchange_rates = "rates.csv" to convert'
            )
        return Money(currency=only, counts=counts)
    if not want:
        raise ConfigError("[run] exchange_rates needs [run] currency, the currency to convert amounts into")
    rates = _read_rates(cfg.run.exchange_rates)
    rates.setdefault(want, 1.0)
    missing = [c for c in counts if c not in rates]
    if missing:
        raise ConfigError(
            f"[run] exchange_rates has no rate for {', '.join(missing)} "
            f"({', '.join(f'{c} {counts[c]:,} rows' for c in missing)}); add a line currency,rate for each"
        )
    return Money(currency=want, rates={c: rates[c] for c in counts}, counts=counts)


def _conversion(columns: list[str], money: Money) -> Query:
    """The orders of ``columns`` with amounts in the reporting currency: portable SQL, rates bound.

    Each order's amount times its currency's rate, rounded to the schema's ``DECIMAL(18,4)``; orders in a
    currency without a rate are left out (the pre-flight check found none before the scoring date).
    """
    from socialvalue.sqlsafe import ident

    params: dict[str, Any] = {"currency": money.currency}
    cases = []
    for k, (cur, rate) in enumerate(money.rates.items()):
        params[f"c{k}"], params[f"r{k}"] = cur, float(rate)
        cases.append(f"WHEN $c{k} THEN $r{k}")
    known = ", ".join(f"$c{k}" for k in range(len(money.rates)))
    items = [
        f"CAST(o.amount * CASE o.currency {' '.join(cases)} END AS DECIMAL(18,4)) AS amount"
        if c == "amount"
        else ("$currency AS currency" if c == "currency" else f"o.{ident(c)}")
        for c in columns
    ]
    return Query(f"SELECT {', '.join(items)} FROM orders o WHERE o.currency IN ({known})", params)


@contextmanager
def _engine_view(engine: Any, money: Money) -> Iterator[None]:
    """The Spark engine's ``orders`` view replaced by the converted orders while open, then restored."""
    view = engine.views["orders"]
    original = engine.spark.table(view)
    engine.dataframe(_conversion(list(original.columns), money)).createOrReplaceTempView(view)
    try:
        yield
    finally:
        original.createOrReplaceTempView(view)


@contextmanager
def converted_orders(store: Any, money: Money) -> Iterator[None]:
    """While open, ``orders`` reads amounts in the reporting currency (``store``: a store or an engine).

    On a store (or a DuckDB engine) a temporary view of the same name shadows the stored table on its
    connection only (temporary objects come first in DuckDB's search path); the stored rows are never
    changed, and the view is dropped on exit. On the Spark engine its ``orders`` view is replaced by the
    same conversion (:func:`_conversion`) and given back on exit.
    """
    if not money.converted or set(money.counts) == {money.currency}:
        yield
        return
    from socialvalue.engine import DuckDBEngine
    from socialvalue.store import Store

    if isinstance(store, DuckDBEngine):
        store = store.store
    if not isinstance(store, Store):
        with _engine_view(store, money):
            yield
        return
    from socialvalue.sqlsafe import ident, literal

    con = store.con
    db = con.execute("SELECT current_database()").fetchall()[0][0]
    rates = pd.DataFrame({"currency": list(money.rates), "rate": list(money.rates.values())})
    con.register("_sv_rates_src", rates)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _sv_rates AS SELECT * FROM _sv_rates_src")
    finally:
        con.unregister("_sv_rates_src")
    cols = [r[0] for r in con.execute(f"DESCRIBE {ident(db)}.main.orders").fetchall()]
    items = [
        "CAST(o.amount * r.rate AS DECIMAL(18,4)) AS amount"
        if c == "amount"
        else (f"{literal(money.currency)} AS currency" if c == "currency" else f"o.{ident(c)}")
        for c in cols
    ]
    # DuckDB views cannot hold parameters: the currency goes in through sqlsafe.literal (it is also
    # validated as three capital letters by the configuration)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW orders AS SELECT {', '.join(items)} FROM {ident(db)}.main.orders o "
        "JOIN _sv_rates r USING (currency)"
    )
    try:
        yield
    finally:
        con.execute("DROP VIEW IF EXISTS temp.main.orders")
        con.execute("DROP TABLE IF EXISTS _sv_rates")
