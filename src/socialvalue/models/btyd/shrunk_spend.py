r"""Each customer's mean order value shrunk towards the population mean: the spend model that cannot fail.

The last rung of the spend ladder (:mod:`socialvalue.models.btyd.ladder`), used when no Gamma-Gamma fit is
usable (one fixed price, too few repeat buyers, a degenerate optimum). It is the linear credibility estimate of
Bühlmann (1967), the same form as the Gamma-Gamma conditional mean (Fader, Hardie & Lee 2005, eq. 4) with the
credibility weight set by moments instead of a likelihood:

.. math::

    E[Z_i] = (1 - w_i)\,\mu + w_i\,\bar z_i,\qquad w_i = \frac{n_i}{n_i + k},\qquad
    k = \frac{\sigma^2_{\text{within}}}{\tau^2_{\text{between}}}

with :math:`\bar z_i` the customer's mean order value over :math:`n_i` orders, :math:`\mu` the order-weighted
population mean, :math:`\tau^2` the variance of true customer means and :math:`\sigma^2` the order-to-order
variance, estimated from customers' mean values and counts. With no spread between customers (a fixed-price
catalogue) every customer gets :math:`\mu`; with no information on the within-customer spread, ``k`` is
``default_k``. Customers without orders (or without a positive mean value, e.g. the empty rows
:func:`socialvalue.build_features` gives customers without a purchase) get :math:`\mu`.

The fitted model is saved as JSON (:meth:`ShrunkMeanSpend.to_json`, read back by
:func:`socialvalue.models.persist.load_model`), with the fingerprint of the data it was fitted on.

References
----------
.. [1] Bühlmann, H. (1967). Experience rating and credibility. *ASTIN Bulletin* 4(3), 199-207.
.. [2] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using iso-value curves for customer
   base analysis. *Journal of Marketing Research* 42(4), 415-430.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from socialvalue.errors import ConfigError, NotFittedError, SchemaError
from socialvalue.models import persist
from socialvalue.models.btyd._data import check_table

__all__ = ["ShrunkMeanSpend"]


class ShrunkMeanSpend:
    r"""Credibility-weighted mean spend per order.

    Parameters
    ----------
    default_k
        Credibility constant (pseudo-orders at the population mean) when it cannot be estimated.

    Attributes
    ----------
    params_ : dict
        ``mean`` (population mean order value) and ``k`` (pseudo-orders of shrinkage).
    n_obs_ : int
        Customers with a positive mean order value, fitted on.
    fingerprint_ : dict
        :func:`~socialvalue.models.persist.data_fingerprint` of the fitted columns.

    Examples
    --------
    >>> import pandas as pd
    >>> s = ShrunkMeanSpend().fit(pd.DataFrame({"n_orders": [1, 3], "mean_order_value": [29.9, 29.9]}))
    >>> float(s.predict_spend(pd.DataFrame({"n_orders": [2], "mean_order_value": [29.9]})).iloc[0])
    29.9
    """

    _columns = ("n_orders", "mean_order_value")

    def __init__(self, *, default_k: float = 1.0) -> None:
        self.default_k = default_k

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Settings (scikit-learn convention)."""
        return {"default_k": self.default_k}

    @staticmethod
    def _cols(data: pd.DataFrame | Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        check_table(data)
        missing = [c for c in ShrunkMeanSpend._columns if c not in data]
        if missing:
            raise SchemaError(f"ShrunkMeanSpend: missing column(s) {', '.join(missing)}")
        n = np.asarray(data["n_orders"], dtype=np.float64)
        z = np.asarray(data["mean_order_value"], dtype=np.float64)
        return n, z

    def fit(self, data: pd.DataFrame | Mapping[str, Any]) -> ShrunkMeanSpend:
        """Estimate the population mean and the credibility constant from buyers with a positive mean value.

        Returns
        -------
        self

        Raises
        ------
        SchemaError
            If no customer has an order with a positive value.
        """
        if not self.default_k > 0:
            raise ConfigError(f"default_k must be > 0, got {self.default_k!r}")
        n, z = self._cols(data)
        ok = np.isfinite(n) & np.isfinite(z) & (n > 0) & (z > 0)
        if not ok.any():
            raise SchemaError("ShrunkMeanSpend: no customer has an order with a positive value")
        n, z = n[ok], z[ok]
        mu = float(np.sum(n * z) / np.sum(n))
        k = float(self.default_k)
        if z.size >= 3:
            # Var(z_i) = tau^2 + sigma^2 / n_i: regress the squared deviations on 1/n_i (moments, Bühlmann)
            dev2 = (z - mu) ** 2
            inv = 1.0 / n
            # one price (up to rounding): no spread at all, everyone gets mu
            if dev2.max() <= 1e-12 * mu * mu:
                k = float("inf")
            elif np.ptp(inv) > 0:
                slope, intercept = np.polyfit(inv, dev2, 1)
                if intercept <= 0:
                    k = float("inf")  # no spread between customers beyond noise: everyone gets the mean
                else:
                    k = float(max(slope, 0.0) / intercept)
        self.params_ = {"mean": mu, "k": k}
        self.n_obs_ = int(z.size)
        self.fingerprint_ = persist.data_fingerprint(data, self._columns)
        return self

    def predict_spend(self, data: pd.DataFrame | Mapping[str, Any]) -> pd.Series:
        """Expected value of each customer's next order (the population mean for customers without orders)."""
        if not hasattr(self, "params_"):
            raise NotFittedError("this ShrunkMeanSpend is not fitted yet; call fit(data) first")
        n, z = self._cols(data)
        mu, k = self.params_["mean"], self.params_["k"]
        has = np.isfinite(n) & np.isfinite(z) & (n > 0) & (z > 0)
        n = np.where(has, n, 0.0)
        if np.isinf(k):
            w = np.zeros_like(n)
        else:
            w = np.divide(n, n + k, out=np.zeros_like(n), where=(n + k) > 0)
        out = (1 - w) * mu + w * np.where(has, z, 0.0)
        index = data.index if isinstance(data, pd.DataFrame) else None
        return pd.Series(out, index=index, name="expected_spend")

    # ------------------------------------------------------------------ persistence
    def to_json(self) -> str:
        """Settings, the fitted mean and credibility constant and the data fingerprint as JSON."""
        if not hasattr(self, "params_"):
            raise NotFittedError("this ShrunkMeanSpend is not fitted yet; call fit(data) first")
        state = {"params": self.params_, "n_obs": self.n_obs_}  # k may be inf: written as Infinity
        return persist.dump_document(type(self).__name__, self.get_params(), state, self.fingerprint_)

    @classmethod
    def from_json(cls, text: str) -> ShrunkMeanSpend:
        """Rebuild a fitted model saved by :meth:`to_json`.

        Raises
        ------
        ConfigError
            Not a saved ``ShrunkMeanSpend`` or a malformed document.
        """
        doc = persist.load_document(text, cls.__name__)
        try:
            model = cls(**doc["settings"])
            model.params_ = {k: float(doc["state"]["params"][k]) for k in ("mean", "k")}
            model.n_obs_ = int(doc["state"]["n_obs"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"the saved ShrunkMeanSpend is malformed: {exc}") from exc
        model.fingerprint_ = doc.get("fingerprint")
        return model


persist.register(ShrunkMeanSpend.__name__, ShrunkMeanSpend.from_json)
