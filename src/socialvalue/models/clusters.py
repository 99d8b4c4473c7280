r"""Behavioural clusters: k-means or a Gaussian mixture on standardized log-features, named by their profile.

Each feature :math:`x` is transformed to :math:`z = (\operatorname{sign}(x)\log(1+|x|) - \mu)/\sigma` (counts
and money are heavy-tailed; the log keeps a few whales from owning a cluster), missing values are set to the
mean (:math:`z = 0`), and :math:`k` is chosen in ``[k_min, k_max]`` by the mean silhouette on a random
sample (k-means) or by BIC (Gaussian mixture). Clusters are numbered by decreasing size and named by their
most distinctive features, e.g. "high spend, many reviews".

A customer is assigned to the nearest k-means center, :math:`\arg\min_k \lVert z - c_k \rVert^2`, or to the
mixture component of highest posterior, :math:`\arg\max_k\, \log\pi_k + \log\mathcal N(z; \mu_k, \Sigma_k)`;
both are computed here from the fitted arrays, so a model saved as JSON (``to_json``, never pickle) assigns
exactly as the fitted one did.

References
----------
.. [1] Rousseeuw, P. J. (1987). Silhouettes: a graphical aid to the interpretation and validation of cluster
   analysis. *Journal of Computational and Applied Mathematics* 20, 53-65.
.. [2] Schwarz, G. (1978). Estimating the dimension of a model. *Annals of Statistics* 6(2), 461-464.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from socialvalue.config import ConfigModel, validate_config
from socialvalue.errors import ConfigError, NotFittedError, SchemaError
from socialvalue.models import persist
from socialvalue.models._rules import numeric
from socialvalue.models._threads import limited_threads
from socialvalue.models.defaults import load_config

__all__ = ["BehaviouralClusters", "ClusterConfig", "load_cluster_config"]

logger = logging.getLogger(__name__)


class ClusterConfig(ConfigModel):
    """Clustering settings (defaults in ``defaults/clusters.toml``)."""

    method: Literal["kmeans", "gmm"] = "kmeans"
    selection: Literal["silhouette", "bic"] = "silhouette"
    k_min: int = Field(2, ge=2)
    k_max: int = Field(8, ge=2)
    sample_size: int = Field(2000, ge=100)
    fit_sample: int = Field(50_000, ge=100)
    n_init: int = Field(3, ge=1)
    random_state: int = 0
    threads: int | None = Field(1, ge=1)
    name_top: int = Field(2, ge=1)
    name_threshold: float = Field(0.5, ge=0)
    features: tuple[str, ...] = Field(min_length=1)
    descriptors: dict[str, tuple[str, str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> ClusterConfig:
        if self.k_max < self.k_min:
            raise ValueError("k_max must be >= k_min")
        if self.selection == "bic" and self.method != "gmm":
            raise ValueError("selection = 'bic' needs method = 'gmm'")
        return self


def load_cluster_config(path: str | Path | None = None) -> ClusterConfig:
    """Read a :class:`ClusterConfig` from TOML; the packaged default when ``path`` is None."""
    return load_config(path, "clusters.toml", ClusterConfig)


class BehaviouralClusters:
    """Cluster customers on behaviour and describe each cluster.

    Parameters
    ----------
    config
        :class:`ClusterConfig`; the packaged default when None.
    features
        Override of ``config.features``; absent columns are skipped (at least two must remain).
    k
        Fix the number of clusters instead of choosing it.

    Attributes
    ----------
    features_
        Feature names used.
    k_
        Number of clusters.
    selection_
        ``k`` -> silhouette (higher is better) or BIC (lower is better) on the selection sample.
    mean_, scale_
        Standardization of the log1p features.
    model_
        The fitted ``KMeans`` or ``GaussianMixture`` (after ``fit`` only; a reloaded model has none).
    centers_
        k-means: the cluster centers (standardized scale), in the fitted model's order.
    means_, covariances_, weights_, precisions_cholesky_
        Gaussian mixture: the components' means, covariances, weights and the Cholesky factors of their
        precision matrices (scikit-learn's ``covariance_type="full"``), in the fitted model's order.
    relabel_
        Fitted component -> cluster number (0 = the largest cluster at fit time).
    profile_
        One row per cluster: ``name``, ``size``, ``share`` and the mean of each raw feature on the fit frame.
    labels_
        Cluster of each row of the frame given to ``fit`` (not saved by ``to_json``).
    fingerprint_
        :func:`~socialvalue.models.persist.data_fingerprint` of the raw feature columns fitted on.
    """

    def __init__(
        self,
        *,
        config: ClusterConfig | None = None,
        features: tuple[str, ...] | list[str] | None = None,
        k: int | None = None,
    ) -> None:
        self.config = config
        self.features = features
        self.k = k

    def _cfg(self) -> ClusterConfig:
        return self.config or load_cluster_config()

    def _raw(self, frame: pd.DataFrame, names: list[str]) -> np.ndarray:
        return np.column_stack([numeric(frame, c) for c in names])

    def _transform(self, raw: np.ndarray) -> np.ndarray:
        logged = np.sign(raw) * np.log1p(np.abs(raw))
        z = (logged - self.mean_) / self.scale_
        return np.where(np.isnan(z), 0.0, z)

    def _new_model(self, k: int) -> object:
        cfg = self._cfg()
        if cfg.method == "gmm":
            from sklearn.mixture import GaussianMixture

            return GaussianMixture(n_components=k, n_init=1, random_state=cfg.random_state)
        from sklearn.cluster import KMeans

        return KMeans(n_clusters=k, n_init=cfg.n_init, random_state=cfg.random_state)

    def fit(self, frame: pd.DataFrame) -> BehaviouralClusters:
        """Standardize, choose ``k``, fit on a sample, label every row and build the profile table."""
        with limited_threads(self._cfg().threads):
            return self._fit(frame)

    def _fit(self, frame: pd.DataFrame) -> BehaviouralClusters:
        from sklearn.metrics import silhouette_score

        cfg = self._cfg()
        names = [c for c in (self.features or cfg.features) if c in frame.columns]
        if len(names) < 2:
            raise SchemaError(
                f"BehaviouralClusters needs at least two of the feature columns {list(cfg.features)}"
            )
        raw = self._raw(frame, names)
        logged = np.sign(raw) * np.log1p(np.abs(raw))
        with np.errstate(all="ignore"):
            self.mean_ = np.nan_to_num(np.nanmean(logged, axis=0))
            sd = np.nanstd(logged, axis=0)
        self.scale_ = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
        self.features_ = names
        z = self._transform(raw)
        rng = np.random.default_rng(cfg.random_state)
        n = len(z)
        fit_rows = z[rng.permutation(n)[: cfg.fit_sample]] if n > cfg.fit_sample else z
        if self.k is not None:
            k = int(self.k)
            self.selection_ = pd.Series(dtype=float, name=cfg.selection)
        else:
            sample = z[rng.permutation(n)[: cfg.sample_size]] if n > cfg.sample_size else z
            scores = {}
            for k in range(cfg.k_min, min(cfg.k_max, len(sample) - 1) + 1):
                model = self._new_model(k).fit(sample)
                if cfg.selection == "bic":
                    scores[k] = float(model.bic(sample))
                else:
                    labels = model.predict(sample)
                    scores[k] = float(silhouette_score(sample, labels)) if len(set(labels)) > 1 else -1.0
            self.selection_ = pd.Series(scores, name=cfg.selection).rename_axis("k")
            pick = self.selection_.idxmin() if cfg.selection == "bic" else self.selection_.idxmax()
            k = int(pick)
        self.k_ = k
        self.model_ = self._new_model(k).fit(fit_rows)
        if cfg.method == "gmm":
            self.means_ = np.asarray(self.model_.means_, dtype=float)
            self.covariances_ = np.asarray(self.model_.covariances_, dtype=float)
            self.weights_ = np.asarray(self.model_.weights_, dtype=float)
            self.precisions_cholesky_ = np.asarray(self.model_.precisions_cholesky_, dtype=float)
        else:
            self.centers_ = np.asarray(self.model_.cluster_centers_, dtype=float)
        # Renumber clusters by decreasing size so labels are stable and 0 is the largest group.
        first = self._assign(z)
        sizes = np.bincount(first, minlength=k)
        self.relabel_ = np.empty(k, dtype=np.int64)
        self.relabel_[np.argsort(-sizes, kind="stable")] = np.arange(k)
        self.labels_ = self.relabel_[first]
        self.profile_ = self._profile(raw, z, self.labels_)
        self.fingerprint_ = persist.data_fingerprint(frame, names)
        logger.info("behavioural clusters: k=%d (%s)", k, cfg.selection)
        return self

    def _assign(self, z: np.ndarray) -> np.ndarray:
        """Fitted component of each standardized row: nearest center, or most probable mixture component."""
        if hasattr(self, "centers_"):
            c = self.centers_
            # ||z - c||^2 = ||z||^2 - 2 z.c + ||c||^2; the first term is the same for every center
            d = (c * c).sum(axis=1)[None, :] - 2.0 * (z @ c.T)
            return np.argmin(d, axis=1).astype(np.int64)
        n_features = z.shape[1]
        log_prob = np.empty((len(z), len(self.means_)))
        for k in range(len(self.means_)):  # one pass per component, vectorised over rows
            chol = self.precisions_cholesky_[k]
            y = z @ chol - self.means_[k] @ chol
            log_det = float(np.sum(np.log(np.diag(chol))))
            log_prob[:, k] = -0.5 * (n_features * math.log(2 * math.pi) + np.sum(y * y, axis=1)) + log_det
        return np.argmax(log_prob + np.log(self.weights_)[None, :], axis=1).astype(np.int64)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Cluster number of each row (0 = largest cluster at fit time)."""
        if not hasattr(self, "relabel_"):
            raise NotFittedError("this BehaviouralClusters is not fitted yet: call fit(frame) first")
        missing = [c for c in self.features_ if c not in frame.columns]
        if missing:
            raise SchemaError(f"the clusters were fitted with column(s) {missing}, absent from the frame")
        z = self._transform(self._raw(frame, self.features_))
        return self.relabel_[self._assign(z)]

    def cluster_names(self) -> pd.Series:
        """Cluster number -> name."""
        if not hasattr(self, "profile_"):
            raise NotFittedError("this BehaviouralClusters is not fitted yet: call fit(frame) first")
        return self.profile_["name"]

    def _profile(self, raw: np.ndarray, z: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
        cfg = self._cfg()
        k = self.k_
        counts = np.bincount(labels, minlength=k)
        frame_z = pd.DataFrame(z, columns=self.features_)
        centroid = frame_z.groupby(labels).mean().reindex(range(k)).to_numpy()
        means = pd.DataFrame(raw, columns=self.features_).groupby(labels).mean().reindex(range(k))
        names = []
        for row in centroid:  # one iteration per cluster, not per customer
            order = np.argsort(-np.abs(row), kind="stable")[: cfg.name_top]
            words = []
            for j in order:
                if abs(row[j]) < cfg.name_threshold:
                    continue
                feature = self.features_[j]
                high, low = cfg.descriptors.get(feature, (f"high {feature}", f"low {feature}"))
                words.append(high if row[j] > 0 else low)
            names.append(", ".join(words) or "average")
        seen: dict[str, int] = {}
        unique = []
        for name in names:
            seen[name] = seen.get(name, 0) + 1
            unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
        profile = pd.DataFrame({"name": unique, "size": counts, "share": counts / counts.sum()})
        profile = pd.concat([profile, means.reset_index(drop=True)], axis=1)
        profile.index.name = "cluster"
        return profile

    # -- persistence ------------------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """The constructor settings, JSON-ready (the effective :class:`ClusterConfig` as a dict)."""
        return {
            "config": self._cfg().model_dump(mode="json"),
            "features": None if self.features is None else list(self.features),
            "k": None if self.k is None else int(self.k),
        }

    def to_json(self) -> str:
        """Settings, standardization, centers or mixture, relabelling and profile as JSON (no pickle).

        Raises
        ------
        NotFittedError
            Before ``fit``.
        """
        if not hasattr(self, "relabel_"):
            raise NotFittedError("this BehaviouralClusters is not fitted yet: call fit(frame) first")
        profile = self.profile_.reset_index(drop=True)
        state: dict[str, Any] = {
            "features": list(self.features_),
            "k": int(self.k_),
            "selection": {
                "name": str(self.selection_.name),
                "k": [int(k) for k in self.selection_.index],
                "values": [float(v) for v in self.selection_.to_numpy()],
            },
            "mean": persist.encode_array(self.mean_),
            "scale": persist.encode_array(self.scale_),
            "relabel": persist.encode_array(self.relabel_),
            "profile": {
                "columns": [str(c) for c in profile.columns],
                "data": {str(c): profile[c].tolist() for c in profile.columns},
            },
        }
        if hasattr(self, "centers_"):
            state["centers"] = persist.encode_array(self.centers_)
        else:
            for name in ("means", "covariances", "weights", "precisions_cholesky"):
                state[name] = persist.encode_array(getattr(self, f"{name}_"))
        return persist.dump_document(
            type(self).__name__, self.get_params(), state, getattr(self, "fingerprint_", None)
        )

    @classmethod
    def from_json(cls, text: str) -> BehaviouralClusters:
        """Rebuild a model saved by :meth:`to_json`.

        Raises
        ------
        ConfigError
            Not a saved ``BehaviouralClusters``, or a malformed one.
        """
        doc = persist.load_document(text, cls.__name__)
        settings, state = doc["settings"], doc["state"]
        try:
            config = validate_config(ClusterConfig, settings["config"], "the saved BehaviouralClusters")
            features = settings.get("features")
            model = cls(
                config=config,
                features=None if features is None else tuple(features),
                k=settings.get("k"),
            )
            model.features_ = [str(c) for c in state["features"]]
            model.k_ = int(state["k"])
            sel = state["selection"]
            model.selection_ = pd.Series(
                np.asarray(sel["values"], dtype=float), index=pd.Index(sel["k"], name="k"), name=sel["name"]
            )
            if not len(model.selection_):
                model.selection_ = pd.Series(dtype=float, name=sel["name"])
            model.mean_ = persist.decode_array(state["mean"]).astype(float)
            model.scale_ = persist.decode_array(state["scale"]).astype(float)
            model.relabel_ = persist.decode_array(state["relabel"]).astype(np.int64)
            prof = state["profile"]
            model.profile_ = pd.DataFrame({c: prof["data"][c] for c in prof["columns"]})
            model.profile_.index.name = "cluster"
            if "centers" in state:
                model.centers_ = persist.decode_array(state["centers"]).astype(float)
                n_comp = len(model.centers_)
            else:
                for name in ("means", "covariances", "weights", "precisions_cholesky"):
                    setattr(model, f"{name}_", persist.decode_array(state[name]).astype(float))
                n_comp = len(model.means_)
        except ConfigError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"the saved BehaviouralClusters is malformed: {exc}") from exc
        if n_comp != model.k_ or len(model.relabel_) != model.k_ or len(model.mean_) != len(model.features_):
            raise ConfigError(
                f"the saved BehaviouralClusters is inconsistent: k = {model.k_}, {n_comp} components, "
                f"{len(model.relabel_)} labels, {len(model.features_)} features"
            )
        model.fingerprint_ = doc.get("fingerprint")
        return model


persist.register(BehaviouralClusters.__name__, BehaviouralClusters.from_json)
