"""Buy-till-you-die models of purchase behaviour and customer lifetime value (numpy/scipy only).

Every model derives from :class:`BTYDModel` (see ``_base.py`` for the contract): scikit-learn style settings
in ``__init__``, ``fit(data)`` on sufficient statistics, ``params_``/``se_``/``summary()``, predictions with
optional intervals, and JSON persistence (with the fitted data's fingerprint). The fallback rungs
:class:`RateModel` and :class:`ShrunkMeanSpend` are saved too (``socialvalue.models.persist.load_model``).
"""

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
