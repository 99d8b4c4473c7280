"""SQL definition of the repeat-purchase tracking series (Fader, Hardie & Lee 2005, fig. 2): nothing executes.

The tracking chart compares a cohort's actual cumulative repeat transactions with a purchase model's. Its
inputs are the customers' first-purchase days and their repeat purchase days; at a million customers those
are millions of rows, so the definition aggregates them in the engine to one row per day: how many
customers made their first purchase that day, and how many repeat purchase days fell on it.
"""

from __future__ import annotations

from typing import Any

from socialvalue.features.definition import Query
from socialvalue.features.split import to_utc_naive

__all__ = ["repeat_days_query"]


def repeat_days_query(calibration_end: Any, end: Any) -> Query:
    """Per day: ``n_first`` customers of the cohort first bought on it, ``n_repeat`` repeat days fell on it.

    The cohort is the consented customers whose first purchase day is before ``calibration_end``. A purchase
    day is a UTC day with a completed, positive order before ``end``; a repeat day is any purchase day after
    the customer's first (one per customer and day, as the BTYD ``frequency`` counts them).

    Parameters
    ----------
    calibration_end
        Exclusive end of the period in which the cohort's first purchases fall.
    end
        Exclusive end of the purchases counted (the end of the holdout).

    Returns
    -------
    Query
        Columns ``day_s`` (the day's midnight in epoch seconds, ``DOUBLE``), ``n_first`` and ``n_repeat``
        (``BIGINT``), one row per day with either count positive, ordered by day.
    """
    return Query(
        """
        WITH days AS (
            SELECT DISTINCT o.customer_id, date_trunc('day', o.ordered_at) AS d
            FROM orders o JOIN customers c USING (customer_id)
            WHERE o.status = 'completed' AND o.amount > 0 AND o.ordered_at < ? AND c.consent_profiling
        ), firsts AS (
            SELECT customer_id, min(d) AS first_d FROM days GROUP BY customer_id HAVING min(d) < ?
        ), first_days AS (
            SELECT first_d AS d, count(*) AS n_first FROM firsts GROUP BY first_d
        ), repeat_days AS (
            SELECT d.d, count(*) AS n_repeat FROM days d JOIN firsts f USING (customer_id)
            WHERE d.d > f.first_d GROUP BY d.d
        )
        SELECT CAST(epoch(d) AS DOUBLE) AS day_s, coalesce(n_first, 0) AS n_first,
               coalesce(n_repeat, 0) AS n_repeat
        FROM first_days FULL JOIN repeat_days USING (d)
        """,
        (to_utc_naive(end, "end"), to_utc_naive(calibration_end, "calibration_end")),
        order="day_s",
    )
