"""SQL definitions of the channel, cohort and share analyses (issue 19): nothing here executes.

:mod:`socialvalue.insight` runs these through an engine and does the statistics on the (small) frames they
return. The SQL is written for DuckDB in the subset SQLGlot transpiles to Spark, so the Spark engine runs the
same definitions: named ``$name`` parameters, ``date_trunc`` and ``CASE`` aggregates; no ``QUALIFY``, no list
or struct functions, no ``epoch()``.

Conventions shared by every definition:

* **Population**: customers with consent to profiling who are not stubs (the feature table's population);
  a customer is *acquired* at their sign-up, or at their first purchase when they have no sign-up time.
* **Purchase**: a completed order with a positive amount. A *purchase day* is a UTC day with one; a *repeat*
  is a purchase day after the first (one per customer and day, as the BTYD ``frequency`` counts them).
* **Revenue**: completed orders plus refunds and returns recorded as negative amounts
  (:data:`~socialvalue.features.social_inputs.REVENUE`), in the orders' own currency.
* **Time**: everything strictly before ``as_of``; windows are ``[start, as_of)``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from socialvalue.errors import ConfigError
from socialvalue.features.definition import Query
from socialvalue.features.social_inputs import REVENUE
from socialvalue.features.split import to_utc_naive

__all__ = [
    "COHORT_FREQS",
    "CohortBasis",
    "CohortFreq",
    "channel_customers_query",
    "cohort_activity_query",
    "cohort_members_query",
    "cohort_sizes_query",
    "content_contribution_query",
    "interaction_columns_query",
    "revenue_currencies_query",
    "spend_query",
    "time_contribution_query",
]

CohortFreq = Literal["M", "W"]
CohortBasis = Literal["signup", "first_purchase"]

#: Cohort period codes and the ``date_trunc`` unit of each (weeks start on Monday in both engines).
COHORT_FREQS: dict[str, str] = {"M": "month", "W": "week"}

#: A purchase: a completed order with a positive amount (orders aliased ``o``).
PURCHASE = "(o.status = 'completed' AND o.amount > 0)"

#: Before any data: the start of an unbounded window.
_EPOCH = dt.datetime(1900, 1, 1)

_PROFILED = "c.consent_profiling AND NOT c.is_stub"


def _t(value: Any, name: str = "as_of") -> dt.datetime:
    return to_utc_naive(value, name)


def _start(start: Any) -> dt.datetime:
    return _EPOCH if start is None else _t(start, "start")


def _unit(freq: str) -> str:
    try:
        return COHORT_FREQS[str(freq).upper()]
    except KeyError:
        raise ConfigError(f"unknown cohort frequency {freq!r}; use 'M' (months) or 'W' (weeks)") from None


def _anchor(basis: str) -> str:
    if basis == "signup":
        return "coalesce(c.signup_at, f.first_at)"
    if basis == "first_purchase":
        return "f.first_at"
    raise ConfigError(f"unknown cohort basis {basis!r}; use 'signup' or 'first_purchase'")


def channel_customers_query(as_of: Any) -> Query:
    """One row per customer acquired before ``as_of``, with what the channel analysis counts.

    Columns: ``customer_id``; ``channel`` (``acquisition_channel`` trimmed, ``"unknown"`` when missing or
    blank); ``acquired_at`` (sign-up, else first purchase); ``first_purchase_at`` and ``second_purchase_at``
    (midnight of the first purchase day and of the first later purchase day, NULL when there is none);
    ``referred_someone`` (the customer referred another customer, a ``referred`` relationship, before
    ``as_of`` or undated). Ordered by ``customer_id``.
    """
    sql = f"""
        WITH days AS (
            SELECT DISTINCT o.customer_id, date_trunc('day', o.ordered_at) AS d FROM orders o
            WHERE {PURCHASE} AND o.ordered_at < $as_of),
        firsts AS (SELECT customer_id, min(d) AS first_at FROM days GROUP BY customer_id),
        seconds AS (
            SELECT days.customer_id, min(days.d) AS second_at
            FROM days JOIN firsts ON firsts.customer_id = days.customer_id
            WHERE days.d > firsts.first_at GROUP BY days.customer_id),
        referrers AS (
            SELECT DISTINCT src_id AS customer_id FROM relationships
            WHERE kind = 'referred' AND src_id <> dst_id AND (created_at IS NULL OR created_at < $as_of))
        SELECT c.customer_id,
               coalesce(nullif(trim(c.acquisition_channel), ''), 'unknown') AS channel,
               coalesce(c.signup_at, f.first_at) AS acquired_at,
               f.first_at AS first_purchase_at,
               s.second_at AS second_purchase_at,
               r.customer_id IS NOT NULL AS referred_someone
        FROM customers c
        LEFT JOIN firsts f ON f.customer_id = c.customer_id
        LEFT JOIN seconds s ON s.customer_id = c.customer_id
        LEFT JOIN referrers r ON r.customer_id = c.customer_id
        WHERE {_PROFILED} AND coalesce(c.signup_at, f.first_at) < $as_of
    """
    return Query(sql, {"as_of": _t(as_of)}, ("customer_id",), order="customer_id")


def _members(unit: str, basis: str) -> str:
    """CTEs ``firsts`` and ``members`` (customer_id, cohort, first_day) of the cohort definitions."""
    anchor = _anchor(basis)
    return f"""
        firsts AS (
            SELECT o.customer_id, min(o.ordered_at) AS first_at FROM orders o
            WHERE {PURCHASE} AND o.ordered_at < $as_of GROUP BY o.customer_id),
        members AS (
            SELECT c.customer_id, date_trunc('{unit}', {anchor}) AS cohort,
                   date_trunc('day', f.first_at) AS first_day
            FROM customers c LEFT JOIN firsts f ON f.customer_id = c.customer_id
            WHERE {_PROFILED} AND {anchor} < $as_of)"""


def cohort_members_query(as_of: Any, freq: CohortFreq = "M", basis: CohortBasis = "signup") -> Query:
    """Each cohort member's ``customer_id`` and ``cohort`` (the start of their sign-up month or week).

    ``basis="signup"`` places a customer by sign-up time, else by first purchase (a customer without a
    sign-up time is placed by first purchase either way); ``"first_purchase"`` places buyers only, by their
    first purchase. Ordered by ``customer_id``.
    """
    sql = f"WITH {_members(_unit(freq), basis)} SELECT customer_id, cohort FROM members"
    return Query(sql, {"as_of": _t(as_of)}, ("customer_id",), order="customer_id")


def cohort_sizes_query(as_of: Any, freq: CohortFreq = "M", basis: CohortBasis = "signup") -> Query:
    """Cohort members by ``cohort`` and ``first_day`` (midnight of the first purchase day; NULL: none yet).

    Summed over ``first_day``, ``members`` is the cohort's size; the rows with a first day are what the
    expected curve of a purchase model needs. Ordered by cohort and first day.
    """
    sql = (
        f"WITH {_members(_unit(freq), basis)} "
        "SELECT cohort, first_day, count(*) AS members FROM members GROUP BY cohort, first_day"
    )
    return Query(sql, {"as_of": _t(as_of)}, order="cohort, first_day NULLS FIRST")


def cohort_activity_query(as_of: Any, freq: CohortFreq = "M", basis: CohortBasis = "signup") -> Query:
    """Per cohort and calendar ``period`` (start of a month or week) from the cohort's start to ``as_of``.

    Columns: ``active`` (members with a purchase in the period), ``purchases`` (purchases),
    ``repeat_days`` (members' purchase days after their first purchase day) and ``revenue`` (``DOUBLE``,
    summed exactly then converted). Only periods with an order of a member are rows; orders before the
    start of a member's cohort are left out. Ordered by cohort and period.
    """
    unit = _unit(freq)
    sql = f"""
        WITH {_members(unit, basis)},
        dated AS (
            SELECT m.cohort, o.customer_id, date_trunc('{unit}', o.ordered_at) AS period,
                   CASE WHEN {PURCHASE} THEN 1 ELSE 0 END AS purchase,
                   CASE WHEN {PURCHASE} AND date_trunc('day', o.ordered_at) > m.first_day
                        THEN date_trunc('day', o.ordered_at) END AS repeat_day,
                   CASE WHEN {REVENUE} THEN o.amount END AS amount
            FROM orders o JOIN members m ON m.customer_id = o.customer_id
            WHERE o.ordered_at < $as_of AND o.ordered_at >= m.cohort),
        per_member AS (
            SELECT cohort, customer_id, period, max(purchase) AS active, sum(purchase) AS purchases,
                   count(DISTINCT repeat_day) AS repeat_days, sum(amount) AS revenue
            FROM dated GROUP BY cohort, customer_id, period)
        SELECT cohort, period, CAST(sum(active) AS BIGINT) AS active,
               CAST(sum(purchases) AS BIGINT) AS purchases, CAST(sum(repeat_days) AS BIGINT) AS repeat_days,
               CAST(coalesce(sum(revenue), 0) AS DOUBLE) AS revenue
        FROM per_member GROUP BY cohort, period
    """
    return Query(sql, {"as_of": _t(as_of)}, order="cohort, period")


def revenue_currencies_query(as_of: Any) -> Query:
    """The distinct ``currency`` of the revenue orders before ``as_of``, sorted."""
    return Query(
        f"SELECT DISTINCT o.currency FROM orders o WHERE o.ordered_at < $as_of AND {REVENUE}",
        {"as_of": _t(as_of)},
        order="currency",
    )


def content_contribution_query(as_of: Any, *, start: Any = None) -> Query:
    """Content published in ``[start, as_of)`` and the helpfulness votes it received, per author.

    Columns: ``customer_id`` (NULL for one row summing every author without consent to profiling),
    ``content`` (items), ``helpful_votes`` (the items' ``helpful_votes``, empty counted as 0) and ``voted``
    (items whose ``helpful_votes`` is known). ``helpful_votes`` is the table's current value: the canonical
    model does not date votes. ``start=None``: all history.
    """
    who = "CASE WHEN coalesce(c.consent_profiling, FALSE) THEN x.author_id END"
    sql = f"""
        SELECT {who} AS customer_id, count(*) AS content,
               CAST(coalesce(sum(x.helpful_votes), 0) AS BIGINT) AS helpful_votes,
               count(x.helpful_votes) AS voted
        FROM content x LEFT JOIN customers c ON c.customer_id = x.author_id
        WHERE x.created_at >= $start AND x.created_at < $as_of
        GROUP BY {who}
    """
    return Query(sql, {"as_of": _t(as_of), "start": _start(start)}, ("customer_id",), order="customer_id")


def interaction_columns_query() -> Query:
    """No rows; its columns are the interactions table's (whether ``duration_s`` exists)."""
    return Query("SELECT * FROM interactions WHERE 1 = 0")


def time_contribution_query(as_of: Any, *, start: Any = None) -> Query:
    """Seconds of interaction in ``[start, as_of)`` per actor, from ``interactions.duration_s``.

    Columns: ``customer_id`` (NULL for one row summing every actor without consent to profiling),
    ``seconds`` (``DOUBLE``, NULL durations left out), ``timed`` (interactions with a duration) and
    ``interactions``. Needs the ``duration_s`` column (see :func:`interaction_columns_query`).
    """
    who = "CASE WHEN coalesce(c.consent_profiling, FALSE) THEN i.actor_id END"
    sql = f"""
        SELECT {who} AS customer_id, CAST(coalesce(sum(i.duration_s), 0) AS DOUBLE) AS seconds,
               count(i.duration_s) AS timed, count(*) AS interactions
        FROM interactions i LEFT JOIN customers c ON c.customer_id = i.actor_id
        WHERE i.occurred_at >= $start AND i.occurred_at < $as_of
        GROUP BY {who}
    """
    return Query(sql, {"as_of": _t(as_of), "start": _start(start)}, ("customer_id",), order="customer_id")


def spend_query(as_of: Any, *, start: Any = None) -> Query:
    """Each profiled customer's revenue in ``[start, as_of)`` per ``currency``: ``spend`` (``DOUBLE``)."""
    sql = f"""
        SELECT o.customer_id, o.currency, CAST(sum(o.amount) AS DOUBLE) AS spend
        FROM orders o JOIN customers c ON c.customer_id = o.customer_id
        WHERE {_PROFILED} AND o.ordered_at >= $start AND o.ordered_at < $as_of AND {REVENUE}
        GROUP BY o.customer_id, o.currency
    """
    return Query(
        sql, {"as_of": _t(as_of), "start": _start(start)}, ("customer_id",), order="customer_id, currency"
    )
