"""Exports of scores, actions and per-action audience lists (CSV and Parquet), optionally pseudonymized.

DuckDB stays the source of truth; an export is a copy for other tools (a CRM import, a BI tool). Every export
is recorded in ``_exports``, and the customers each file holds in ``_export_subjects``
(:func:`socialvalue.privacy.record_export_subjects`), so that erasing a customer
(:meth:`socialvalue.Store.erase`) also removes their rows from files already written, pseudonymized ones
included, without the key.

Only customers who consented to profiling appear (the feature engine excludes the others, so ``scores`` never
holds them); audience lists hold marketing actions, which the allocation gives only to customers with
``consent_marketing``.

Safety of the files:

* **Written atomically** (:mod:`socialvalue.atomic`): a temporary file beside the target, fsynced, then
  renamed; a crash leaves the previous file or the new one, never half of one. Files are written by pyarrow,
  never by SQL, so any character in the output folder is just a character.
* **CSV cells are neutralised** against spreadsheet formula injection (OWASP's rule): a text cell starting
  with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``. Numeric columns stay
  numbers. Parquet files keep the exact values.
* **Pseudonymized exports** replace ``customer_id`` by HMAC-SHA256(key, id) truncated to 16 hex digits
  (64 bits, :func:`socialvalue.privacy.pseudonymize`), stable across runs with the same key, and, unless
  ``exact_quasi_identifiers`` is set, coarsen the columns that could single a person out (see
  :func:`coarsen_quasi_identifiers`): on the demo store 75% of buyers were unique on (``total_spend``,
  ``n_orders``) alone with exact values, under 1% after coarsening.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from socialvalue.atomic import atomic_path
from socialvalue.config import validate_config
from socialvalue.decisions.experiment import ExperimentConfig, Holdout, apply_holdout
from socialvalue.errors import ConfigError, StoreError
from socialvalue.privacy import pseudonymize as _pseudonymize
from socialvalue.privacy import record_export, record_export_subjects
from socialvalue.store import Store

__all__ = [
    "ExportFormat",
    "coarsen_quasi_identifiers",
    "export_feature_table",
    "export_results",
    "neutralise_csv_cells",
]

logger = logging.getLogger(__name__)

#: A materialized feature table's name (``features_<YYYYMMDD>`` or one given to ``build``).
_FEATURE_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def export_feature_table(store: Store, table: str, path: str | Path) -> Path:
    """Write a materialized feature table to a Parquet file, record it in ``_exports``, return its path.

    The file holds customer rows, so it is registered (:func:`socialvalue.privacy.record_export`): erasing a
    customer later rewrites it too.

    Raises
    ------
    StoreError
        If ``table`` does not exist in the store.
    """
    from socialvalue.sqlsafe import ident, writer_path

    if not _FEATURE_TABLE.match(table) or not store.has_table(table):
        raise StoreError(f"no feature table {table!r} in {store.path!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The path is bound, never pasted into the statement (a quote in a folder name cannot end the string).
    store.con.execute(
        f"COPY (SELECT * FROM {ident(table)} ORDER BY customer_id) TO ? (FORMAT parquet)", [writer_path(path)]
    )
    if not store.read_only:
        record_export(store, str(path.resolve()), "parquet")
    return path


ExportFormat = Literal["csv", "parquet"]

#: Characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

#: Money amounts of one customer (spend and values derived from it): banded on a 1-2-5 scale.
MONEY_COLUMNS: frozenset[str] = frozenset(
    {
        "total_spend", "mean_spend", "monetary_value", "clv", "clv_lower", "clv_upper", "crv", "civ",
        "contrib_clv", "referral_value", "influence_value", "csv", "interaction_value", "content_value",
        "advocacy_value", "social_value", "expected_value", "net_value", "window_revenue", "excess_revenue",
    }
)  # fmt: skip
#: Counts about one customer: exact for 0, 1 and 2, then bands 3-4, 5-9, 10-19, 20-49, ...
COUNT_COLUMNS: frozenset[str] = frozenset(
    {
        "n_orders", "frequency", "n_periods", "followers", "followers_graph", "referrals_made", "n_referrals",
        "content_total", "helpful_votes_total", "n_exposed", "n_influenced", "reach_2hop",
    }
)  # fmt: skip
#: Day counts: bands 0-6, 7-29, 30-89, 90-179, 180-364, then whole years.
DAY_COLUMNS: frozenset[str] = frozenset({"tenure_days", "days_since_last_purchase"})
#: Durations in model periods (weeks by default, fractional): banded on a 1-2-5 scale.
PERIOD_COLUMNS: frozenset[str] = frozenset({"recency", "T"})
#: Columns kept exact: not about one person (the scoring date, an action's unit cost, the currency) or
#: already coarse (quintile scores, cluster numbers).
KEEP_COLUMNS: frozenset[str] = frozenset(
    {"as_of", "cost", "currency", "r_score", "f_score", "m_score", "cluster"}
)

_CSV_TRIGGER = re.compile(r"^[=+\-@\t\r]")
_SAFE_NAME = re.compile(r"[a-z][a-z0-9_]*")


def _latest_as_of(store: Store) -> str:
    if not store.has_table("scores"):
        raise StoreError(f"store {store.path!r} has no scores yet: run `socialvalue run` first")
    value = store.scalar("SELECT max(as_of) FROM scores")
    if value is None:
        raise StoreError(f"store {store.path!r} has no scores yet: run `socialvalue run` first")
    return str(value)


# -- coarsening ---------------------------------------------------------------------------------------------


def _one_two_five(top: float = 1e15) -> np.ndarray:
    edges = [0.0]
    k = 1.0
    while k < top:
        edges += [k, 2 * k, 5 * k]
        k *= 10
    return np.array(edges)


_MONEY_EDGES = np.concatenate([[0.0], _one_two_five()[4:]])  # 0, 10, 20, 50, 100, ...
_PERIOD_EDGES = _one_two_five()  # 0, 1, 2, 5, 10, ...
_COUNT_EDGES = np.array([0, 1, 2, 3, 5, 10, 20, 50, *(_one_two_five()[7:])], dtype=float)
_DAY_EDGES = np.array([0, 7, 30, 90, 180, *range(365, 365 * 200, 365)], dtype=float)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _bands(values: pd.Series, edges: np.ndarray, *, inclusive_upper: bool) -> pd.Series:
    """Label each value with its band ``lo-hi`` of ``edges`` (``0`` alone, ``<0`` below, missing stays missing).

    With ``inclusive_upper`` (integer counts) the label names the last value in the band (``5-9``), and a
    band of one value is that value (``1``); otherwise it names the half-open interval's edges (``100-200``).
    """
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    labels: list[str] = []
    for lo, hi in itertools.pairwise(edges):
        last = hi - 1
        if inclusive_upper:
            labels.append(_fmt(lo) if last == lo else f"{_fmt(lo)}-{_fmt(last)}")
        else:
            labels.append(f"{_fmt(lo)}-{_fmt(hi)}")
    out = np.array(labels, dtype=object)[idx]
    out[x == 0] = "0"
    out[x < 0] = "<0"
    out[np.isnan(x)] = None
    return pd.Series(out, index=values.index, name=values.name, dtype=object)


def _two_significant(values: pd.Series) -> pd.Series:
    """Round to two significant digits (0.000538 → 0.00054, 51.32 → 51, 1234.5 → 1200), exactly printable."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    uniq, inverse = np.unique(x, return_inverse=True)
    clean = np.array([float(f"{u:.2g}") for u in uniq.tolist()], dtype=float)
    return pd.Series(clean[inverse.reshape(-1)], index=values.index, name=values.name)


def coarsen_quasi_identifiers(frame: pd.DataFrame) -> pd.DataFrame:
    """Coarsen the columns of ``frame`` that could single a person out, for a pseudonymized export.

    A pseudonym hides the id, not the person: exact spend, order counts and dates, joined with what a
    recipient already knows (a receipt, a loyalty-card history), re-identify most customers. Coarsening:

    * money (:data:`MONEY_COLUMNS`): text bands on a 1-2-5 scale (``0``, ``0-10``, ``10-20``, ``20-50``,
      ``50-100``, ...; ``<0`` for any negative amount);
    * counts (:data:`COUNT_COLUMNS` and any other integer column): ``0``, ``1``, ``2``, ``3-4``, ``5-9``,
      ``10-19``, ``20-49``, ``50-99``, ``100-199``, ...;
    * days (:data:`DAY_COLUMNS`): ``0-6``, ``7-29``, ``30-89``, ``90-179``, ``180-364``, then whole years
      (``365-729``, ...); durations in periods (:data:`PERIOD_COLUMNS`) on the 1-2-5 scale;
    * dates and timestamps (except ``as_of``): the month, ``YYYY-MM``;
    * every other float (probabilities, scores, percentiles, PageRank): two significant digits.

    Text, boolean and category columns and :data:`KEEP_COLUMNS` are kept as they are.

    Parameters
    ----------
    frame
        Scores or actions, one row per customer.

    Returns
    -------
    pandas.DataFrame
        A copy with the same columns, coarsened; ``frame`` is not modified.

    Examples
    --------
    >>> f = pd.DataFrame({"total_spend": [163.3, 0.0], "n_orders": [4, 0], "p_alive": [0.464861, 0.0]})
    >>> coarsen_quasi_identifiers(f).to_dict("list")
    {'total_spend': ['100-200', '0'], 'n_orders': ['3-4', '0'], 'p_alive': [0.46, 0.0]}
    """
    out = frame.copy()
    for col in frame.columns:
        s = frame[col]
        if col in KEEP_COLUMNS or col == "customer_id":
            continue
        if col in MONEY_COLUMNS:
            out[col] = _bands(s, _MONEY_EDGES, inclusive_upper=False)
        elif col in DAY_COLUMNS:
            out[col] = _bands(s, _DAY_EDGES, inclusive_upper=True)
        elif col in PERIOD_COLUMNS:
            out[col] = _bands(s, _PERIOD_EDGES, inclusive_upper=False)
        elif col in COUNT_COLUMNS:
            out[col] = _bands(s, _COUNT_EDGES, inclusive_upper=True)
        elif pd.api.types.is_bool_dtype(s.dtype):
            continue
        elif pd.api.types.is_datetime64_any_dtype(s.dtype):
            months = s.dt.strftime("%Y-%m")
            out[col] = months.astype(object).where(s.notna(), None)
        elif pd.api.types.is_integer_dtype(s.dtype):
            out[col] = _bands(s, _COUNT_EDGES, inclusive_upper=True)
        elif pd.api.types.is_float_dtype(s.dtype):
            out[col] = _two_significant(s)
    return out


# -- CSV neutralisation -------------------------------------------------------------------------------------


def _is_text(s: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype)


def neutralise_csv_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix ``'`` to every text cell that a spreadsheet would run as a formula (OWASP's CSV-injection rule).

    A cell of a text column starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return becomes
    ``'`` followed by the cell, which spreadsheets show as text. Numeric columns are left alone (``-3`` in a
    number column is a number, not a formula); so are missing values.

    Parameters
    ----------
    frame
        The frame about to be written as CSV.

    Returns
    -------
    pandas.DataFrame
        A copy with neutralised text columns.

    Examples
    --------
    >>> f = pd.DataFrame({"id": ["=HYPERLINK(1)", "c1", "-2"], "x": [-1.0, 2.0, 3.0]})
    >>> neutralise_csv_cells(f).to_dict("list")
    {'id': ["'=HYPERLINK(1)", 'c1', "'-2"], 'x': [-1.0, 2.0, 3.0]}
    """
    out = frame.copy()
    for col in frame.columns:
        s = frame[col]
        if not _is_text(s):
            continue
        text = s.astype(object)
        hit = text.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_TRIGGERS)).astype(bool)
        if hit.any():
            out[col] = text.where(~hit, "'" + text[hit].astype(str))
    return out


# -- writing ------------------------------------------------------------------------------------------------


def _to_arrow(frame: pd.DataFrame) -> object:
    import pyarrow as pa

    frame = frame.copy()
    if "as_of" in frame and pd.api.types.is_datetime64_any_dtype(frame["as_of"].dtype):
        frame["as_of"] = frame["as_of"].dt.date  # a date, written as 2026-07-01
    for col in frame.columns:
        if _is_text(frame[col]):
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return pa.Table.from_pandas(frame, preserve_index=False)


def _write(frame: pd.DataFrame, path: Path, fmt: ExportFormat) -> Path:
    """Write ``frame`` to ``path`` atomically: pyarrow writes a sibling temporary file, renamed when complete."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = _to_arrow(frame)
    with atomic_path(path) as tmp:
        try:
            if fmt == "parquet":
                pq.write_table(table, tmp, compression="zstd")
            else:
                pacsv.write_csv(table, tmp, pacsv.WriteOptions(include_header=True))
        except OSError as exc:
            raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


def _file_stem(action: str) -> str:
    """A file name for an action's audience list: the name itself when it is a plain playbook name."""
    if _SAFE_NAME.fullmatch(action):
        return action
    digest = hashlib.sha256(action.encode()).hexdigest()[:8]
    return f"action_{digest}"


def _run_of(store: Store, as_of: str) -> tuple[str, dict]:
    """The run that wrote the scoring of ``as_of`` (the latest finished one) and its configuration."""
    import json

    rows = []
    if store.has_table("_runs"):
        rows = store.con.execute(
            "SELECT run_id, config_json FROM _runs WHERE as_of = CAST(? AS DATE) "
            "ORDER BY finished_at DESC NULLS LAST, started_at DESC LIMIT 1",
            [as_of],
        ).fetchall()
    row = rows[0] if rows else None
    if row is None:
        return f"scoring-{as_of}", {}
    try:
        config = json.loads(row[1]) if row[1] else {}
    except ValueError:
        config = {}
    return str(row[0]), config if isinstance(config, dict) else {}


def _hold_out(
    store: Store,
    scores: pd.DataFrame,
    actions: pd.DataFrame,
    as_of: str,
    experiment: ExperimentConfig | None,
    fallback_action: str,
) -> tuple[pd.DataFrame, Holdout | None]:
    """Hold out and record the control groups of the plan; the plan with the control customers moved."""
    from socialvalue.experiments import hold_out_controls

    run_id, config = _run_of(store, as_of)
    cfg = experiment
    if cfg is None:
        cfg = validate_config(ExperimentConfig, config.get("experiment") or {}, f"run {run_id} [experiment]")
    if not cfg.enabled:
        logger.info("no control groups held out: [experiment] enabled is false")
        return actions, None
    holdout = hold_out_controls(
        store, actions, run_id=run_id, as_of=as_of, config=cfg, scores=scores, skip=(fallback_action,)
    )
    labels = actions.loc[actions["action"] == fallback_action, "label"] if "label" in actions else None
    label = str(labels.iloc[0]) if labels is not None and len(labels) else "Do nothing"
    return apply_holdout(actions, holdout, fallback=fallback_action, fallback_label=label), holdout


def _write_experiment(holdout: Holdout, path: Path, as_of: str) -> Path:
    """``experiment_<date>.json``: per action how many are held out and why (no customer is named)."""
    import json

    cfg = holdout.config
    plans = holdout.plans.astype(object).where(holdout.plans.notna(), None).to_dict("records")
    document = {
        "as_of": as_of,
        "window_days": cfg.window_days,
        "measured_from": as_of,
        "method": cfg.method,
        "seed": cfg.seed,
        "strata": list(cfg.strata),
        "control_share": cfg.control_share,
        "min_detectable_effect": cfg.min_detectable_effect,
        "actions": plans,
        "note": (
            "control customers are not contacted: their action in this export is the free fallback and they "
            "are in no audience list; the next run measures each action against them once "
            f"{cfg.window_days} days have passed"
        ),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")
    return path


def export_results(
    store: Store,
    out_dir: str | Path,
    *,
    as_of: str | None = None,
    formats: Sequence[ExportFormat] = ("parquet", "csv"),
    pseudonymize: bool = False,
    key: str | bytes | None = None,
    fallback_action: str = "do_nothing",
    exact_quasi_identifiers: bool = False,
    controls: bool = True,
    experiment: ExperimentConfig | None = None,
) -> dict[str, list[Path]]:
    """Write scores, actions and one audience list per action for ``as_of`` (default: the latest scoring).

    Parameters
    ----------
    store
        The scored store (writable: each file and the customers it holds are recorded for erasure).
    out_dir
        Directory to write into (created). Any name works: paths never enter SQL.
    as_of
        Which scoring to export; the latest when None.
    formats
        Any of ``"parquet"`` and ``"csv"``. Audience lists are always CSV.
    pseudonymize
        Replace ``customer_id`` by its keyed hash (key from ``key`` or ``SOCIALVALUE_PSEUDONYM_KEY``) and
        coarsen quasi-identifiers (:func:`coarsen_quasi_identifiers`).
    key
        The pseudonymization key.
    fallback_action
        The playbook's "do nothing" action, which gets no audience list.
    exact_quasi_identifiers
        With ``pseudonymize``, keep spend, counts, days and dates exact. Such a file can usually be
        re-identified by anyone who knows a few purchases of a customer: share it only where the ids could be.
    controls
        Hold out a control group per action (:func:`socialvalue.experiments.hold_out_controls`): stratified,
        reproducible, recorded in the store's ``_assignments`` for the next run to measure. The exported
        actions move each control customer to ``fallback_action`` (their reason says which action they
        measure), the audience lists leave them out, and ``experiment_<date>.json`` says per action how many
        were held out and why. Nothing is held out when ``[experiment] enabled`` is false.
    experiment
        The hold-out settings; default: the ``[experiment]`` section of the configuration the scoring's run
        was made with (its defaults when the run has none).

    Returns
    -------
    dict
        ``{"scores": [...], "actions": [...], "audiences": [...], "experiment": [...]}`` paths written.

    Raises
    ------
    ConfigError
        On an unknown format, or ``pseudonymize`` without a key.
    StoreError
        When the store has no scores for ``as_of``, or a file cannot be written (the previous file, if any,
        is left intact).
    """
    bad = [f for f in formats if f not in ("csv", "parquet")]
    if bad or not formats:
        raise ConfigError(f"export formats must be 'csv' and/or 'parquet', got {list(formats)!r}")
    formats = list(dict.fromkeys(formats))
    as_of = as_of or _latest_as_of(store)
    out = Path(out_dir)
    scores = store.query_df("SELECT * FROM scores WHERE as_of = ? ORDER BY customer_id", [as_of])
    if scores.empty:
        raise StoreError(f"no scores for as_of {as_of} in {store.path!r}")
    actions = (
        store.query_df("SELECT * FROM actions WHERE as_of = ? ORDER BY customer_id", [as_of])
        if store.has_table("actions")
        else pd.DataFrame(columns=["customer_id", "action"])
    )
    holdout = None
    if controls and len(actions):
        actions, holdout = _hold_out(store, scores, actions, as_of, experiment, fallback_action)
    real_scores = scores["customer_id"].astype(object).to_numpy()
    real_actions = actions["customer_id"].astype(object).to_numpy()
    # audiences list the most valuable first, ranked on the exact value even when it is exported banded
    rank = (
        pd.to_numeric(actions["net_value"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if "net_value" in actions
        else np.zeros(len(actions))
    )
    if pseudonymize:
        scores = scores.assign(customer_id=_pseudonymize(real_scores, key))
        actions = actions.assign(customer_id=_pseudonymize(real_actions, key))
        if not exact_quasi_identifiers:
            scores = coarsen_quasi_identifiers(scores)
            actions = coarsen_quasi_identifiers(actions)

    written: dict[str, list[Path]] = {"scores": [], "actions": [], "audiences": [], "experiment": []}
    subjects: list[tuple[Path, np.ndarray, pd.Series]] = []

    def emit(kind: str, frame: pd.DataFrame, ids: np.ndarray, path: Path, fmt: ExportFormat) -> None:
        final = neutralise_csv_cells(frame) if fmt == "csv" else frame
        written[kind].append(_write(final, path, fmt))
        if "customer_id" in final:
            subjects.append((path, ids, final["customer_id"]))

    stamp = as_of.replace("-", "")
    for fmt in formats:
        emit("scores", scores, real_scores, out / f"scores_{stamp}.{fmt}", fmt)
        emit("actions", actions, real_actions, out / f"actions_{stamp}.{fmt}", fmt)
    cols = [
        c
        for c in (
            "customer_id",
            "action",
            "label",
            "channel",
            "cost",
            "expected_value",
            "net_value",
            "reason",
        )
        if c in actions
    ]
    audience_rows = actions.assign(_real=real_actions, _rank=-rank, _order=np.arange(len(actions)))
    for name, group in audience_rows[audience_rows["action"] != fallback_action].groupby("action", sort=True):
        group = group.sort_values(["_rank", "_order"], kind="stable", na_position="last")
        stem = _file_stem(str(name))
        emit(
            "audiences",
            group[cols],
            group["_real"].to_numpy(),
            out / "audiences" / f"{stem}_{stamp}.csv",
            "csv",
        )

    if holdout is not None:
        written["experiment"].append(_write_experiment(holdout, out / f"experiment_{stamp}.json", as_of))
    for kind_paths in written.values():
        for p in kind_paths:
            record_export(
                store, str(p.resolve()), p.suffix.lstrip("."), as_of=as_of, pseudonymized=pseudonymize
            )
    for path, ids, cells in subjects:
        record_export_subjects(store, str(path.resolve()), ids.tolist(), cells.tolist())
    logger.info("exported %d files to %s", sum(len(v) for v in written.values()), out)
    return written
