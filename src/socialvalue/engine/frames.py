r"""lifetimes-compatible RFM summaries of a transaction log held in any frame, computed in DuckDB.

Users coming from ``lifetimes`` or ``pymc-marketing`` notebooks have a log of ``customer_id, date[, revenue]``
rows in pandas, Polars or Arrow. :func:`rfm_summary` and :func:`calibration_and_holdout` turn it into the
per-customer sufficient statistics of the BTYD models -- exactly the frames of lifetimes 0.11.3's
``summary_data_from_transaction_data`` and ``calibration_and_holdout_data`` -- without a store and without
order ids. The log is read into Arrow (checked column by column), handed to an in-memory DuckDB and summarised
by one SQL statement that groups by customer and period; only the per-customer result is converted to pandas.
The statements, the period conventions and the formulas are defined in :mod:`socialvalue.features.transactions`.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way: An alternative to
the Pareto/NBD model. *Marketing Science* 24(2), 275-284.

Davidson-Pilon, C. et al. *lifetimes* 0.11.3, ``lifetimes/utils.py``
(``summary_data_from_transaction_data``, ``calibration_and_holdout_data``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from socialvalue.errors import ConfigError, SchemaError
from socialvalue.features.definition import Query
from socialvalue.features.transactions import (
    LOG_VIEW,
    PERIOD_MACRO,
    SUMMARY_COLUMNS,
    calibration_holdout_query,
    holdout_rows_query,
    latest_query,
    multiplier,
    period_kind,
    period_query,
    span_query,
    summary_query,
)

__all__ = ["calibration_and_holdout", "rfm_summary"]


@dataclass(frozen=True)
class _Log:
    """The log as Arrow (``cid``, ``ts``[, ``amt``]), with what is needed to shape the result."""

    table: pa.Table
    index_dtype: Any  # the pandas dtype of the customer column of a pandas input (None otherwise)
    customer_id_col: str


def rfm_summary(
    transactions: Any,
    customer_id_col: str = "customer_id",
    datetime_col: str = "date",
    monetary_value_col: str | None = None,
    observation_period_end: Any = None,
    freq: str = "D",
    freq_multiplier: float = 1,
    datetime_format: str | None = None,
    include_first_transaction: bool = False,
) -> pd.DataFrame:
    r"""Per-customer ``frequency``, ``recency``, ``T`` [, ``monetary_value``] of a transaction log.

    The frame of lifetimes 0.11.3's ``summary_data_from_transaction_data`` (same index, columns, dtypes, row
    order and values), computed by one DuckDB query over the log as Arrow. Purchases are collapsed to one per
    period of ``freq``; with :math:`n` periods with a purchase, the first :math:`p_0`, the last :math:`p_1`
    and the observation end :math:`p_e` (the period of ``observation_period_end``):

    .. math::

        \text{frequency} = n - 1, \quad \text{recency} = \frac{p_1 - p_0}{m}, \quad
        T = \frac{p_e - p_0}{m}, \quad
        \text{monetary\_value} = \frac{1}{n - 1} \sum_{p \ne p_0} z_p

    in units of ``freq`` times :math:`m` = ``freq_multiplier``, where :math:`z_p` sums the customer's values in
    period :math:`p`; ``monetary_value`` is 0 when ``frequency`` is 0 (Fader, Hardie & Lee 2005).

    Parameters
    ----------
    transactions
        The log: a pandas DataFrame, a Polars DataFrame or LazyFrame, or a pyarrow Table. One row per purchase;
        no order id needed, no other column read.
    customer_id_col, datetime_col
        Names of the customer and purchase-time columns. Times may be timestamps (a time zone is dropped,
        keeping the wall-clock time, as pandas' ``to_period`` does), dates, or text (read like
        ``pandas.to_datetime``, with ``datetime_format`` if given).
    monetary_value_col
        Name of the purchase-value column (numbers; negative values such as refunds are kept). ``None``
        leaves ``monetary_value`` out.
    observation_period_end
        End of the observation (anything ``pandas.to_datetime`` reads). Purchases in later periods are
        dropped; purchases later in the same period are kept, as in lifetimes. Defaults to the latest purchase.
    freq
        ``"D"`` (days), ``"W"`` (weeks Monday-Sunday, pandas' ``"W-SUN"`` periods, as lifetimes uses them),
        ``"M"`` (calendar months: ``T`` and ``recency`` count whole months) or ``"H"``/``"h"`` (hours).
    freq_multiplier
        Divides ``recency`` and ``T`` (e.g. ``freq="D", freq_multiplier=7`` gives weeks of 7 days from day
        periods).
    datetime_format
        ``strptime`` format of text times (and of a text ``observation_period_end``).
    include_first_transaction
        Count the first period in ``frequency`` and ``monetary_value`` (``False``, the default, is what the
        BTYD models expect).

    Returns
    -------
    pandas.DataFrame
        One row per customer with a purchase up to the observation end, sorted by customer id, indexed by
        ``customer_id_col``; ``float64`` columns ``frequency``, ``recency``, ``T`` [, ``monetary_value``].

    Raises
    ------
    SchemaError
        A column is missing (the message lists the frame's columns), or a row has no customer id, no or an
        unreadable time, or a missing or non-finite value (lifetimes would drop such rows or count a missing
        value as 0); the message names the column, the row, the value, what was expected and the fix.
    ConfigError
        ``freq`` is not one of the supported periods, ``freq_multiplier`` is not a positive number, or
        ``observation_period_end`` cannot be read.

    Notes
    -----
    Differences from lifetimes 0.11.3, all where lifetimes fails or silently computes something else: the
    default observation end is the latest purchase time even for text times (lifetimes takes the largest
    text, which is not the latest date for a format such as ``%m/%d/%Y``); ``freq="M"`` works (lifetimes
    divides by a month of no fixed length and fails under pandas >= 2); the first purchase left out of
    ``monetary_value`` is the earliest one even for text times (lifetimes sorts the rows by the text before
    reading it, so for a day-first format it leaves out the smallest text); rows lifetimes would drop (no
    customer id, no time) or count as 0 (no value) are refused.

    ``monetary_value`` is computed as (sum of all periods - first period) / (n - 1) with compensated sums: the
    same numbers whatever the input type or thread count, within a few units in the last place of the
    customer's total value of lifetimes' mean (1e-9 for a total below about 4 million).

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way: An alternative
    to the Pareto/NBD model. *Marketing Science* 24(2), 275-284.

    lifetimes 0.11.3, ``lifetimes.utils.summary_data_from_transaction_data``.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
    ...                     "date": ["2024-01-01", "2024-01-01", "2024-01-08", "2024-01-05"],
    ...                     "revenue": [10.0, 5.0, 20.0, 7.0]})
    >>> rfm_summary(log, monetary_value_col="revenue")  # doctest: +NORMALIZE_WHITESPACE
                 frequency  recency    T  monetary_value
    customer_id
    a                  1.0      7.0  7.0            20.0
    b                  0.0      0.0  3.0             0.0
    """
    kind = period_kind(freq)
    mult = multiplier(freq_multiplier)
    log = _read_log(
        "rfm_summary", transactions, customer_id_col, datetime_col, monetary_value_col, datetime_format
    )
    with _connect(log) as con:
        end = _end_or_latest(con, "observation_period_end", observation_period_end, datetime_format)
        if end is None:
            return _empty(log, [*SUMMARY_COLUMNS, *(["monetary_value"] if monetary_value_col else [])])
        query = summary_query(
            kind=kind,
            period_end=_period(con, end, kind),
            mult=mult,
            first=include_first_transaction,
            value=monetary_value_col is not None,
        )
        result = _run(con, query).to_arrow_table()
    return _frame(log, result)


def calibration_and_holdout(
    transactions: Any,
    customer_id_col: str = "customer_id",
    datetime_col: str = "date",
    calibration_period_end: Any = None,
    observation_period_end: Any = None,
    freq: str = "D",
    freq_multiplier: float = 1,
    datetime_format: str | None = None,
    monetary_value_col: str | None = None,
    include_first_transaction: bool = False,
) -> pd.DataFrame:
    r"""Calibration summary and holdout counts per customer, as lifetimes' ``calibration_and_holdout_data``.

    The calibration part is :func:`rfm_summary` of the purchases up to ``calibration_period_end`` (inclusive)
    observed to the period of ``calibration_period_end``, suffixed ``_cal``. The holdout part counts, per
    calibration customer, the periods with a purchase after ``calibration_period_end`` up to
    ``observation_period_end`` (``frequency_holdout``; the first transaction is not special here), the mean
    value of those purchases, **not** collapsed per period, as in lifetimes (``monetary_value_holdout``; 0
    without a purchase), and the holdout length in periods divided by ``freq_multiplier``:

    .. math::

        \text{duration\_holdout} = \frac{p(\text{observation end}) - p(\text{calibration end})}{m}

    Customers whose first purchase is in the holdout are not in the frame (as in lifetimes).

    Parameters
    ----------
    transactions, customer_id_col, datetime_col, freq, freq_multiplier, datetime_format, monetary_value_col, include_first_transaction
        As in :func:`rfm_summary`.
    calibration_period_end
        Last instant of the calibration period (required; anything ``pandas.to_datetime`` reads; a bare date
        is its midnight, so a purchase later that day belongs to the holdout, as in lifetimes).
    observation_period_end
        Last instant of the holdout; defaults to the latest purchase.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id_col``, sorted by it; ``float64`` columns ``frequency_cal``, ``recency_cal``,
        ``T_cal`` [, ``monetary_value_cal``], ``frequency_holdout`` [, ``monetary_value_holdout``],
        ``duration_holdout``.

    Raises
    ------
    SchemaError
        As :func:`rfm_summary`.
    ConfigError
        As :func:`rfm_summary`; also when ``calibration_period_end`` is missing or unreadable, or no purchase
        lies between the two ends (lifetimes raises a ``ValueError`` then too; ``ConfigError`` is one).

    Notes
    -----
    ``frequency_holdout`` is always ``float64``; lifetimes returns ``int64`` in the one case where every
    calibration customer bought in the holdout (its join then leaves no gap to fill).

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way: An alternative
    to the Pareto/NBD model. *Marketing Science* 24(2), 275-284.

    lifetimes 0.11.3, ``lifetimes.utils.calibration_and_holdout_data``.
    """
    kind = period_kind(freq)
    mult = multiplier(freq_multiplier)
    if calibration_period_end is None:
        raise ConfigError("calibration_and_holdout: calibration_period_end is required (e.g. '1997-09-30')")
    cal = _timestamp("calibration_period_end", calibration_period_end, datetime_format)
    log = _read_log(
        "calibration_and_holdout",
        transactions,
        customer_id_col,
        datetime_col,
        monetary_value_col,
        datetime_format,
    )
    with _connect(log) as con:
        obs = _end_or_latest(con, "observation_period_end", observation_period_end, datetime_format)
        n_holdout = 0
        if obs is not None:
            n_holdout = _run(con, holdout_rows_query(cal, obs)).fetchall()[0][0]
        if not n_holdout:
            span = _run(con, span_query()).fetchall()[0]
            raise ConfigError(
                f"calibration_and_holdout: no purchase after calibration_period_end {cal} and up to "
                f"observation_period_end {obs} (the purchases run from {span[0]} to {span[1]}); fix: choose "
                "a calibration end before the observation end and inside the data"
            )
        query = calibration_holdout_query(
            kind=kind,
            period_cal=_period(con, cal, kind),
            period_obs=_period(con, obs, kind),
            calibration_end=cal,
            observation_end=obs,
            mult=mult,
            first=include_first_transaction,
            value=monetary_value_col is not None,
        )
        result = _run(con, query).to_arrow_table()
    return _frame(log, result)


# -- arguments -------------------------------------------------------------------------------------------


def _timestamp(name: str, value: Any, fmt: str | None) -> Any:
    """``value`` read like lifetimes does (``pandas.to_datetime(value, format=...)``), naive, to microseconds."""
    if isinstance(value, pd.Period):
        value = value.to_timestamp()
    try:
        ts = pd.to_datetime(value, format=fmt)
    except (ValueError, TypeError, OverflowError) as exc:
        shown = f" with format {fmt!r}" if fmt else ""
        raise ConfigError(f"{name} {value!r} is not a date or time pandas can read{shown}: {exc}") from None
    if not isinstance(ts, pd.Timestamp) or pd.isna(ts):
        raise ConfigError(f"{name} must be one date or time; got {value!r}")
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)  # wall-clock time, as pandas' to_period
    return ts.floor("us").to_pydatetime()


def _end_or_latest(con: duckdb.DuckDBPyConnection, name: str, value: Any, fmt: str | None) -> Any:
    """The given end, or the latest purchase time (``None`` for an empty log)."""
    if value is not None:
        return _timestamp(name, value, fmt)
    return _run(con, latest_query()).fetchall()[0][0]


def _period(con: duckdb.DuckDBPyConnection, ts: Any, kind: str) -> int:
    return int(_run(con, period_query(ts, kind)).fetchall()[0][0])


# -- the log -----------------------------------------------------------------------------------------------


def _read_log(
    caller: str,
    transactions: Any,
    customer_id_col: str,
    datetime_col: str,
    monetary_value_col: str | None,
    datetime_format: str | None,
) -> _Log:
    wanted = {"customer_id_col": customer_id_col, "datetime_col": datetime_col}
    if monetary_value_col is not None:
        wanted["monetary_value_col"] = monetary_value_col
    for arg, name in wanted.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{caller}: {arg} must be a column name; got {name!r}")
    names = list(wanted.values())
    if len(set(names)) != len(names):
        raise ConfigError(f"{caller}: the customer, time and value columns must differ; got {names}")
    if datetime_format is not None and not isinstance(datetime_format, str):
        raise ConfigError(f"{caller}: datetime_format must be a strptime format such as '%Y-%m-%d'")
    table, index_dtype = _arrow(caller, transactions, names)
    cid = _customer_ids(caller, table.column(0), customer_id_col)
    ts = _times(caller, table.column(1), datetime_col, datetime_format)
    columns = {"cid": cid, "ts": ts}
    if monetary_value_col is not None:
        columns["amt"] = _values(caller, table.column(2), monetary_value_col)
    return _Log(pa.table(columns), index_dtype, customer_id_col)


def _arrow(caller: str, transactions: Any, names: list[str]) -> tuple[pa.Table, Any]:
    """The named columns as an Arrow table (nothing else is converted), and a pandas id column's dtype."""
    module = type(transactions).__module__
    if isinstance(transactions, pa.RecordBatch):
        transactions = pa.Table.from_batches([transactions])
    if isinstance(transactions, pa.Table):
        _require(caller, names, transactions.column_names)
        return transactions.select(names), None
    if module.startswith("polars"):
        lazy = hasattr(transactions, "collect") and not hasattr(transactions, "to_arrow")
        have = transactions.collect_schema().names() if lazy else list(transactions.columns)
        _require(caller, names, have)
        picked = transactions.select(names)
        return (picked.collect() if lazy else picked).to_arrow(), None
    if isinstance(transactions, pd.DataFrame):
        have = [str(c) for c in transactions.columns]
        _require(caller, names, have)
        arrays = []
        for name in names:
            column = transactions.loc[:, name]
            if isinstance(column, pd.DataFrame):
                raise SchemaError(
                    f"{caller}: the frame has {column.shape[1]} columns named {name!r}; fix: rename or drop "
                    "all but one",
                    [_problem(name, None, None, "one column of that name")],
                )
            try:
                arrays.append(pa.chunked_array([pa.array(column, from_pandas=True)]))
            except (pa.ArrowException, TypeError, ValueError) as exc:
                raise SchemaError(
                    f"{caller}: column {name!r} mixes kinds of values ({_first_line(exc)}); expected one kind "
                    "(text, numbers or times); fix: convert the column, e.g. df[col].astype(str)",
                    [_problem(name, None, None, "one kind of value")],
                ) from None
        return pa.table(dict(zip(names, arrays, strict=True))), transactions[names[0]].dtype
    raise SchemaError(
        f"{caller}: transactions must be a pandas DataFrame, a Polars DataFrame or LazyFrame, or a pyarrow "
        f"Table; got {type(transactions).__name__}"
    )


def _require(caller: str, names: list[str], have: list[str]) -> None:
    missing = [n for n in names if n not in have]
    if missing:
        shown = ", ".join(repr(c) for c in have) or "(none)"
        plural = "s" if len(missing) > 1 else ""
        raise SchemaError(
            f"{caller}: column{plural} {', '.join(repr(m) for m in missing)} not in the transactions, whose "
            f"columns are {shown}; fix: pass the right customer_id_col / datetime_col / monetary_value_col",
            [_problem(m, None, None, f"a column of the transactions (they have {shown})") for m in missing],
        )


def _customer_ids(caller: str, arr: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if pa.types.is_string_view(arr.type):
        arr = arr.cast(pa.large_string())
    if pa.types.is_nested(arr.type):
        raise SchemaError(
            f"{caller}: column {name!r} holds {arr.type} values; expected one id per row (text or a number)",
            [_problem(name, None, None, "text or a number")],
        )
    _refuse(caller, arr, name, arr.is_null(), "a customer id", "fill in the id or drop the row")
    if pa.types.is_floating(arr.type):
        _refuse(caller, arr, name, pc.is_nan(arr), "a customer id", "fill in the id or drop the row")
    return arr


def _times(caller: str, arr: pa.ChunkedArray, name: str, fmt: str | None) -> pa.ChunkedArray:
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if pa.types.is_string_view(arr.type):
        arr = arr.cast(pa.large_string())
    fix = "fill in the time or drop the row"
    _refuse(caller, arr, name, arr.is_null(), "a date or time", fix)
    if pa.types.is_timestamp(arr.type):
        if arr.type.tz is not None:
            arr = pc.local_timestamp(arr)  # wall-clock time, as pandas' to_period
        return arr
    if pa.types.is_date(arr.type):
        return arr
    if pa.types.is_integer(arr.type) and fmt is not None:
        arr = arr.cast(pa.string())
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return _parse(caller, arr, name, fmt)
    if pa.types.is_integer(arr.type):
        expected = "dates or times (numbers are read only with a datetime_format, e.g. '%Y%m%d')"
        _wrong_type(caller, arr, name, expected, "pass datetime_format")
    _wrong_type(
        caller, arr, name, f"dates or times, not {arr.type} values", "convert the column to datetimes"
    )
    raise AssertionError("unreachable")  # pragma: no cover


def _parse(caller: str, arr: pa.ChunkedArray, name: str, fmt: str | None) -> pa.ChunkedArray:
    """Text times read by ``pandas.to_datetime`` once per distinct text, then looked up for every row.

    The first text of the column goes first, so that pandas infers the format from the same value it would
    when reading the whole column.
    """
    distinct = pc.unique(arr)
    first = arr.slice(0, 1).combine_chunks() if len(arr) else distinct.slice(0, 0)
    texts = pa.concat_arrays([first.cast(distinct.type), distinct])
    try:
        parsed = pd.to_datetime(pd.Series(texts.to_numpy(zero_copy_only=False)), format=fmt, errors="coerce")
    except (ValueError, TypeError) as exc:  # e.g. texts with different UTC offsets
        raise SchemaError(
            f"{caller}: column {name!r} cannot be read as times: {_first_line(exc)}; fix: pass one "
            "datetime_format, or convert the column to datetimes first",
            [_problem(name, None, None, "times in one format")],
        ) from None
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_localize(None)  # wall-clock time, as pandas' to_period
    bad = texts.filter(pa.array(parsed.isna().to_numpy()))
    if len(bad):
        expected = f"a time in the format {fmt!r}" if fmt else "a date or time pandas.to_datetime can read"
        fix = "correct or drop the row" + ("" if fmt else ", or pass datetime_format")
        _refuse(caller, arr, name, pc.is_in(arr, value_set=bad), expected, fix)
    stamps = pa.array(parsed.to_numpy()).slice(1)
    return pc.take(stamps, pc.index_in(arr, value_set=distinct))


def _values(caller: str, arr: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    numeric = pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type)
    fix = "fill in the value (0 if there was none) or drop the row"
    missing = "a value (lifetimes would count it as 0)"
    _refuse(caller, arr, name, arr.is_null(), missing, fix)
    if not numeric:
        _wrong_type(caller, arr, name, f"numbers, not {arr.type} values", "convert the column to numbers")
    arr = arr.cast(pa.float64())
    _refuse(caller, arr, name, pc.is_nan(arr), missing, fix)
    _refuse(caller, arr, name, pc.invert(pc.is_finite(arr)), "a finite number", fix)
    return arr


def _wrong_type(caller: str, arr: pa.ChunkedArray, name: str, expected: str, fix: str) -> None:
    """Raise about a column of the wrong type: at its first row, or about the column when it has none."""
    _refuse(caller, arr, name, pc.is_valid(arr), expected, fix)
    raise SchemaError(
        f"{caller}: column {name!r} holds {arr.type} values; expected {expected}; fix: {fix}",
        [_problem(name, None, None, expected)],
    )


def _refuse(
    caller: str,
    arr: pa.ChunkedArray,
    name: str,
    mask: pa.ChunkedArray | pa.Array,
    expected: str,
    fix: str,
) -> None:
    """Raise one SchemaError line about the first row where ``mask`` holds (no-op when it holds nowhere)."""
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return
    count = int(pc.sum(mask).as_py())
    row = int(pc.index(mask, True).as_py())
    value = arr[row].as_py()
    got = "an empty value" if value is None else repr(value if not isinstance(value, str) else value[:60])
    more = f" ({count - 1:,} more rows like it)" if count > 1 else ""
    raise SchemaError(
        f"{caller}: column {name!r}, row {row + 1} (position {row}): got {got}; expected {expected}{more}; "
        f"fix: {fix}",
        [_problem(name, row + 1, value, expected)],
    )


def _problem(column: str, row: int | None, value: Any, expected: str) -> dict[str, Any]:
    return {"source": "transactions", "row": row, "column": column, "value": value, "expected": expected}


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# -- DuckDB and the result -------------------------------------------------------------------------------


def _run(con: duckdb.DuckDBPyConnection, query: Query) -> duckdb.DuckDBPyRelation:
    """``query`` on the log's connection, its parameters bound."""
    return con.sql(query.sql, params=query.params or None)


class _connect:
    """An in-memory DuckDB holding the log as the view ``LOG_VIEW`` and the period macro."""

    def __init__(self, log: _Log) -> None:
        self.log = log

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        self.con = duckdb.connect(":memory:")
        self.con.register(LOG_VIEW, self.log.table)
        self.con.execute(PERIOD_MACRO)
        return self.con

    def __exit__(self, *exc: object) -> None:
        self.con.close()


def _frame(log: _Log, result: pa.Table) -> pd.DataFrame:
    index = pd.Index(result.column(0).to_pandas(), name=log.customer_id_col)
    if log.index_dtype is not None:
        index = index.astype(log.index_dtype)
    data = {name: result.column(name).to_numpy().astype(np.float64) for name in result.column_names[1:]}
    return pd.DataFrame(data, index=index)


def _empty(log: _Log, columns: list[str]) -> pd.DataFrame:
    index = pd.Index(log.table.column(0).slice(0, 0).to_pandas(), name=log.customer_id_col)
    if log.index_dtype is not None:
        index = index.astype(log.index_dtype)
    return pd.DataFrame({c: np.array([], dtype=np.float64) for c in columns}, index=index)
