"""Channel, cohort and share analysis (issue 19): which channels pay, how cohorts retain, who holds what share.

The SQL lives in :mod:`socialvalue.features.insight` and runs through an engine (a store is wrapped in a
:class:`~socialvalue.engine.DuckDBEngine`; a Spark engine works the same); the modules here do the statistics
on the small frames it returns. Every result is a frozen dataclass holding frames, the date, currency and
horizon it is about, and a one-line ``meaning`` computed from its numbers.

* :func:`channel_report` — per acquisition channel: conversion, 90-day repeat rate, time to the second
  purchase, CLV and social value, referrers, value per customer and per unit cost, with tests between
  channels (:mod:`socialvalue.insight.channels`).
* :func:`cohort_retention` and :func:`lifecycle_mix` — sign-up (or first-purchase) cohorts by month or week:
  the share active per period with intervals, revenue per member, a purchase model's expected curve, the
  lifecycle-stage mix over time (:mod:`socialvalue.insight.cohorts`).
* :func:`content_shares`, :func:`time_shares`, :func:`wallet_shares` — each customer's and segment's share
  of content, helpfulness, time, and of their estimated category spend (:mod:`socialvalue.insight.shares`).
"""

from __future__ import annotations

from socialvalue.insight.channels import ChannelReport, channel_report, read_channel_costs
from socialvalue.insight.cohorts import CohortRetention, LifecycleMix, cohort_retention, lifecycle_mix
from socialvalue.insight.shares import Share, content_shares, time_shares, wallet_shares

__all__ = [
    "ChannelReport",
    "CohortRetention",
    "LifecycleMix",
    "Share",
    "channel_report",
    "cohort_retention",
    "content_shares",
    "lifecycle_mix",
    "read_channel_costs",
    "time_shares",
    "wallet_shares",
]
