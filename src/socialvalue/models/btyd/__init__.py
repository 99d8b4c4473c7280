"""Buy-till-you-die models of purchase behaviour and customer lifetime value (numpy/scipy only).

Every model derives from :class:`BTYDModel` (see ``_base.py`` for the contract): scikit-learn style settings
in ``__init__``, ``fit(data)`` on sufficient statistics, ``params_``/``se_``/``summary()``, predictions with
optional intervals, and JSON persistence (with the fitted data's fingerprint). The fallback rungs
:class:`RateModel` and :class:`ShrunkMeanSpend` are saved too (``socialvalue.models.persist.load_model``).

The public names are imported on first use (PEP 562): ``from socialvalue.models.btyd import BetaGeo`` loads
the BG/NBD and the base only, not the other models, the CLV helpers or ``scipy.stats``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from socialvalue._lazy import lazy_attributes

# name -> module that defines it; resolved on first attribute access.
_LAZY: dict[str, str] = {
    "BTYDModel": "socialvalue.models.btyd._base",
    "BetaGeoBetaBinom": "socialvalue.models.btyd.bgbb",
    "BetaGeo": "socialvalue.models.btyd.bgnbd",
    "continuous_rate": "socialvalue.models.btyd.clv",
    "customer_lifetime_value": "socialvalue.models.btyd.clv",
    "discounted_purchases": "socialvalue.models.btyd.clv",
    "lifetimes_clv": "socialvalue.models.btyd.clv",
    "period_rate": "socialvalue.models.btyd.clv",
    "compare_models": "socialvalue.models.btyd.diagnostics",
    "GammaGamma": "socialvalue.models.btyd.gammagamma",
    "ModifiedBetaGeo": "socialvalue.models.btyd.mbgnbd",
    "ParetoNBD": "socialvalue.models.btyd.paretonbd",
    "RateModel": "socialvalue.models.btyd.rate",
    "ShrunkMeanSpend": "socialvalue.models.btyd.shrunk_spend",
}

__all__ = [
    "BTYDModel",
    "BetaGeo",
    "BetaGeoBetaBinom",
    "GammaGamma",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "RateModel",
    "ShrunkMeanSpend",
    "compare_models",
    "continuous_rate",
    "customer_lifetime_value",
    "discounted_purchases",
    "lifetimes_clv",
    "period_rate",
]

if TYPE_CHECKING:  # pragma: no cover
    from socialvalue.models.btyd._base import BTYDModel
    from socialvalue.models.btyd.bgbb import BetaGeoBetaBinom
    from socialvalue.models.btyd.bgnbd import BetaGeo
    from socialvalue.models.btyd.clv import (
        continuous_rate,
        customer_lifetime_value,
        discounted_purchases,
        lifetimes_clv,
        period_rate,
    )
    from socialvalue.models.btyd.diagnostics import compare_models
    from socialvalue.models.btyd.gammagamma import GammaGamma
    from socialvalue.models.btyd.mbgnbd import ModifiedBetaGeo
    from socialvalue.models.btyd.paretonbd import ParetoNBD
    from socialvalue.models.btyd.rate import RateModel
    from socialvalue.models.btyd.shrunk_spend import ShrunkMeanSpend


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, __all__, globals())
