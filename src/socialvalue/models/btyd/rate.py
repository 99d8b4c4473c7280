r"""The plain rate model: each customer buys at a steady rate, shrunk towards the population's (no dropout).

It is the last rung of the purchase-model ladder (:mod:`socialvalue.models.btyd.ladder`): it cannot fail to
fit, so a run always has purchase forecasts, and it says plainly what it assumes. Rates follow the
gamma-Poisson (NBD) model of Ehrenberg (1959) with its prior set by moments instead of maximum likelihood:

.. math::

    \lambda_i \sim \mathrm{Gamma}(r, \alpha),\quad X_i(T_i)\mid\lambda_i \sim \mathrm{Poisson}(\lambda_i T_i)
    \;\Rightarrow\;
    \lambda_i \mid x_i, T_i \sim \mathrm{Gamma}(r + x_i,\ \alpha + T_i),\quad
    E[\lambda_i\mid x_i, T_i] = \frac{r + x_i}{\alpha + T_i}

with :math:`\bar\lambda = r/\alpha = (\sum_i x_i + \tfrac12) / \sum_i T_i` (the pooled repeat rate under
Jeffreys' prior, so that a shop where nobody has bought twice yet gets a small rate, not zero) and :math:`\alpha` the
prior's weight in time units. :math:`\alpha = \bar\lambda / \hat v` with the moment estimate of the rates'
variance :math:`\hat v = \sum_i [(x_i - \bar\lambda T_i)^2 - x_i] / \sum_i T_i^2` (from
:math:`\mathrm{Var}(X_i) = \bar\lambda T_i + v T_i^2`) when the counts are over-dispersed (:math:`\hat v > 0`),
else (Poisson data, no heterogeneity to speak of) a heavy prior of ``max_prior_weight`` mean customer
histories. The model has no dropout process, so :math:`P(\text{alive}) =
1` and its lifetime value must be taken over a finite horizon.

Customers without a purchase yet (``frequency`` and ``T`` both empty, as :func:`socialvalue.build_features`
leaves them) are left out of the fit and predicted at the population rate :math:`r/\alpha` (a history that
starts now). The fitted model is saved as JSON (:meth:`RateModel.to_json`, read back by
:func:`socialvalue.models.persist.load_model`), with the fingerprint of the data it was fitted on.

References
----------
.. [1] Ehrenberg, A. S. C. (1959). The pattern of consumer purchases. *Journal of the Royal Statistical
   Society C* 8(1), 26-41.
.. [2] Morrison, D. G. & Schmittlein, D. C. (1988). Generalizing the NBD model for customer purchases.
   *Journal of Business & Economic Statistics* 6(2), 145-159.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from socialvalue.errors import ConfigError, NotFittedError, SchemaError
from socialvalue.models import persist
from socialvalue.models.btyd._data import customer_columns

__all__ = ["RateModel"]


def _columns(
    data: pd.DataFrame | Mapping[str, Any], names: tuple[str, ...]
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The columns (customers without a purchase set to 0) and the mask of those customers (or None)."""
    try:
        out, _, none = customer_columns(data, names)
    except SchemaError as exc:
        raise SchemaError(f"RateModel: {exc}", exc.problems) from exc
    return out, none


class RateModel:
    r"""Steady purchase rates shrunk towards the population rate (gamma-Poisson, no dropout).

    Customers without a purchase yet (``frequency`` and ``T`` both empty) are left out of ``fit`` and predicted
    at the population rate; a partly empty row is a :class:`~socialvalue.errors.SchemaError` naming its row.

    Parameters
    ----------
    max_prior_weight
        Prior weight, in mean customer histories, used when the repeat counts show no over-dispersion.

    Attributes
    ----------
    params_ : dict
        ``r`` and ``alpha`` of the gamma prior, ``rate`` = :math:`r/\alpha` (repeat purchases per time unit).
    n_obs_ : int
        Customers fitted on.
    n_no_purchase_ : int
        Rows of customers without a purchase yet, left out of the fit.
    fingerprint_ : dict
        :func:`~socialvalue.models.persist.data_fingerprint` of the fitted columns.

    Examples
    --------
    >>> import pandas as pd
    >>> m = RateModel().fit(pd.DataFrame({"frequency": [0, 2, 4], "T": [10.0, 10.0, 10.0]}))
    >>> round(m.params_["rate"], 3)
    0.217
    """

    _columns = ("frequency", "T")

    def __init__(self, *, max_prior_weight: float = 10.0) -> None:
        self.max_prior_weight = max_prior_weight

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Settings (scikit-learn convention)."""
        return {"max_prior_weight": self.max_prior_weight}

    def fit(self, data: pd.DataFrame | Mapping[str, Any]) -> RateModel:
        """Set the gamma prior from the pooled rate and the dispersion of repeat counts.

        Returns
        -------
        self

        Raises
        ------
        SchemaError
            Missing columns, negative or non-finite values, or no rows.
        """
        if not self.max_prior_weight > 0:
            raise ConfigError(f"max_prior_weight must be > 0, got {self.max_prior_weight!r}")
        cols, none = _columns(data, self._columns)
        x, t = cols["frequency"], cols["T"]
        if x.size == 0:
            raise SchemaError("RateModel: cannot fit on zero rows")
        n_none = 0 if none is None else int(none.sum())
        if n_none == x.size:
            raise SchemaError(
                f"RateModel: all {n_none} row(s) are customers without a purchase yet (frequency and T empty): "
                "nothing to fit"
            )
        if n_none:
            x, t = x[~none], t[~none]
        mean_t = float(t.mean())
        # Jeffreys prior on the pooled Poisson rate: a shop where nobody bought twice yet still gets a small,
        # honest rate (and a finite interval) instead of exactly zero
        rate = float((x.sum() + 0.5) / t.sum()) if t.sum() > 0 else 0.0
        heavy = self.max_prior_weight * max(mean_t, 1.0)
        alpha = heavy
        # Var(x_i) = m T_i + v T_i^2 with v = Var(lambda) = m / alpha; (x_i - m T_i)^2 - x_i is unbiased for v T_i^2
        var_rate = float(np.sum((x - rate * t) ** 2 - x) / np.sum(t * t)) if np.any(t > 0) else 0.0
        if rate > 0 and var_rate > 0:
            alpha = float(np.clip(rate / var_rate, 1e-6, heavy))
        self.params_ = {"r": rate * alpha, "alpha": alpha, "rate": rate}
        self.n_obs_ = int(x.size)
        self.n_no_purchase_ = n_none
        self.fingerprint_ = persist.data_fingerprint(data, self._columns)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError("this RateModel is not fitted yet; call fit(data) first")

    def _posterior(self, data: pd.DataFrame | Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        cols, _ = _columns(data, self._columns)  # customers without a purchase: x = T = 0, the prior
        return self.params_["r"] + cols["frequency"], self.params_["alpha"] + cols["T"]

    def expected_rate(self, data: pd.DataFrame | Mapping[str, Any], *, interval: float | None = None) -> Any:
        r"""Posterior mean rate :math:`(r + x_i)/(\alpha + T_i)`; with ``interval`` also gamma quantiles."""
        shape, rate = self._posterior(data)
        est = shape / rate
        if interval is None:
            return est
        lo = stats.gamma.ppf((1 - interval) / 2, shape, scale=1 / rate)
        hi = stats.gamma.ppf((1 + interval) / 2, shape, scale=1 / rate)
        return est, lo, hi

    def predict_purchases(self, data: pd.DataFrame | Mapping[str, Any], t: float) -> pd.Series:
        r"""Expected purchases of each customer in the next ``t`` time units: :math:`t\,E[\lambda_i]`."""
        index = data.index if isinstance(data, pd.DataFrame) else None
        return pd.Series(self.expected_rate(data) * float(t), index=index, name="expected_purchases")

    def expected_purchases(self, t: Any) -> np.ndarray:
        r"""Expected repeat purchases of a new customer in ``t`` units since the first: :math:`\bar\lambda t`."""
        self._check_fitted()
        return self.params_["rate"] * np.asarray(t, dtype=np.float64)

    def probability_alive(self, data: pd.DataFrame | Mapping[str, Any]) -> pd.Series:
        """1 for every customer: the model has no dropout process."""
        index = data.index if isinstance(data, pd.DataFrame) else None
        n = len(next(iter(_columns(data, self._columns)[0].values())))
        return pd.Series(np.ones(n), index=index, name="p_alive")

    # ------------------------------------------------------------------ persistence
    def to_json(self) -> str:
        """Settings, the fitted prior and the data fingerprint as a ``socialvalue.model`` JSON document."""
        self._check_fitted()
        state = {"params": self.params_, "n_obs": self.n_obs_, "n_no_purchase": self.n_no_purchase_}
        return persist.dump_document(type(self).__name__, self.get_params(), state, self.fingerprint_)

    @classmethod
    def from_json(cls, text: str) -> RateModel:
        """Rebuild a fitted model saved by :meth:`to_json`.

        Raises
        ------
        ConfigError
            Not a saved ``RateModel`` or a malformed document.
        """
        doc = persist.load_document(text, cls.__name__)
        try:
            model = cls(**doc["settings"])
            state = doc["state"]
            model.params_ = {k: float(state["params"][k]) for k in ("r", "alpha", "rate")}
            model.n_obs_ = int(state["n_obs"])
            model.n_no_purchase_ = int(state.get("n_no_purchase", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"the saved RateModel is malformed: {exc}") from exc
        model.fingerprint_ = doc.get("fingerprint")
        return model


persist.register(RateModel.__name__, RateModel.from_json)
