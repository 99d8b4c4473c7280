r"""Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV"; Colombo & Jiang 1999).

A customer's transaction values are :math:`z_i \sim \mathrm{Gamma}(p, \nu)` around a customer-specific
scale :math:`\nu \sim \mathrm{Gamma}(q, v)`; spend is assumed independent of the purchase process, so CLV is
(expected transactions) x (expected spend per transaction). Data: ``frequency`` :math:`x` (repeat purchases)
and ``monetary_value`` :math:`\bar z` (their mean value), fitted on customers with :math:`x > 0`.

A fit is *degenerate* (:func:`gamma_gamma_degeneracy`, shared with the spend ladder) when a shape parameter runs
off: :math:`q` above ``degenerate_shape`` means the customers' spend scales :math:`\nu` no longer differ (their
coefficient of variation :math:`1/\sqrt q` is below 1%), :math:`p` above it that a customer's order values no
longer vary (CV :math:`1/\sqrt p`); :math:`q \le 1` leaves the population mean :math:`pv/(q-1)` undefined.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from socialvalue.errors import ConfigError, SchemaError
from socialvalue.models.btyd._base import BTYDModel, Finding, IntervalMethod, OnDegenerate, _check_level
from socialvalue.models.btyd._optim import _dot

if TYPE_CHECKING:
    from socialvalue.models.btyd.clv import DiscountMethod

__all__ = ["DEGENERATE_SHAPE", "GammaGamma", "gamma_gamma_degeneracy"]

logger = logging.getLogger(__name__)

#: A Gamma-Gamma shape parameter (p or q) above this makes the fit degenerate: the coefficient of variation it
#: governs, 1/sqrt(shape), is below 1% (the spend ladder's and the pipeline's ``degenerate_shape`` default).
DEGENERATE_SHAPE = 1e4


def gamma_gamma_degeneracy(params: Mapping[str, float], max_shape: float = DEGENERATE_SHAPE) -> list[Finding]:
    r"""Why a Gamma-Gamma solution is degenerate (empty list when it is not): one definition for every caller.

    * :math:`q >` ``max_shape``: the customers' spend scales :math:`\nu \sim \mathrm{Gamma}(q, v)` have
      coefficient of variation :math:`1/\sqrt q` below :math:`1/\sqrt{\texttt{max\_shape}}`: the
      heterogeneity the model exists for has vanished (and :math:`q, v` run off together, only :math:`v/q`
      being identified);
    * :math:`p >` ``max_shape``: a customer's transaction values :math:`z \sim \mathrm{Gamma}(p, \nu)` no
      longer vary (CV :math:`1/\sqrt p`), as with a fixed-price catalogue;
    * :math:`q \le 1`: the population mean spend :math:`pv/(q-1)` is undefined (infinite).

    Returns
    -------
    list of (parameters, short note, sentence)
        The sentences are what :attr:`GammaGamma.degenerate_` holds.
    """
    p, q, v = (float(params[k]) for k in ("p", "q", "v"))
    out: list[Finding] = []
    if q > max_shape:
        out.append(
            (
                ("q", "v"),
                f"q > {max_shape:g}: no spread of spend between customers",
                f"q = {q:.3g} (v = {v:.3g}) is above {max_shape:g}: the customers' spend scales no longer differ "
                f"(coefficient of variation 1/sqrt(q) = {1 / np.sqrt(q):.2%})",
            )
        )
    if p > max_shape:
        out.append(
            (
                ("p",),
                f"p > {max_shape:g}: order values do not vary",
                f"p = {p:.3g} is above {max_shape:g}: a customer's order values no longer vary "
                f"(coefficient of variation 1/sqrt(p) = {1 / np.sqrt(p):.2%}), as with one fixed price",
            )
        )
    if not q > 1:
        out.append(
            (
                ("q",),
                "q <= 1: mean spend undefined",
                f"q = {q:.3g} is not above 1: the population mean spend p v / (q - 1) is undefined",
            )
        )
    return out


class GammaGamma(BTYDModel):
    r"""Gamma-Gamma spend model.

    Likelihood of a customer's mean spend :math:`\bar z` over :math:`x` transactions (Fader, Hardie & Lee 2005
    JMR, eq. 3; Hardie's note "The Gamma-Gamma model of monetary value", eq. 4):

    .. math::

        f(\bar z\mid p, q, v, x) = \frac{\Gamma(px+q)}{\Gamma(px)\Gamma(q)}
        \frac{v^q\,\bar z^{px-1} x^{px}}{(v + x\bar z)^{px+q}}

    The fit is exact on coarse sufficient statistics: the gamma-function terms depend on :math:`x` only and the
    only data-dependent term, :math:`(px+q)\ln(v + x\bar z)`, on the total spend :math:`x\bar z` only, so each
    optimiser step costs one logarithm per distinct total (customers sharing a total are merged).

    Data: ``frequency`` and ``monetary_value``, one row per customer; customers with ``frequency`` 0 are left
    out of the fit (they have no repeat spend) and predicted at the population mean :math:`pv/(q-1)`, and so
    are customers without a purchase yet (both columns empty, as :func:`socialvalue.build_features` leaves
    them; ``n_no_purchase_`` counts them). A partly empty row is an error naming the row.

    Parameters
    ----------
    penalizer_coef, tol, max_iter, on_degenerate
        See :class:`~socialvalue.models.btyd._base.BTYDModel`.
    resolution
        If given, round each customer's total repeat spend :math:`x\bar z` to multiples of it (in currency
        units, e.g. ``0.01``) before merging; ``None`` merges exact duplicates only.
    degenerate_shape
        ``p`` or ``q`` above this makes the fit degenerate (see :func:`gamma_gamma_degeneracy`): a
        :class:`~socialvalue.errors.DegenerateFitWarning` names the parameter and the remedy (a
        ``penalizer_coef`` such as 0.001, or the shrunk-mean fallback
        :class:`~socialvalue.models.btyd.shrunk_spend.ShrunkMeanSpend`).

    Attributes
    ----------
    params_ : dict
        ``p``, ``q``, ``v``.
    degenerate_ : list of str
        Why the fit is degenerate (empty when it is not).

    References
    ----------
    .. [1] Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using iso-value curves for customer
       base analysis. *Journal of Marketing Research* 42(4), 415-430.
    .. [2] Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.
       http://brucehardie.com/notes/025/
    """

    _param_names: ClassVar[tuple[str, ...]] = ("p", "q", "v")
    _columns: ClassVar[tuple[str, ...]] = ("frequency", "monetary_value")
    _compress_columns: ClassVar[tuple[str, ...] | None] = ()
    _remedy_other: ClassVar[str] = (
        "use the shrunk-mean fallback socialvalue.models.btyd.shrunk_spend.ShrunkMeanSpend "
        "(socialvalue.models.btyd.ladder.fit_spend_ladder tries both)"
    )

    def __init__(
        self,
        *,
        penalizer_coef: float = 0.0,
        tol: float = 1e-12,
        max_iter: int = 2000,
        resolution: float | None = None,
        on_degenerate: OnDegenerate = "warn",
        degenerate_shape: float = DEGENERATE_SHAPE,
    ) -> None:
        super().__init__(
            penalizer_coef=penalizer_coef,
            tol=tol,
            max_iter=max_iter,
            resolution=resolution,
            on_degenerate=on_degenerate,
        )
        self.degenerate_shape = degenerate_shape

    def _validate_settings(self) -> None:
        super()._validate_settings()
        if not (self.degenerate_shape > 1):
            raise ConfigError(f"degenerate_shape must be > 1, got {self.degenerate_shape!r}")

    def _degenerate_findings(self) -> list[Finding]:
        return gamma_gamma_degeneracy(self.params_, self.degenerate_shape) + super()._degenerate_findings()

    def _check_data(self, data: dict[str, np.ndarray]) -> list[str]:
        x, m = data["frequency"], data["monetary_value"]
        problems = []
        if np.any(x != np.rint(x)):
            problems.append("frequency must be whole numbers")
        problems.extend(self._spend_problems(x, m))
        return problems

    @staticmethod
    def _spend_problems(x: np.ndarray, m: np.ndarray) -> list[str]:
        n_bad = int(np.count_nonzero(x[m <= 0] > 0))
        return [f"monetary_value <= 0 with frequency > 0 in {n_bad} row(s)"] if n_bad else []

    def _preprocess(
        self, data: dict[str, np.ndarray], weights: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        keep = (data["frequency"] > 0) & (weights > 0)
        if not keep.all():
            logger.info("GammaGamma: fitting on %d of %d rows with frequency > 0", int(keep.sum()), keep.size)
        x, m, w = data["frequency"][keep], data["monetary_value"][keep], weights[keep]
        total = x * m
        if self.resolution is not None:  # the exact likelihood of the rounded totals, merged on integer keys
            units = np.maximum(np.rint(total / self.resolution), 1.0)
            (su,), codes, _ = self._unique_rows([units])
            su = su * self.resolution
            total = units * self.resolution
            m = total / x
        else:
            codes, su = pd.factorize(total)
        # Terms in x alone only need each distinct x's total weight (x is a small whole number).
        wx_all = np.bincount(x.astype(np.int64), weights=w)
        xu = np.flatnonzero(wx_all)
        log_m = np.log(m)
        stats = {
            "x": xu.astype(np.float64),
            "wx": wx_all[xu],
            "s": np.asarray(su, dtype=np.float64),
            "c0": np.bincount(codes, weights=w),
            "c1": np.bincount(codes, weights=w * x),
            "k0": np.array(_dot(w, log_m)),
            "k1": np.array(_dot(w * x, log_m)),
            "mean_m": np.array(_dot(w, m) / max(float(w.sum()), 1e-300)),
        }
        return stats, w

    def _initial_params(self, data: dict[str, np.ndarray], weights: np.ndarray) -> np.ndarray:
        # p = 1, q = 3 and v so that the population mean v p / (q - 1) equals the observed mean spend.
        return np.array([1.0, 3.0, 2.0 * float(data["mean_m"])])

    def _total_loglik_grad(
        self, params: np.ndarray, data: dict[str, np.ndarray], weights: np.ndarray
    ) -> tuple[float, np.ndarray]:
        p, q, v = params
        x, wx = data["x"], data["wx"]
        px = p * x
        dg_pxq = special.digamma(px + q)
        xterm = (
            special.gammaln(px + q)
            - special.gammaln(px)
            - special.gammaln(q)
            + q * np.log(v)
            + px * np.log(x)
        )
        log_vs = np.log(v + data["s"])
        inv_vs = 1.0 / (v + data["s"])
        c0, c1 = data["c0"], data["c1"]
        ll = (
            _dot(wx, xterm)
            + p * float(data["k1"])
            - float(data["k0"])
            - p * _dot(c1, log_vs)
            - q * _dot(c0, log_vs)
        )
        n = float(wx.sum())
        grad = np.array(
            [
                _dot(wx, x * (dg_pxq - special.digamma(px) + np.log(x)))
                + float(data["k1"])
                - _dot(c1, log_vs),
                _dot(wx, dg_pxq - special.digamma(q)) + n * np.log(v) - _dot(c0, log_vs),
                n * q / v - p * _dot(c1, inv_vs) - q * _dot(c0, inv_vs),
            ]
        )
        return ll, grad

    def _total_loglik_grad_hess(
        self, params: np.ndarray, data: dict[str, np.ndarray], weights: np.ndarray
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """Log-likelihood, gradient and analytic Hessian (natural scale), for Newton's method."""
        ll, grad = self._total_loglik_grad(params, data, weights)
        p, q, v = params
        x, wx = data["x"], data["wx"]
        px = p * x
        tg = special.zeta(2.0, np.concatenate((px + q, px, [q])))  # trigamma
        tg_pxq, tg_px, tg_q = tg[: x.size], tg[x.size : 2 * x.size], tg[-1]
        inv_vs = 1.0 / (v + data["s"])
        c0, c1 = data["c0"], data["c1"]
        n = float(wx.sum())
        r1_c1, r1_c0 = _dot(c1, inv_vs), _dot(c0, inv_vs)
        inv2 = inv_vs * inv_vs
        h = np.empty((3, 3))
        h[0, 0] = _dot(wx, x * x * (tg_pxq - tg_px))
        h[0, 1] = h[1, 0] = _dot(wx, x * tg_pxq)
        h[0, 2] = h[2, 0] = -r1_c1
        h[1, 1] = _dot(wx, tg_pxq) - n * tg_q
        h[1, 2] = h[2, 1] = n / v - r1_c0
        h[2, 2] = -n * q / v**2 + p * _dot(c1, inv2) + q * _dot(c0, inv2)
        return ll, grad, h

    def _loglik(self, params: np.ndarray, data: dict[str, np.ndarray]) -> np.ndarray:
        """Per-customer log-likelihood on raw columns ``frequency`` > 0 and ``monetary_value``."""
        p, q, v = params
        x, m = data["frequency"], data["monetary_value"]
        px = p * x
        return (
            special.gammaln(px + q)
            - special.gammaln(px)
            - special.gammaln(q)
            + q * np.log(v)
            + (px - 1) * np.log(m)
            + px * np.log(x)
            - (px + q) * np.log(v + x * m)
        )

    # ------------------------------------------------------------------ predictions
    @staticmethod
    def _conditional_mean(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        p, q, v = params[..., 0], params[..., 1], params[..., 2]
        if np.ndim(params) > 1:  # stacked draws: broadcast
            return p * (v + x * m) / (p * x + q - 1)
        out = x * m  # in place below: two temporaries for 10-million-row columns, not six
        out += v
        out *= p
        den = x * p
        den += q - 1
        out /= den
        return out

    def _spend_fn(
        self, data: pd.DataFrame | Mapping[str, Any]
    ) -> tuple[Callable[[np.ndarray], np.ndarray], np.ndarray | None, pd.Index]:
        cols, index = self._columns_of(data, self._columns)
        x, m = cols["frequency"], cols["monetary_value"]
        problems = self._spend_problems(x, m)
        if problems:
            raise SchemaError("invalid data for prediction: " + "; ".join(problems))
        if not (x > 0).all():
            m = np.where(x > 0, m, 0.0)  # x = 0: the population mean, whatever monetary_value holds
        return (lambda params: self._conditional_mean(params, x, m)), None, index

    def predict_spend(
        self,
        data: pd.DataFrame | Mapping[str, Any],
        *,
        interval: float | None = None,
        interval_method: IntervalMethod = "delta",
        n_draws: int = 500,
        seed: int | None = 0,
    ) -> pd.Series | pd.DataFrame:
        r"""Expected spend per future transaction given the customer's history (conditional mean).

        .. math:: E[Z\mid p, q, v, x, \bar z] = \frac{p(v + x\bar z)}{px + q - 1}
                  = (1-w)\frac{pv}{q-1} + w\bar z,\quad w = \frac{px}{px+q-1}

        Customers with :math:`x = 0` get the population mean :math:`pv/(q-1)` (needs :math:`q > 1`). Same as
        lifetimes' ``conditional_expected_average_profit``. ``interval`` as for the transaction models (log
        scale).
        """
        self._check_fitted()
        fn, _, index = self._spend_fn(data)
        if interval is None:
            return self._output(fn(self._theta), index, "expected_spend")
        est, lo, hi = self._interval(
            fn, interval, link="log", method=interval_method, n_draws=n_draws, seed=seed
        )
        return self._output(
            est, index, "expected_spend", lo, hi, {"level": interval, "method": interval_method}
        )

    def expected_spend(self, *, interval: float | None = None) -> float | tuple[float, float, float]:
        """Population mean spend per transaction :math:`pv/(q-1)`; with ``interval``, ``(estimate, lower, upper)``."""
        self._check_fitted()
        fn = lambda params: np.atleast_1d(params[0] * params[2] / (params[1] - 1))  # noqa: E731
        if interval is None:
            return float(fn(self._theta)[0])
        _check_level(interval)
        est, lo, hi = self._interval(fn, interval, link="log")
        return float(est[0]), float(lo[0]), float(hi[0])

    def predict_clv(
        self,
        transaction_model: BTYDModel,
        data: pd.DataFrame | Mapping[str, Any],
        *,
        margin: float = 1.0,
        discount_rate: float,
        method: DiscountMethod | None = None,
        period_length: float | None = None,
        n_periods: int | None = None,
        interval: float | None = None,
        interval_method: IntervalMethod = "delta",
        n_draws: int = 500,
        seed: int | None = 0,
    ) -> pd.Series | pd.DataFrame:
        """CLV with this spend model; see :func:`socialvalue.models.btyd.clv.customer_lifetime_value`.

        ``method`` must be given: ``"continuous"`` (``discount_rate`` per time unit, infinite horizon) or
        ``"discrete"`` (``discount_rate`` per period, ``period_length`` x ``n_periods``). lifetimes'
        ``GammaGammaFitter.customer_lifetime_value(bgf, ..., time=12, discount_rate=0.01, freq="D")`` is
        :func:`socialvalue.models.btyd.clv.lifetimes_clv`.
        """
        from socialvalue.models.btyd.clv import (
            _check_spend_model,
            _check_transaction_model,
            customer_lifetime_value,
        )

        _check_transaction_model(transaction_model, "GammaGamma.predict_clv(transaction_model, data)", self)
        _check_spend_model(self, "GammaGamma.predict_clv(transaction_model, data)")
        return customer_lifetime_value(
            transaction_model,
            self,
            data,
            margin=margin,
            discount_rate=discount_rate,
            method=method,
            period_length=period_length,
            n_periods=n_periods,
            interval=interval,
            interval_method=interval_method,
            n_draws=n_draws,
            seed=seed,
        )

    @classmethod
    def simulate(
        cls,
        params: Mapping[str, float],
        frequency: ArrayLike,
        rng: int | np.random.Generator | None = None,
    ) -> pd.DataFrame:
        r"""Simulate mean spend for customers with the given repeat ``frequency`` (vectorised).

        Returns a DataFrame with ``frequency``, ``monetary_value`` (0 where frequency is 0) and the latent
        ``nu`` (the customer's scale; mean spend is :math:`p/\nu`).
        """
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        x = np.asarray(frequency, dtype=np.int64)
        p, q, v = (float(params[k]) for k in cls._param_names)
        nu = gen.gamma(q, 1.0 / v, size=x.shape)
        pos = x > 0
        m = np.zeros(x.shape)
        # The sum of x Gamma(p, nu) values is Gamma(p x, nu).
        m[pos] = gen.gamma(p * x[pos], 1.0 / nu[pos]) / x[pos]
        return pd.DataFrame({"frequency": x, "monetary_value": m, "nu": nu})
