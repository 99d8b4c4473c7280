"""MBG/NBD: the modified BG/NBD of Batislam, Denizel & Filiztekin (2007).

As the BG/NBD, except that a customer may also drop out right after the first (time-zero) purchase, so a
customer with no repeat purchase is not certainly alive. In the formulas this shifts every beta-function
argument ``b + x`` to ``b + x + 1``; the code is :class:`~socialvalue.models.btyd.bgnbd.BetaGeo`'s with
``_shift = 1``.
"""

from __future__ import annotations

from typing import ClassVar

from socialvalue.models.btyd.bgnbd import BetaGeo

__all__ = ["ModifiedBetaGeo"]


class ModifiedBetaGeo(BetaGeo):
    r"""MBG/NBD model (Batislam, Denizel & Filiztekin 2007; Wagner & Hoppe 2008).

    Log-likelihood of one customer:

    .. math::

        \ell = \ln\frac{\Gamma(r+x)\alpha^r}{\Gamma(r)} + \ln\frac{B(a, b+x+1)}{B(a, b)}
        + \ln\Big[(\alpha+T)^{-(r+x)} + \frac{a}{b+x}(\alpha+t_x)^{-(r+x)}\Big]

    and, for the predictions, :math:`P(\text{alive}) = [1 + \frac{a}{b+x}(\frac{\alpha+T}{\alpha+t_x})^{r+x}]^{-1}`
    (also when :math:`x = 0`), :math:`E[Y(t)\mid\text{alive}] = \frac{a+b+x}{a-1}[1 -
    (\frac{\alpha+T}{\alpha+T+t})^{r+x}\,{}_2F_1(r+x, b+x+1; a+b+x; \frac{t}{\alpha+T+t})]`.
    Parameters, attributes and methods are those of :class:`~socialvalue.models.btyd.bgnbd.BetaGeo`
    (``params_``: ``r``, ``alpha``, ``a``, ``b``); the predictions match lifetimes' ``ModifiedBetaGeoFitter``.
    Customers without a purchase yet are handled as there, except that their P(alive) is the model's at the
    first purchase, :math:`b/(a+b)` (a customer may drop out at time zero).

    References
    ----------
    .. [1] Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). Empirical validation and comparison of models
       for customer base analysis. *International Journal of Research in Marketing* 24(3), 201-209.
    .. [2] Wagner, U. & Hoppe, D. (2008). Erratum on the MBG/NBD model. *International Journal of Research in
       Marketing* 25(3), 225-226.
    """

    _shift: ClassVar[int] = 1
