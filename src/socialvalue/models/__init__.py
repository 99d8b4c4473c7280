"""Statistical models: buy-till-you-die purchase models and CLV (``socialvalue.models.btyd``)."""

from socialvalue.models.btyd import (
    BetaGeo,
    BetaGeoBetaBinom,
    BTYDModel,
    GammaGamma,
    ModifiedBetaGeo,
    ParetoNBD,
    compare_models,
    customer_lifetime_value,
)

__all__ = [
    "BTYDModel",
    "BetaGeo",
    "BetaGeoBetaBinom",
    "GammaGamma",
    "ModifiedBetaGeo",
    "ParetoNBD",
    "compare_models",
    "customer_lifetime_value",
]
