"""The API's reads: SQL over one pinned snapshot, every value bound as a parameter.

Each function takes the request thread's cursor and the pinned :class:`~socialvalue.service.snapshots.Snapshot`
and returns plain, JSON-ready data (no NaN: a missing number is ``None``). Summaries that cover every
customer (overview, segments, actions, changes) are computed once per snapshot and cached with it. When ids
are pseudonymised, every id that leaves goes through the snapshot's id table, and ids that come in are
pseudonyms looked up in it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
from datetime import date, datetime
from typing import Any

import duckdb

from socialvalue.service.snapshots import Snapshot

__all__ = [
    "SORTS",
    "actions_summary",
    "audience_rows",
    "changes",
    "customer_detail",
    "customer_page",
    "experiments",
    "experiments_view",
    "influencers",
    "insight",
    "overview",
    "pseudonymize_ids",
    "resolve_id",
    "runs",
    "segments",
]

#: Sort keys of ``GET /customers`` -> their column in ``latest``.
SORTS = {
    "value": "value",
    "clv": "clv",
    "social_value": "social_value",
    "churn_risk": "churn_risk",
    "customer_id": None,
}
#: The columns of a customer in a listing.
LIST_COLUMNS = ("value", "clv", "social_value", "segment", "lifecycle_stage", "tier", "churn_risk", "action")
AUDIENCE_COLUMNS = ("action", "label", "channel", "cost", "expected_value", "net_value", "reason")


def clean(value: Any) -> Any:
    """A JSON-ready value: NaN and infinities become ``None``, dates ISO text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def deep_clean(value: Any) -> Any:
    """:func:`clean` through nested lists and dicts (run records parsed from JSON may hold NaN)."""
    if isinstance(value, dict):
        return {str(k): deep_clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [deep_clean(v) for v in value]
    return clean(value)


def _rows(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    result = cur.execute(sql, params or [])
    names = [d[0] for d in result.description]
    return [{k: clean(v) for k, v in zip(names, row, strict=True)} for row in result.fetchall()]


def _id(snap: Snapshot, column: str = "l.customer_id") -> tuple[str, str]:
    """The SQL of the id a response shows, and the join it needs (pseudonyms when configured)."""
    if snap.ids is None:
        return column, ""
    return "p.pseudo", f"JOIN {snap.ids} p ON p.customer_id = {column}"


def resolve_id(cur: duckdb.DuckDBPyConnection, snap: Snapshot, presented: str) -> str | None:
    """The stored id of the customer ``presented`` names (a pseudonym when configured), or ``None``."""
    if len(presented) > 1000:
        return None
    if snap.ids is None:
        found = cur.execute(
            f"SELECT customer_id FROM {snap.alias}.latest WHERE customer_id = ?", [presented]
        ).fetchall()
    else:
        found = cur.execute(f"SELECT customer_id FROM {snap.ids} WHERE pseudo = ?", [presented]).fetchall()
    return found[0][0] if found else None


# -- one customer --------------------------------------------------------------------------------------
def customer_detail(cur: duckdb.DuckDBPyConnection, snap: Snapshot, presented: str) -> dict[str, Any] | None:
    """Scores, value decomposition, churn, action and history of one customer, or ``None`` if unknown."""
    raw = presented if snap.ids is None else resolve_id(cur, snap, presented)
    if raw is None or len(raw) > 1000:
        return None
    found = _rows(cur, f"SELECT * FROM {snap.alias}.latest WHERE customer_id = ?", [raw])
    if not found:
        return None
    row = found[0]
    history = _rows(
        cur,
        f"SELECT CAST(as_of AS VARCHAR) AS as_of, value, clv, social_value, segment, lifecycle_stage, "
        f"churn_risk, action FROM {snap.alias}.history WHERE customer_id = ? ORDER BY as_of",
        [raw],
    )
    names = [c for c in snap.meta.get("components", "").split(",") if c]
    components = [{"name": c, "value": row.get(c)} for c in names if row.get(c) is not None]
    components.sort(key=lambda c: -abs(c["value"]))
    reasons = [r.strip() for r in str(row.get("churn_reason") or "").split(";") if r.strip()]
    action_keys = ("action", "label", "channel", "cost", "expected_value", "net_value", "reason")
    action = {k: row.get("action" if k == "action" else f"action_{k}") for k in action_keys}
    scores = {
        k: v
        for k, v in row.items()
        if k not in ("customer_id", "as_of", "value") and not k.startswith("action")
    }
    return {
        "customer_id": presented,
        "as_of": str(row["as_of"])[:10],
        "currency": row.get("currency") or snap.meta.get("currency", ""),
        "value": {
            "total": row.get("value"),
            "source": row.get("value_source"),
            "clv": row.get("clv"),
            "social_value": row.get("social_value"),
            "components": components,
            "top_contributors": [c for c in components if c["value"]][:3],
        },
        "segment": row.get("segment"),
        "lifecycle_stage": row.get("lifecycle_stage"),
        "tier": row.get("tier"),
        "cluster_name": row.get("cluster_name"),
        "rfm_segment": row.get("rfm_segment"),
        "churn": {
            "risk": row.get("churn_risk"),
            "alert": row.get("churn_alert"),
            "source": row.get("churn_risk_source"),
            "reasons": reasons,
        },
        "action": action,
        "scores": scores,
        "history": history,
    }


# -- listings ------------------------------------------------------------------------------------------
def _filters(snap: Snapshot, filters: dict[str, Any]) -> tuple[list[str], list[Any]]:
    where, params = [], []
    for key, column in (("segment", "segment"), ("stage", "lifecycle_stage"), ("tier", "tier")):
        if filters.get(key) is not None:
            where.append(f"l.{column} = ?")
            params.append(filters[key])
    if filters.get("action") is not None:
        where.append("l.action = ?")
        params.append(filters["action"])
    if filters.get("min_value") is not None:
        where.append("l.value >= ?")
        params.append(filters["min_value"])
    if filters.get("max_value") is not None:
        where.append("l.value <= ?")
        params.append(filters["max_value"])
    for key in ("influencer", "churn_alert"):
        if filters.get(key) is not None:
            where.append(f"coalesce(l.{key}, false) = ?")
            params.append(bool(filters[key]))
    return where, params


def sign(secret: bytes, payload: dict[str, Any]) -> str:
    """An opaque, tamper-evident listing cursor."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    mac = hmac.new(secret, body, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac + body).decode().rstrip("=")


def unsign(secret: bytes, cursor: str) -> dict[str, Any] | None:
    """The payload of a cursor :func:`sign` made, or ``None`` when it was not (or was altered)."""
    if len(cursor) > 4000:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, TypeError):
        return None
    mac, body = raw[:16], raw[16:]
    if not hmac.compare_digest(mac, hmac.new(secret, body, hashlib.sha256).digest()[:16]):
        return None
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def customer_page(
    cur: duckdb.DuckDBPyConnection,
    snap: Snapshot,
    filters: dict[str, Any],
    sort: str,
    limit: int | None,
    after: tuple[Any, str] | None = None,
) -> tuple[list[dict[str, Any]], tuple[Any, str] | None]:
    """One keyset page of customers (all of them when ``limit`` is None) and the key to continue after.

    Rows are ordered by (sort key, id); ``after`` is the last (key, id) of the previous page. Missing numbers
    sort as the lowest value.
    """
    descending = sort.startswith("-")
    column = SORTS[sort.lstrip("-")]
    ident, join = _id(snap)
    key = f"coalesce(l.{column}, -1e308)" if column else ident
    where, params = _filters(snap, filters)
    if after is not None:
        op = "<" if descending else ">"
        if column:
            where.append(f"({key} {op} ? OR ({key} = ? AND {ident} {op} ?))")
            params += [after[0], after[0], after[1]]
        else:
            where.append(f"{ident} {op} ?")
            params.append(after[1])
    order = "DESC" if descending else "ASC"
    sql = (
        f"SELECT {ident} AS customer_id, {key} AS _key, "
        + ", ".join(f"l.{c}" for c in LIST_COLUMNS)
        + f" FROM {snap.alias}.latest l {join}"
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" ORDER BY _key {order}, customer_id {order}"
    )
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit + 1)
    rows = _rows(cur, sql, params)
    more = limit is not None and len(rows) > limit
    rows = rows[:limit] if limit is not None else rows
    last = (rows[-1]["_key"], rows[-1]["customer_id"]) if more and rows else None
    for r in rows:
        del r["_key"]
    return rows, last


def audience_rows(
    cur: duckdb.DuckDBPyConnection, snap: Snapshot, action: str | None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The audience of every action (or one): customers whose action is not ``do_nothing``."""
    ident, join = _id(snap)
    params: list[Any] = []
    where = "l.action IS NOT NULL AND l.action <> 'do_nothing'"
    if action is not None:
        where += " AND l.action = ?"
        params.append(action)
    cols = ["customer_id", *AUDIENCE_COLUMNS]
    sql = (
        f"SELECT {ident} AS customer_id, l.action, l.action_label, l.action_channel, l.action_cost, "
        f"l.action_expected_value, l.action_net_value, l.action_reason FROM {snap.alias}.latest l {join} "
        f"WHERE {where} ORDER BY l.action, customer_id"
    )
    rows = [tuple(clean(v) for v in r) for r in cur.execute(sql, params).fetchall()]
    return cols, rows


# -- summaries (cached per snapshot) -------------------------------------------------------------------
def _cached(snap: Snapshot, key: Any, build: Any) -> Any:
    if key not in snap.cache:
        snap.cache[key] = build()
    return snap.cache[key]


def _champions(cur: duckdb.DuckDBPyConnection, snap: Snapshot) -> list[dict[str, Any]]:
    found = cur.execute(
        f"SELECT diagnostics_json FROM {snap.alias}.runs WHERE run_id = ?", [snap.meta.get("run_id")]
    ).fetchall()
    if not found or not found[0][0]:
        return []
    try:
        champions = json.loads(found[0][0]).get("champions", {}) or {}
    except ValueError:
        return []
    out = []
    for role, c in champions.items():
        if not isinstance(c, dict):
            continue
        metrics = [m for m in c.get("metrics", []) if isinstance(m, dict)]
        best = next((m for m in metrics if m.get("name") == c.get("champion")), None)
        rivals = [m for m in metrics if m.get("name") != c.get("champion") and m.get("spearman") is not None]
        rival = max(rivals, key=lambda m: m["spearman"], default=None)
        margin = None
        if best is not None and rival is not None and best.get("spearman") is not None:
            margin = clean(float(best["spearman"]) - float(rival["spearman"]))
        out.append(
            {
                "role": role,
                "champion": c.get("champion"),
                "baseline": rival.get("name") if rival else None,
                "metric": "Spearman rank correlation with the holdout",
                "margin": margin,
                "baseline_won": bool(c.get("baseline_won")),
                "sentence": c.get("sentence"),
            }
        )
    return out


#: What ``GET /experiments`` says when the published run recorded no measurement of the actions.
NO_MEASUREMENT = (
    "the published run recorded no measurement of the actions (it was made before actions measured "
    "themselves): run again to measure them"
)


def experiments_view(diagnostics: dict[str, Any] | None) -> dict[str, Any]:
    """``GET /experiments`` from a run's diagnostics: its ``experiments`` entry, or why there is none."""
    exp = (diagnostics or {}).get("experiments")
    if not isinstance(exp, dict):
        return {"available": False, "reason": NO_MEASUREMENT}
    out = deep_clean(exp)
    out["available"] = bool(out.get("available"))
    if not out["available"] and not out.get("reason"):
        out["reason"] = "the run recorded no reason"
    return out


def experiments(cur: duckdb.DuckDBPyConnection, snap: Snapshot) -> dict[str, Any]:
    """Whether each action paid: the published run's ``experiments`` diagnostics, with its run and date."""

    def build() -> dict[str, Any]:
        found = cur.execute(
            f"SELECT diagnostics_json FROM {snap.alias}.runs WHERE run_id = ?", [snap.meta.get("run_id")]
        ).fetchall()
        diag = None
        if found and found[0][0]:
            try:
                diag = json.loads(found[0][0])
            except ValueError:
                diag = None
        return {
            "run_id": snap.meta.get("run_id"),
            "as_of": snap.meta.get("as_of"),
            **experiments_view(diag if isinstance(diag, dict) else None),
        }

    return _cached(snap, "experiments", build)


def _run_info(snap: Snapshot) -> dict[str, Any]:
    m = snap.meta
    return {
        "run_id": m.get("run_id"),
        "as_of": m.get("as_of"),
        "previous_as_of": m.get("previous_as_of") or None,
        "published_at": m.get("published_at"),
        "currency": m.get("currency"),
        "clv_horizon": m.get("clv_horizon"),
    }


def overview(cur: duckdb.DuckDBPyConnection, snap: Snapshot, bins: int = 20) -> dict[str, Any]:
    """KPIs, the value distribution, segments and stages, and the champion models with their margins."""

    def build() -> dict[str, Any]:
        a = snap.alias
        kpis = _rows(
            cur,
            f"SELECT count(*) AS customers, coalesce(sum(value), 0) AS total_value, "
            f"coalesce(sum(clv), 0) AS total_clv, coalesce(sum(social_value), 0) AS total_social_value, "
            f"avg(value) AS mean_value, count(*) FILTER (WHERE churn_alert) AS churn_alerts, "
            f"count(*) FILTER (WHERE influencer) AS influencers, "
            f"count(*) FILTER (WHERE action IS NOT NULL AND action <> 'do_nothing') AS customers_with_action "
            f"FROM {a}.latest",
        )[0]
        lo, hi = cur.execute(
            f"SELECT min(value), quantile_cont(value, 0.99) FROM {a}.latest WHERE isfinite(value)"
        ).fetchall()[0]
        edges: list[float] = []
        counts: list[int] = []
        if lo is not None:
            hi = hi if hi is not None and hi > lo else lo + 1.0
            width = (hi - lo) / bins
            edges = [lo + i * width for i in range(bins + 1)]
            found = dict(
                cur.execute(
                    f"SELECT least(greatest(CAST(floor((value - ?) / ?) AS BIGINT), 0), ?) AS b, count(*) "
                    f"FROM {a}.latest WHERE isfinite(value) GROUP BY 1",
                    [lo, width, bins - 1],
                ).fetchall()
            )
            counts = [int(found.get(i, 0)) for i in range(bins)]
        return {
            "run": _run_info(snap),
            "kpis": kpis,
            "value_distribution": {
                "measure": "value",
                "edges": edges,
                "counts": counts,
                "note": "equal-width bins from the lowest value to the 99th percentile; the last bin also "
                "holds every value above it",
            },
            "segments": _rows(
                cur,
                f"SELECT segment, count(*) AS customers, coalesce(sum(value), 0) AS value FROM {a}.latest "
                "GROUP BY 1 ORDER BY value DESC, segment",
            ),
            "stages": _rows(
                cur,
                f"SELECT lifecycle_stage AS stage, count(*) AS customers FROM {a}.latest GROUP BY 1 "
                "ORDER BY customers DESC, stage",
            ),
            "champions": _champions(cur, snap),
        }

    return _cached(snap, "overview", build)


def segments(cur: duckdb.DuckDBPyConnection, snap: Snapshot) -> dict[str, Any]:
    """Customers, value, CLV, social value and churn alerts per segment; counts per stage and tier."""

    def build() -> dict[str, Any]:
        a = snap.alias
        return {
            "as_of": snap.meta.get("as_of"),
            "currency": snap.meta.get("currency"),
            "segments": _rows(
                cur,
                f"SELECT segment, count(*) AS customers, coalesce(sum(value), 0) AS value, "
                f"coalesce(sum(clv), 0) AS clv, coalesce(sum(social_value), 0) AS social_value, "
                f"count(*) FILTER (WHERE churn_alert) AS churn_alerts FROM {a}.latest GROUP BY 1 "
                "ORDER BY value DESC, segment",
            ),
            "stages": _rows(
                cur,
                f"SELECT lifecycle_stage AS stage, count(*) AS customers FROM {a}.latest GROUP BY 1 "
                "ORDER BY customers DESC, stage",
            ),
            "tiers": _rows(
                cur,
                f"SELECT tier, count(*) AS customers FROM {a}.latest GROUP BY 1 ORDER BY customers DESC, tier",
            ),
        }

    return _cached(snap, "segments", build)


def actions_summary(cur: duckdb.DuckDBPyConnection, snap: Snapshot) -> dict[str, Any]:
    """Customers, cost, expected and net value of each action."""

    def build() -> dict[str, Any]:
        return {
            "as_of": snap.meta.get("as_of"),
            "currency": snap.meta.get("currency"),
            "actions": _rows(
                cur,
                f"SELECT action, any_value(action_label) AS label, count(*) AS customers, "
                f"coalesce(sum(action_cost), 0) AS cost, coalesce(sum(action_expected_value), 0) AS "
                f"expected_value, coalesce(sum(action_net_value), 0) AS net_value FROM {snap.alias}.latest "
                "WHERE action IS NOT NULL GROUP BY 1 ORDER BY customers DESC, action",
            ),
        }

    return _cached(snap, "actions", build)


def changes(cur: duckdb.DuckDBPyConnection, snap: Snapshot, slipping: int = 50) -> dict[str, Any]:
    """Stage transitions, the customers whose value fell most, and value moved since the previous date."""

    def build() -> dict[str, Any]:
        a = snap.alias
        ident, join = _id(snap, "c.customer_id")
        moved = _rows(
            cur,
            f"SELECT count(*) AS customers_compared, coalesce(sum(value_before), 0) AS value_before, "
            f"coalesce(sum(value_now), 0) AS value_now, "
            f"coalesce(sum(greatest(value_now - value_before, 0)), 0) AS gained, "
            f"coalesce(sum(greatest(value_before - value_now, 0)), 0) AS lost FROM {a}.changes",
        )[0]
        return {
            "as_of": snap.meta.get("as_of"),
            "previous_as_of": snap.meta.get("previous_as_of") or None,
            "currency": snap.meta.get("currency"),
            "transitions": _rows(
                cur,
                f'SELECT stage_before AS "from", stage_now AS "to", count(*) AS customers FROM {a}.changes '
                "GROUP BY 1, 2 ORDER BY customers DESC, 1, 2",
            ),
            "slipping": _rows(
                cur,
                f"SELECT {ident} AS customer_id, c.stage_before, c.stage_now, c.value_before, c.value_now, "
                f"c.value_now - c.value_before AS value_change FROM {a}.changes c {join} "
                "WHERE c.value_now < c.value_before ORDER BY value_change, customer_id LIMIT ?",
                [slipping],
            ),
            "value_moved": moved,
        }

    return _cached(snap, "changes", build)


def influencers(cur: duckdb.DuckDBPyConnection, snap: Snapshot, k: int) -> dict[str, Any]:
    """The ``k`` customers with the highest influencer score, and the follow edges among them."""

    def build() -> dict[str, Any]:
        a = snap.alias
        ident, join = _id(snap)
        items = _rows(
            cur,
            f"SELECT {ident} AS customer_id, l.customer_id AS _raw, l.influencer_score, l.social_value, "
            f"l.spread, l.followers_graph AS followers, l.reach_2hop, l.pagerank FROM {a}.latest l {join} "
            "ORDER BY l.influencer_score DESC NULLS LAST, l.social_value DESC NULLS LAST, l.customer_id "
            "LIMIT ?",
            [k],
        )
        shown = {r.pop("_raw"): r["customer_id"] for r in items}
        edges = [
            {"source": shown[s], "target": shown[t]}
            for s, t in cur.execute(f"SELECT source, target FROM {a}.edges").fetchall()
            if s in shown and t in shown
        ]
        return {"as_of": snap.meta.get("as_of"), "items": items, "edges": edges}

    return _cached(snap, ("influencers", k), build)


#: Why a published run shows no insight when its record has none.
NO_INSIGHT = (
    "the published run recorded no channel, cohort or share analysis (it was made before they existed): "
    "run again"
)


def insight(cur: duckdb.DuckDBPyConnection, snap: Snapshot) -> dict[str, Any]:
    """The published run's channel, cohort and share analyses, as its record holds them (ids pseudonymised)."""

    def build() -> dict[str, Any]:
        found = cur.execute(
            f"SELECT diagnostics_json FROM {snap.alias}.runs WHERE run_id = ?", [snap.meta.get("run_id")]
        ).fetchall()
        entry: Any = None
        if found and found[0][0]:
            try:
                entry = json.loads(found[0][0]).get("insight")
            except ValueError:
                entry = None
        if not isinstance(entry, dict):
            entry = {"available": False, "reason": NO_INSIGHT}
        out = {"run": _run_info(snap), "available": True, **deep_clean(entry)}
        return pseudonymize_ids(cur, snap, out)

    return _cached(snap, "insight", build)


def _strings(obj: Any, out: set[str]) -> None:
    if isinstance(obj, str):
        if len(obj) <= 1000:
            out.add(obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _strings(k, out)
            _strings(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _strings(v, out)


def _replace(obj: Any, mapping: dict[str, str]) -> Any:
    if isinstance(obj, str):
        return mapping.get(obj, obj)
    if isinstance(obj, dict):
        return {mapping.get(k, k): _replace(v, mapping) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_replace(v, mapping) for v in obj]
    return obj


def pseudonymize_ids(cur: duckdb.DuckDBPyConnection, snap: Snapshot, obj: Any) -> Any:
    """``obj`` with every text value that is a customer id replaced by its pseudonym (no-op without them).

    Run records name customers in their diagnostics (network pictures, top contributors); under
    pseudonymisation those ids must not leave the server either.
    """
    if snap.ids is None:
        return obj
    found: set[str] = set()
    _strings(obj, found)
    if not found:
        return obj
    mapping = dict(
        cur.execute(
            f"SELECT customer_id, pseudo FROM {snap.ids} WHERE customer_id IN (SELECT unnest(?))",
            [sorted(found)],
        ).fetchall()
    )
    return _replace(obj, mapping) if mapping else obj


def runs(cur: duckdb.DuckDBPyConnection, snap: Snapshot | None) -> list[dict[str, Any]]:
    """Every run record in the snapshot, newest first (JSON columns parsed; ids pseudonymised when set)."""
    if snap is None:
        return []
    out = []
    for r in _rows(cur, f"SELECT * FROM {snap.alias}.runs ORDER BY started_at DESC"):
        rec: dict[str, Any] = {}
        for k, v in r.items():
            if k.endswith("_json"):
                try:
                    rec[k[: -len("_json")]] = json.loads(v) if v else None
                except ValueError:
                    rec[k[: -len("_json")]] = None
            else:
                rec[k] = v
        rec["status"] = "finished" if rec.get("finished_at") else "failed"
        rec["published"] = rec.get("run_id") == snap.meta.get("run_id")
        out.append(deep_clean(rec))
    return pseudonymize_ids(cur, snap, out)
