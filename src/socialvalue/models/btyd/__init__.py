"""Buy-till-you-die models of purchase behaviour and customer lifetime value (numpy/scipy only).

Every model derives from :class:`BTYDModel` (see ``_base.py`` for the contract): scikit-learn style settings
in ``__init__``, ``fit(data)`` on sufficient statistics, ``params_``/``se_``/``summary()``, predictions with
optional intervals, and JSON persistence.
"""

from socialvalue.models.btyd._base import BTYDModel
from socialvalue.models.btyd.bgbb import BetaGeoBetaBinom
from socialvalue.models.btyd.bgnbd import BetaGeo
from socialvalue.models.btyd.clv import (
    continuous_rate,
    customer_lifetime_value,
    discounted_purchases,
    period_rate,
)
from socialvalue.models.btyd.diagnostics import compare_models
from socialvalue.models.btyd.gammagamma import GammaGamma
from socialvalue.models.btyd.mbgnbd import ModifiedBetaGeo
from socialvalue.models.btyd.paretonbd import ParetoNBD

__all__ = [
    "BTYDModel",
    "BetaGeo",
    "BetaGeoBetaBinom",
    "GammaGamma",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "compare_models",
    "continuous_rate",
    "customer_lifetime_value",
    "discounted_purchases",
    "period_rate",
]
