"""Control groups in the store: hold them out when actions are exported, measure them on a later run.

The maths is :mod:`socialvalue.decisions.experiment` (power, assignment) and
:mod:`socialvalue.decisions.measurement` (uplift, verdicts, values); this module is their store side:

1. :func:`hold_out_controls` — when a run's plan is exported: keep the customers who consent to marketing
   (:func:`socialvalue.privacy.marketing_consent`), measure each action's baseline purchase rate when the power
   calculation needs it (:func:`baseline_rates`), hold a stratified, reproducible control group out per action
   and record it in ``_assignments`` (:func:`record_assignments`). The caller then moves the control customers
   to the free action (:func:`~socialvalue.decisions.experiment.apply_holdout`) before exporting the plan.
2. :func:`measure_outcomes` — on a later run: per assignment, the purchases, net revenue, referrals made and
   churn (no purchase) in the window after the action, read from the canonical tables as of that run's date;
   a window not yet fully elapsed is "not yet measured".
3. :func:`action_results` — the uplift per action and segment with intervals, whether each action paid, the
   Qini curves, and the measured incremental values per action and segment that replace the playbook's
   assumptions in the next allocation.

Every value reaches SQL as a bound parameter. An erasure deletes a customer's ``_assignments`` rows with every
other row about them (:data:`socialvalue.privacy.ERASURE_PLACES`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from socialvalue.decisions.experiment import ALL_SEGMENTS, ExperimentConfig, Holdout, hold_out
from socialvalue.decisions.measurement import measure_uplift, measured_values, paid_verdicts, qini_curves
from socialvalue.decisions.uplift import QiniCurve
from socialvalue.errors import SchemaError, StoreError
from socialvalue.privacy import marketing_consent
from socialvalue.schema import REFUND_STATUSES
from socialvalue.store import Store, arrow_to_pandas

__all__ = [
    "ActionResults",
    "action_results",
    "baseline_rates",
    "hold_out_controls",
    "measure_outcomes",
    "record_assignments",
]

logger = logging.getLogger(__name__)

#: The columns of :func:`measure_outcomes`.
OUTCOME_COLUMNS = (
    "run_id", "action", "customer_id", "arm", "stratum", "segment", "score", "assigned_at", "window_days",
    "window_end", "measured", "purchases", "revenue", "referrals", "churned",
)  # fmt: skip


def _as_timestamp(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def _register(store: Store, name: str, frame: pd.DataFrame) -> None:
    import pyarrow as pa

    store.con.register(name, pa.Table.from_pandas(frame, preserve_index=False))


def baseline_rates(store: Store, frame: pd.DataFrame, as_of: Any, window_days: int) -> dict[str, float]:
    """Per action, the share of its customers who bought in the ``window_days`` before ``as_of``.

    The purchase rate the action's customers would show in the window without it: the baseline of the power
    calculation.

    Parameters
    ----------
    store
        The store.
    frame
        ``customer_id`` and ``action``, one row per customer planned for an action.
    as_of
        The run's date (exclusive upper bound).
    window_days
        Length of the window.
    """
    if frame.empty:
        return {}
    end = _as_timestamp(as_of).to_pydatetime()
    start = (_as_timestamp(as_of) - pd.Timedelta(days=window_days)).to_pydatetime()
    _register(store, "_sv_baseline", frame[["customer_id", "action"]].astype(str))
    try:
        rows = store.con.execute(
            """
            WITH bought AS (
                SELECT DISTINCT customer_id FROM orders
                WHERE status = 'completed' AND amount > 0 AND ordered_at >= $start AND ordered_at < $end)
            SELECT p.action, avg(CASE WHEN b.customer_id IS NULL THEN 0.0 ELSE 1.0 END)
            FROM _sv_baseline p LEFT JOIN bought b USING (customer_id)
            GROUP BY p.action ORDER BY p.action
            """,
            {"start": start, "end": end},
        ).fetchall()
    finally:
        store.con.unregister("_sv_baseline")
    return {str(a): float(r) for a, r in rows}


def record_assignments(store: Store, holdout: Holdout, *, run_id: str, assigned_at: Any) -> int:
    """Write a hold-out's assignment to ``_assignments`` (replacing that run's earlier rows); rows written.

    Parameters
    ----------
    store
        A writable store (schema v4 or later).
    holdout
        :func:`~socialvalue.decisions.experiment.hold_out`'s result.
    run_id
        The run whose plan was exported.
    assigned_at
        When the actions go out (the run's date): outcomes count from then, for ``window_days``.
    """
    if store.read_only:
        raise StoreError(f"cannot record assignments: store {store.path!r} is open read-only")
    if not store.has_table("_assignments"):
        raise StoreError(
            f"store {store.path!r} has no _assignments table: open it writable once to migrate it"
        )
    a = holdout.assignment
    rows = pd.DataFrame(
        {
            "run_id": str(run_id),
            "action": a["action"].astype(str).to_numpy(),
            "customer_id": a["customer_id"].astype(str).to_numpy(),
            "arm": a["arm"].astype(str).to_numpy(),
            "stratum": a["stratum"].astype(str).to_numpy(),
            "segment": a["segment"].astype(str).to_numpy(),
            "score": a["score"].astype(float).to_numpy(),
        }
    )
    con = store.con
    _register(store, "_sv_assign", rows)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM _assignments WHERE run_id = ?", [str(run_id)])
        con.execute(
            "INSERT INTO _assignments (run_id, action, customer_id, arm, stratum, segment, score, assigned_at, "
            "window_days, seed) SELECT run_id, action, customer_id, arm, stratum, segment, score, "
            "CAST($at AS TIMESTAMP), $window, $seed FROM _sv_assign",
            {
                "at": _as_timestamp(assigned_at).to_pydatetime(),
                "window": int(holdout.config.window_days),
                "seed": int(holdout.config.seed),
            },
        )
        con.execute("COMMIT")
    except Exception as exc:
        con.execute("ROLLBACK")
        raise StoreError(f"recording the control groups of run {run_id!r} failed: {exc}") from None
    finally:
        con.unregister("_sv_assign")
    logger.info(
        "run %s: %d assignments recorded (%d held out)",
        run_id,
        len(rows),
        int((rows["arm"] == "control").sum()),
    )
    return len(rows)


def hold_out_controls(
    store: Store,
    plan: pd.DataFrame,
    *,
    run_id: str,
    as_of: Any,
    config: ExperimentConfig | None = None,
    scores: pd.DataFrame | None = None,
    skip: Iterable[str] = ("do_nothing",),
    record: bool = True,
) -> Holdout:
    """Hold out and record the control groups of a run's plan (the export calls this, then ``apply_holdout``).

    Parameters
    ----------
    store
        The store (writable when ``record``).
    plan
        The allocation: one row per customer with ``customer_id``, ``action`` and, for the Qini curves,
        ``expected_value``.
    run_id
        The run the plan belongs to.
    as_of
        The run's date: the actions go out then, and outcomes count from then.
    config
        Shares, power, window, strata, seed (:class:`~socialvalue.decisions.experiment.ExperimentConfig`).
    scores
        The run's scores (``customer_id`` and the stratum columns, ``segment`` and ``tier``), merged into the
        plan when it lacks them.
    skip
        Actions that hold nobody out: the free fallback (nobody is contacted).
    record
        Write the assignment to ``_assignments``.

    Returns
    -------
    Holdout
        The assignment (customers without marketing consent are never in it) and, per action, how many are
        held out and why.
    """
    cfg = config or ExperimentConfig()
    if "customer_id" not in plan.columns or "action" not in plan.columns:
        raise SchemaError("the plan needs customer_id and action columns")
    frame = plan[~plan["action"].astype(str).isin(set(skip))]
    wanted = [c for c in cfg.strata if c not in frame.columns]
    if scores is not None and wanted:
        have = [c for c in wanted if c in scores.columns]
        frame = frame.merge(scores[["customer_id", *have]], on="customer_id", how="left")
    consent = marketing_consent(store, frame["customer_id"].tolist())
    if not consent.all():
        logger.info(
            "%d planned customers without marketing consent left out of every control group", (~consent).sum()
        )
    frame = frame[consent]
    rates = None
    if cfg.min_detectable_effect is not None and cfg.baseline_rate is None:
        rates = baseline_rates(store, frame, as_of, cfg.window_days)
    holdout = hold_out(frame, cfg, baseline_rate=rates)
    if record:
        record_assignments(store, holdout, run_id=run_id, assigned_at=as_of)
    return holdout


def measure_outcomes(
    store: Store, as_of: Any, *, run_id: str | None = None, refund_statuses: Iterable[str] = REFUND_STATUSES
) -> pd.DataFrame:
    """Per assignment, the outcomes in the window after the action, from the canonical tables as of ``as_of``.

    For each action the run measured is ``run_id`` or, by default, the latest run whose windows have all
    elapsed by ``as_of`` (the latest run at all when none has: its rows are then not yet measured). Outcomes
    are counted in ``[assigned_at, assigned_at + window_days)`` and before ``as_of``:

    * ``purchases`` — completed orders with a positive amount;
    * ``revenue`` — their amounts plus the (negative) returns and refunds in the window;
    * ``referrals`` — customers the customer referred (``relationships`` of kind ``referred``);
    * ``churned`` — no purchase in the window.

    Rows whose window has not fully elapsed have ``measured`` false and missing outcomes. Customers who no
    longer consent to profiling are left out; erased ones have no rows left.

    Returns
    -------
    DataFrame
        :data:`OUTCOME_COLUMNS`, one row per assignment measured.
    """
    if not store.has_table("_assignments"):
        return pd.DataFrame(columns=list(OUTCOME_COLUMNS))
    table = store.con.sql(
        """
        WITH runs AS (
            SELECT action, run_id, max(assigned_at) AS latest,
                   bool_and(assigned_at + to_days(window_days) <= $as_of) AS elapsed
            FROM _assignments GROUP BY action, run_id),
        pick AS (
            SELECT action, run_id FROM (
                SELECT action, run_id, row_number() OVER (
                    PARTITION BY action ORDER BY elapsed DESC, latest DESC, run_id DESC) AS rn
                FROM runs)
            WHERE CASE WHEN $run IS NULL THEN rn = 1 ELSE run_id = $run END),
        a AS (
            SELECT x.*, x.assigned_at + to_days(x.window_days) AS window_end
            FROM _assignments x SEMI JOIN pick p ON p.action = x.action AND p.run_id = x.run_id),
        o AS (
            SELECT a.run_id, a.action, a.customer_id,
                   count(*) FILTER (WHERE o.status = 'completed' AND o.amount > 0) AS purchases,
                   sum(o.amount) FILTER (WHERE o.status = 'completed' OR list_contains($refunds, o.status))
                       AS revenue
            FROM a JOIN orders o ON o.customer_id = a.customer_id AND o.ordered_at >= a.assigned_at
                 AND o.ordered_at < a.window_end AND o.ordered_at < $as_of
            GROUP BY ALL),
        r AS (
            SELECT a.run_id, a.action, a.customer_id, count(DISTINCT rel.dst_id) AS referrals
            FROM a JOIN relationships rel ON rel.src_id = a.customer_id AND rel.kind = 'referred'
                 AND rel.created_at >= a.assigned_at AND rel.created_at < a.window_end
                 AND rel.created_at < $as_of
            GROUP BY ALL)
        SELECT a.run_id, a.action, a.customer_id, a.arm, a.stratum, a.segment, a.score, a.assigned_at,
               a.window_days, a.window_end, a.window_end <= $as_of AS measured,
               CASE WHEN a.window_end <= $as_of THEN coalesce(o.purchases, 0) END AS purchases,
               CASE WHEN a.window_end <= $as_of THEN coalesce(CAST(o.revenue AS DOUBLE), 0.0) END AS revenue,
               CASE WHEN a.window_end <= $as_of THEN coalesce(r.referrals, 0) END AS referrals,
               CASE WHEN a.window_end <= $as_of THEN coalesce(o.purchases, 0) = 0 END AS churned
        FROM a LEFT JOIN o USING (run_id, action, customer_id) LEFT JOIN r USING (run_id, action, customer_id)
             LEFT JOIN customers c ON c.customer_id = a.customer_id
        WHERE coalesce(c.consent_profiling, TRUE)
        ORDER BY a.action, a.customer_id
        """,
        params={
            "as_of": _as_timestamp(as_of).to_pydatetime(),
            "run": None if run_id is None else str(run_id),
            "refunds": list(refund_statuses),
        },
    ).to_arrow_table()
    return arrow_to_pandas(table)[list(OUTCOME_COLUMNS)]


@dataclass(frozen=True)
class ActionResults:
    """What the control groups measured, per action and segment.

    Attributes
    ----------
    outcomes
        :func:`measure_outcomes`' rows.
    uplift
        :func:`~socialvalue.decisions.measurement.measure_uplift`'s table (every metric, per segment and over
        all).
    verdicts
        :func:`~socialvalue.decisions.measurement.paid_verdicts` (per action and segment; the action's own
        row has segment ``"(all)"``).
    values
        Per measured action, the incremental value per customer of each segment: pass
        ``{a: scores["segment"].map(v).fillna(0.0).to_numpy()}`` to ``allocate(estimated_values=...)`` (the
        shape a run's campaign uplift has), so these replace the playbook's assumptions.
    qini
        Per action, the Qini curve of the allocation's expected value as a targeting score.
    """

    outcomes: pd.DataFrame
    uplift: pd.DataFrame
    verdicts: pd.DataFrame
    values: dict[str, dict[str, float]] = field(default_factory=dict)
    qini: dict[str, QiniCurve] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """One row per action: its verdict over all segments and the sentence saying it."""
        return self.verdicts[self.verdicts["segment"] == ALL_SEGMENTS].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (run records, the report, the dashboard): verdicts, uplift, Qini curves."""

        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            clean = frame.astype(object).where(frame.notna() & ~frame.isin([np.inf, -np.inf]), None)
            return clean.to_dict("records")

        return {
            "verdicts": records(self.verdicts),
            "uplift": records(self.uplift),
            "values": self.values,
            "qini": {
                a: {
                    "x": c.x.tolist(),
                    "y": c.y.tolist(),
                    "random": c.random_y.tolist(),
                    "coefficient": c.coefficient,
                }
                for a, c in self.qini.items()
            },
        }


def action_results(
    store: Store,
    as_of: Any,
    *,
    costs: Mapping[str, float],
    segments: Iterable[str] | None = None,
    margin: float = 1.0,
    referral_value: float = 0.0,
    config: ExperimentConfig | None = None,
    run_id: str | None = None,
) -> ActionResults:
    """Measure every action's control group as of ``as_of``: uplift, verdicts, Qini curves, values.

    Parameters
    ----------
    store
        The store holding ``_assignments`` and the canonical tables up to ``as_of``.
    as_of
        The measuring run's date.
    costs
        Cost per customer contacted, by action (``{a.name: a.cost for a in playbook.actions}``).
    segments
        The segments of the next allocation (every key of ``values``); default: those of the assignments.
    margin, referral_value
        The value of an outcome: ``margin × revenue + referral_value × referrals`` (currency).
    config
        Interval level and minimum outcomes per arm.
    run_id
        Measure this run's assignments (default: each action's latest fully elapsed run).
    """
    cfg = config or ExperimentConfig()
    outcomes = measure_outcomes(store, as_of, run_id=run_id)
    uplift = measure_uplift(
        outcomes,
        margin=margin,
        referral_value=referral_value,
        confidence=cfg.confidence,
        min_outcomes=cfg.min_outcomes,
    )
    verdicts = paid_verdicts(uplift, costs, confidence=cfg.confidence)
    seen = sorted(set(outcomes["segment"].dropna().astype(str))) if segments is None else list(segments)
    values = measured_values(uplift, seen)
    qini = qini_curves(outcomes, margin=margin, referral_value=referral_value)
    return ActionResults(outcomes, uplift, verdicts, values, qini)
