r"""SQL definitions of lifetimes-compatible RFM summaries of a transaction log (nothing here executes).

Users coming from ``lifetimes`` or ``pymc-marketing`` notebooks have a log of ``customer_id, date[, revenue]``
rows in pandas, Polars or Arrow. :func:`socialvalue.engine.frames.rfm_summary` and
:func:`socialvalue.engine.frames.calibration_and_holdout` turn it into the per-customer sufficient statistics
of the BTYD models -- exactly the frames of lifetimes 0.11.3's ``summary_data_from_transaction_data`` and
``calibration_and_holdout_data``. This module defines the SQL they run: one statement that groups the log (a
view :data:`LOG_VIEW` of columns ``cid``, ``ts`` [, ``amt``]) by customer and period, with the period macro
:data:`PERIOD_MACRO` and the vocabulary of periods (:data:`FREQS`).

Definitions (Fader, Hardie & Lee 2005; lifetimes' ``utils.py``)
---------------------------------------------------------------
Time is cut into periods of ``freq`` (pandas ``Period`` semantics: days, hours, calendar months, or weeks
running Monday to Sunday, pandas ``"W-SUN"``). Purchases in the same period are **one** transaction, with the
sum of their values. For a customer whose first purchase falls in period :math:`p_0`, last in :math:`p_1`,
with purchases in :math:`n` distinct periods up to the observation end :math:`p_e`:

.. math::

    x = n - 1, \qquad t_x = \frac{p_1 - p_0}{m}, \qquad T = \frac{p_e - p_0}{m},
    \qquad \bar z = \frac{1}{n - 1} \sum_{p \ne p_0} z_p

(``frequency``, ``recency``, ``T``, ``monetary_value``), with :math:`m` = ``freq_multiplier``, :math:`z_p`
the sum of the customer's values in period :math:`p`, and :math:`\bar z = 0` when :math:`x = 0`. With
``include_first_transaction=True``, :math:`x = n` and :math:`\bar z` averages all :math:`n` periods.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way: An alternative to
the Pareto/NBD model. *Marketing Science* 24(2), 275-284.

Davidson-Pilon, C. et al. *lifetimes* 0.11.3, ``lifetimes/utils.py``
(``summary_data_from_transaction_data``, ``calibration_and_holdout_data``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from socialvalue.errors import ConfigError
from socialvalue.features.definition import Query

__all__ = [
    "FREQS",
    "LOG_VIEW",
    "PERIOD_MACRO",
    "SUMMARY_COLUMNS",
    "calibration_holdout_query",
    "holdout_rows_query",
    "latest_query",
    "multiplier",
    "period_kind",
    "period_query",
    "span_query",
    "summary_query",
]

#: Accepted ``freq`` values -> the period kind used in SQL. ``H`` and pandas' newer ``h`` are both hours;
#: ``W`` is pandas' default week, ``W-SUN`` (Monday to Sunday).
FREQS: dict[str, str] = {"D": "D", "W": "W", "W-SUN": "W", "M": "M", "H": "H", "h": "H"}
_FREQ_HELP = (
    "'D' (days), 'W' (weeks Monday-Sunday, pandas 'W-SUN'), 'M' (calendar months) or 'H' (hours, also 'h')"
)

#: The columns of a summary without values (``monetary_value`` follows when the log has values).
SUMMARY_COLUMNS = ("frequency", "recency", "T")
#: The view the queries read: the log as Arrow, columns ``cid``, ``ts`` [, ``amt``].
LOG_VIEW = "_sv_rfm_log"

# The period ordinal of a timestamp: pandas' ``Period.ordinal`` for freq D, W-SUN, M and h (days, weeks,
# months, hours counted from 1970-01-01; the week holding 1970-01-01 is 1). ``f`` is bound, so DuckDB folds
# the CASE to one branch when it plans the query.
PERIOD_MACRO = """
CREATE OR REPLACE TEMP MACRO _sv_period(ts, f) AS CASE f
    WHEN 'D' THEN datediff('day', DATE '1970-01-01', CAST(ts AS DATE))
    WHEN 'W' THEN datediff('day', DATE '1969-12-29', CAST(date_trunc('week', ts) AS DATE)) // 7 + 1
    WHEN 'M' THEN (year(ts) - 1970) * 12 + month(ts) - 1
    WHEN 'H' THEN datediff('hour', TIMESTAMP '1970-01-01', date_trunc('hour', ts))
END
"""

# One row per customer and period with a purchase, up to the end period (and, for a calibration, up to the
# calibration instant); then one row per customer. ``$first`` is include_first_transaction.
_PERIODS = """
WITH per AS (
    SELECT cid, _sv_period(ts, $freq) AS p FROM _sv_rfm_log
    WHERE ($upper IS NULL OR ts <= $upper) AND _sv_period(ts, $freq) <= $pend
    GROUP BY ALL
), cust AS (
    SELECT cid, min(p) AS p0, max(p) AS p1, count(*) AS n FROM per GROUP BY cid
)
"""
# With values: the repeat periods' mean is (all periods' sum - the first period's sum) / (n - 1), the first
# period's sum taken with arg_min (p is unique per customer here); compensated sums (fsum) make the result
# independent of the order DuckDB's threads add in, and its error a few units in the last place of the
# customer's total (a window marking the first period costs a third more time for the same numbers).
_PERIODS_VALUE = """
WITH per AS (
    SELECT cid, _sv_period(ts, $freq) AS p, fsum(amt) AS z FROM _sv_rfm_log
    WHERE ($upper IS NULL OR ts <= $upper) AND _sv_period(ts, $freq) <= $pend
    GROUP BY ALL
), cust AS (
    SELECT cid, min(p) AS p0, max(p) AS p1, count(*) AS n,
           CASE WHEN $first THEN fsum(z) / count(*)
                WHEN count(*) > 1 THEN (fsum(z) - arg_min(z, p)) / (count(*) - 1)
                ELSE 0 END AS z
    FROM per GROUP BY cid
)
"""
_SUMMARY = """
SELECT cid,
       CAST(n - CASE WHEN $first THEN 0 ELSE 1 END AS DOUBLE) AS frequency,
       CAST(p1 - p0 AS DOUBLE) / $mult AS recency,
       CAST($pend - p0 AS DOUBLE) / $mult AS "T"
"""
_HOLDOUT = """
, hold AS (
    SELECT cid, count(DISTINCT _sv_period(ts, $freq)) AS nh FROM _sv_rfm_log
    WHERE ts > $upper AND ts <= $obs GROUP BY cid
)
SELECT cid,
       CAST(n - CASE WHEN $first THEN 0 ELSE 1 END AS DOUBLE) AS frequency_cal,
       CAST(p1 - p0 AS DOUBLE) / $mult AS recency_cal,
       CAST($pend - p0 AS DOUBLE) / $mult AS "T_cal",
       CAST(coalesce(nh, 0) AS DOUBLE) AS frequency_holdout,
       CAST($pobs - $pend AS DOUBLE) / $mult AS duration_holdout
FROM cust LEFT JOIN hold USING (cid) ORDER BY cid
"""
_HOLDOUT_VALUE = """
, hold AS (
    SELECT cid, count(DISTINCT _sv_period(ts, $freq)) AS nh, fsum(amt) / count(*) AS zh FROM _sv_rfm_log
    WHERE ts > $upper AND ts <= $obs GROUP BY cid
)
SELECT cid,
       CAST(n - CASE WHEN $first THEN 0 ELSE 1 END AS DOUBLE) AS frequency_cal,
       CAST(p1 - p0 AS DOUBLE) / $mult AS recency_cal,
       CAST($pend - p0 AS DOUBLE) / $mult AS "T_cal",
       z AS monetary_value_cal,
       CAST(coalesce(nh, 0) AS DOUBLE) AS frequency_holdout,
       coalesce(zh, 0) AS monetary_value_holdout,
       CAST($pobs - $pend AS DOUBLE) / $mult AS duration_holdout
FROM cust LEFT JOIN hold USING (cid) ORDER BY cid
"""


def period_kind(freq: Any) -> str:
    """The period kind of ``freq`` (a key of :data:`FREQS`) used in SQL.

    Raises
    ------
    ConfigError
        If ``freq`` is not one of :data:`FREQS`.
    """
    if not isinstance(freq, str) or freq not in FREQS:
        raise ConfigError(f"freq must be one of {_FREQ_HELP}; got {freq!r}")
    return FREQS[freq]


def multiplier(value: Any) -> float:
    """``freq_multiplier`` as a float.

    Raises
    ------
    ConfigError
        If ``value`` is not a positive finite number.
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) <= 0:
        raise ConfigError(
            f"freq_multiplier must be a positive number (e.g. 7 for weeks of days); got {value!r}"
        )
    return float(value)


def latest_query() -> Query:
    """The latest purchase time of the log (NULL for an empty log)."""
    return Query(f"SELECT CAST(max(ts) AS TIMESTAMP) FROM {LOG_VIEW}")


def span_query() -> Query:
    """The earliest and latest purchase times of the log."""
    return Query(f"SELECT min(ts), max(ts) FROM {LOG_VIEW}")


def period_query(ts: Any, kind: str) -> Query:
    """The period ordinal of the instant ``ts`` (see :data:`PERIOD_MACRO`)."""
    return Query("SELECT _sv_period(CAST($ts AS TIMESTAMP), $f)", {"ts": ts, "f": kind})


def holdout_rows_query(calibration_end: Any, observation_end: Any) -> Query:
    """The number of purchases after ``calibration_end`` and up to ``observation_end`` (inclusive)."""
    return Query(
        f"SELECT count(*) FROM {LOG_VIEW} WHERE ts > $cal AND ts <= $obs",
        {"cal": calibration_end, "obs": observation_end},
    )


def summary_query(*, kind: str, period_end: int, mult: float, first: bool, value: bool) -> Query:
    """Per customer ``cid``, ``frequency``, ``recency``, ``T`` [, ``monetary_value``], ordered by ``cid``.

    Parameters
    ----------
    kind
        The period kind (:func:`period_kind`).
    period_end
        The period of the observation end (:func:`period_query`); purchases in later periods are dropped.
    mult
        ``freq_multiplier`` (:func:`multiplier`).
    first
        ``include_first_transaction``.
    value
        Whether the log has values (``amt``): adds ``monetary_value``.
    """
    params = {"freq": kind, "pend": period_end, "upper": None, "mult": mult, "first": bool(first)}
    if value:
        return Query(_PERIODS_VALUE + _SUMMARY + ", z AS monetary_value FROM cust ORDER BY cid", params)
    return Query(_PERIODS + _SUMMARY + " FROM cust ORDER BY cid", params)


def calibration_holdout_query(
    *,
    kind: str,
    period_cal: int,
    period_obs: int,
    calibration_end: Any,
    observation_end: Any,
    mult: float,
    first: bool,
    value: bool,
) -> Query:
    """Per calibration customer ``cid``, the ``_cal`` summary and the ``_holdout`` counts, ordered by ``cid``.

    Parameters
    ----------
    kind, mult, first, value
        As in :func:`summary_query`.
    period_cal, period_obs
        The periods of the calibration and observation ends (:func:`period_query`).
    calibration_end, observation_end
        The two instants: purchases up to ``calibration_end`` (inclusive) are the calibration, later ones up
        to ``observation_end`` (inclusive) the holdout.
    """
    params = {
        "freq": kind,
        "pend": period_cal,
        "pobs": period_obs,
        "upper": calibration_end,
        "obs": observation_end,
        "mult": mult,
        "first": bool(first),
    }
    if value:
        return Query(_PERIODS_VALUE + _HOLDOUT_VALUE, params)
    return Query(_PERIODS + _HOLDOUT, params)
