"""One row of scores per customer: RFM, segment, lifecycle stage, churn risk and reason, cluster, tier, index.

:func:`score_frame` assembles the outputs of :mod:`~socialvalue.models.rfm`,
:mod:`~socialvalue.models.lifecycle`, :mod:`~socialvalue.models.churn`, :mod:`~socialvalue.models.clusters`,
:mod:`~socialvalue.models.tiers` and :mod:`~socialvalue.models.value_coefficient` from a feature table and the
fitted BTYD/CLV model's per-customer outputs. It reads no store; the pipeline adds ``as_of`` and writes the
result to the ``scores`` table. :class:`ScoringConfig` gathers every section's configuration; a user TOML with
sections ``[rfm]``, ``[segments]``, ``[lifecycle]``, ``[churn]``, ``[clusters]``, ``[tiers]`` and
``[value_coefficient]`` overrides the packaged defaults key by key (top-level keys of a section replace the
default's).
"""

from __future__ import annotations

import logging
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from socialvalue.config import ConfigModel, validate_config
from socialvalue.errors import ConfigError, SchemaError
from socialvalue.models._rules import as_array, require_columns
from socialvalue.models.churn import ChurnClassifier, ChurnConfig, model_churn_risk
from socialvalue.models.churn_choice import CANDIDATES, ChurnChoice, alert_mask, churn_order
from socialvalue.models.churn_reasons import model_reasons
from socialvalue.models.clusters import BehaviouralClusters, ClusterConfig
from socialvalue.models.defaults import default_dict
from socialvalue.models.lifecycle import LifecycleConfig, lifecycle_stage
from socialvalue.models.rfm import RFMConfig, SegmentMap, assign_segments, rfm_scores
from socialvalue.models.tiers import TierConfig, assign_tiers
from socialvalue.models.value_coefficient import ValueCoefficientConfig, value_coefficient

__all__ = ["SCORE_COLUMNS", "ScoringConfig", "load_scoring_config", "score_frame"]

logger = logging.getLogger(__name__)

_SECTIONS: dict[str, tuple[str, type[ConfigModel]]] = {
    "rfm": ("rfm.toml", RFMConfig),
    "segments": ("segments.toml", SegmentMap),
    "lifecycle": ("lifecycle.toml", LifecycleConfig),
    "churn": ("churn.toml", ChurnConfig),
    "clusters": ("clusters.toml", ClusterConfig),
    "tiers": ("tiers.toml", TierConfig),
    "value_coefficient": ("value_coefficient.toml", ValueCoefficientConfig),
}

#: Columns of :func:`score_frame`'s result, in order.
SCORE_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "r_score",
    "f_score",
    "m_score",
    "rfm_cell",
    "rfm_segment",
    "lifecycle_stage",
    "p_alive",
    "expected_transactions",
    "clv",
    "clv_lower",
    "clv_upper",
    "churn_risk",
    "churn_risk_source",
    "churn_alert",
    "churn_reason",
    "cluster",
    "cluster_name",
    "tier",
    "value_coefficient",
)


class ScoringConfig(ConfigModel):
    """Every scoring section; build with :func:`load_scoring_config`."""

    rfm: RFMConfig
    segments: SegmentMap
    lifecycle: LifecycleConfig
    churn: ChurnConfig
    clusters: ClusterConfig
    tiers: TierConfig
    value_coefficient: ValueCoefficientConfig


def load_scoring_config(path: str | Path | None = None) -> ScoringConfig:
    """The packaged defaults, with the sections of the TOML file at ``path`` laid over them key by key.

    Raises
    ------
    ConfigError
        If the file is missing or invalid, names an unknown section, or a section does not validate.
    """
    user: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        source = str(path)
        try:
            user = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"configuration file {source!r} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}") from None
        unknown = sorted(set(user) - set(_SECTIONS))
        if unknown:
            raise ConfigError(f"{source}: unknown section(s) {unknown}; expected some of {sorted(_SECTIONS)}")
    sections = {}
    for name, (file, model) in _SECTIONS.items():
        data = {**default_dict(file), **user.get(name, {})}
        sections[name] = validate_config(model, data, f"{source} [{name}]")
    return ScoringConfig(**sections)


def _churn_risk(
    features: pd.DataFrame,
    p: np.ndarray,
    expected: np.ndarray,
    churn_model: ChurnClassifier | None,
    choice: ChurnChoice | None,
    risk: np.ndarray | pd.Series | None,
    source: str | None,
) -> tuple[np.ndarray, str, ChurnClassifier | None]:
    """The published churn risk, its source and the classifier that explains it (None: rule-based reasons)."""
    n = len(features)
    if choice is not None:
        model = choice.classifier if choice.champion == "classifier" else None
        return as_array(choice.risk, n, "churn_choice.risk"), choice.champion, model
    if risk is not None:
        if source not in CANDIDATES:
            raise SchemaError(f"churn_risk_source must be one of {sorted(CANDIDATES)}; got {source!r}")
        model = churn_model if source == "classifier" else None
        if source == "classifier" and model is None:
            raise SchemaError("churn_risk_source 'classifier' needs the fitted churn_model for the reasons")
        return as_array(risk, n, "churn_risk"), source, model
    if churn_model is not None:
        return np.asarray(churn_model.predict_risk(features), dtype=float), "classifier", churn_model
    e = None if np.isnan(expected).all() else expected
    return model_churn_risk(p, e), "model", None


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[stage] = time.perf_counter() - start
    logger.debug("score_frame: %s took %.2f s", stage, timings[stage])


def score_frame(
    features: pd.DataFrame,
    *,
    p_alive: np.ndarray | pd.Series,
    clv: np.ndarray | pd.Series,
    expected_transactions: np.ndarray | pd.Series | None = None,
    clv_lower: np.ndarray | pd.Series | None = None,
    clv_upper: np.ndarray | pd.Series | None = None,
    config: ScoringConfig | None = None,
    churn_model: ChurnClassifier | None = None,
    churn_choice: ChurnChoice | None = None,
    churn_risk: np.ndarray | pd.Series | None = None,
    churn_risk_source: str | None = None,
    clusters: BehaviouralClusters | None = None,
    customer_id: str = "customer_id",
) -> pd.DataFrame:
    """Score every customer of a feature table: one row per customer with all segment-level outputs.

    Parameters
    ----------
    features
        The feature table at ``as_of`` (one row per customer). Not modified.
    p_alive, clv
        The fitted BTYD/CLV model's P(alive) and CLV, one per row of ``features`` (positional).
    expected_transactions
        Expected purchases over the churn horizon; refines the model-based churn risk
        (:func:`~socialvalue.models.churn.model_churn_risk`).
    clv_lower, clv_upper
        CLV interval bounds, carried through.
    config
        :class:`ScoringConfig`; :func:`load_scoring_config` when None.
    churn_model
        A fitted :class:`~socialvalue.models.churn.ChurnClassifier`: its probability becomes ``churn_risk``
        and its ablation drivers the reasons. Without it (and without ``churn_choice``/``churn_risk``) the
        model-based risk is used.
    churn_choice
        The holdout champion from :func:`~socialvalue.models.churn_choice.select_churn_risk`: its ``risk`` and
        ``champion`` become ``churn_risk`` and ``churn_risk_source`` (and its classifier gives the reasons when
        the classifier won). Takes precedence over ``churn_model``.
    churn_risk, churn_risk_source
        A churn risk chosen elsewhere, one per row, and its source (``"classifier"``, ``"model"``,
        ``"recency"`` or ``"recent_count"``); with source ``"classifier"``, ``churn_model`` gives the reasons.
    clusters
        A fitted :class:`~socialvalue.models.clusters.BehaviouralClusters`; fitted on ``features`` when None.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SCORE_COLUMNS` (index of ``features``). ``churn_alert`` flags the first ``alert_budget``
        share of :func:`~socialvalue.models.churn_choice.churn_order` (highest risk; ties broken by days since
        the last purchase, then fewer expected purchases, then ``customer_id`` — never at random); only
        alerted rows get a ``churn_reason`` (others ""), each part chosen by a threshold on the figure it
        cites. Rows of customers with
        no purchase have RFM scores 0 and segment "No purchase". ``attrs["timings"]`` holds seconds per stage
        and ``attrs["k"]`` the number of clusters.
    """
    config = config or load_scoring_config()
    require_columns(features, [customer_id], "score_frame")
    n = len(features)
    p = as_array(p_alive, n, "p_alive")
    value = as_array(clv, n, "clv")
    optional = {
        "expected_transactions": expected_transactions,
        "clv_lower": clv_lower,
        "clv_upper": clv_upper,
    }
    carried = {k: (np.full(n, np.nan) if v is None else as_array(v, n, k)) for k, v in optional.items()}
    timings: dict[str, float] = {}
    with _timed(timings, "rfm"):
        rfm = rfm_scores(features, config=config.rfm, customer_id=customer_id)
        segment = assign_segments(rfm, config.segments, config=config.rfm)
    with _timed(timings, "lifecycle"):
        stage = lifecycle_stage(features, p, config=config.lifecycle)
    with _timed(timings, "churn"):
        risk, source, explainer = _churn_risk(
            features,
            p,
            carried["expected_transactions"],
            churn_model,
            churn_choice,
            churn_risk,
            churn_risk_source,
        )
        cc = config.churn
        days = features["days_since_last_purchase"] if "days_since_last_purchase" in features else None
        order = churn_order(
            risk,
            days_since_last_purchase=None
            if days is None
            else pd.to_numeric(days, errors="coerce").to_numpy(),
            expected_transactions=carried["expected_transactions"],
            customer_id=features[customer_id].to_numpy(),
        )
        alert = alert_mask(order, cc.alert_budget)
        reason = np.full(n, "", dtype=object)
        if alert.any():
            alerted = features.loc[alert]
            if explainer is not None:
                reason[alert] = explainer.explain(alerted).to_numpy()
            else:
                reason[alert] = model_reasons(
                    alerted,
                    p[alert],
                    None if expected_transactions is None else carried["expected_transactions"][alert],
                    risk=risk[alert],
                    source=source,
                    horizon_days=cc.horizon_days,
                    p_alive_threshold=cc.p_alive_threshold,
                    long_gap_days=cc.long_gap_days,
                    overdue_ratio=cc.overdue_ratio,
                    recent_count_column=cc.recent_count_column,
                ).to_numpy()
    with _timed(timings, "clusters"):
        if clusters is None:  # fitted here on these very rows: their labels are already known
            clusters = BehaviouralClusters(config=config.clusters).fit(features)
            cluster = clusters.labels_
        else:
            cluster = clusters.predict(features)
        cluster_name = clusters.cluster_names().to_numpy()[cluster]
    with _timed(timings, "value_coefficient"):
        vc = value_coefficient(features, value, config=config.value_coefficient).to_numpy()
    with _timed(timings, "tiers"):
        basis = config.tiers.basis
        if basis == "clv":
            basis_values = value
        elif basis == "value_coefficient":
            basis_values = vc
        else:
            require_columns(features, [basis], "the tier basis")
            basis_values = pd.to_numeric(features[basis], errors="coerce").to_numpy(
                dtype=float, na_value=np.nan
            )
        tier = assign_tiers(basis_values, config.tiers)
    out = pd.DataFrame(
        {
            "customer_id": features[customer_id].to_numpy(),
            "r_score": rfm["r_score"].to_numpy(),
            "f_score": rfm["f_score"].to_numpy(),
            "m_score": rfm["m_score"].to_numpy(),
            "rfm_cell": rfm["rfm_cell"].to_numpy(),
            "rfm_segment": segment.to_numpy(),
            "lifecycle_stage": stage.to_numpy(),
            "p_alive": p,
            "expected_transactions": carried["expected_transactions"],
            "clv": value,
            "clv_lower": carried["clv_lower"],
            "clv_upper": carried["clv_upper"],
            "churn_risk": np.asarray(risk, dtype=float),
            "churn_risk_source": source,
            "churn_alert": alert,
            "churn_reason": reason,
            "cluster": cluster.astype(np.int16),
            "cluster_name": cluster_name,
            "tier": tier,
            "value_coefficient": vc,
        },
        index=features.index,
    )
    out.attrs["timings"] = timings
    out.attrs["k"] = clusters.k_
    return out
