"""The insight stage: acquisition channels, sign-up cohorts and shares, computed after the actions (issue 19).

Once the scores hold every customer's CLV, social value, segment and lifecycle stage, the run asks the
analyses of :mod:`socialvalue.insight` the questions a customer-management team asks next:

* **channels** (:func:`~socialvalue.insight.channel_report`): per acquisition channel, conversion, 90-day
  repeat rate, time to the second purchase, mean CLV and social value with intervals, referrers, value per
  customer, and with ``[channels] costs`` the cost per acquisition and value per unit cost;
* **cohorts** (:func:`~socialvalue.insight.cohort_retention`): each sign-up cohort's share active per month or
  week with intervals, revenue per member, and the expected repeat purchases per member from the purchase
  model the run fitted (or the stored one a scoring applies);
* **lifecycle_mix** (:func:`~socialvalue.insight.lifecycle_mix`): each cohort's lifecycle-stage mix at every
  scoring date the store holds, this one included;
* **shares**: content and helpfulness (:func:`~socialvalue.insight.content_shares`), time from
  ``interactions.duration_s`` (:func:`~socialvalue.insight.time_shares`) and the wallet share against
  ``[insight] category_spend`` (:func:`~socialvalue.insight.wallet_shares`).

The SQL runs through the run's engine (DuckDB, or Spark through the same definitions) and returns small
aggregates; the stage adds no loop over customers.
Each part becomes a JSON-ready entry of the run record's ``diagnostics["insight"]``: its tables as records
and its one-line ``meaning``, or ``{"available": false, "reason": ...}`` saying why it could not be computed.
The stage never stops a run: a channel-costs or category-spend file that cannot be used, or an analysis that
raises one of socialvalue's own errors, leaves that part out with the reason (the rest is kept).

The record keeps aggregates: per-customer shares are cut to the top :data:`TOP_CUSTOMERS` contributors (the
concentration figures are computed on all of them), and the weekly cohort table to the latest
:data:`MAX_COHORTS` cohorts.

On the Spark engine the lifecycle mix is of this run's date only (the Spark run reads no earlier scores), and
a category-spend file is checked against the run's customers read into a scratch in-memory store (there is no
erasure log to consult).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from socialvalue.errors import SocialValueError
from socialvalue.pipeline.config import RunConfig
from socialvalue.pipeline.runner import StageSpec

__all__ = ["MAX_COHORTS", "SPEC", "TOP_CUSTOMERS", "insight_stage", "run_insight"]

logger = logging.getLogger(__name__)

#: The stage reads the CLV stage's models and the actions stage's scores; no feature column.
SPEC = StageSpec("insight", reads=("clv", "actions"), writes=("insight",), uses_calibration=False)

#: Customers listed per share measure in the record (the largest contributors).
TOP_CUSTOMERS = 10
#: Cohorts kept in the record's cohort table (the latest); the meaning line is computed on all of them.
MAX_COHORTS = 60
#: Tests between channels kept in the record (the smallest adjusted p-values first).
MAX_TESTS = 500

_FREQ = {"month": "M", "week": "W"}


# -- JSON ----------------------------------------------------------------------------------------------------
def _value(v: Any) -> Any:
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat() if v == v.normalize() else v.isoformat()
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, str):
        return v
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)


def records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    """``frame``'s rows as JSON-ready dicts (NaN and NaT ``None``, midnight timestamps as ISO dates)."""
    if frame is None:
        return []
    cols = [str(c) for c in frame.columns]
    return [
        {c: _value(v) for c, v in zip(cols, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


def unavailable(reason: str) -> dict[str, Any]:
    """The entry of a part that could not be computed: ``available`` false and the reason in words."""
    return {"available": False, "reason": reason}


def _first_line(exc: Exception) -> str:
    """The error's first line, with its first listed problem when the line only announces a list."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    if lines[0].endswith(":") and len(lines) > 1:
        return f"{lines[0]} {lines[1]}"
    return lines[0]


# -- the parts -----------------------------------------------------------------------------------------------
def _channels(
    engine: Any, scores: pd.DataFrame, cfg: RunConfig, as_of: pd.Timestamp, currency: str, horizon: str
) -> dict[str, Any]:
    from socialvalue.insight import channel_report

    ch = cfg.channels
    settings = {
        "repeat_window_days": ch.repeat_window_days,
        "level": cfg.insight.level,
        "comparison": ch.comparison,
        "horizon": horizon,
        "currency": currency,
        "min_group": ch.min_group,
    }
    notes: list[str] = []
    costs = None
    if ch.costs:
        if Path(ch.costs).is_file():
            costs = ch.costs
        else:
            notes.append(f"channel costs not used: the file {Path(ch.costs).name!r} does not exist")
    value = scores[["customer_id", "clv", "csv"]]
    try:
        rep = channel_report(engine, as_of, value, costs=costs, **settings)
    except SocialValueError as exc:
        if costs is None:
            raise
        # the fallback: the channels without their costs, and why
        notes.append(f"channel costs not used: {_first_line(exc)}")
        rep = channel_report(engine, as_of, value, **settings)
    table = rep.table
    if table.empty or int(table["customers"].sum()) == 0:
        return unavailable(f"unavailable: no profiled customer was acquired before {as_of:%Y-%m-%d}")
    real = table[table["customers"] > 0]
    if set(real["channel"]) == {"unknown"}:
        return unavailable("unavailable: no customer has an acquisition_channel value")
    tests = rep.tests.sort_values(["p_holm", "metric", "channel", "other"], na_position="last", kind="stable")
    if len(tests) > MAX_TESTS:
        notes.append(f"the {MAX_TESTS} tests with the smallest adjusted p-values of {len(tests):,} are kept")
        tests = tests.head(MAX_TESTS)
    return {
        "available": True,
        "meaning": rep.meaning,
        "table": records(table),
        "tests": records(tests),
        "currency": rep.currency,
        "horizon": rep.horizon,
        "repeat_window_days": rep.repeat_window_days,
        "level": rep.level,
        "comparison": rep.comparison,
        "costs": Path(costs).name if costs else None,
        "notes": [*rep.notes, *notes],
    }


def _cohorts(engine: Any, model: Any, cfg: RunConfig, as_of: pd.Timestamp, currency: str) -> dict[str, Any]:
    from socialvalue.insight import cohort_retention

    ins = cfg.insight
    notes: list[str] = []
    if model is None:
        notes.append("no purchase model was fitted: no expected curve")
    try:
        ret = cohort_retention(
            engine,
            as_of,
            _FREQ[ins.cohort_period],
            basis=ins.cohort_basis,
            model=model,
            unit=cfg.run.unit,
            level=ins.level,
            currency=currency,
        )
    except SocialValueError as exc:
        if model is None:
            raise
        # the fallback: the actual curves without the model's
        notes.append(f"no expected curve: {_first_line(exc)}")
        ret = cohort_retention(
            engine,
            as_of,
            _FREQ[ins.cohort_period],
            basis=ins.cohort_basis,
            unit=cfg.run.unit,
            level=ins.level,
            currency=currency,
        )
    if ret.sizes.empty:
        return unavailable(f"unavailable: no profiled customer was acquired before {as_of:%Y-%m-%d}")
    table = ret.table.drop(columns=["period_end"])
    cohorts = sorted(ret.sizes["cohort"])
    if len(cohorts) > MAX_COHORTS:
        keep = set(cohorts[-MAX_COHORTS:])
        table = table[table["cohort"].isin(keep)]
        notes.append(f"the latest {MAX_COHORTS} of {len(cohorts)} cohorts are kept in the table")
    return {
        "available": True,
        "meaning": ret.meaning,
        "period": ins.cohort_period,
        "basis": ret.basis,
        "currency": ret.currency,
        "level": ret.level,
        "model": ret.model,
        "unit": cfg.run.unit,
        "table": records(table),
        "sizes": records(ret.sizes),
        "notes": [*ret.notes, *notes],
    }


def _history(engine: Any, scores: pd.DataFrame, as_of: pd.Timestamp) -> tuple[pd.DataFrame, int | None]:
    """Lifecycle stages at every earlier scoring date the store holds, and this run's (None: no store)."""
    now = scores[["customer_id", "lifecycle_stage"]].assign(as_of=as_of)
    store = getattr(engine, "store", None)
    if store is None:
        return now, None
    if not store.has_table("scores"):
        return now, 0
    past = store.query_df(
        "SELECT customer_id, as_of, lifecycle_stage FROM scores WHERE as_of < ?", [as_of.date()]
    )
    if past.empty:
        return now, 0
    past["as_of"] = pd.to_datetime(past["as_of"])
    return pd.concat([past, now], ignore_index=True), int(past["as_of"].nunique())


def _lifecycle_mix(engine: Any, scores: pd.DataFrame, cfg: RunConfig, as_of: pd.Timestamp) -> dict[str, Any]:
    from socialvalue.insight import lifecycle_mix

    if "lifecycle_stage" not in scores.columns:
        return unavailable("unavailable: the scores have no lifecycle_stage column")
    history, earlier = _history(engine, scores, as_of)
    ins = cfg.insight
    mix = lifecycle_mix(engine, history, as_of, _FREQ[ins.cohort_period], basis=ins.cohort_basis)
    if mix.table.empty:
        return unavailable("unavailable: no cohort member has a lifecycle stage")
    notes = []
    if earlier is None:
        notes.append("this run's date only: a run on Spark reads no earlier scores")
    elif not earlier:
        notes.append("one scoring date (this run's): the mix over time grows with every run")
    return {
        "available": True,
        "meaning": mix.meaning,
        "period": ins.cohort_period,
        "dates": (earlier or 0) + 1,
        "table": records(mix.table),
        "notes": notes,
    }


def _share(share: Any) -> dict[str, Any]:
    """One :class:`~socialvalue.insight.Share` as a record entry (the top contributors only)."""
    if not share.available:
        return {**unavailable(share.reason), "window": share.window, "notes": list(share.notes)}
    by_customer = share.by_customer
    return {
        "available": True,
        "meaning": share.meaning,
        "total": _value(share.total),
        "unit": share.unit,
        "window": share.window,
        "unprofiled_share": _value(share.unprofiled_share),
        "customers": len(by_customer) if by_customer is not None else 0,
        "top_customers": records(by_customer.head(TOP_CUSTOMERS) if by_customer is not None else None),
        "by_segment": records(share.by_segment),
        "notes": list(share.notes),
    }


def _category_spend(engine: Any, path: str) -> tuple[pd.DataFrame | None, str | None]:
    """The validated category-spend rows, or None and why they cannot be used.

    On a store the rows are checked against its customers and its erasure log. A run on Spark has no store:
    the run's customers table is read from the engine into a scratch in-memory store, and the file is checked
    against it (there is no erasure log to consult, the input folder being the user's own).
    """
    from socialvalue.ingest.optional import read_optional

    name = Path(path).name
    if not Path(path).is_file():
        return None, f"unavailable: the category-spend file {name!r} does not exist"
    store = getattr(engine, "store", None)
    try:
        if store is not None:
            return read_optional(store, "category_spend", path), None
        with _scratch_store(engine) as scratch:
            return read_optional(scratch, "category_spend", path), None
    except SocialValueError as exc:
        return None, f"unavailable: the category-spend file {name!r} was refused: {_first_line(exc)}"


def _scratch_store(engine: Any) -> Any:
    """An in-memory store holding the engine's customers (what an optional table's references are checked on)."""
    from socialvalue.datastore import Store
    from socialvalue.features.definition import Query

    customers = engine.frame(Query("SELECT * FROM customers"))
    scratch = Store(":memory:")
    try:
        scratch.ingest("customers", customers)
    except BaseException:
        scratch.close()
        raise
    return scratch


def _shares(engine: Any, scores: pd.DataFrame, cfg: RunConfig, as_of: pd.Timestamp) -> dict[str, Any]:
    from socialvalue.insight import content_shares, time_shares, wallet_shares

    ins = cfg.insight
    column = ins.segment_column
    segments = scores[["customer_id", column]] if column in scores.columns else None
    window = {"window_days": ins.share_window_days, "segment_column": column}
    out: dict[str, Any] = {}
    for name, share in content_shares(engine, as_of, segments, **window).items():
        out[name] = _share(share)
    out["time"] = _share(time_shares(engine, as_of, segments, **window))
    if ins.category_spend:
        spend, reason = _category_spend(engine, ins.category_spend)
        if spend is None:
            out["wallet"] = unavailable(str(reason))
        else:
            out["wallet"] = _share(
                wallet_shares(
                    engine, as_of, spend, segments, segment_column=column, window_days=ins.wallet_window_days
                )
            )
    else:
        out["wallet"] = _share(
            wallet_shares(
                engine, as_of, None, segments, segment_column=column, window_days=ins.wallet_window_days
            )
        )
    out["segment_column"] = column
    return out


def _part(name: str, build: Any) -> dict[str, Any]:
    """``build()``, or the part marked unavailable with the library's own error (the run goes on)."""
    try:
        return build()
    except SocialValueError as exc:
        logger.warning("insight: %s left out: %s", name, _first_line(exc))
        return unavailable(f"unavailable: {_first_line(exc)}")


def insight_stage(
    engine: Any,
    scores: pd.DataFrame,
    cfg: RunConfig,
    as_of: pd.Timestamp,
    currency: str,
    *,
    purchase_model: Any = None,
    clv_horizon: str | None = None,
) -> dict[str, Any]:
    """The run record's ``insight`` entry: channels, cohorts, lifecycle mix and shares as of ``as_of``.

    Parameters
    ----------
    engine
        The run's engine (a :class:`~socialvalue.engine.DuckDBEngine` on the store).
    scores
        The run's scores: ``customer_id``, ``clv``, ``csv``, the segment column and ``lifecycle_stage``.
    cfg
        The run configuration (``[channels]``, ``[insight]``, ``[run] unit``).
    as_of, currency
        The run's date and reporting currency (the scores' values are in it).
    purchase_model
        The purchase model the run applied (for the cohorts' expected curve); None: no expected curve.
    clv_horizon
        The CLV horizon in words, as the run records it.

    Returns
    -------
    dict
        JSON-ready: ``as_of``, ``currency``, ``clv_horizon``, ``channels``, ``cohorts``, ``lifecycle_mix`` and
        ``shares`` (``content``, ``helpfulness``, ``time``, ``wallet``, ``segment_column``); each part has
        ``available`` and either its tables and ``meaning`` or the ``reason`` it is absent.
    """
    horizon = f"CLV over {clv_horizon}" if clv_horizon else "over the scores' CLV horizon"
    out: dict[str, Any] = {
        "available": True,
        "as_of": str(as_of.date()),
        "currency": currency,
        "clv_horizon": clv_horizon,
    }
    out["channels"] = _part("channels", lambda: _channels(engine, scores, cfg, as_of, currency, horizon))
    out["cohorts"] = _part("cohorts", lambda: _cohorts(engine, purchase_model, cfg, as_of, currency))
    out["lifecycle_mix"] = _part("lifecycle mix", lambda: _lifecycle_mix(engine, scores, cfg, as_of))
    shares = _part("shares", lambda: _shares(engine, scores, cfg, as_of))
    if not shares.get("available", True):
        reason = shares["reason"]
        shares = {k: unavailable(reason) for k in ("content", "helpfulness", "time", "wallet")}
    out["shares"] = shares
    return out


def run_insight(
    runner: Any,
    engine: Any,
    art: dict[str, Any],
    cfg: RunConfig,
    as_of: pd.Timestamp,
    currency: str,
    fitted: Any = None,
) -> dict[str, Any]:
    """The stage as the run calls it: timed as ``"insight"``, or the reason it was switched off.

    Parameters
    ----------
    runner
        The run's :class:`~socialvalue.pipeline.runner.Runner` (timings, memory, progress).
    engine, art, cfg, as_of, currency
        The run's engine (DuckDB or Spark), its artifacts (``clv`` and ``actions``), configuration, date and
        currency.
    fitted
        Stored :class:`~socialvalue.pipeline.fitted.FittedModels` of a scoring (their purchase model draws the
        expected curve), or None (the model this run fitted).
    """
    if not cfg.insight.enabled:
        return unavailable("omitted: [insight] enabled = false in the run configuration")
    clv = art["clv"]
    model = fitted.purchase if fitted is not None else clv["models"].get("purchase")
    with runner.stage("insight"):
        out = insight_stage(
            engine,
            art["actions"]["scores"],
            cfg,
            as_of,
            currency,
            purchase_model=model,
            clv_horizon=clv["diag"].get("clv_horizon"),
        )
    return out
